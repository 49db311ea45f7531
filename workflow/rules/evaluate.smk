# Per-image metrics of one reconstruction (ifrnet.pipeline.evaluate_split).


rule evaluate:
    input:
        recon="results/recon/{dataset}/{mask}/{model}.h5",
        data="data/prepared/{dataset}/test.h5",
    output:
        "results/metrics/{dataset}/{mask}/{model}.csv",
    log:
        "results/logs/evaluate/{dataset}/{mask}/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}/{mask}/{model}.tsv"
    conda:
        ENV
    shell:
        "ifrnet evaluate --recon {input.recon:q} --data {input.data:q} --out {output:q} "
        "> {log:q} 2>&1"

# Per-image metrics of one reconstruction (ifrnet.bench.pipeline.evaluate_split).


rule evaluate:
    input:
        recon=paths.recon("{dataset}", "{mask}", "{run}"),
        data=paths.prepared("{dataset}", "test"),
    output:
        paths.metrics("{dataset}", "{mask}", "{run}"),
    log:
        paths.log("evaluate", "{dataset}/{mask}/{run}"),
    benchmark:
        paths.benchmark("evaluate", "{dataset}/{mask}/{run}")
    conda:
        ENV
    shell:
        "ifrnet evaluate --recon {input.recon:q} --data {input.data:q} --out {output:q} "
        "> {log:q} 2>&1"

# Reconstruction of a data set's test split with one model (ifrnet.bench.pipeline.reconstruct_split).


rule reconstruct:
    input:
        unpack(recon_inputs),
    output:
        paths.recon("{dataset}", "{mask}", "{model}"),
    params:
        spec=model_spec,
        batch_size=STUDY.batch_size,
        method_args=method_args,
    threads: model_threads
    resources:
        device=DEVICE,
    log:
        "results/logs/reconstruct/{dataset}/{mask}/{model}.log",
    benchmark:
        "results/benchmarks/reconstruct/{dataset}/{mask}/{model}.tsv"
    conda:
        ENV
    shell:
        "ifrnet recon-split --data {input.data:q} --mask {input.mask:q} "
        "--model {wildcards.model:q} --spec {params.spec:q} --out {output:q} "
        "--batch-size {params.batch_size} --device {resources.device:q} --threads {threads} "
        "{params.method_args} > {log:q} 2>&1"

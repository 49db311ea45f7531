# Reconstruction of a data set's test split with one model (ifrnet.pipeline.reconstruct_split).


rule reconstruct:
    input:
        unpack(recon_inputs),
    output:
        "results/recon/{dataset}/{mask}/{model}.h5",
    params:
        spec=lambda wc: as_json(config["models"][wc.model]),
        batch_size=config.get("batch_size", 4),
        device=config["device"],
        method_args=method_args,
    threads: model_threads
    log:
        "results/logs/reconstruct/{dataset}/{mask}/{model}.log",
    benchmark:
        "results/benchmarks/reconstruct/{dataset}/{mask}/{model}.tsv"
    conda:
        ENV
    shell:
        "ifrnet recon-split --data {input.data:q} --mask {input.mask:q} "
        "--model {wildcards.model:q} --spec {params.spec:q} --out {output:q} "
        "--batch-size {params.batch_size} --device {params.device:q} --threads {threads} "
        "{params.method_args} > {log:q} 2>&1"

# Reconstruction of a data set's test split with one model (ifrnet.bench.pipeline.reconstruct_split).


rule reconstruct:
    input:
        unpack(recon_inputs),
    output:
        paths.recon("{dataset}", "{mask}", "{run}"),
    params:
        spec=model_spec,
        model=lambda wc: paths.parse_run(wc.run)[0],
        batch_size=STUDY.batch_size,
        method_args=method_args,
    threads: model_threads
    resources:
        device=DEVICE,
    log:
        paths.log("reconstruct", "{dataset}/{mask}/{run}"),
    benchmark:
        paths.benchmark("reconstruct", "{dataset}/{mask}/{run}")
    conda:
        ENV
    shell:
        "ifrnet recon-split --data {input.data:q} --mask {input.mask:q} "
        "--model {params.model:q} --spec {params.spec:q} --out {output:q} "
        "--batch-size {params.batch_size} --device {resources.device:q} --threads {threads} "
        "{params.method_args} > {log:q} 2>&1"

# Tuning of iterative methods on the validation split (ifrnet.bench.tuning.tune_method).


rule tune:
    input:
        val=paths.prepared("{dataset}", "val"),
        mask=mask_for,
    output:
        paths.tuning("{dataset}", "{mask}", "{model}"),
    params:
        spec=tune_spec,
    threads: model_threads
    resources:
        mem_mb=2000,
        runtime=120,
    log:
        paths.log("tune", "{dataset}/{mask}/{model}"),
    benchmark:
        paths.benchmark("tune", "{dataset}/{mask}/{model}")
    conda:
        ENV
    shell:
        "ifrnet tune --val {input.val:q} --mask {input.mask:q} --model {wildcards.model:q} "
        "--spec {params.spec:q} --out {output:q} --threads {threads} > {log:q} 2>&1"

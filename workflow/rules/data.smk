# Data: one config entry → prepared train/val/test HDF5 files (ifrnet.data.sources).


rule prepare_data:
    output:
        expand("data/prepared/{{dataset}}/{split}.h5", split=SPLITS),
    params:
        spec=lambda wc: as_json(config["datasets"][wc.dataset]),
        seed=config["seed"],
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    conda:
        ENV
    shell:
        "ifrnet prepare --dataset {wildcards.dataset:q} --spec {params.spec:q} "
        "--seed {params.seed} --out-dir data/prepared/{wildcards.dataset:q} > {log:q} 2>&1"

# Data: one config entry → prepared train/val/test HDF5 files (ifrnet.bench.data.sources).


rule download:
    output:
        "{download}",
    wildcard_constraints:
        download=DOWNLOADED,
    params:
        url=lambda wc, output: download_entry(output[0])[0],
        sha256=lambda wc, output: download_entry(output[0])[1],
    retries: 2
    log:
        paths.log("download", "{download}"),
    conda:
        ENV
    shell:
        "ifrnet download --url {params.url:q} --sha256 {params.sha256:q} --out {output:q} "
        "--no-progress > {log:q} 2>&1"


rule fetch_fastmri:
    output:
        "{root}/{part}.fetched",
    wildcard_constraints:
        part="singlecoil_train|singlecoil_val",
    params:
        # where the signed URL is kept (an environment variable or a file), never the URL
        url_source=lambda wc, output: url_source_args(fetch_entry(output[0])[0]),
        volumes=lambda wc, output: fetch_entry(output[0])[1],
    retries: 2
    log:
        "{root}/{part}.fetch.log",
    conda:
        ENV
    shell:
        "ifrnet fetch-fastmri {params.url_source} --volumes {params.volumes} "
        "--out-dir {wildcards.root:q}/{wildcards.part:q} --no-progress > {log:q} 2>&1"


rule prepare_data:
    input:
        lambda wc: source_files(config["datasets"][wc.dataset]),
    output:
        [paths.prepared("{dataset}", split) for split in SPLITS],
    params:
        spec=lambda wc: as_json(config["datasets"][wc.dataset]),
        seed=STUDY.seed,
        out_dir=lambda wc: paths.prepared_dir(wc.dataset),
    log:
        paths.log("prepare_data", "{dataset}"),
    benchmark:
        paths.benchmark("prepare_data", "{dataset}")
    conda:
        ENV
    shell:
        "ifrnet prepare --dataset {wildcards.dataset:q} --spec {params.spec:q} "
        "--seed {params.seed} --out-dir {params.out_dir:q} > {log:q} 2>&1"

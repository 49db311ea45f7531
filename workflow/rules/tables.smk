# Tables: every table of the config from the metrics files (ifrnet.render.build.build_tables).


rule tables:
    input:
        metrics=all_metrics(),
        masks=all_masks(),
        tunings=all_tunings(),
        data=test_splits(),
    output:
        directory("results/tables"),
    params:
        config=as_json(config),
    log:
        "results/logs/tables/tables.log",
    benchmark:
        "results/benchmarks/tables/tables.tsv"
    conda:
        ENV
    shell:
        "ifrnet tables --config {params.config:q} --out-dir {output:q} > {log:q} 2>&1"

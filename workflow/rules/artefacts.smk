# Tables, figures and the report (ifrnet.render.build). Each artefact is built once into
# results/artefacts/ (with its provenance sidecar) and published by copy: one file alone into
# results/{tables,figures}/ (e.g. results/figures/fig07.png), or all of them as the directory
# targets results/tables and results/figures. The report, results/report.html, is the one place
# a reader finds them all (ifrnet.render.report); `snakemake --report` embeds it beside
# Snakemake's own run statistics.

rule table:
    input:
        lambda wc: table_inputs(config, wc.table, PUBLISHED),
    output:
        csv=f"{ART}/tables/{{table}}.csv",
        md=f"{ART}/tables/{{table}}.md",
        tex=f"{ART}/tables/{{table}}.tex",
        provenance=f"{ART}/tables/{{table}}.prov.json",
    params:
        config=as_json(config),
        out_dir=lambda wc, output: str(Path(output.csv).parent),
        published=PUBLISHED,
    log:
        "results/logs/table/{table}.log",
    benchmark:
        "results/benchmarks/table/{table}.tsv"
    conda:
        ENV
    shell:
        "ifrnet table --config {params.config:q} --name {wildcards.table:q} "
        "--published {params.published:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule figure:
    input:
        lambda wc: figure_inputs(config, wc.figure),
    output:
        png=f"{ART}/figures/{{figure}}.png",
        pdf=f"{ART}/figures/{{figure}}.pdf",
        provenance=f"{ART}/figures/{{figure}}.prov.json",
    params:
        config=as_json(config),
    log:
        "results/logs/figure/{figure}.log",
    benchmark:
        "results/benchmarks/figure/{figure}.tsv"
    conda:
        ENV
    shell:
        "ifrnet figure --config {params.config:q} --name {wildcards.figure:q} "
        "--out {output.png:q} > {log:q} 2>&1"


rule stage_metrics:
    input:
        data="data/prepared/{dataset}/test.h5",
        mask=mask_for,
        checkpoint=lambda wc: checkpoint_path(wc.dataset, wc.mask, wc.model),
    output:
        "results/stages/{dataset}/{mask}/{model}.csv",
    params:
        device=config["device"],
    threads: 1
    log:
        "results/logs/stage_metrics/{dataset}/{mask}/{model}.log",
    conda:
        ENV
    shell:
        "ifrnet stage-metrics --data {input.data:q} --mask {input.mask:q} "
        "--checkpoint {input.checkpoint:q} --out {output:q} --device {params.device:q} "
        "--threads {threads} > {log:q} 2>&1"


rule table_file:
    input:
        f"{ART}/tables/{{file}}",
    output:
        "results/tables/{file}",
    log:
        "results/logs/publish/tables/{file}.log",
    conda:
        ENV
    shell:
        "ifrnet publish {input:q} --out-dir results/tables > {log:q} 2>&1"


rule figure_file:
    input:
        f"{ART}/figures/{{file}}",
    output:
        "results/figures/{file}",
    log:
        "results/logs/publish/figures/{file}.log",
    conda:
        ENV
    shell:
        "ifrnet publish {input:q} --out-dir results/figures > {log:q} 2>&1"


rule tables:
    input:
        files=table_files(table_names()),
        refresh=lambda wc: refresh_flag(
            "results/tables",
            [Path(f).name for f in table_files(table_names())],
            "results/.refresh/tables",
        ),
    output:
        directory("results/tables"),
    log:
        "results/logs/publish/tables.log",
    conda:
        ENV
    shell:
        "ifrnet publish {input.files:q} --out-dir {output:q} > {log:q} 2>&1"


rule figures:
    input:
        files=figure_files(figure_names()),
        refresh=lambda wc: refresh_flag(
            "results/figures",
            [Path(f).name for f in figure_files(figure_names())],
            "results/.refresh/figures",
        ),
    output:
        directory("results/figures"),
    log:
        "results/logs/publish/figures.log",
    conda:
        ENV
    shell:
        "ifrnet publish {input.files:q} --out-dir {output:q} > {log:q} 2>&1"


rule report:
    input:
        tables=table_files(table_names()),
        figures=figure_files(figure_names()),
        captions=[repo_file(f"workflow/report/{n}.rst") for n in table_names() + figure_names()],
    output:
        report("results/report.html", caption="../report/report.rst", category="Report"),
    params:
        csvs=lambda wc, input: [f for f in input.tables if f.endswith(".csv")],
        pngs=lambda wc, input: [f for f in input.figures if f.endswith(".png")],
        captions=lambda wc, input: os.path.dirname(input.captions[0]),
        config=as_json(config),
    log:
        "results/logs/report.log",
    conda:
        ENV
    shell:
        "ifrnet report --tables {params.csvs:q} --figures {params.pngs:q} "
        "--captions {params.captions:q} --config {params.config:q} "
        "--benchmarks results/benchmarks --out {output:q} > {log:q} 2>&1"

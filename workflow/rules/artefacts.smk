# Tables, figures and the report (ifrnet.bench.render.build, ifrnet.bench.render.report). Each artefact is
# built straight into results/tables/ or results/figures/ with its provenance sidecar, from the
# files its rule hands it (ifrnet.bench.artefacts.*_inputs) and the part of the config it shows
# (ifrnet.bench.artefacts.*_view), so editing one table's entry reruns that table only.


rule table:
    input:
        unpack(lambda wc: table_inputs(config, wc.table, PUBLISHED)),
    output:
        csv=f"{paths.TABLES}/{{table}}.csv",
        md=f"{paths.TABLES}/{{table}}.md",
        tex=f"{paths.TABLES}/{{table}}.tex",
        provenance=f"{paths.TABLES}/{{table}}.prov.json",
    params:
        view=lambda wc: as_json(table_view(config, wc.table)),
        published=lambda wc, input: " ".join(f"--published {shlex.quote(f)}"
                                             for f in input.published),
        tuned=lambda wc, input: " ".join(shlex.quote(f) for f in input.tuned),
    resources:
        device=DEVICE,
    log:
        paths.log("table", "{table}"),
    benchmark:
        paths.benchmark("table", "{table}")
    conda:
        ENV
    shell:
        "ifrnet table --name {wildcards.table:q} --view {params.view:q} "
        "--metrics {input.metrics:q} --masks {input.masks:q} --tuned {params.tuned} "
        "--data {input.data:q} {params.published} --run-device {resources.device:q} "
        "--out {output.csv:q} > {log:q} 2>&1"


rule figure:
    input:
        lambda wc: figure_inputs(config, wc.figure),
    output:
        png=f"{paths.FIGURES}/{{figure}}.png",
        pdf=f"{paths.FIGURES}/{{figure}}.pdf",
        provenance=f"{paths.FIGURES}/{{figure}}.prov.json",
    params:
        view=lambda wc: as_json(figure_view(config, wc.figure)),
    resources:
        device=DEVICE,
    log:
        paths.log("figure", "{figure}"),
    benchmark:
        paths.benchmark("figure", "{figure}")
    conda:
        ENV
    shell:
        "ifrnet figure --name {wildcards.figure:q} --view {params.view:q} "
        "--inputs {input:q} --run-device {resources.device:q} --out {output.png:q} "
        "> {log:q} 2>&1"


rule claims:
    input:
        files=lambda wc: [path for _, path in claim_files(claims_view(config))],
        claims=CLAIMS_FILE,
        published=PUBLISHED,
    output:
        csv=paths.CLAIMS_FILES[0],
        md=paths.CLAIMS_FILES[1],
        provenance=paths.CLAIMS_FILES[2],
    params:
        view=lambda wc: as_json(claims_view(config)),
    resources:
        device=DEVICE,
    log:
        paths.log("claims"),
    benchmark:
        paths.benchmark("claims")
    conda:
        ENV
    shell:
        "ifrnet claims --view {params.view:q} --inputs {input.files:q} "
        "--claims {input.claims:q} --published {input.published:q} "
        "--run-device {resources.device:q} --out {output.csv:q} > {log:q} 2>&1"


rule stage_metrics:
    input:
        data=paths.prepared("{dataset}", "test"),
        mask=mask_for,
        checkpoint=checkpoint_for,
    output:
        paths.stage_metrics("{dataset}", "{mask}", "{run}"),
    threads: 1
    resources:
        device=DEVICE,
    log:
        paths.log("stage_metrics", "{dataset}/{mask}/{run}"),
    conda:
        ENV
    shell:
        "ifrnet stage-metrics --data {input.data:q} --mask {input.mask:q} "
        "--checkpoint {input.checkpoint:q} --out {output:q} --device {resources.device:q} "
        "--threads {threads} > {log:q} 2>&1"


rule report:
    input:
        tables=[f for f in TABLE_FILES if f not in paths.CLAIMS_FILES],
        claims=paths.CLAIMS_FILES[0],
        claims_file=CLAIMS_FILE,
        figures=FIGURE_FILES,
        captions=[repo_file(f"workflow/report/{n}.rst") for n in table_names() + figure_names()],
    output:
        paths.REPORT,
    params:
        csvs=lambda wc, input: [f for f in input.tables if f.endswith(".csv")],
        pngs=lambda wc, input: [f for f in input.figures if f.endswith(".png")],
        captions=lambda wc, input: os.path.dirname(input.captions[0]),
        config=as_json({k: v for k, v in config.items() if k != "device"}),
        benchmarks=paths.BENCHMARKS,
    resources:
        device=DEVICE,
    log:
        paths.log("report"),
    conda:
        ENV
    shell:
        "ifrnet report --tables {params.csvs:q} --figures {params.pngs:q} "
        "--claims {input.claims:q} --claims-file {input.claims_file:q} "
        "--captions {params.captions:q} --config {params.config:q} "
        "--run-device {resources.device:q} --benchmarks {params.benchmarks:q} --out {output:q} "
        "> {log:q} 2>&1"


# `snakemake results/tables` and `snakemake results/figures`: a target that names a rule runs
# that rule (Snakemake checks rule names before file paths), and the `name:` directive lets a
# rule be named by the folder it fills. No directory() output, no copy: the rule lists the
# files, so a folder with some tables missing builds exactly the missing ones.
rule:
    name:
        paths.TABLES
    input:
        TABLE_FILES,


rule:
    name:
        paths.FIGURES
    input:
        FIGURE_FILES,

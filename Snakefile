# ifrnet-bench: config → thin rules → library functions → results/.
# Targets: every file (default), results/tables, results/figures (rules named so), any single
# file in them, results/report.html.
# See README.md.
import time

from snakemake.utils import min_version

min_version("9.18")

STARTED = time.monotonic()


# The default config applies only when no --configfile is given: Snakemake would otherwise merge
# the two (a smoke run would inherit the default study's tables). It is found beside this file,
# so the workflow also runs from another directory or as a module (README: "Use as a module").
if not workflow.config_settings.configfiles:

    configfile: workflow.source_path("config/config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/artefacts.smk"


rule all:
    default_target: True
    input:
        TABLE_FILES,
        FIGURE_FILES,
        paths.REPORT,


onsuccess:
    from ifrnet.bench.render.summary import run_summary

    print(run_summary("results", time.monotonic() - STARTED))

# Configuration validation and input functions. No computation here: the library does the work.
import json
import os
import re
import shlex
from pathlib import Path

from ifrnet.bench import paths
from ifrnet.bench.artefacts import (
    checkpoint_file,
    figure_inputs,
    figure_view,
    mask_file,
    table_inputs,
    table_view,
    tuning_file,
)
from ifrnet.util.device import check_device
from ifrnet.bench.data.sources import downloads, fastmri_fetches, source_files
from ifrnet.bench.jobs import job_prefix
from ifrnet.numerics.masks import mask_kind
from snakemake.settings.types import DeploymentMethod
from ifrnet.bench.config import (
    ConfigError,
    Study,
    file_downloads,
    load_schema,
    validate_config,
)


# This file's folder: a local path, or a URL when the workflow is a remote module.
RULES_DIR = workflow.current_basedir


def repo_file(path):
    """A file of this repository (``path`` relative to its root), found from the workflow's own
    location, not the working directory, so the workflow also runs from another directory
    (``snakemake -s <repo>/Snakefile --directory <elsewhere>``) or as a module. Local files are
    given relative to the working directory when inside it (params and provenance read as
    before), else absolute; a remote module's files come from Snakemake's source cache."""
    if not getattr(RULES_DIR, "is_local", False):
        return workflow.source_path(f"../../{path}")
    found = os.path.normpath(os.path.join(os.fspath(RULES_DIR), "..", "..", path))
    here = os.path.relpath(found)
    return found if here.startswith("..") else here


# Conda route (README "Environments"): jobs run in envs/ifrnet.yaml, which holds the pinned
# dependencies but not this project; `ifrnet` there runs this checkout's code (ifrnet.bench.jobs).
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method and getattr(
        RULES_DIR, "is_local", False):
    shell.prefix(job_prefix(os.path.abspath(repo_file("."))).replace("{", "{{").replace("}", "}}"))


SCHEMA = load_schema(repo_file("config/schema.yaml"))
try:
    validate_config(config, SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None


def check_configured_device():
    """The config's `device` must exist where jobs run (one line naming it, else)."""
    try:
        check_device(config["device"])
    except ValueError as err:
        raise WorkflowError(str(err)) from None


# Checked once, before the first job, where the jobs run: a cluster job on its node (a GPU
# cluster's login node may have no GPU); a local run in onstart, which comes before scheduling
# (the executor is known only then; dry runs start no job and skip it).
if workflow.remote_exec:
    check_configured_device()


onstart:
    if workflow.local_exec:
        check_configured_device()

PUBLISHED = repo_file("config/published.yaml")


def _shipped_checksums(location):
    """A relative ``checksums`` path that names a list shipped in this repository (e.g.
    config/checksums/siat.sha256) and is not in the working directory: the shipped one."""
    path = location.get("checksums")
    if path and not os.path.isabs(path) and not os.path.exists(path):
        shipped = repo_file(path)
        if os.path.exists(shipped):
            location["checksums"] = shipped


for _spec in config["datasets"].values():
    for _location in (_spec, _spec.get("test_source", {})):
        _shipped_checksums(_location)

# The config read once: typed, read-only entries with the schema's `default:`s filled in (the
# one place defaults live); `config` keeps the same values as plain dictionaries.
STUDY = Study.from_config(config, SCHEMA)

SPLITS = list(paths.SPLITS)


wildcard_constraints:
    dataset=r"[^/]+",
    mask=r"[^/]+",
    model=r"[^/]+",


ENV = "../../envs/ifrnet.yaml"


def as_json(value):
    """Config entry → JSON string for a command-line argument (quoted with :q in shell)."""
    return json.dumps(value, sort_keys=True, default=dict)  # read-only entries: as dicts


def mask_for(wildcards):
    """Mask file of an experiment (its shape follows the data set)."""
    return mask_file(config, wildcards.dataset, wildcards.mask)


# Display-only or machine-only keys: never params of a computing job, so editing them reruns
# nothing (a label shows in the artefacts' views; threads and device reach jobs as `threads:`
# and as the `device` resource, which are not rerun triggers).
DISPLAY_ONLY = ("label", "threads")


def model_spec(wildcards):
    """A model's entry as a reconstruction job sees it: without its display-only keys."""
    entry = STUDY.models[wildcards.model].spec
    return as_json({k: v for k, v in entry.items() if k not in DISPLAY_ONLY})


# The configured device reaches the jobs that use it as a resource, not a param: Snakemake
# reruns a job whose params changed, but a computation's result does not depend on which
# device ran it, so switching device reruns nothing (a typo stops the run: schema pattern,
# then check_configured_device where jobs run, then the job's own --device check).
DEVICE = STUDY.device
# A training on a GPU takes one of the GPU's `gpu_slots`: the profiles set how many trainings
# share a GPU at once (profiles/default: --resources gpu_slots=K; on the CPU trainings take none).
GPU_SLOTS = 1 if DEVICE.startswith("cuda") else 0


DOWNLOADS = {**downloads(config["datasets"]), **file_downloads(config)}
# Rule download matches exactly the files the config downloads (locations with a `url`):
# checksummed files the user already has (`dir` without `url`) are plain inputs, never jobs.
DOWNLOADED = "|".join(re.escape(path) for path in sorted(DOWNLOADS)) or "(?!)"


def download_entry(path):
    """(URL, SHA-256) of a file some data set downloads (WorkflowError if none does)."""
    if path not in DOWNLOADS:
        raise WorkflowError(f"{path}: no data set downloads this file (check its checksums list)")
    return DOWNLOADS[path]


FETCHES = fastmri_fetches(config["datasets"])


def fetch_entry(path):
    """(URL source, volumes) of a fastMRI part streamed from an archive (WorkflowError if none)."""
    if path not in FETCHES:
        raise WorkflowError(f"{path}: no fastMRI data set gives a URL for this part")
    return FETCHES[path]


def url_source_args(source):
    """`--url-env NAME` or `--url-file PATH` (shell-quoted): the job reads the URL itself."""
    (kind, where), = source.items()
    return f"--url-{kind} {shlex.quote(where)}"


def table_names():
    return sorted(STUDY.tables)


def figure_names():
    return sorted(STUDY.figures)


TABLE_FILES = [f for name in table_names() for f in paths.table_files(name)]
FIGURE_FILES = [f for name in figure_names() for f in paths.figure_files(name)]


def train_spec(wildcards):
    """What a training job depends on: method, params and train settings (not save_maps &c.),
    so that editing reconstruction-only options does not retrain."""
    entry = STUDY.models[wildcards.model].spec
    return as_json({k: entry[k] for k in ("method", "params", "train") if k in entry})


def tune_spec(wildcards):
    """What a tuning job depends on: method, params and the grid."""
    entry = STUDY.models[wildcards.model].spec
    return as_json({k: entry[k] for k in ("method", "params", "tune") if k in entry})


def model_threads(wildcards):
    """Cores for a model's tuning and reconstruction jobs (config `threads`, schema default 1:
    on a small machine single-threaded jobs pack every core, where a 2-thread job waits for two
    free cores while a 1-thread training job holds one)."""
    return STUDY.models[wildcards.model].threads


def recon_inputs(wildcards):
    """Inputs of a reconstruction: the test split, the mask and, if learned or tuned, the
    checkpoint or tuning result (from the data set named by `train_on`, if any)."""
    experiment = (wildcards.dataset, wildcards.mask, wildcards.model)
    inputs = {"data": paths.prepared(wildcards.dataset, "test"), "mask": mask_for(wildcards)}
    kind = STUDY.models[wildcards.model].kind
    if kind == "learned":
        inputs["checkpoint"] = checkpoint_file(config, *experiment)
    elif kind == "tuned":
        inputs["tuned"] = tuning_file(config, *experiment)
    return inputs


def method_args(wildcards, input):
    """`--checkpoint PATH` for learned models, `--tuned PATH` for tuned ones (shell-quoted)."""
    args = [f"--{key} {shlex.quote(input[key])}" for key in ("checkpoint", "tuned")
            if key in input.keys()]
    stages = STUDY.models[wildcards.model].get("save_maps")
    if stages:
        args.append("--maps " + ",".join(str(s) for s in stages))
    return " ".join(args)



wildcard_constraints:
    table=r"[^/.]+",
    figure=r"[^/.]+",

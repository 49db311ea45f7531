# Configuration validation and input functions. No computation here: the library does the work.
import json
import os
import re
import shlex
from pathlib import Path

from ifrnet.bench import paths
from ifrnet.bench.artefacts import (
    checkpoint_file,
    claim_files,
    claims_view,
    recon_params,
    train_params,
    tune_params,
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
from ifrnet.bench.claims import load_claims
from ifrnet.bench.render.paper import load_published
from ifrnet.bench.config import ConfigError, Study, file_downloads, load_schema


# This file's folder: a local path, or a URL when the workflow is a remote module.
RULES_DIR = workflow.current_basedir


def repo_file(path):
    """A file of this repository (``path`` relative to its root), found from the workflow's own
    location, not the working directory, so the workflow also runs from another directory
    (``snakemake -s <repo>/Snakefile --directory <elsewhere>``) or as a module. Local files are
    given relative to the working directory when inside it (so params and provenance do not
    depend on where the checkout is), else absolute; a remote module's files come from
    Snakemake's source cache."""
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


def shipped(path):
    """``path``, or the copy this repository ships when a relative path names a file that is
    not in the working directory (e.g. config/checksums/siat200.sha256, run from elsewhere)."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    found = repo_file(path)
    return found if os.path.exists(found) else path


# The config read once: validated, the schema's `default:`s filled in (the one place defaults
# live), shipped checksum lists located; typed, read-only entries. `config` keeps the same
# values as plain dictionaries.
try:
    STUDY = Study.from_config(config, SCHEMA, locate=shipped)
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
CLAIMS_FILE = repo_file("config/claims.yaml")
try:
    load_claims(CLAIMS_FILE, SCHEMA, load_published(PUBLISHED))
except ConfigError as err:
    raise WorkflowError(str(err)) from None


SPLITS = list(paths.SPLITS)


wildcard_constraints:
    dataset=r"[^/]+",
    mask=r"[^/]+",
    model=r"[^/]+",
    run=paths.RUN_PATTERN,


ENV = "../../envs/ifrnet.yaml"


def as_json(value):
    """Config entry → JSON string for a command-line argument (quoted with :q in shell)."""
    return json.dumps(value, sort_keys=True, default=dict)  # read-only entries: as dicts


def mask_for(wildcards):
    """Mask file of an experiment (its shape follows the data set)."""
    return mask_file(config, wildcards.dataset, wildcards.mask)


def run_model(wildcards):
    """The model entry of a run wildcard (``MODEL`` or ``MODEL/seed-N``; a seed exactly for a
    model trained here, else WorkflowError)."""
    model, seed = paths.parse_run(wildcards.run)
    if model not in STUDY.models:
        raise WorkflowError(f"{wildcards.run}: no model {model!r} in the config")
    entry = STUDY.models[model]
    if (seed is None) == ("train" in entry.spec):
        expected = paths.runs(model, entry.seeds(STUDY.seed))[0]
        raise WorkflowError(f"{wildcards.run}: the files of model {model!r} are named {expected}")
    return entry


def run_seed(wildcards):
    """The training seed a run of a model trained here names."""
    run_model(wildcards)
    return paths.parse_run(wildcards.run)[1]


def model_spec(wildcards):
    """A model's entry as a reconstruction job sees it (ifrnet.bench.artefacts.recon_params)."""
    return as_json(recon_params(run_model(wildcards).spec))


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
TABLE_FILES += paths.CLAIMS_FILES
FIGURE_FILES = [f for name in figure_names() for f in paths.figure_files(name)]


def train_spec(wildcards):
    """What a training job depends on (ifrnet.bench.artefacts.train_params)."""
    return as_json(train_params(run_model(wildcards).spec))


def tune_spec(wildcards):
    """What a tuning job depends on (ifrnet.bench.artefacts.tune_params)."""
    return as_json(tune_params(STUDY.models[wildcards.model].spec))


def model_threads(wildcards):
    """Cores for a model's tuning and reconstruction jobs (config `threads`, schema default 1:
    on a small machine single-threaded jobs pack every core, where a 2-thread job waits for two
    free cores while a 1-thread training job holds one)."""
    if "run" in wildcards.keys():
        return run_model(wildcards).threads
    return STUDY.models[wildcards.model].threads


def checkpoint_for(wildcards):
    """model.pt of a run (trained on the data set named by `train_on`, if any)."""
    try:
        return checkpoint_file(config, wildcards.dataset, wildcards.mask, wildcards.run)
    except ValueError as err:
        raise WorkflowError(str(err)) from None


def recon_inputs(wildcards):
    """Inputs of a reconstruction: the test split, the mask and, if learned or tuned, the
    checkpoint of the run or the tuning result (from the data set named by `train_on`)."""
    model, _ = paths.parse_run(wildcards.run)
    inputs = {"data": paths.prepared(wildcards.dataset, "test"), "mask": mask_for(wildcards)}
    fitting = run_model(wildcards).fitting
    if fitting == "learned":
        inputs["checkpoint"] = checkpoint_for(wildcards)
    elif fitting == "tuned":
        inputs["tuned"] = tuning_file(config, wildcards.dataset, wildcards.mask, model)
    return inputs


def method_args(wildcards, input):
    """`--checkpoint PATH` for learned models, `--tuned PATH` for tuned ones (shell-quoted)."""
    args = [f"--{key} {shlex.quote(input[key])}" for key in ("checkpoint", "tuned")
            if key in input.keys()]
    stages = run_model(wildcards).get("save_maps")
    if stages:
        args.append("--maps " + ",".join(str(s) for s in stages))
    return " ".join(args)



wildcard_constraints:
    table="|".join(re.escape(name) for name in table_names()) or "(?!)",
    figure=r"[^/.]+",

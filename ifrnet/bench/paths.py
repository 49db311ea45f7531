"""Where every file of the workflow lives: the one module of path patterns.

The Snakemake rules (``workflow/rules/*.smk``) and the library both build paths here and
nowhere else, so a rule's declared output and the file a later step is handed are one string.
Every path is relative to the working directory of the run. The functions take names (config
keys) and, where the file depends on it, the image side; none reads the config.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePath

#: The checkout this package runs from (the project is installed editable from its source
#: tree): where ``config/schema.yaml`` and the git history are found.
SOURCE_ROOT = Path(__file__).resolve().parents[2]

PREPARED = "data/prepared"
RESULTS = "results"
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
REPORT = f"{RESULTS}/report.html"
BENCHMARKS = f"{RESULTS}/benchmarks"
LOGS = f"{RESULTS}/logs"

#: Files one table is written as (the CSV first: its provenance sidecar is named after it).
TABLE_EXTS = (".csv", ".md", ".tex", ".prov.json")
#: Files one figure is written as (the PNG first).
FIGURE_EXTS = (".png", ".pdf", ".prov.json")
SPLITS = ("train", "val", "test")


#: A run is one trained instance of a model. A model trained here (``train`` in its entry) has
#: one run per training seed, ``{model}/seed-{seed}``; every other model (plain, tuned,
#: published weights) has one run named as the model. The per-experiment files below take a
#: run where they say ``run``: ``recon(dataset, mask, "ifrnet/seed-1")`` is
#: ``results/recon/{dataset}/{mask}/ifrnet/seed-1.h5``.
RUN_PATTERN = r"[^/]+(?:/seed-[0-9]+)?"


def run(model: str, seed: int | None) -> str:
    """The run of ``model`` trained with ``seed`` (``None``: a model that is not trained here)."""
    return model if seed is None else f"{model}/seed-{int(seed)}"


def runs(model: str, seeds: Sequence[int] | None) -> list[str]:
    """The runs of ``model``, one per training seed (``[model]`` without seeds)."""
    return [run(model, seed) for seed in seeds] if seeds else [model]


def parse_run(name: str) -> tuple[str, int | None]:
    """(model, training seed or None) of a run name (ValueError if it is not one)."""
    match = re.fullmatch(r"([^/]+)(?:/seed-([0-9]+))?", name)
    if match is None:
        raise ValueError(f"{name!r} is not a run: expected MODEL or MODEL/seed-N")
    model, seed = match.groups()
    return model, None if seed is None else int(seed)


def prepared(dataset: str, split: str) -> str:
    """Prepared split of a data set (the file contract of :mod:`ifrnet.bench.data.prepared`)."""
    return f"{PREPARED}/{dataset}/{split}.h5"


def prepared_dir(dataset: str) -> str:
    """Folder of a data set's prepared splits."""
    return f"{PREPARED}/{dataset}"


def mask(name: str, height: int, width: int) -> str:
    """Sampling mask ``name`` at an image shape: ``results/masks/{name}-{H}x{W}.npz``."""
    return f"{RESULTS}/masks/{name}-{height}x{width}.npz"


def mask_preview(name: str, height: int, width: int) -> str:
    """PNG preview beside a mask file."""
    return f"{RESULTS}/masks/{name}-{height}x{width}.png"


def model_dir(dataset: str, mask: str, run: str) -> str:
    """Folder of a run trained on ``dataset`` with ``mask`` (model.pt, train_log.csv)."""
    return f"{RESULTS}/models/{dataset}/{mask}/{run}"


def checkpoint(dataset: str, mask: str, run: str) -> str:
    """model.pt of a run of a network trained here."""
    return f"{model_dir(dataset, mask, run)}/model.pt"


def train_log(dataset: str, mask: str, run: str) -> str:
    """Per-iteration training log of a run of a network trained here."""
    return f"{model_dir(dataset, mask, run)}/train_log.csv"


def published_checkpoint(model: str) -> str:
    """model.pt converted from a model's published weights (one for every data set and mask)."""
    return f"{RESULTS}/models/published/{model}/model.pt"


def tuning(dataset: str, mask: str, model: str) -> str:
    """Tuning result (chosen values, every trial) of a tuned method."""
    return f"{RESULTS}/tuning/{dataset}/{mask}/{model}.json"


def recon(dataset: str, mask: str, run: str) -> str:
    """Reconstruction of a data set's test split by one run of a model."""
    return f"{RESULTS}/recon/{dataset}/{mask}/{run}.h5"


def metrics(dataset: str, mask: str, run: str) -> str:
    """Per-image metrics of one reconstruction."""
    return f"{RESULTS}/metrics/{dataset}/{mask}/{run}.csv"


def stage_metrics(dataset: str, mask: str, run: str) -> str:
    """Per-stage metrics of a run of a learned unrolled network (paper Fig. 6)."""
    return f"{RESULTS}/stages/{dataset}/{mask}/{run}.csv"


#: Files of the claims table (ifrnet.bench.render.claims): the paper's findings checked on the
#: study, one row per comparison (CSV, first) and one per claim (Markdown).
CLAIMS_FILES = (f"{TABLES}/claims.csv", f"{TABLES}/claims.md", f"{TABLES}/claims.prov.json")


def table_files(name: str) -> list[str]:
    """The files of one table: CSV, Markdown, LaTeX and provenance."""
    return [f"{TABLES}/{name}{ext}" for ext in TABLE_EXTS]


def figure_files(name: str) -> list[str]:
    """The files of one figure: PNG, PDF and provenance."""
    return [f"{FIGURES}/{name}{ext}" for ext in FIGURE_EXTS]


def log(step: str, job: str | None = None) -> str:
    """Log file of one job of a rule (``job``: its wildcards joined by ``/``, a pattern in a
    rule; none for a rule with one job)."""
    return f"{LOGS}/{step}/{job}.log" if job is not None else f"{LOGS}/{step}.log"


def benchmark(step: str, job: str | None = None) -> str:
    """Snakemake benchmark record of one job of a rule (``job`` as for :func:`log`)."""
    return f"{BENCHMARKS}/{step}/{job}.tsv" if job is not None else f"{BENCHMARKS}/{step}.tsv"


def benchmark_job(relative: str | PurePath) -> tuple[str, str | None]:
    """(rule, job) of a benchmark record given by its path under ``results/benchmarks/``: the
    inverse of :func:`benchmark` (job None for a rule with one job)."""
    step, *job = PurePath(relative).with_suffix("").parts
    return step, "/".join(job) or None

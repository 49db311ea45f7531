"""Which files each table and figure of a config needs: the single place that knows it.

Snakemake's input functions and the renderers (for provenance) both call these, so a table or
figure target pulls in exactly the jobs it needs and nothing else (e.g. the mask figure needs
no training). Paths follow the file contracts of :mod:`ifrnet.config`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ifrnet.config import mask_path, metrics_path, prepared_path, table_cells, tuning_path

PUBLISHED = "config/published.yaml"

# Figure kinds whose panels are reconstructions of (dataset, mask, model) experiments.
RECON_KINDS = ("reconstructions", "maps")


def recon_path(dataset: str, mask: str, model: str) -> str:
    """Reconstruction file of one experiment."""
    return f"results/recon/{dataset}/{mask}/{model}.h5"


def model_dir(dataset: str, mask: str, model: str) -> str:
    """Output directory of a trained model (model.pt, train_log.csv)."""
    return f"results/models/{dataset}/{mask}/{model}"


def stages_path(dataset: str, mask: str, model: str) -> str:
    """Per-stage metrics of a learned unrolled network (Fig. 6)."""
    return f"results/stages/{dataset}/{mask}/{model}.csv"


def training_dataset(config: dict[str, Any], dataset: str) -> str:
    """The data set whose train/val splits train and tune the models tested on ``dataset``
    (``train_on`` in its config entry; itself by default)."""
    return config["datasets"][dataset].get("train_on", dataset)


def figure_experiments(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(dataset, mask, model) reconstructions a figure shows."""
    if spec["kind"] == "reconstructions":
        return [(spec["dataset"], m, model) for m in spec["masks"] for model in spec["models"]]
    if spec["kind"] == "maps":
        return [(spec["dataset"], spec["mask"], spec["model"])]
    return []


def table_inputs(config: dict[str, Any], table: str,
                 published: str | os.PathLike[str] = PUBLISHED) -> list[str]:
    """Files a table is rendered from: metrics, masks, tuning results, test split, paper (the
    published-results file ``published``)."""
    spec = config["tables"][table]
    cells = table_cells(config, table)
    files = [metrics_path(*cell) for cell in cells]
    files += sorted({mask_path(config, d, m) for d, m, _ in cells})
    files += [tuning_path(training_dataset(config, d), m, model) for d, m, model in cells
              if "tune" in config["models"][model]]
    files.append(prepared_path(spec["dataset"], "test"))
    if "paper" in spec:
        files.append(str(published))
    return files


def figure_inputs(config: dict[str, Any], figure: str) -> list[str]:
    """Files a figure is drawn from (none for diagrams, which come from the config alone)."""
    spec = config["figures"][figure]
    kind = spec["kind"]
    if kind == "test_images":
        return [prepared_path(d, "test") for d in spec["datasets"]]
    if kind == "masks":
        return [mask_path(config, spec["dataset"], m) for m in spec["masks"]]
    if kind == "stages":
        return [stages_path(spec["dataset"], spec["mask"], spec["model"])]
    if kind == "loss_curves":
        return [f"{model_dir(spec['dataset'], spec['mask'], spec['model'])}/train_log.csv"]
    if kind in RECON_KINDS:
        return [prepared_path(spec["dataset"], "test")] + [
            recon_path(*e) for e in figure_experiments(spec)]
    return []


def refresh_flag(directory: str, expected: list[str], flag: str) -> str:
    """Flag file that makes Snakemake rebuild an aggregate ``directory`` output when files are
    missing from it.

    Building one file into the directory first (e.g. ``results/tables/table_IV.csv``) creates
    the directory, and Snakemake would then take the aggregate target as up to date. Called
    while the DAG is built: if the directory exists but lacks any ``expected`` file, the flag
    is touched (newer than the directory's contents, so the aggregate job reruns); otherwise
    it is only created, with an old time stamp. Returns the flag path (an input of the job).
    """
    path = Path(flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    incomplete = os.path.isdir(directory) and any(
        not (Path(directory) / name).exists() for name in expected)
    if incomplete:
        path.touch()
    elif not path.exists():
        path.touch()
        os.utime(path, (0, 0))
    return str(path)

"""What each table and figure of a config needs: its files and the config it shows.

Two questions, one place each:

* which files an artefact is built from (:func:`table_inputs`, :func:`figure_inputs`): the
  workflow's input functions call these and hand the files to the job, which reads nothing
  else, so a target pulls in exactly the jobs it needs (the mask figure needs no training);
* what an artefact displays from the config (:func:`table_view`, :func:`figure_view`): its own
  entry plus the labels, methods and parameters of its models and the entries of the data sets
  and masks it names. A job gets this view, never the whole config, so an edit reruns only
  the artefacts that show what changed (a model's ``threads`` shows nowhere; its ``label``
  only where the model appears).

Paths come from :mod:`ifrnet.bench.paths`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ifrnet.bench import paths
from ifrnet.bench.config import model_kind
from ifrnet.bench.render.kinds import figure_kind

Experiment = tuple[str, str, str]

#: Keys of a model entry that artefacts show (labels, captions, diagrams, the loss name).
SHOWN_MODEL_KEYS = ("method", "label", "params", "weights", "train")


def training_dataset(config: Mapping[str, Any], dataset: str) -> str:
    """The data set whose train/val splits train and tune the models tested on ``dataset``
    (``train_on`` in its config entry; itself by default)."""
    return config["datasets"][dataset].get("train_on", dataset)


def image_shape(config: Mapping[str, Any], dataset: str) -> tuple[int, int]:
    """Image shape (H, W) of a data set."""
    size = int(config["datasets"][dataset]["size"])
    return size, size


def mask_file(config: Mapping[str, Any], dataset: str, mask: str) -> str:
    """The mask file a data set's experiments use (its shape follows the data set)."""
    return paths.mask(mask, *image_shape(config, dataset))


def checkpoint_file(config: Mapping[str, Any], dataset: str, mask: str, model: str) -> str:
    """model.pt of a network tested on ``dataset``: trained on its training data set with
    ``mask``, or converted from the published weights (one file for every data set, mask)."""
    if "weights" in config["models"][model]:
        return paths.published_checkpoint(model)
    return paths.checkpoint(training_dataset(config, dataset), mask, model)


def tuning_file(config: Mapping[str, Any], dataset: str, mask: str, model: str) -> str:
    """Tuning result a tuned model tested on ``dataset`` uses."""
    return paths.tuning(training_dataset(config, dataset), mask, model)


def table_cells(config: Mapping[str, Any], table: str) -> list[Experiment]:
    """The (dataset, mask, model) cells of one table, in the order the config lists them."""
    spec = config["tables"][table]
    return [(spec["dataset"], mask, model) for mask in spec["masks"] for model in spec["models"]]


def figure_experiments(spec: Mapping[str, Any]) -> list[Experiment]:
    """(dataset, mask, model) reconstructions a figure shows."""
    return figure_kind(spec["kind"]).experiments(spec)


def experiments(config: Mapping[str, Any]) -> list[Experiment]:
    """Every (dataset, mask, model) that some table or figure shows, sorted, without repeats."""
    found = {cell for table in config["tables"] for cell in table_cells(config, table)}
    for spec in config.get("figures", {}).values():
        found.update(figure_experiments(spec))
    return sorted(found)


def _models_shown(config: Mapping[str, Any], models: list[str]) -> dict[str, dict[str, Any]]:
    """The shown part of each model entry, with its kind (plain, tuned, learned)."""
    shown = {}
    for model in dict.fromkeys(models):
        entry = config["models"][model]
        shown[model] = {k: entry[k] for k in SHOWN_MODEL_KEYS if k in entry}
        shown[model]["kind"] = model_kind(entry)
    return shown


def table_view(config: Mapping[str, Any], table: str) -> dict[str, Any]:
    """What table ``table`` shows of the config: its entry (``entry``), its models' shown
    entries (``models``), ``batch_size`` (the timing caption) and ``seed`` (provenance)."""
    entry = config["tables"][table]
    return {
        "entry": entry,
        "models": _models_shown(config, entry["models"]),
        "batch_size": config["batch_size"],
        "seed": config["seed"],
    }


def figure_view(config: Mapping[str, Any], figure: str) -> dict[str, Any]:
    """What figure ``figure`` shows of the config: its entry (``entry``) and the entries of the
    ``models``, ``datasets`` and ``masks`` it names, and ``seed`` (provenance)."""
    entry = config["figures"][figure]
    named = {
        key: [entry[one]] if one in entry else entry.get(key, [])
        for one, key in (("model", "models"), ("dataset", "datasets"), ("mask", "masks"))
    }
    return {
        "entry": entry,
        "models": _models_shown(config, named["models"]),
        "datasets": {d: config["datasets"][d] for d in named["datasets"]},
        "masks": {m: config["masks"][m] for m in named["masks"]},
        "seed": config["seed"],
    }


def table_inputs(config: Mapping[str, Any], table: str, published: str) -> dict[str, Any]:
    """Files a table is rendered from, by role: ``metrics`` (one per cell, in cell order),
    ``masks`` (one per mask, in the table's order), ``tuned`` (one per cell of a tuned model,
    in cell order), ``data`` (the test split) and ``published`` (the paper's numbers, a list
    of one file or none)."""
    spec = config["tables"][table]
    cells = table_cells(config, table)
    return {
        "metrics": [paths.metrics(*cell) for cell in cells],
        "masks": [mask_file(config, spec["dataset"], m) for m in spec["masks"]],
        "tuned": [
            tuning_file(config, *cell)
            for cell in cells
            if model_kind(config["models"][cell[2]]) == "tuned"
        ],
        "data": paths.prepared(spec["dataset"], "test"),
        "published": [str(published)] if "paper" in spec else [],
    }


def figure_inputs(config: Mapping[str, Any], figure: str) -> list[str]:
    """Files a figure is drawn from, in the order its kind's draw function reads them (none
    for diagrams, which come from the config alone)."""
    view = figure_view(config, figure)
    return figure_kind(view["entry"]["kind"]).inputs(view)

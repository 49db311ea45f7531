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

from ifrnet.bench import cells, paths
from ifrnet.bench.config import model_fitting, training_seeds
from ifrnet.bench.render.kinds import figure_kind

Experiment = cells.Experiment

#: Keys of a model entry that artefacts show (labels, captions, diagrams, the loss name).
SHOWN_MODEL_KEYS = ("method", "label", "params", "weights", "train")

# The rerun policy: what each computing job of a model is handed of its entry (Snakemake reruns
# a job whose params changed). A key reaches the jobs that depend on it and no other, so an
# edit reruns exactly what it changes; tests/test_rerun_policy.py classifies every key.

#: Keys no computing job depends on: ``label`` shows only in the artefacts' views, ``threads``
#: reaches jobs as their `threads:` (not a rerun trigger), ``seeds`` lists a model's runs (each
#: run's own seed is in its name, so adding a seed reruns nothing of the others).
DISPLAY_ONLY = ("label", "threads", "seeds")
#: What a training job depends on (not ``save_maps``: a reconstruction option).
TRAIN_KEYS = ("method", "params", "train")
#: What a tuning job depends on.
TUNE_KEYS = ("method", "params", "tune")


def train_params(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A model entry as its training jobs see it."""
    return {key: entry[key] for key in TRAIN_KEYS if key in entry}


def tune_params(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A model entry as its tuning jobs see it."""
    return {key: entry[key] for key in TUNE_KEYS if key in entry}


def recon_params(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A model entry as its reconstruction jobs see it: everything but the display-only keys."""
    return {key: value for key, value in entry.items() if key not in DISPLAY_ONLY}


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


def model_runs(config: Mapping[str, Any], model: str) -> list[str]:
    """The runs of a model (:data:`ifrnet.bench.paths.RUN_PATTERN`): one per training seed of a
    model trained here, else the model itself."""
    return paths.runs(model, training_seeds(config["models"][model], config["seed"]))


def checkpoint_file(config: Mapping[str, Any], dataset: str, mask: str, run: str) -> str:
    """model.pt of a run of a network tested on ``dataset``: trained on its training data set
    with ``mask``, or converted from the published weights (one file for every data set, mask).
    ValueError for a run that names no training seed of a model trained here, or names one of a
    model that is not."""
    model, seed = paths.parse_run(run)
    entry = config["models"][model]
    if "weights" in entry and seed is None:
        return paths.published_checkpoint(model)
    if "train" not in entry:
        raise ValueError(f"{run}: model {model!r} is not trained here; it has no seeded runs")
    if seed is None:
        raise ValueError(
            f"{run}: model {model!r} is trained here, so its files name the training seed, "
            f"e.g. {paths.run(model, training_seeds(entry, config['seed'])[0])}"
        )
    return paths.checkpoint(training_dataset(config, dataset), mask, run)


def tuning_file(config: Mapping[str, Any], dataset: str, mask: str, model: str) -> str:
    """Tuning result a tuned model tested on ``dataset`` uses."""
    return paths.tuning(training_dataset(config, dataset), mask, model)


def table_cells(config: Mapping[str, Any], table: str) -> list[Experiment]:
    """The (dataset, mask, model) cells of one table, in the order the config lists them."""
    return cells.entry_cells(config["tables"][table])


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
    """The shown part of each model entry, with its fitting (plain, tuned, learned) and, for a
    model trained here, its training ``seeds`` (the master seed when the entry lists none)."""
    shown = {}
    for model in dict.fromkeys(models):
        entry = config["models"][model]
        shown[model] = {k: entry[k] for k in SHOWN_MODEL_KEYS if k in entry}
        shown[model]["fitting"] = model_fitting(entry)
        seeds = training_seeds(entry, config["seed"])
        if seeds:
            shown[model]["seeds"] = list(seeds)
    return shown


def table_view(config: Mapping[str, Any], table: str) -> dict[str, Any]:
    """What table ``table`` shows of the config: its entry (``entry``), its models' shown
    entries (``models``), its data set's entry (``datasets``: the scale its caption states),
    ``batch_size`` (the timing caption) and ``seed`` (provenance)."""
    entry = config["tables"][table]
    return {
        "entry": entry,
        "models": _models_shown(config, entry["models"]),
        "datasets": {entry["dataset"]: config["datasets"][entry["dataset"]]},
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
    """Files a table is rendered from, by role: ``metrics`` (one per run of each cell, in
    :func:`ifrnet.bench.cells.cell_runs` order),
    ``masks`` (one per mask, in the table's order), ``tuned`` (one per cell of a tuned model,
    in cell order), ``data`` (the test split) and ``published`` (the paper's numbers, a list
    of one file or none)."""
    spec = config["tables"][table]
    table_runs = cells.cell_runs(table_view(config, table), table_cells(config, table))
    return {
        "metrics": [paths.metrics(cell[0], cell[1], run) for cell, run in table_runs],
        "masks": [mask_file(config, spec["dataset"], m) for m in spec["masks"]],
        "tuned": [
            tuning_file(config, *cell)
            for cell in table_cells(config, table)
            if model_fitting(config["models"][cell[2]]) == "tuned"
        ],
        "data": paths.prepared(spec["dataset"], "test"),
        "published": [str(published)] if "paper" in spec else [],
    }


def figure_inputs(config: Mapping[str, Any], figure: str) -> list[str]:
    """Files a figure is drawn from, in the order its kind's draw function reads them (none
    for diagrams, which come from the config alone)."""
    view = figure_view(config, figure)
    return figure_kind(view["entry"]["kind"]).inputs(view)


#: What the claims show of a table entry: its cells and how they map onto the paper's rows
#: (not its title or caption settings, so editing those reruns that table only).
CLAIMED_TABLE_KEYS = ("dataset", "masks", "models", "paper", "paper_keys")


def claims_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the claims job is shown of the config: of every table that names a paper table,
    its cells and paper keys, the shown entries of its models (labels, seeds) and its data set
    (the scale); of every ``stages`` figure, its view; and the master seed."""
    tables = {}
    for name in sorted(config["tables"]):
        entry = config["tables"][name]
        if "paper" in entry:
            view = table_view(config, name)
            view["entry"] = {k: entry[k] for k in CLAIMED_TABLE_KEYS if k in entry}
            tables[name] = {k: view[k] for k in ("entry", "models", "datasets")}
    return {
        "tables": tables,
        "figures": {
            name: figure_view(config, name)
            for name in sorted(config.get("figures", {}))
            if config["figures"][name]["kind"] == "stages"
        },
        "seed": config["seed"],
    }


#: What one handed file holds: ("metrics", table, (dataset, mask, model), run) or
#: ("stages", figure, (dataset, mask, model), run).
FileKey = tuple[str, str, tuple[str, str, str], str]


def claim_files(view: Mapping[str, Any]) -> list[tuple[FileKey, str]]:
    """(key, path) of every file the claims job reads, in the order it is handed them: the
    per-run metrics of every cell of each table, then the per-run stage metrics of each stages
    figure."""
    files = []
    for name, table in view["tables"].items():
        for cell, run in cells.cell_runs(table, cells.entry_cells(table["entry"])):
            files.append((("metrics", name, cell, run), paths.metrics(cell[0], cell[1], run)))
    for name, figure in view["figures"].items():
        entry = figure["entry"]
        cell = (entry["dataset"], entry["mask"], entry["model"])
        for run in cells.view_runs(figure, entry["model"]):
            files.append((("stages", name, cell, run), paths.stage_metrics(cell[0], cell[1], run)))
    return files

"""The experiments an artefact shows: its (dataset, mask, model) cells and their runs.

A cell is one (dataset, mask, model) of a table or figure. A run is one trained instance of a
cell's model (:data:`ifrnet.bench.paths.RUN_PATTERN`): one per training seed of a model trained
here, else the model itself. Both the workflow (which files a job is handed) and the job (which
file is which) list them here, so the two orders are one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ifrnet.bench import paths

Experiment = tuple[str, str, str]


def entry_cells(entry: Mapping[str, Any]) -> list[Experiment]:
    """The (dataset, mask, model) cells of an entry that names a ``dataset``, ``masks`` and
    ``models`` (a table, a reconstructions figure): masks outer, models inner, in the order the
    entry lists them."""
    return [(entry["dataset"], mask, model) for mask in entry["masks"] for model in entry["models"]]


def view_runs(view: Mapping[str, Any], model: str) -> list[str]:
    """The runs of a model an artefact's view shows: one per training seed (its shown
    ``seeds``), else the model."""
    return paths.runs(model, view["models"][model].get("seeds"))


def cell_runs(view: Mapping[str, Any], cells: list[Experiment]) -> list[tuple[Experiment, str]]:
    """(cell, run) for every run of every cell, cells outer: the order in which an artefact's
    per-run files are handed to its job."""
    return [(cell, run) for cell in cells for run in view_runs(view, cell[2])]

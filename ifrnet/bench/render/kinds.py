"""The figure kinds: one small object per kind of the config's ``figures`` section.

A :class:`FigureKind` says which files a figure of its kind is drawn from (``inputs``), which
(dataset, mask, model) reconstructions it shows (``experiments``: they join the experiment
matrix) and how it is drawn (``draw``). The workflow asks ``inputs`` for a figure job's inputs
and hands exactly those files, in that order, to ``draw``. Adding a kind is one module with its
draw function and one line in :data:`FIGURE_KINDS` (and its name in ``config/schema.yaml``'s
``figures.kind`` enum, which a test compares with this registry).

``view`` is what :func:`ifrnet.bench.artefacts.figure_view` resolves from the config for one figure:
its own entry (``view["entry"]``), and the ``models``, ``datasets`` and ``masks`` entries it
names. ``draw`` is a callable or ``"module:function"``, imported only when the figure is drawn
(the workflow builds its plan without importing matplotlib or torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ifrnet.bench import paths
from ifrnet.bench.cells import entry_cells, view_runs

View = dict[str, Any]
Experiment = tuple[str, str, str]


def _none(view: View) -> list[Any]:
    return []


@dataclass(frozen=True)
class FigureKind:
    """One kind of figure: its files, its reconstructions and its drawing."""

    name: str
    draw: Callable[..., Any] | str
    inputs: Callable[[View], list[str]] = _none
    experiments: Callable[[dict[str, Any]], list[Experiment]] = _none

    def drawer(self) -> Callable[..., Any]:
        """The draw function ``(view, inputs) → matplotlib Figure``."""
        if callable(self.draw):
            return self.draw
        module, _, name = self.draw.partition(":")
        return getattr(importlib.import_module(module), name)


def _side(view: View, dataset: str) -> int:
    return int(view["datasets"][dataset]["size"])


def shown_run(view: View, model: str) -> str:
    """The run a figure shows of a model: its first training seed's (the model itself when it
    is not trained here)."""
    return view_runs(view, model)[0]


def _recon_inputs(view: View) -> list[str]:
    """The test split first, then the reconstructions shown (one run per model)."""
    kind = FIGURE_KINDS[view["entry"]["kind"]]
    return [paths.prepared(view["entry"]["dataset"], "test")] + [
        paths.recon(dataset, mask, shown_run(view, model))
        for dataset, mask, model in kind.experiments(view["entry"])
    ]


def _masks_inputs(view: View) -> list[str]:
    entry = view["entry"]
    side = _side(view, entry["dataset"])
    return [paths.mask(m, side, side) for m in entry["masks"]]


def _one(path: Callable[[str, str, str], str]) -> Callable[[View], list[str]]:
    """Inputs of a figure of one (dataset, mask, model): the file ``path`` names for the run
    it shows."""
    return lambda view: [
        path(
            view["entry"]["dataset"],
            view["entry"]["mask"],
            shown_run(view, view["entry"]["model"]),
        )
    ]


def _every_run(path: Callable[[str, str, str], str]) -> Callable[[View], list[str]]:
    """Inputs of a figure of one (dataset, mask, model): the file ``path`` names for each of
    its runs (one per training seed)."""
    return lambda view: [
        path(view["entry"]["dataset"], view["entry"]["mask"], run)
        for run in view_runs(view, view["entry"]["model"])
    ]


FIGURE_KINDS: dict[str, FigureKind] = {
    kind.name: kind
    for kind in (
        FigureKind("diagram", "ifrnet.bench.render.diagrams:diagram"),
        FigureKind(
            "test_images",
            "ifrnet.bench.render.figures:test_images",
            lambda view: [paths.prepared(d, "test") for d in view["entry"]["datasets"]],
        ),
        FigureKind("masks", "ifrnet.bench.render.figures:masks", _masks_inputs),
        FigureKind("stages", "ifrnet.bench.render.figures:stages", _every_run(paths.stage_metrics)),
        FigureKind(
            "reconstructions",
            "ifrnet.bench.render.figures:reconstructions",
            _recon_inputs,
            entry_cells,
        ),
        FigureKind("loss_curves", "ifrnet.bench.render.figures:loss_curves", _one(paths.train_log)),
        FigureKind(
            "maps",
            "ifrnet.bench.render.figures:maps",
            _recon_inputs,
            lambda e: [(e["dataset"], e["mask"], e["model"])],
        ),
    )
}


def figure_kind(name: str) -> FigureKind:
    """The registered kind ``name`` (ValueError naming the known ones otherwise)."""
    if name not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {name!r}; known: {sorted(FIGURE_KINDS)}")
    return FIGURE_KINDS[name]

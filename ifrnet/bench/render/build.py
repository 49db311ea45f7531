"""Build one table or one figure from the files the workflow hands it.

A job gets the artefact's view of the config (:func:`ifrnet.bench.artefacts.table_view`,
:func:`~ifrnet.bench.artefacts.figure_view`: its own entry and what it shows of its models, data
sets and masks) and its input files on the command line; it reads nothing else and derives no
path. Each artefact gets a provenance sidecar (:mod:`ifrnet.bench.render.provenance`) listing those
inputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.bench.cells import cell_runs, entry_cells, view_runs
from ifrnet.bench.data.prepared import read_split
from ifrnet.bench.render.kinds import figure_kind
from ifrnet.bench.render.labels import unique_labels
from ifrnet.bench.render.paper import cell_keys, load_published, paper_row
from ifrnet.bench.render.provenance import write_provenance
from ifrnet.bench.render.scale import scale_statement
from ifrnet.bench.render.tables import Cell, summarise, write_table
from ifrnet.bench.tuning import edge_note, read_edges, read_tuned
from ifrnet.numerics.masks import load_mask, mask_statistics

PathLike = str | os.PathLike[str]


def _paired(what: str, files: list[PathLike], keys: list[Any]) -> dict[Any, Path]:
    """{key: file}, one file handed per key (ValueError when the counts differ)."""
    if len(files) != len(keys):
        raise ValueError(
            f"{what}: {len(keys)} files needed ({', '.join(map(str, keys))}), {len(files)} given"
        )
    return dict(zip(keys, map(Path, files), strict=True))


def data_caption(dataset: str, attrs: dict[str, Any], n_test: int) -> str:
    """Caption sentence naming the data actually used: source, kind, noise, test images."""
    return (
        f"Data: {dataset} — {attrs['source']}; {attrs['kind']}-valued; k-space noise "
        f"σ = {float(attrs['noise_sigma']):g}; {n_test} test images."
    )


def tuned_caption(view: dict[str, Any], table: str, tuned: dict[tuple, Path]) -> str:
    """Sentences listing the tuned constants of every tuned method in a table, per mask, and
    warning about winners on the edge of their grid (also printed to stderr, the job's log);
    ``tuned``: the tuning result of each tuned cell."""
    parts, edges = [], []
    label = unique_labels(view, view["entry"]["models"])
    for dataset, mask, model in entry_cells(view["entry"]):
        if (dataset, mask, model) in tuned:
            path = tuned[(dataset, mask, model)]
            best = read_tuned(path)
            values = ", ".join(
                f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in best.items()
            )
            parts.append(f"{label[model]} at {mask}: {values}")
            note = edge_note(read_edges(path))
            if note:
                edges.append(f"{label[model]} at {mask}: {note}")
    for line in edges:
        print(f"warning: {table}: tuned on the edge of the grid: {line}", file=sys.stderr)
    warning = (
        f" Warning, tuned on the edge of the grid (a better value may lie outside it): "
        f"{'; '.join(edges)}."
        if edges
        else ""
    )
    return (f" Tuned on the validation split: {'; '.join(parts)}." + warning) if parts else ""


def paper_caption(spec: dict[str, Any], published: dict[str, Any] | None) -> str:
    """Sentence naming the paper table and its data, or saying there is none."""
    if published is None:
        return " No published counterpart."
    paper = published["tables"][spec["paper"]]
    data = published["datasets"].get(str(paper.get("data", "")).split("-")[0], {})
    note = f" {paper['note']}" if "note" in paper else ""
    return (
        f" Paper: Table {spec['paper']} ({paper['title']}; paper data: "
        f"{data.get('paper', paper.get('data', 'see paper'))}).{note}"
    )


def published_caption(view: dict[str, Any]) -> str:
    """Sentence naming the models that run the authors' published weights, not trained here."""
    models = view["entry"]["models"]
    label = unique_labels(view, models)
    parts = [
        f"{label[model]}: {Path(view['models'][model]['weights']['path']).name}"
        for model in dict.fromkeys(models)
        if "weights" in view["models"][model]
    ]
    return (
        " The authors' published weights, not trained here (the same network at every "
        f"mask): {'; '.join(parts)}."
        if parts
        else ""
    )


def masks_caption(masks: dict[str, np.ndarray], real: bool) -> str:
    """Sentence with each mask's sampled fraction and, for real-valued data, the fraction of
    k-space its samples determine (mask ∪ its point reflection through DC)."""
    described = "; ".join(
        f"{name} {mask_statistics(array).describe(real)}" for name, array in masks.items()
    )
    return f" Masks: {described}."


def ours_caption(most_seeds: int) -> str:
    """Sentence saying what "ours" is: mean ± std over the test images; with several training
    seeds, the mean over seeds ± the spread across seeds (the CSV keeps the per-image one)."""
    if most_seeds == 1:
        return " Ours: mean ± std over the test images;"
    return (
        " Ours: mean ± std over the test images for one seed; for a model trained with several"
        " seeds, the mean over the seeds of each seed's mean over the test images ± the std"
        " of those means across seeds (ddof = 1; the CSV keeps the per-image std and each"
        " seed's mean);"
    )


def timing_caption(batch_size: int, device: str) -> str:
    """Sentence saying how seconds per image were measured."""
    return (
        " s/image: wall time of the method's calls on the test split divided by the number "
        f"of images (batches of {batch_size}, after one warm-up call, "
        f"simulating the measurement excluded) on {device}."
    )


def reference_model(view: dict[str, Any]) -> str | None:
    """The model the paired tests compare against: ``reference``, else the table's last
    IFR-Net model, else none."""
    spec = view["entry"]
    if "reference" in spec:
        return spec["reference"]
    ifrnets = [m for m in spec["models"] if view["models"][m]["method"] == "ifrnet"]
    return ifrnets[-1] if ifrnets else None


def build_table(
    view: dict[str, Any],
    name: str,
    out_csv: PathLike,
    *,
    metrics: list[PathLike],
    masks: list[PathLike],
    data: PathLike,
    tuned: list[PathLike] = (),
    published: PathLike | None = None,
    device: str = "cpu",
) -> list[Path]:
    """Render table ``name`` (CSV, Markdown and LaTeX beside ``out_csv``, provenance) from its
    view and the files handed to it: ``metrics`` (one per run of each cell, in
    :func:`ifrnet.bench.cells.cell_runs` order), ``masks`` (one
    per mask of the entry), ``tuned`` (one per cell of a tuned model), the test split ``data``
    and, if the entry names a paper table, the published-results file. ``device``: where the
    timings were measured (for the caption)."""
    spec = view["entry"]
    cells_of = entry_cells(spec)
    if "paper" in spec and published is None:
        raise ValueError(
            f"{name}: the entry names paper table {spec['paper']}; hand the published-results file"
        )
    metrics_of = _paired(f"{name} metrics", metrics, cell_runs(view, cells_of))
    mask_of = _paired(f"{name} masks", masks, spec["masks"])
    tuned_of = _paired(
        f"{name} tuning results",
        list(tuned),
        [c for c in cells_of if view["models"][c[2]]["fitting"] == "tuned"],
    )
    paper = load_published(published) if "paper" in spec else None
    cells, arrays = [], {}
    labels = unique_labels(view, spec["models"])
    for cell in cells_of:
        _, mask, model = cell
        arrays.setdefault(mask, load_mask(mask_of[mask]).array)
        rate = float(arrays[mask].mean())
        keys = cell_keys(spec, mask, model) if paper else None
        row = paper_row(paper, spec["paper"], keys) if keys is not None else None
        runs = tuple(metrics_of[(cell, run)] for run in view_runs(view, model))
        seeds = tuple(view["models"][model].get("seeds", ()))
        cells.append(Cell(mask, rate, model, runs, row, labels[model], seeds))
    reference = reference_model(view)
    summary = summarise(cells, reference)
    images, attrs = read_split(data)
    test = (
        " p: two-sided Wilcoxon signed-rank test of per-image PSNR, "
        f"{labels.get(reference, reference)} vs each method on the same images."
        if reference
        else ""
    )
    caption = (
        data_caption(spec["dataset"], attrs, len(images))
        + masks_caption(arrays, attrs["kind"] == "real")
        + tuned_caption(view, name, tuned_of)
        + published_caption(view)
        + paper_caption(spec, paper)
        + ours_caption(max(len(c.metrics_csvs) for c in cells))
        + " Δ = ours − paper; best mean per mask in bold."
        + test
        + timing_caption(view["batch_size"], device)
    )
    scale = scale_statement(view["datasets"], view["models"])
    written = write_table(summary, Path(out_csv).parent, name, spec["title"], caption, scale)
    if written[0] != Path(out_csv):
        raise ValueError(f"{name}: the table's CSV is {written[0]}, not {out_csv}")
    inputs = [*metrics, *masks, *tuned, data, *([published] if published else [])]
    written.append(write_provenance(written[0], view, inputs, device))
    return written


def build_figure(
    view: dict[str, Any], name: str, inputs: list[PathLike], out_png: PathLike, device: str = "cpu"
) -> list[Path]:
    """Draw figure ``name`` of its view from the files its kind needs (``inputs``, in the
    kind's order) as PNG and PDF (plus provenance) at ``out_png``."""
    from ifrnet.bench.render.figures import save_figure

    kind = figure_kind(view["entry"]["kind"])
    figure = kind.drawer()(view, [Path(p) for p in inputs])
    written = save_figure(figure, out_png)
    written.append(write_provenance(out_png, view, inputs, device))
    return written

"""Build one table, one figure or the HTML report from the files the workflow wrote.

Each artefact gets a provenance sidecar (:mod:`ifrnet.render.provenance`) listing the exact
inputs :mod:`ifrnet.artefacts` declares for it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.artefacts import PUBLISHED, figure_inputs, table_inputs, training_dataset
from ifrnet.config import mask_path, metrics_path, prepared_path, table_cells, tuning_path
from ifrnet.data.prepared import read_split
from ifrnet.io import atomic_path
from ifrnet.masks import load_mask, mask_statistics
from ifrnet.render.labels import unique_labels
from ifrnet.render.paper import cell_keys, load_published, paper_row
from ifrnet.render.provenance import write_provenance
from ifrnet.render.tables import Cell, summarise, write_table
from ifrnet.tuning import edge_note, read_edges, read_tuned

PathLike = str | os.PathLike[str]


def data_caption(dataset: str, attrs: dict[str, Any], n_test: int) -> str:
    """Caption sentence naming the data actually used: source, kind, noise, test images."""
    return (f"Data: {dataset} — {attrs['source']}; {attrs['kind']}-valued; k-space noise "
            f"σ = {float(attrs['noise_sigma']):g}; {n_test} test images.")


def tuned_caption(config: dict[str, Any], table: str) -> str:
    """Sentences listing the tuned constants of every tuned method in a table, per mask, and
    warning about winners on the edge of their grid (also printed to stderr, the job's log)."""
    parts, edges = [], []
    label = unique_labels(config, config["tables"][table]["models"])
    for dataset, mask, model in table_cells(config, table):
        if "tune" in config["models"][model]:
            path = tuning_path(training_dataset(config, dataset), mask, model)
            best = read_tuned(path)
            values = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                               for k, v in best.items())
            parts.append(f"{label[model]} at {mask}: {values}")
            note = edge_note(read_edges(path))
            if note:
                edges.append(f"{label[model]} at {mask}: {note}")
    for line in edges:
        print(f"warning: {table}: tuned on the edge of the grid: {line}", file=sys.stderr)
    warning = (f" Warning, tuned on the edge of the grid (a better value may lie outside it): "
               f"{'; '.join(edges)}." if edges else "")
    return (f" Tuned on the validation split: {'; '.join(parts)}." + warning) if parts else ""


def paper_caption(spec: dict[str, Any], published: dict[str, Any] | None) -> str:
    """Sentence naming the paper table and its data, or saying there is none."""
    if published is None:
        return " No published counterpart."
    paper = published["tables"][spec["paper"]]
    data = published["datasets"].get(str(paper.get("data", "")).split("-")[0], {})
    note = f" {paper['note']}" if "note" in paper else ""
    return (f" Paper: Table {spec['paper']} ({paper['title']}; paper data: "
            f"{data.get('paper', paper.get('data', 'see paper'))}).{note}")


def published_caption(config: dict[str, Any], table: str) -> str:
    """Sentence naming the models that run the authors' published weights, not trained here."""
    models = config["tables"][table]["models"]
    label = unique_labels(config, models)
    parts = [f"{label[model]}: {Path(config['models'][model]['weights']['path']).name}"
             for model in dict.fromkeys(models) if "weights" in config["models"][model]]
    return (" The authors' published weights, not trained here (the same network at every "
            f"mask): {'; '.join(parts)}." if parts else "")


def masks_caption(masks: dict[str, np.ndarray], real: bool) -> str:
    """Sentence with each mask's sampled fraction and, for real-valued data, the fraction of
    k-space its samples determine (mask ∪ its point reflection through DC)."""
    described = "; ".join(f"{name} {mask_statistics(array).describe(real)}"
                          for name, array in masks.items())
    return f" Masks: {described}."


def timing_caption(config: dict[str, Any]) -> str:
    """Sentence saying how seconds per image were measured."""
    return (" s/image: wall time of the method's calls on the test split divided by the number "
            f"of images (batches of {config.get('batch_size', 4)}, after one warm-up call, "
            f"simulating the measurement excluded) on {config['device']}.")


def reference_model(config: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """The model the paired tests compare against: ``reference``, else the table's last
    IFR-Net model, else none."""
    if "reference" in spec:
        return spec["reference"]
    ifrnets = [m for m in spec["models"] if config["models"][m]["method"] == "ifrnet"]
    return ifrnets[-1] if ifrnets else None


def build_table(config: dict[str, Any], name: str, out_dir: PathLike,
                published_path: PathLike = PUBLISHED) -> list[Path]:
    """Render table ``name`` (CSV, Markdown, LaTeX, provenance) into ``out_dir``."""
    spec = config["tables"][name]
    published = load_published(published_path) if "paper" in spec else None
    cells, arrays = [], {}
    labels = unique_labels(config, spec["models"])
    for dataset, mask, model in table_cells(config, name):
        arrays.setdefault(mask, load_mask(mask_path(config, dataset, mask)).array)
        rate = float(arrays[mask].mean())
        keys = cell_keys(spec, mask, model) if published else None
        row = paper_row(published, spec["paper"], keys) if keys is not None else None
        cells.append(Cell(mask, rate, model, Path(metrics_path(dataset, mask, model)), row,
                          labels[model]))
    reference = reference_model(config, spec)
    summary = summarise(cells, reference)
    images, attrs = read_split(prepared_path(spec["dataset"], "test"))
    test = (" p: two-sided Wilcoxon signed-rank test of per-image PSNR, "
            f"{labels.get(reference, reference)} vs each method on the same images."
            if reference else "")
    caption = (data_caption(spec["dataset"], attrs, len(images))
               + masks_caption(arrays, attrs["kind"] == "real") + tuned_caption(config, name)
               + published_caption(config, name)
               + paper_caption(spec, published) + " Ours: mean ± std over the test images;"
               " Δ = ours − paper; best mean per mask in bold." + test + timing_caption(config))
    written = write_table(summary, out_dir, name, spec["title"], caption)
    written.append(write_provenance(written[0], config,
                                    table_inputs(config, name, published_path)))
    return written


def build_figure(config: dict[str, Any], name: str, out_png: PathLike) -> list[Path]:
    """Draw figure ``name`` as PNG and PDF (plus provenance) at ``out_png``."""
    from ifrnet.render import diagrams, figures

    kinds = {"test_images": figures.test_images, "masks": figures.masks,
             "stages": figures.stages, "reconstructions": figures.reconstructions,
             "loss_curves": figures.loss_curves, "maps": figures.maps,
             "diagram": diagrams.diagram}
    spec = config["figures"][name]
    if spec["kind"] not in kinds:
        raise ValueError(f"figures.{name}: unknown kind {spec['kind']!r}; known: {sorted(kinds)}")
    written = figures.save_figure(kinds[spec["kind"]](spec, config), out_png)
    written.append(write_provenance(out_png, config, figure_inputs(config, name)))
    return written


def publish(sources: list[PathLike], out_dir: PathLike) -> list[Path]:
    """Copy built artefacts into ``out_dir`` (each copy atomic); return the new paths."""
    written = []
    for src in map(Path, sources):
        dst = Path(out_dir) / src.name
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        written.append(dst)
    return written

"""Build every table a config declares from the files the workflow wrote (paths per contract)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ifrnet.config import mask_path, metrics_path, prepared_path, table_cells, tuning_path
from ifrnet.data.prepared import read_split
from ifrnet.masks import load_mask
from ifrnet.render.tables import Cell, summarise, write_table
from ifrnet.tuning import read_tuned


def data_caption(dataset: str, attrs: dict[str, Any], n_test: int) -> str:
    """Caption sentence naming the data actually used: source, kind, noise, test images."""
    return (f"Data: {dataset} — {attrs['source']}; {attrs['kind']}-valued; k-space noise "
            f"σ = {float(attrs['noise_sigma']):g}; {n_test} test images.")


def tuned_caption(config: dict[str, Any], table: str) -> str:
    """Sentence listing the tuned constants of every tuned method in a table, per mask."""
    parts = []
    for dataset, mask, model in table_cells(config, table):
        if "tune" in config["models"][model]:
            best = read_tuned(tuning_path(dataset, mask, model))
            values = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                               for k, v in best.items())
            parts.append(f"{model} at {mask}: {values}")
    return f" Tuned on the validation split: {'; '.join(parts)}." if parts else ""


def build_tables(config: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Render each table of ``config['tables']`` into ``out_dir``; return the written paths."""
    written: list[Path] = []
    for name, spec in config["tables"].items():
        cells = []
        for dataset, mask, model in table_cells(config, name):
            rate = load_mask(mask_path(config, dataset, mask)).rate_achieved
            cells.append(Cell(mask, rate, model, Path(metrics_path(dataset, mask, model))))
        summary = summarise(cells)
        images, attrs = read_split(prepared_path(spec["dataset"], "test"))
        rates = ", ".join(f"{c.mask} {100 * c.rate_achieved:.2f} %"
                          for c in {c.mask: c for c in cells}.values())
        caption = (data_caption(spec["dataset"], attrs, len(images))
                   + f" Achieved sampling rates: {rates}." + tuned_caption(config, name)
                   + " Mean ± std over the test images.")
        written += write_table(summary, out_dir, name, spec["title"], caption)
    return written

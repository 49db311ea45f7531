"""One self-contained HTML report of every table and figure, with captions.

Captions come from ``workflow/report/{artefact}.rst`` (the same files Snakemake's own
``--report`` uses) followed by the table's generated caption; figures are embedded as PNG.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import pandas as pd

from ifrnet.io import write_text_atomic

PathLike = str | os.PathLike[str]


def _caption(caption_dir: Path, name: str) -> str:
    path = caption_dir / f"{name}.rst"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def build_report(tables: list[PathLike], figures: list[PathLike], caption_dir: PathLike,
                 out_html: PathLike, title: str = "ifrnet-bench results") -> Path:
    """Write the report: every table (CSV + its Markdown caption line) and figure (PNG)."""
    caption_dir = Path(caption_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;max-width:1400px;margin:auto}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
             "padding:2px 6px}img{max-width:100%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for csv in map(Path, sorted(tables)):
        md = csv.with_suffix(".md")
        generated = md.read_text(encoding="utf-8").strip().splitlines()[-1] if md.is_file() else ""
        frame = pd.read_csv(csv)
        parts += [f"<h2 id='{csv.stem}'>{csv.stem}</h2>",
                  f"<p>{html.escape(_caption(caption_dir, csv.stem))}</p>",
                  frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–"),
                  f"<p><small>{html.escape(generated)}</small></p>"]
    for png in map(Path, sorted(figures)):
        data = base64.b64encode(png.read_bytes()).decode()
        parts += [f"<h2 id='{png.stem}'>{png.stem}</h2>",
                  f"<img alt='{png.stem}' src='data:image/png;base64,{data}'>",
                  f"<p>{html.escape(_caption(caption_dir, png.stem))}</p>"]
    parts.append("</body></html>")
    out = Path(out_html)
    write_text_atomic(out, "\n".join(parts) + "\n")
    return out

"""Tables: per-image metrics CSVs → mean ± std per (mask, model), as CSV, Markdown and LaTeX.

Input contract: ``results/metrics/{dataset}/{mask}/{model}.csv`` with one row per test image
(columns psnr, ssim, hfen, nmse, seconds). Every table carries a caption naming the data
actually used (source, noise level, number of test images) and each mask's achieved rate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ifrnet.io import write_text_atomic

METRICS = ("psnr", "ssim", "hfen", "nmse", "seconds")
HEADERS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "hfen": "HFEN", "nmse": "NMSE",
           "seconds": "s/image"}
DIGITS = {"psnr": 2, "ssim": 4, "hfen": 4, "nmse": 5, "seconds": 3}


@dataclass(frozen=True)
class Cell:
    """One experiment of a table: its mask and model, their achieved rate and metrics file."""

    mask: str
    rate_achieved: float
    model: str
    metrics_csv: Path


def summarise(cells: list[Cell]) -> pd.DataFrame:
    """One row per cell: mask, rate, model, n, and ``{metric}_mean`` / ``{metric}_std``."""
    rows = []
    for cell in cells:
        per_image = pd.read_csv(cell.metrics_csv)
        missing = [m for m in METRICS if m not in per_image.columns]
        if missing:
            raise ValueError(f"{cell.metrics_csv}: missing columns {missing}")
        row = {"mask": cell.mask, "rate_achieved": round(cell.rate_achieved, 4),
               "model": cell.model, "n_images": len(per_image)}
        for metric in METRICS:
            values = per_image[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_std"] = float(np.std(values))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def to_markdown(summary: pd.DataFrame, title: str, caption: str) -> str:
    """A GitHub-flavoured Markdown table with title and caption."""
    header = ["Mask", "Rate", "Method"] + [HEADERS[m] for m in METRICS]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for _, row in summary.iterrows():
        cells = [row["mask"], f"{100 * row['rate_achieved']:.2f} %", row["model"]]
        cells += [_fmt(row[f"{m}_mean"], row[f"{m}_std"], DIGITS[m]) for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", caption, ""])


def _tex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                       ("#", r"\#"), ("±", r"$\pm$"), ("σ", r"$\sigma$"), ("×", r"$\times$")):
        text = text.replace(char, repl)
    return text


def to_latex(summary: pd.DataFrame, title: str, caption: str) -> str:
    """A booktabs LaTeX table environment."""
    header = ["Mask", "Rate", "Method"] + [HEADERS[m] for m in METRICS]
    lines = [r"\begin{table}[t]", r"\centering",
             rf"\caption{{{_tex_escape(title)}. {_tex_escape(caption)}}}",
             r"\begin{tabular}{lll" + "r" * len(METRICS) + "}", r"\toprule",
             " & ".join(_tex_escape(h) for h in header) + r" \\", r"\midrule"]
    for _, row in summary.iterrows():
        cells = [row["mask"], f"{100 * row['rate_achieved']:.2f} %", row["model"]]
        cells += [_fmt(row[f"{m}_mean"], row[f"{m}_std"], DIGITS[m]) for m in METRICS]
        lines.append(" & ".join(_tex_escape(c) for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def write_table(summary: pd.DataFrame, out_dir: str | os.PathLike[str], name: str, title: str,
                caption: str) -> list[Path]:
    """Write ``{name}.csv`` (plain data), ``{name}.md`` and ``{name}.tex`` (with caption)."""
    out = Path(out_dir)
    paths = [out / f"{name}.csv", out / f"{name}.md", out / f"{name}.tex"]
    write_text_atomic(paths[0], summary.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(paths[1], to_markdown(summary, title, caption))
    write_text_atomic(paths[2], to_latex(summary, title, caption))
    return paths

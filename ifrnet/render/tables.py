"""Tables: per-image metrics CSVs → mean ± std per (mask, model) beside the paper's values, as
CSV, Markdown and LaTeX.

Input contract: ``results/metrics/{dataset}/{mask}/{model}.csv`` with one row per test image
(columns psnr, ssim, hfen, nmse, seconds). Each row of a table holds our mean ± std over the
test images, the paper's value and our mean minus it (PSNR, SSIM, HFEN), NMSE, seconds per
image, and the two-sided Wilcoxon signed-rank p-value of the per-image PSNRs of the table's
reference method (IFR-Net) against this method on the same images and mask.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ifrnet.io import write_text_atomic
from ifrnet.render.paper import PAPER_METRICS, paired_p_value

METRICS = ("psnr", "ssim", "hfen", "nmse", "seconds")
HEADERS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "hfen": "HFEN", "nmse": "NMSE",
           "seconds": "s/image"}
DIGITS = {"psnr": 2, "ssim": 4, "hfen": 4, "nmse": 5, "seconds": 3}


@dataclass(frozen=True)
class Cell:
    """One experiment of a table: mask, model, achieved rate, metrics file and paper row."""

    mask: str
    rate_achieved: float
    model: str
    metrics_csv: Path
    paper: dict | None = None


def _read_metrics(path: Path) -> pd.DataFrame:
    per_image = pd.read_csv(path)
    missing = [m for m in METRICS if m not in per_image.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return per_image


def summarise(cells: list[Cell], reference: str | None = None) -> pd.DataFrame:
    """One row per cell: mask, rate, model, n, ``{metric}_mean``/``_std``, ``{m}_paper``/``_diff``
    for PSNR, SSIM, HFEN, and ``p_psnr`` (vs ``reference`` at the same mask; NaN for itself)."""
    data = {(c.mask, c.model): _read_metrics(c.metrics_csv) for c in cells}
    rows = []
    for cell in cells:
        per_image = data[(cell.mask, cell.model)]
        row = {"mask": cell.mask, "rate_achieved": round(cell.rate_achieved, 4),
               "model": cell.model, "n_images": len(per_image)}
        for metric in METRICS:
            values = per_image[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_std"] = float(np.std(values))
        for metric in PAPER_METRICS:
            paper = float(cell.paper[metric]) if cell.paper and metric in cell.paper else math.nan
            row[f"{metric}_paper"] = paper
            row[f"{metric}_diff"] = row[f"{metric}_mean"] - paper
        ref = data.get((cell.mask, reference))
        row["p_psnr"] = (paired_p_value(ref["psnr"], per_image["psnr"])
                         if ref is not None and cell.model != reference else math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _num(value: float, digits: int, signed: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _header() -> list[str]:
    header = ["Mask", "Rate", "Method"]
    for m in PAPER_METRICS:
        header += [HEADERS[m], "paper", "Δ"]
    return header + [HEADERS["nmse"], HEADERS["seconds"], "p (PSNR)"]


def _cells(row: pd.Series) -> list[str]:
    cells = [row["mask"], f"{100 * row['rate_achieved']:.2f} %", row["model"]]
    for m in PAPER_METRICS:
        cells += [_fmt(row[f"{m}_mean"], row[f"{m}_std"], DIGITS[m]),
                  _num(row[f"{m}_paper"], DIGITS[m]), _num(row[f"{m}_diff"], DIGITS[m], True)]
    cells += [_fmt(row[f"{m}_mean"], row[f"{m}_std"], DIGITS[m]) for m in ("nmse", "seconds")]
    p = row["p_psnr"]
    return cells + ["–" if math.isnan(p) else f"{p:.3g}"]


def to_markdown(summary: pd.DataFrame, title: str, caption: str) -> str:
    """A GitHub-flavoured Markdown table with title and caption."""
    header = _header()
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for _, row in summary.iterrows()]
    return "\n".join(lines + ["", caption, ""])


def _tex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                       ("#", r"\#"), ("±", r"$\pm$"), ("σ", r"$\sigma$"), ("×", r"$\times$"),
                       ("Δ", r"$\Delta$"), ("–", "--"), ("λ", r"$\lambda$"),
                       ("ρ", r"$\rho$")):
        text = text.replace(char, repl)
    return text


def to_latex(summary: pd.DataFrame, title: str, caption: str) -> str:
    """A booktabs LaTeX table environment."""
    header = _header()
    lines = [r"\begin{table}[t]", r"\centering", r"\scriptsize",
             rf"\caption{{{_tex_escape(title)}. {_tex_escape(caption)}}}",
             r"\begin{tabular}{lll" + "r" * (len(header) - 3) + "}", r"\toprule",
             " & ".join(_tex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex_escape(c) for c in _cells(row)) + r" \\"
              for _, row in summary.iterrows()]
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

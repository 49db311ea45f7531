"""Tables: per-image metrics CSVs → mean ± std per (mask, model) beside the paper's values, as
CSV, Markdown and LaTeX.

Input contract: ``results/metrics/{dataset}/{mask}/{run}.csv`` with one row per test image
(columns psnr, ssim, hfen, nmse, seconds), one file per run of a cell (per training seed of a
model trained here). Each row of a table holds the model's label, our mean ± std over the test
images (with several seeds: the mean over seeds ± the spread across seeds, and their number),
the paper's value and our mean minus it (PSNR, SSIM, HFEN),
NMSE, seconds per image (the mean only: images are timed per batch, so their spread means
nothing), and the two-sided Wilcoxon signed-rank p-value of the per-image PSNRs of the table's
reference method (IFR-Net) against this method on the same images and mask. The best mean of
each quality metric within a mask is set in bold. The LaTeX table is a ``table*`` (both columns
of an IEEE page), shrunk to the text width if wider; it needs ``booktabs`` and ``graphicx``.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ifrnet.bench.render.paper import paired_p_value
from ifrnet.numerics.metrics import METRICS, PAPER_METRICS, QUALITY_METRICS
from ifrnet.util.io import write_text_atomic


@dataclass(frozen=True)
class Cell:
    """One experiment of a table: mask, model, achieved rate, metrics files (one per run: per
    training seed of a model trained here, else one), paper row, the model's label (shown to
    readers; default the model's config key) and the training seeds of its runs (none for a
    model that is not trained here)."""

    mask: str
    rate_achieved: float
    model: str
    metrics_csvs: tuple[Path, ...]
    paper: dict | None = None
    label: str | None = None
    seeds: tuple[int, ...] = ()


def _read_metrics(path: Path) -> pd.DataFrame:
    per_image = pd.read_csv(path)
    missing = [key for key in METRICS if key not in per_image.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return per_image


def read_runs(paths: tuple[Path, ...]) -> list[pd.DataFrame]:
    """The per-image metrics of each run of a cell (ValueError if their image counts differ)."""
    runs = [_read_metrics(Path(path)) for path in paths]
    if len({len(run) for run in runs}) > 1:
        counts = ", ".join(f"{path}: {len(run)}" for path, run in zip(paths, runs, strict=True))
        raise ValueError(f"runs of one cell hold different numbers of test images ({counts})")
    return runs


def seed_spread(values: np.ndarray) -> float:
    """Spread across training seeds: the sample standard deviation (ddof = 1) of the per-seed
    means; NaN for one seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _summary_row(cell: Cell, runs: list[pd.DataFrame]) -> tuple[dict, dict]:
    """The summary of one cell's runs (see :func:`summarise`): the columns of a one-seed table,
    and the seed columns that follow them."""
    row = {
        "mask": cell.mask,
        "rate_achieved": round(cell.rate_achieved, 4),
        "model": cell.model,
        "label": cell.label or cell.model,
        "n_images": len(runs[0]),
    }
    seeds = {"n_seeds": len(runs), "seeds": ";".join(map(str, cell.seeds))}
    for metric in METRICS:
        values = np.stack([run[metric].to_numpy(dtype=float) for run in runs])  # (seeds, images)
        per_seed = values.mean(axis=1)
        row[f"{metric}_mean"] = float(per_seed.mean())
        if metric != "seconds":  # images are timed per batch: their spread means nothing
            row[f"{metric}_std"] = float(np.std(values, axis=1).mean())
            seeds[f"{metric}_seed_std"] = seed_spread(per_seed)
            seeds[f"{metric}_per_seed"] = ";".join(f"{v:.6g}" for v in per_seed)
    for metric in PAPER_METRICS:
        paper = float(cell.paper[metric]) if cell.paper and metric in cell.paper else math.nan
        row[f"{metric}_paper"] = paper
        row[f"{metric}_diff"] = row[f"{metric}_mean"] - paper
    return row, seeds


def image_means(runs: list[pd.DataFrame], metric: str) -> np.ndarray:
    """Per test image, the mean of ``metric`` over the runs (training seeds): shape (images,)."""
    return np.mean([run[metric].to_numpy(dtype=float) for run in runs], axis=0)


def summarise(cells: list[Cell], reference: str | None = None) -> pd.DataFrame:
    """One row per cell: mask, rate, model, label, ``n_images``; per metric ``{metric}_mean``
    (the mean over the seeds of each seed's mean over the test images) and ``_std`` (the
    spread over the test images: each seed's standard deviation, averaged over the seeds;
    seconds: the mean only); ``{m}_paper``/``_diff`` for PSNR, SSIM, HFEN; ``p_psnr``: the
    Wilcoxon signed-rank p of the per-image PSNRs (averaged over seeds) of ``reference``
    against this cell at the same mask (NaN for itself). Then the seed columns: ``n_seeds``,
    ``seeds`` (the training seeds, ``;``-separated; empty for a model not trained here) and
    per metric ``_seed_std`` (the spread across seeds of the per-seed means, ddof = 1; NaN for
    one seed) and ``_per_seed`` (the per-seed means). With one seed per cell the columns
    before the seed columns are those of a table without seeds."""
    data = {(c.mask, c.model): read_runs(tuple(c.metrics_csvs)) for c in cells}
    rows = []
    for cell in cells:
        runs = data[(cell.mask, cell.model)]
        row, seeds = _summary_row(cell, runs)
        ref = data.get((cell.mask, reference))
        row["p_psnr"] = (
            paired_p_value(image_means(ref, "psnr"), image_means(runs, "psnr"))
            if ref is not None and cell.model != reference
            else math.nan
        )
        rows.append({**row, **seeds})
    return pd.DataFrame(rows)


def best_rows(summary: pd.DataFrame) -> dict[str, set[int]]:
    """{metric: row positions holding the best mean of that metric within their mask} for
    PSNR, SSIM (highest) and HFEN, NMSE (lowest); ties all count; masks with one row have none."""
    best: dict[str, set[int]] = {m: set() for m in QUALITY_METRICS}
    positions = pd.Series(range(len(summary)), index=summary.index)
    for _, group in summary.groupby("mask", sort=False):
        if len(group) < 2:
            continue
        for metric in QUALITY_METRICS:
            values = group[f"{metric}_mean"]
            target = values.max() if METRICS[metric].higher_is_better else values.min()
            best[metric] |= set(positions[group.index[values == target]])
    return best


def _fmt(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _ours(row: pd.Series, metric: str) -> str:
    """Our value of one metric: mean ± std over the test images for one seed; with several
    seeds, mean ± spread across seeds and their number, e.g. ``36.21 ± 0.05 (3 seeds)``."""
    digits = METRICS[metric].digits
    seeds = int(row.get("n_seeds", 1)) if not pd.isna(row.get("n_seeds", 1)) else 1
    if seeds > 1:
        return f"{_fmt(row[f'{metric}_mean'], row[f'{metric}_seed_std'], digits)} ({seeds} seeds)"
    return _fmt(row[f"{metric}_mean"], row[f"{metric}_std"], digits)


def _num(value: float, digits: int, signed: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def seconds_text(value: float) -> str:
    """Seconds per image with three significant digits (``0.00123``, ``1.23e-05``, ``12.3``)."""
    return "–" if math.isnan(value) else f"{value:.3g}"


def _header() -> list[str]:
    header = ["Mask", "Rate", "Method"]
    for m in PAPER_METRICS:
        header += [METRICS[m].header, "paper", "Δ"]
    return header + [METRICS["nmse"].header, METRICS["seconds"].header, "p (PSNR)"]


def metric_cells(
    row: pd.Series, pos: int, best: dict[str, set[int]], cell: Callable[[str, bool], str]
) -> list[str]:
    """Method, the paper metrics (ours, paper, Δ), NMSE, s/image and p of row ``pos`` of a
    summary, each rendered by ``cell(text, is_best)`` (escaping and bold for one format)."""

    def mark(metric: str, text: str) -> str:
        return cell(text, pos in best.get(metric, ()))

    cells = [cell(row["label"], False)]
    for m in PAPER_METRICS:
        cells += [
            mark(m, _ours(row, m)),
            cell(_num(row[f"{m}_paper"], METRICS[m].digits), False),
            cell(_num(row[f"{m}_diff"], METRICS[m].digits, True), False),
        ]
    cells += [
        mark("nmse", _ours(row, "nmse")),
        cell(seconds_text(row["seconds_mean"]), False),
    ]
    p = row["p_psnr"]
    return cells + [cell("–" if math.isnan(p) else f"{p:.3g}", False)]


def _cells(row: pd.Series, pos: int, best: dict[str, set[int]]) -> list[str]:
    return [row["mask"], f"{100 * row['rate_achieved']:.2f} %"] + metric_cells(
        row, pos, best, lambda t, b: f"**{t}**" if b else t
    )


def to_markdown(summary: pd.DataFrame, title: str, caption: str, scale: str = "") -> str:
    """A GitHub-flavoured Markdown table with title, the study's scale above the numbers (a
    line starting ``Scale:``) and caption (best means in bold)."""
    header, best = _header(), best_rows(summary)
    lines = [f"### {title}", ""] + ([f"{scale}", ""] if scale else [])
    lines += [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += [
        "| " + " | ".join(_cells(row, pos, best)) + " |"
        for pos, (_, row) in enumerate(summary.iterrows())
    ]
    return "\n".join(lines + ["", caption, ""])


TEX_CHARS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "−": "$-$",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\dots{}",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≈": r"$\approx$",
    "→": r"$\to$",
    "·": r"$\cdot$",
    "°": r"$^\circ$",
    "²": r"$^2$",
    "µ": r"$\mu$",
    "\u00a0": "~",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
    "Δ": r"$\Delta$",
    "η": r"$\eta$",
    "λ": r"$\lambda$",
    "μ": r"$\mu$",
    "ρ": r"$\rho$",
    "σ": r"$\sigma$",
    "Ψ": r"$\Psi$",
    "ℓ": r"$\ell$",
    "‖": r"$\|$",
}


def tex_escape(text: str) -> str:
    """Plain text → LaTeX that pdflatex compiles: special characters escaped, Unicode dashes,
    minus, ±, ×, Greek letters… as LaTeX; other non-ASCII letters lose their accents (é → e),
    anything left becomes ``?``. The result is ASCII."""
    out = []
    for char in str(text):
        if char in TEX_CHARS:
            out.append(TEX_CHARS[char])
        elif char.isascii():
            out.append(char)
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(tex_escape(plain) if plain else "?")
    return "".join(out)


def _tex_cell(text: str) -> str:
    """A table cell in LaTeX: escaped, a leading minus as math, ``±`` without spaces."""
    tex = tex_escape(text).replace(r" $\pm$ ", r"$\pm$")
    return "$-$" + tex[1:] if re.match(r"-\d", tex) else tex


def to_latex(
    summary: pd.DataFrame, title: str, caption: str, label: str = "", scale: str = ""
) -> str:
    """A booktabs ``table*`` spanning both columns of an IEEE page, shrunk to the text width
    if wider: the metrics under grouped headers, one sub-heading row per mask, best in bold;
    the caption (above the table) opens with the study's ``scale``."""
    caption = f"{scale} {caption}" if scale else caption
    best = best_rows(summary)
    ncols = 1 + 3 * len(PAPER_METRICS) + 3
    groups = " & ".join(
        rf"\multicolumn{{3}}{{c}}{{{tex_escape(METRICS[m].header)}}}" for m in PAPER_METRICS
    )
    rules = "".join(rf"\cmidrule(lr){{{2 + 3 * i}-{4 + 3 * i}}}" for i in range(len(PAPER_METRICS)))
    lines = [
        r"% needs \usepackage{booktabs,graphicx}",
        r"\begin{table*}[t]",
        r"\centering",
        r"\scriptsize",
        r"\setlength{\tabcolsep}{3pt}",
        rf"\caption{{{tex_escape(title)}. {tex_escape(caption)}}}",
    ]
    if label:
        lines.append(rf"\label{{tab:{re.sub(r'[^A-Za-z0-9:_-]', '-', label)}}}")
    lines += [
        r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%",
        r"\begin{tabular}{l" + "r" * (ncols - 1) + "}",
        r"\toprule",
        rf" & {groups} & & & \\",
        rules,
        " & ".join(
            ["Method"]
            + ["ours", "paper", r"$\Delta$"] * len(PAPER_METRICS)
            + ["NMSE", "s/image", r"$p$ (PSNR)"]
        )
        + r" \\",
    ]
    previous = None
    for pos, (_, row) in enumerate(summary.iterrows()):
        if row["mask"] != previous:
            lines += [
                r"\midrule",
                rf"\multicolumn{{{ncols}}}{{l}}{{\emph{{"
                rf"{tex_escape(row['mask'])} "
                rf"({100 * row['rate_achieved']:.2f}\,\%)}}}} \\",
            ]
            previous = row["mask"]
        cells = metric_cells(
            row, pos, best, lambda t, b: rf"\textbf{{{_tex_cell(t)}}}" if b else _tex_cell(t)
        )
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table*}", ""]
    return "\n".join(lines)


def write_table(
    summary: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    name: str,
    title: str,
    caption: str,
    scale: str = "",
) -> list[Path]:
    """Write ``{name}.csv`` (plain data), ``{name}.md`` and ``{name}.tex`` (with the scale
    statement above the numbers, and the caption)."""
    out = Path(out_dir)
    paths = [out / f"{name}.csv", out / f"{name}.md", out / f"{name}.tex"]
    write_text_atomic(paths[0], summary.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(paths[1], to_markdown(summary, title, caption, scale))
    write_text_atomic(paths[2], to_latex(summary, title, caption, label=name, scale=scale))
    return paths

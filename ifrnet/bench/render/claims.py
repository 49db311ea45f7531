"""The claims table: the paper's findings checked on a study, ``results/tables/claims.{csv,md}``.

The CSV holds one row per comparison (a claim's "row A beats row B on a metric", made on the
study's cells: :func:`ifrnet.bench.claims.study_comparisons`) with its measured difference, 95 %
interval, verdict (:mod:`ifrnet.bench.verdict`), the paper's own difference and the claim's
verdict. The Markdown holds one row per claim: its verdict, how its comparisons came out, and
the comparison that decided it (the one least in the claim's favour: the lowest Δ / SE), then
the paper's sentence behind each claim. The study's scale stands above the numbers.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ifrnet.bench.artefacts import FileKey, claim_files
from ifrnet.bench.claims import Comparison, Side, load_claims, study_comparisons
from ifrnet.bench.config import SCHEMA_PATH, load_schema
from ifrnet.bench.render.paper import load_published
from ifrnet.bench.render.provenance import write_provenance
from ifrnet.bench.render.scale import scale_statement
from ifrnet.bench.verdict import NOT_RUN, claim_verdict, difference
from ifrnet.numerics.metrics import METRICS
from ifrnet.util.io import write_text_atomic

PathLike = str | os.PathLike[str]

TITLE = "Claims of the paper, checked on this study"
RULE = (
    "Verdict of one comparison: Δ (ours, oriented so that Δ > 0 is what the paper claims) and "
    "its 95 % interval over the test images and, where a model has several, its training "
    "seeds: holds if the interval lies above 0, contradicted if below 0, within noise if it "
    "contains 0. A claim holds if all its comparisons hold, is contradicted if any is, and is "
    "within noise otherwise; not run if the study has none of its cells. The rule: "
    "docs/claims.md."
)


def _runs_by_cell(files: dict[FileKey, Path]) -> dict[tuple, list[Path]]:
    """(source, artefact, cell) → the files of its runs, in the order handed."""
    grouped: dict[tuple, list[Path]] = {}
    for (source, artefact, cell, _run), path in files.items():
        grouped.setdefault((source, artefact, cell), []).append(path)
    return grouped


def side_values(side: Side, metric: str, runs: dict[tuple, list[Path]]) -> np.ndarray:
    """A side's values (runs, images) of ``metric``: per-image metrics of each run of its cell,
    or, for a stage, that stage's rows of each run's stage metrics (ordered by image)."""
    values = []
    for path in runs[(side.source, side.artefact, side.cell)]:
        table = pd.read_csv(path)
        if metric not in table.columns:
            raise ValueError(f"{path}: no column {metric!r}")
        if side.source == "stages":
            table = table[table["stage"] == side.stage].sort_values("image")
            if table.empty:
                raise ValueError(f"{path}: no stage {side.stage}")
        values.append(table[metric].to_numpy(dtype=float))
    return np.stack(values)


def measure(comparison: Comparison, runs: dict[tuple, list[Path]]) -> dict[str, Any]:
    """One CSV row: the comparison, measured if the study can make it."""
    row = {
        "claim": comparison.claim,
        "artefact": comparison.artefact,
        "group": comparison.group,
        "better": comparison.better.label,
        "worse": comparison.worse.label,
        "metric": comparison.metric,
        "verdict": NOT_RUN,
        "diff": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "se": math.nan,
        "dof": math.nan,
        "t": math.nan,
        "images": 0,
        "seeds_better": 0,
        "seeds_worse": 0,
        "paper_diff": comparison.paper_diff,
        "paper_in_ci": "",
        "effect": comparison.effect,
        "effect_in_ci": "",
    }
    if not comparison.runnable:
        return row
    measured = difference(
        side_values(comparison.better, comparison.metric, runs),
        side_values(comparison.worse, comparison.metric, runs),
        bool(METRICS[comparison.metric].higher_is_better),
        paired_seeds=comparison.paired_seeds,
    )
    row.update(
        verdict=measured.verdict,
        diff=measured.diff,
        ci_low=measured.low,
        ci_high=measured.high,
        se=measured.se,
        dof=measured.dof,
        t=measured.t,
        images=measured.images,
        seeds_better=measured.seeds_better,
        seeds_worse=measured.seeds_worse,
    )
    for key, value in (("paper_in_ci", comparison.paper_diff), ("effect_in_ci", comparison.effect)):
        if not math.isnan(value):
            row[key] = "yes" if measured.low <= value <= measured.high else "no"
    return row


TEXT_COLUMNS = (
    "claim",
    "artefact",
    "group",
    "better",
    "worse",
    "metric",
    "verdict",
    "paper_in_ci",
    "effect_in_ci",
    "claim_verdict",
)


def read_claims_csv(source: PathLike | io.StringIO) -> pd.DataFrame:
    """A claims CSV as written: text columns as text (empty: ""), numbers as floats (NaN)."""
    table = pd.read_csv(source)
    for column in TEXT_COLUMNS:
        if column in table.columns:
            table[column] = table[column].fillna("").astype(str)
    return table


def claim_rows(comparisons: pd.DataFrame, claims: dict[str, dict]) -> list[dict[str, Any]]:
    """One summary per claim: its verdict, the counts of its comparisons' verdicts, and the
    deciding comparison (the measured one with the lowest Δ / SE; none if none ran)."""
    rows = []
    for name, claim in claims.items():
        own = comparisons[comparisons["claim"] == name]
        ran = own[own["verdict"] != NOT_RUN]
        row = {
            "claim": name,
            "statement": claim["statement"],
            "source": f"Table {claim['table']}" if "table" in claim else "Fig. 6 (stages)",
            "verdict": claim_verdict(list(own["verdict"])),
            "counts": own["verdict"].value_counts().to_dict(),
            "decider": None,
        }
        if len(ran):
            row["decider"] = ran.loc[ran["t"].astype(float).idxmin()].to_dict()
        rows.append(row)
    return rows


def counts_text(counts: dict[str, int]) -> str:
    """How a claim's comparisons came out, e.g. ``3 holds, 1 within noise, 2 not run``."""
    order = ("holds", "within noise", "contradicted", NOT_RUN)
    return ", ".join(f"{counts[v]} {v}" for v in order if counts.get(v))


def _diff_text(value: float, metric: str) -> str:
    return "–" if math.isnan(value) else f"{value:+.{METRICS[metric].difference_digits}f}"


def decider_text(decider: dict[str, Any] | None) -> tuple[str, str, str]:
    """(comparison, ours Δ [95 % CI], paper Δ) of a deciding comparison, as text."""
    if decider is None:
        return "–", "–", "–"
    metric = decider["metric"]
    where = f", {decider['group']}" if decider["group"] else ""
    comparison = f"{decider['better']} vs {decider['worse']}, {METRICS[metric].name}{where}"
    low, high = decider["ci_low"], decider["ci_high"]
    interval = (
        "[unbounded]"
        if math.isinf(low) or math.isinf(high)
        else f"[{_diff_text(low, metric)}, {_diff_text(high, metric)}]"
    )
    ours = f"{_diff_text(decider['diff'], metric)} {interval}"
    return comparison, ours, _diff_text(decider["paper_diff"], metric)


def to_markdown(rows: list[dict[str, Any]], claims: dict[str, dict], scale: str) -> str:
    """The claims table: one row per claim, then each claim's sentence in the paper."""
    header = [
        "Claim",
        "Paper",
        "Verdict",
        "Comparisons",
        "Deciding comparison",
        "Δ ours [95 % CI]",
        "Δ paper",
        "stated",
    ]
    lines = [f"### {TITLE}", "", scale, "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        comparison, ours, paper = decider_text(row["decider"])
        effect = claims[row["claim"]].get("effect", {})
        stated = ", ".join(f"{METRICS[m].name} {v:g}" for m, v in effect.items()) or "–"
        cells = [
            f"{row['statement']} (`{row['claim']}`)",
            row["source"],
            f"**{row['verdict']}**",
            counts_text(row["counts"]),
            comparison,
            ours,
            paper,
            stated,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", RULE, "", "What the paper says:", ""]
    for name, claim in claims.items():
        note = f" Note: {claim['note']}" if "note" in claim else ""
        lines.append(f"- `{name}` (Sec. {claim['section']}): “{claim['quote']}”{note}")
    return "\n".join(lines) + "\n"


def study_scale(view: dict[str, Any]) -> str:
    """The scale statement of every data set and model the claims' artefacts show."""
    datasets, models = {}, {}
    for artefact in [*view["tables"].values(), *view["figures"].values()]:
        datasets.update(artefact.get("datasets", {}))
        models.update(artefact["models"])
    return scale_statement(datasets, models)


def build_claims(
    view: dict[str, Any],
    out_csv: PathLike,
    *,
    claims: PathLike,
    published: PathLike,
    inputs: list[PathLike],
    device: str = "cpu",
) -> list[Path]:
    """Check every claim of ``claims`` on the study ``view``
    (:func:`ifrnet.bench.artefacts.claims_view`) from the per-run files handed in
    :func:`~ifrnet.bench.artefacts.claim_files` order; write the CSV at ``out_csv``, the
    Markdown and the provenance beside it."""
    keys = [key for key, _ in claim_files(view)]
    if len(keys) != len(inputs):
        raise ValueError(f"claims: {len(keys)} per-run files needed, {len(inputs)} given")
    files = dict(zip(keys, map(Path, inputs), strict=True))
    papers = load_published(published)
    found = load_claims(str(claims), load_schema(SCHEMA_PATH), papers)
    runs = _runs_by_cell(files)
    table = pd.DataFrame([measure(c, runs) for c in study_comparisons(found, papers, view)])
    verdicts = {r["claim"]: r["verdict"] for r in claim_rows(table, found)}
    table["claim_verdict"] = table["claim"].map(verdicts)
    text = table.to_csv(index=False, float_format="%.6g")
    out = Path(out_csv)
    write_text_atomic(out, text)
    # the Markdown from the numbers as the CSV holds them, as the report reads them
    rows = claim_rows(read_claims_csv(io.StringIO(text)), found)
    md = out.with_suffix(".md")
    write_text_atomic(md, to_markdown(rows, found, study_scale(view)))
    provenance = write_provenance(out, view, [*inputs, claims, published], device)
    return [out, md, provenance]

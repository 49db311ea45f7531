"""The results report: one self-contained HTML page a reader opens in a browser.

``results/report.html`` holds, in the paper's order, a contents list, every table (headed by
its title, the paper's metrics as mean ± std beside the paper's value and Δ, the best mean per
mask in bold, one sub-heading row per mask) and every figure (embedded PNG), each with the
project's caption from ``workflow/report/{name}.rst`` and the caption the table builder wrote
(data, sampling rates, tuned constants, tests), then the run's provenance: code version,
package versions, hardware and the other fields of the artefacts' provenance sidecars, the
sum of the jobs' times from Snakemake's benchmark records, and the config. A small inline
stylesheet keeps it readable at 1400 px without horizontal scrolling; nothing is loaded from
elsewhere. It is the project's one report (the workflow has no Snakemake ``report()``
annotations; see README.md).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ifrnet.bench.render.tables import best_rows, metric_cells
from ifrnet.numerics.metrics import METRICS, PAPER_METRICS
from ifrnet.util.io import write_text_atomic
from ifrnet.util.progress import format_duration

PathLike = str | os.PathLike[str]

ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 max-width:1360px;margin:0 auto;padding:0 20px 40px}
h1{font-size:1.7em;margin:.8em 0 .2em}h2{font-size:1.25em;margin:1.8em 0 .4em;
 border-bottom:1px solid #ddd;padding-bottom:.2em}
nav ul{columns:2;column-gap:40px;padding-left:1.2em}nav li{break-inside:avoid}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:.4em 0}
th,td{padding:3px 7px;text-align:right;white-space:nowrap}
th{border-bottom:1px solid #999}thead tr:first-child th{border-bottom:1px solid #ccc}
td:first-child,th:first-child{text-align:left}thead tr+tr th{text-align:right}
tr.mask td{text-align:left;font-style:italic;background:#f3f3f3;border-top:1px solid #ccc}
td.paper{color:#666}td.diff{color:#666}
table.kv td{text-align:left;white-space:normal;vertical-align:top}
.caption{color:#333}.note{font-size:13px;color:#555}
.scale{background:#fff8e0;border-left:3px solid #e0b000;padding:4px 8px;font-size:13px}
table.claims td{text-align:left;white-space:normal;vertical-align:top}
td.verdict.holds{color:#1a7f37}td.verdict.contradicted{color:#b42318}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
pre{background:#f7f7f7;padding:8px;font-size:12px;white-space:pre-wrap;word-break:break-word}
"""


def roman_value(numeral: str) -> int | None:
    """Value of a Roman numeral (II → 2, IX → 9, X → 10); None if ``numeral`` is not one."""
    if not numeral or any(c not in ROMAN for c in numeral.upper()):
        return None
    values = [ROMAN[c] for c in numeral.upper()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def artefact_key(name: str) -> tuple:
    """Sort key in the paper's order: ``table_II`` < ``table_IX`` < ``table_X`` (Roman
    numerals by value), ``fig2`` < ``fig10`` (numbers by value), others by name after."""
    match = re.fullmatch(r"(?i)table[_-]?([ivxlc]+)", name)
    if match and roman_value(match.group(1)) is not None:
        return (0, roman_value(match.group(1)), name)
    match = re.fullmatch(r"(?i)fig(?:ure)?[_-]?0*(\d+)", name)
    if match:
        return (0, int(match.group(1)), name)
    return (1, 0, name)


def heading(name: str) -> str:
    """``Table II`` for ``table_II``, ``Fig. 7`` for ``fig07``, else the name."""
    match = re.fullmatch(r"(?i)table[_-]?([ivxlc]+)", name)
    if match and roman_value(match.group(1)) is not None:
        return f"Table {match.group(1).upper()}"
    match = re.fullmatch(r"(?i)fig(?:ure)?[_-]?0*(\d+)", name)
    return f"Fig. {match.group(1)}" if match else name


def html_table(summary: pd.DataFrame) -> str:
    """A table summary (:func:`ifrnet.bench.render.tables.summarise`) as an HTML table: grouped
    headers, one row per mask heading, best means in ``<strong>``."""
    summary = summary.copy()
    if "label" not in summary.columns:
        summary["label"] = summary["model"]
    best = best_rows(summary)
    ncols = 1 + 3 * len(PAPER_METRICS) + 3
    top = "".join(
        f"<th colspan='3' style='text-align:center'>{html.escape(METRICS[m].header)}</th>"
        for m in PAPER_METRICS
    )
    sub = "".join("<th>ours</th><th>paper</th><th>Δ</th>" for _ in PAPER_METRICS)
    rows = [
        "<div class='wrap'><table>",
        f"<thead><tr><th rowspan='2'>Method</th>{top}<th rowspan='2'>NMSE</th>"
        "<th rowspan='2'>s/image</th><th rowspan='2'>p (PSNR)</th></tr>",
        f"<tr>{sub}</tr></thead><tbody>",
    ]
    classes = ["", *(["", "paper", "diff"] * len(PAPER_METRICS)), "", "", ""]
    previous = None
    for pos, (_, row) in enumerate(summary.iterrows()):
        if row["mask"] != previous:
            rows.append(
                f"<tr class='mask'><td colspan='{ncols}'>{html.escape(str(row['mask']))}"
                f" ({100 * row['rate_achieved']:.2f} %)</td></tr>"
            )
            previous = row["mask"]
        cells = metric_cells(
            row,
            pos,
            best,
            lambda t, b: f"<strong>{html.escape(str(t))}</strong>" if b else html.escape(str(t)),
        )
        rows.append(
            "<tr>"
            + "".join(
                f"<td class='{c}'>{t}</td>" if c else f"<td>{t}</td>"
                for c, t in zip(classes, cells, strict=True)
            )
            + "</tr>"
        )
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _caption(caption_dir: Path, name: str) -> str:
    path = caption_dir / f"{name}.rst"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def _generated_caption(csv: Path) -> tuple[str, str]:
    """(title, caption) the table builder wrote into the Markdown beside a table CSV."""
    md = csv.with_suffix(".md")
    if not md.is_file():
        return "", ""
    lines = md.read_text(encoding="utf-8").strip().splitlines()
    title = lines[0].removeprefix("### ").strip() if lines and lines[0].startswith("### ") else ""
    return title, lines[-1].strip() if lines else ""


def _scale_line(csv: Path) -> str:
    """The scale statement the table builder wrote above its numbers (empty if none)."""
    md = csv.with_suffix(".md")
    lines = md.read_text(encoding="utf-8").splitlines() if md.is_file() else []
    return next((line.strip() for line in lines[:4] if line.startswith("Scale:")), "")


def claims_html(claims_csv: Path, claims_file: Path) -> str:
    """The Claims section: one row per claim of ``claims_file`` with its verdict on this study
    (from the claims CSV, :mod:`ifrnet.bench.render.claims`), the deciding comparison, and the
    paper's sentences."""
    from ifrnet.bench.render.claims import (
        RULE,
        claim_rows,
        counts_text,
        decider_text,
        read_claims_csv,
    )

    with open(claims_file, encoding="utf-8") as handle:
        claims = yaml.safe_load(handle)["claims"]
    rows = claim_rows(read_claims_csv(claims_csv), claims)
    head = (
        "<tr><th>Claim</th><th>Paper</th><th>Verdict</th><th>Comparisons</th>"
        "<th>Deciding comparison</th><th>Δ ours [95 % CI]</th><th>Δ paper</th></tr>"
    )
    body = []
    for row in rows:
        comparison, ours, paper = decider_text(row["decider"])
        counts = counts_text(row["counts"])
        body.append(
            "<tr>"
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in (row["statement"], row["source"]))
            + f"<td class='verdict {row['verdict'].replace(' ', '-')}'>"
            f"<strong>{html.escape(row['verdict'])}</strong></td>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in (counts, comparison, ours, paper))
            + "</tr>"
        )
    quotes = "".join(
        f"<li><strong>{html.escape(c['statement'])}</strong> (Sec. {html.escape(c['section'])}):"
        f" “{html.escape(c['quote'])}”"
        + (f" <em>Note: {html.escape(c['note'])}</em>" if "note" in c else "")
        + "</li>"
        for c in claims.values()
    )
    return (
        "<section id='claims'><h2>Claims of the paper, checked on this study</h2>"
        f"<div class='wrap'><table class='claims'><thead>{head}</thead><tbody>"
        + "".join(body)
        + f"</tbody></table></div><p class='note'>{html.escape(RULE)}</p>"
        "<details><summary>what the paper says</summary><ul>"
        f"{quotes}</ul></details></section>"
    )


def study_scale_html(config: dict[str, Any] | None) -> str:
    """The scale the study ran at (:mod:`ifrnet.bench.render.scale`), for the top of the page."""
    if not config or "datasets" not in config:
        return ""
    from ifrnet.bench.render.scale import scale_statement

    text = scale_statement(config["datasets"], config.get("models", {}))
    return f"<p class='scale'>{html.escape(text)}</p>"


def _kv_table(pairs: list[tuple[str, str]]) -> str:
    return (
        "<table class='kv'>"
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in pairs)
        + "</table>"
    )


def job_seconds(benchmarks: PathLike) -> tuple[float, int]:
    """(sum of the ``s`` column, number of records) over Snakemake benchmark files
    ``*.tsv`` under ``benchmarks`` (missing folder: (0, 0))."""
    total, count = 0.0, 0
    for tsv in sorted(Path(benchmarks).rglob("*.tsv")):
        try:
            seconds = pd.read_csv(tsv, sep="\t")["s"]
        except (OSError, ValueError, KeyError, pd.errors.ParserError):
            continue
        total, count = total + float(seconds.sum()), count + len(seconds)
    return total, count


def provenance_html(
    sidecars: list[Path], config: dict[str, Any] | None, benchmarks: PathLike | None
) -> str:
    """The provenance section: the first sidecar's fields (code, packages, hardware, …) but
    its input hashes, the jobs' summed time, and the config as YAML."""
    pairs: list[tuple[str, str]] = []
    record = next((json.loads(p.read_text(encoding="utf-8")) for p in sidecars if p.is_file()), {})
    for key, value in record.items():
        if key in ("inputs", "artefact", "config", "packages"):
            continue
        pairs.append(
            (
                key.replace("_", " "),
                value if isinstance(value, str) else json.dumps(value, sort_keys=True),
            )
        )
    if benchmarks is not None:
        seconds, count = job_seconds(benchmarks)
        if count:
            pairs.append(
                (
                    "job time",
                    f"{format_duration(seconds)} (sum of {count} Snakemake "
                    "benchmark records; wall time is shorter with parallel jobs)",
                )
            )
    parts = ["<h2 id='provenance'>Provenance</h2>", _kv_table(pairs)]
    packages = record.get("packages", {})
    if packages:
        parts += ["<h3>Versions</h3>", _kv_table(sorted(packages.items()))]
    config = config if config is not None else record.get("config")
    if config is not None:
        text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        parts += [
            "<h3>Config</h3>",
            "<details><summary>the configuration of this run</summary>"
            f"<pre>{html.escape(text)}</pre></details>",
        ]
    return "\n".join(parts)


def build_report(
    tables: list[PathLike],
    figures: list[PathLike],
    caption_dir: PathLike,
    out_html: PathLike,
    title: str = "ifrnet-bench results",
    config: dict[str, Any] | None = None,
    benchmarks: PathLike | None = None,
    claims: tuple[PathLike, PathLike] | None = None,
) -> Path:
    """Write the report from table CSVs (their ``.md`` and ``.prov.json`` beside them) and
    figure PNGs; titles come from ``config`` where given, else from the Markdown. ``claims``:
    (claims CSV, claims file) for the Claims section at the top; the study's scale (from
    ``config``) opens the page."""
    caption_dir = Path(caption_dir)
    csvs = sorted(map(Path, tables), key=lambda p: artefact_key(p.stem))
    pngs = sorted(map(Path, figures), key=lambda p: artefact_key(p.stem))
    specs = (config or {}).get("tables", {})
    titles = {
        csv.stem: specs.get(csv.stem, {}).get("title") or _generated_caption(csv)[0] for csv in csvs
    }
    fig_captions = {png.stem: _caption(caption_dir, png.stem) for png in pngs}
    contents = ["<nav><h2>Contents</h2><ul>"]
    if claims is not None:
        contents.append("<li><a href='#claims'>Claims of the paper, checked on this study</a></li>")
    contents += [
        f"<li><a href='#{csv.stem}'>{heading(csv.stem)}. {html.escape(titles[csv.stem])}</a></li>"
        for csv in csvs
    ]
    contents += [
        f"<li><a href='#{png.stem}'>{heading(png.stem)}. "
        f"{html.escape(_first_sentence(fig_captions[png.stem]))}</a></li>"
        for png in pngs
    ]
    contents += ["<li><a href='#provenance'>Provenance</a></li></ul></nav>"]
    parts = [
        "<!doctype html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        study_scale_html(config),
        *contents,
    ]
    if claims is not None:
        parts.append(claims_html(Path(claims[0]), Path(claims[1])))
    for csv in csvs:
        generated = _generated_caption(csv)[1]
        parts += [
            f"<section id='{csv.stem}'>",
            f"<h2>{heading(csv.stem)}. {html.escape(titles[csv.stem])}</h2>",
            f"<p class='caption'>{html.escape(_caption(caption_dir, csv.stem))}</p>",
            f"<p class='scale'>{html.escape(_scale_line(csv))}</p>",
            html_table(pd.read_csv(csv)),
            f"<p class='note'>{html.escape(generated)}</p></section>",
        ]
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode()
        short = html.escape(_first_sentence(fig_captions[png.stem]))
        parts += [
            f"<section id='{png.stem}'><h2>{heading(png.stem)}. {short}</h2><figure>",
            f"<img alt='{heading(png.stem)}' src='data:image/png;base64,{data}'>",
            f"<figcaption>{html.escape(fig_captions[png.stem])}</figcaption></figure></section>",
        ]
    sidecars = [p.with_name(f"{p.stem}.prov.json") for p in csvs + pngs]
    parts += [provenance_html(sidecars, config, benchmarks), "</body></html>"]
    out = Path(out_html)
    write_text_atomic(out, "\n".join(parts) + "\n")
    return out


def _first_sentence(text: str) -> str:
    """The caption's first sentence without the ``Paper Fig. n:`` prefix (contents list)."""
    text = re.sub(r"^Paper (Fig\.|Table) [\w.]+:\s*", "", text)
    return re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".;")

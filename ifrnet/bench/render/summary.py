"""What a finished workflow run says last: where its results are and how long it took."""

from __future__ import annotations

import os
from pathlib import Path

from ifrnet.util.progress import format_duration


def run_summary(results: str | os.PathLike[str], seconds: float) -> str:
    """Lines naming the report, tables and figures under ``results`` (those that exist, as
    absolute paths) and the run's wall time in ``seconds``."""
    results = Path(results).resolve()
    lines = [f"ifrnet-bench: finished in {format_duration(seconds)} (wall time of this run)."]
    report = results / "report.html"
    if report.is_file():
        lines.append(f"  report:  {report}  (open it in a browser)")
    for kind, pattern, what in (
        ("tables", "*.csv", ".csv, .md, .tex"),
        ("figures", "*.png", ".png, .pdf"),
    ):
        folder = results / kind
        found = [p for p in folder.glob(pattern) if p.stem != "claims"] if folder.is_dir() else []
        if found:
            lines.append(
                f"  {kind}:{' ' * (8 - len(kind))}{folder}/  ({len(found)} {kind}: {what})"
            )
    claims = results / "tables" / "claims.md"
    if claims.is_file():
        lines.append(f"  claims:  {claims}  (the paper's claims checked on this study)")
    lines.append(f"  logs:    {results / 'logs'}/  (job times: {results / 'benchmarks'}/)")
    return "\n".join(lines)

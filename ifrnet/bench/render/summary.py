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
        count = len(list(folder.glob(pattern))) if folder.is_dir() else 0
        if count:
            lines.append(f"  {kind}:{' ' * (8 - len(kind))}{folder}/  ({count} {kind}: {what})")
    lines.append(f"  logs:    {results / 'logs'}/  (job times: {results / 'benchmarks'}/)")
    return "\n".join(lines)

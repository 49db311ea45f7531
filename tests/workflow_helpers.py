"""Run the Snakemake workflow in a scratch copy of the project (tests never touch results/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("Snakefile", "workflow", "config", "profiles", "envs")


def workflow_copy(dest: Path) -> Path:
    """Copy the workflow files (not results or data) into ``dest``; return it."""
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: float = 900,
              extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``workdir`` with this interpreter; output captured as text."""
    bindir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(workdir), "PYTHONHASHSEED": "0",
           **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, text=True,
        capture_output=True, timeout=timeout,
    )


def job_counts(output: str) -> dict[str, int]:
    """Rule → job count from the "Job stats" block Snakemake prints."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts

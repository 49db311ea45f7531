"""Run the Snakemake workflow in a scratch copy of the project (tests never touch results/), and
the user's own method that the smoke study (``tests/conftest.py``) registers through its config."""

from __future__ import annotations

import os
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


def snakemake_env(workdir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a Snakemake run in ``workdir``: this interpreter first on PATH, a
    fixed hash seed, and the checkout under test first when the tests run with it on
    PYTHONPATH (an interpreter whose editable install points at another checkout, say)."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "HOME": str(workdir),
        "PYTHONHASHSEED": "0",
        **(extra_env or {}),
    }
    inherited = os.environ.get("PYTHONPATH")
    if inherited:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (env.get("PYTHONPATH"), inherited)))
    return env


def snakemake(
    workdir: Path, *args: str, timeout: float = 2400, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``workdir`` with this interpreter; output captured as text."""
    env = snakemake_env(workdir, extra_env)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def job_counts(output: str) -> dict[str, int]:
    """Rule → job count from the "Job stats" block Snakemake prints."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


USER_MODULE = '''
"""A user's own method, outside our packages: zero-filled followed by a box filter."""
import numpy as np
from scipy.ndimage import uniform_filter

from ifrnet.numerics.fourier import ifft2c
from ifrnet.methods.method import Method


class BoxFilteredZeroFilled(Method):
    def __init__(self, real=False, width=3):
        super().__init__(real=real)
        self.width = width

    def reconstruct(self, kspace, mask):
        x = ifft2c(kspace)
        smooth = lambda a: uniform_filter(a, size=(1, self.width, self.width), mode="wrap")
        return (smooth(x.real) + 1j * smooth(x.imag)).astype(np.complex64)
'''


def with_user_method(config: dict) -> dict:
    """The config plus the user's method in every table and every reconstruction figure."""
    config["models"]["mine"] = {
        "method": "my_recon:BoxFilteredZeroFilled",
        "label": "Mine",
        "params": {"width": 3},
    }
    for spec in list(config["tables"].values()) + [
        f for f in config["figures"].values() if f["kind"] == "reconstructions"
    ]:
        spec["models"].append("mine")
    return config


def smoke_with_user_method(work: Path) -> Path:
    """Write the user's module and ``mine.yaml`` (the smoke config plus the user's method) into
    the workflow copy ``work``; return the config file. Run with ``PYTHONPATH=work``."""
    import yaml

    (work / "my_recon.py").write_text(USER_MODULE)
    config = with_user_method(yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text()))
    (work / "mine.yaml").write_text(yaml.safe_dump(config))
    return work / "mine.yaml"

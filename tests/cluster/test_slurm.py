"""The smoke workflow through a real one-node SLURM cluster (Debian slurm, root needed).

Runs only when IFRNET_TEST_SLURM=1 (CI sets it): it installs packages and starts daemons. The
target builds one learned model's metrics: prepare → mask → train (submitted with the profile's
fake GPU) → reconstruct → evaluate, five SLURM jobs.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# seed 0: the master seed
TARGET = "results/metrics/brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct/seed-0.csv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("IFRNET_TEST_SLURM") != "1",
        reason="set IFRNET_TEST_SLURM=1 (root, Debian) to run",
    ),
]


def test_smoke_target_runs_through_slurm():
    # The script's `python` must be this interpreter (with Snakemake), whatever the caller's PATH.
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    result = subprocess.run(
        ["bash", str(HERE / "run_smoke_on_slurm.sh"), TARGET],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert f"built {TARGET}" in out
    sbatch = [line for line in out.splitlines() if "sbatch" in line]
    assert len(sbatch) >= 5, out[-3000:]
    train = [line for line in sbatch if "rule_train" in line]
    assert train, "\n".join(sbatch)
    # The profile's training resources reach sbatch: 16 GB, 4 CPUs, one GPU, 12 h, requeued
    # when pre-empted and warned by SIGTERM 2 minutes before the time limit.
    flags = ("--mem 16000", "--cpus-per-task=4", "--gpus=1", "-t 720", "--requeue")
    for flag in (*flags, "--signal=TERM@120"):
        assert flag in train[0], f"{flag} missing from {train[0]}"

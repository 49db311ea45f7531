"""The smoke workflow through a real one-node SLURM cluster (Debian slurm, root needed).

Runs only when IFRNET_TEST_SLURM=1 (CI sets it): it installs packages and starts daemons. The
target builds one learned model's metrics: prepare → mask → train (submitted with the profile's
fake GPU) → reconstruct → evaluate, five SLURM jobs.
"""

import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TARGET = "results/metrics/brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct.csv"

pytestmark = pytest.mark.skipif(os.environ.get("IFRNET_TEST_SLURM") != "1",
                                reason="set IFRNET_TEST_SLURM=1 (root, Debian) to run")


def test_smoke_target_runs_through_slurm():
    result = subprocess.run(["bash", str(HERE / "run_smoke_on_slurm.sh"), TARGET],
                            capture_output=True, text=True, timeout=1200)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert f"built {TARGET}" in out
    sbatch = [line for line in out.splitlines() if "sbatch" in line]
    assert len(sbatch) >= 5, out[-3000:]
    train = [line for line in sbatch if "rule_train" in line or "train" in line]
    assert any("--gpus=1" in line or "gpu" in line for line in train), "\n".join(sbatch)
    assert any("--mem 16000" in line or "mem=16000" in line or "--mem=16000" in line
               for line in train), "\n".join(sbatch)

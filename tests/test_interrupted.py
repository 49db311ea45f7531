"""Interrupted work loses nothing: a training job killed mid-epoch by SIGKILL resumes from its
last checkpoint when the workflow is rerun and ends with the metrics of an uninterrupted run;
a killed download resumes from its partial file."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import fixtures
from tests.workflow_helpers import ROOT, snakemake, snakemake_env, workflow_copy

MODEL = "ifrnet-s2-k1-l8-dct"
RUN = f"{MODEL}/seed-0"  # its one training seed (the master seed)
TARGET = f"results/metrics/brain-real/radial-r0.40/{RUN}.csv"


def _config(work: Path) -> None:
    """Smoke config with a training long enough to be killed in the middle of an epoch."""
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["datasets"]["brain-real"]["n_train"] = 8
    config["models"][MODEL]["train"].update(epochs=3, batch_size=1, checkpoint_every=3)
    (work / "kill.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of TARGET with kill.yaml, shared by this module's workflow tests.
    Its own run, not the shared smoke study: kill.yaml trains longer than the smoke config."""
    work = workflow_copy(tmp_path_factory.mktemp("reference"))
    _config(work)
    result = snakemake(work, TARGET, "--cores", "2", "--configfile", "kill.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return work


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_metrics(reference, tmp_path):
    # Its own run beside the reference: the interruption is the condition under test.
    (tmp_path / "killed").mkdir()
    work = workflow_copy(tmp_path / "killed")
    _config(work)
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", TARGET, "--cores", "2", "--configfile", "kill.yaml"],
        cwd=work,
        env=snakemake_env(work),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    last = work / f"results/models/brain-real/radial-r0.40/{RUN}/checkpoints/last.pt"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert last.exists(), "training never wrote a checkpoint"
    os.killpg(process.pid, signal.SIGKILL)  # the whole job tree, mid-epoch
    process.wait()
    model = last.parent.parent / "model.pt"
    assert not model.exists(), "killed too late: training had finished"

    # A killed Snakemake leaves its lock: unlock as a user would, then rerun.
    assert snakemake(work, "--unlock", "--configfile", "kill.yaml").returncode == 0
    result = snakemake(work, TARGET, "--cores", "2", "--configfile", "kill.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    log = (work / f"results/logs/train/brain-real/radial-r0.40/{RUN}.log").read_text()
    assert "resum" in log.lower(), log[-2000:]
    ours = pd.read_csv(work / TARGET).drop(columns=["seconds"])
    theirs = pd.read_csv(reference / TARGET).drop(columns=["seconds"])
    pd.testing.assert_frame_equal(ours, theirs)


@pytest.mark.slow
def test_changed_data_retrains_from_scratch(reference, tmp_path):
    """A finished training must not be "resumed" into the run of a changed config: with fewer
    training slices the retrained model's log has the new number of iterations."""
    # A copy of the reference's finished training (the reference itself stays unchanged for
    # the other test), then the condition under test: the config changed after it.
    work = tmp_path / "changed"
    shutil.copytree(reference, work, symlinks=True)
    model = f"results/models/brain-real/radial-r0.40/{RUN}"
    assert (work / model / "model.pt").is_file()
    config = yaml.safe_load((work / "kill.yaml").read_text())
    config["datasets"]["brain-real"]["n_train"] = 5
    (work / "kill.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, f"{model}/model.pt", "--cores", "2", "--configfile", "kill.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    log = pd.read_csv(work / model / "train_log.csv")
    assert (log["split"] == "train").sum() == 5 * 3  # 5 slices, batch 1, 3 epochs


def test_killed_download_resumes(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    payload = os.urandom(1_000_000)
    (served / "big.bin").write_bytes(payload)
    sha = fixtures.sha256(served / "big.bin")
    url, server = fixtures.serve(served, delay=0.01)  # ~400 kB/s: 2.5 s in all
    out = tmp_path / "dl" / "big.bin"
    part = out.with_name("big.bin.part")
    cmd = [
        sys.executable,
        "-m",
        "ifrnet.bench.cli",
        "download",
        "--url",
        f"{url}/big.bin",
        "--sha256",
        sha,
        "--out",
        str(out),
        "--no-progress",
    ]
    try:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while (not part.exists() or part.stat().st_size < 50_000) and time.time() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kept = part.stat().st_size
        assert 0 < kept < len(payload) and not out.exists()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == payload and not part.exists()
    finally:
        server.shutdown()

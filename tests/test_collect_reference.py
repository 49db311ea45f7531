"""benchmarks/collect_reference.py: a finished (or partly finished) study into a reference
folder — the claims checked on what the run built, training rows of earlier parts kept — and the
benchmark-path inverse the study benchmark reads job names with."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ifrnet.bench import paths
from ifrnet.bench.artefacts import claim_files, claims_view
from ifrnet.bench.config import load_config
from tests.workflow_helpers import ROOT

SCRIPT = ROOT / "benchmarks" / "collect_reference.py"


@pytest.mark.parametrize(
    "step, job", [("train", "brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct/seed-0"), ("claims", None)]
)
def test_a_benchmark_path_gives_back_its_rule_and_job(step, job):
    relative = Path(paths.benchmark(step, job)).relative_to(paths.BENCHMARKS)
    assert paths.benchmark_job(relative) == (step, job)


def collect(results: Path, out: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(results), str(out), "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_claims_of_a_whole_study_equal_the_workflows_and_earlier_rows_are_kept(
    smoke_study, tmp_path
):
    out = tmp_path / "reference"
    out.mkdir()
    earlier = "dataset,mask,model,epochs_run,best_epoch,best_val_loss,last_val_loss,minutes\n"
    earlier += "brain-real,radial-r0.10,an-earlier-model,3,2,0.1,0.2,1.0\n"
    (out / "training.csv").write_text(earlier)
    collect(smoke_study / "results", out, smoke_study / "mine.yaml")
    # the workflow's own claims job is the reference
    ours = pd.read_csv(out / "claims.csv")
    pd.testing.assert_frame_equal(ours, pd.read_csv(smoke_study / "results/tables/claims.csv"))
    training = rows(out / "training.csv")
    kept = [r for r in training if r["model"] == "an-earlier-model"]
    assert len(kept) == 1 and kept[0]["seed"] == "0" and kept[0]["minutes"] == "1.0"
    logs = list((smoke_study / "results/models").glob("*/*/*/seed-*/train_log.csv"))
    assert len(training) == len(logs) + 1


@pytest.mark.slow
def test_claims_of_a_table_not_built_are_not_run_and_the_others_unchanged(smoke_study, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(smoke_study / "results", results)
    whole = pd.read_csv(smoke_study / "results/tables/claims.csv")
    table = whole.loc[whole["verdict"] != "not run", "artefact"].iloc[0]
    config = load_config(smoke_study / "mine.yaml", ROOT / "config" / "schema.yaml")
    files = claim_files(claims_view(config))
    # one per-image metrics file of that table gone: every table reading it counts as not built
    gone = next(path for key, path in files if key[1] == table)
    (results.parent / gone).unlink()
    unbuilt = {key[1] for key, path in files if path == gone}
    out = tmp_path / "reference"
    printed = collect(results, out, smoke_study / "mine.yaml").stdout
    built = printed.splitlines()[0].removeprefix("claims on ").split(", ")
    assert table in unbuilt and not unbuilt & set(built) and built
    partial = pd.read_csv(out / "claims.csv")
    affected = set(whole.loc[whole["artefact"].isin(unbuilt), "claim"])
    assert set(partial.loc[partial["claim"].isin(affected), "verdict"]) == {"not run"}
    keep_whole = whole[~whole["claim"].isin(affected)].reset_index(drop=True)
    keep_partial = partial[~partial["claim"].isin(affected)].reset_index(drop=True)
    pd.testing.assert_frame_equal(keep_partial, keep_whole)

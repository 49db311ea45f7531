"""The Snakemake workflow: lint, dry-run plans, config errors, and the smoke study end to end."""

from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from tests.workflow_helpers import ROOT, snakemake, workflow_copy


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """The smoke config run once to results/tables in a scratch copy."""
    work = workflow_copy(tmp_path_factory.mktemp("smoke"))
    result = snakemake(work, "results/tables", "--cores", "2", "--configfile",
                       "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-4000:]
    return work


def test_lint_is_clean(tmp_path):
    result = snakemake(workflow_copy(tmp_path), "--lint")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_default_dry_run_plans_every_step(tmp_path):
    result = snakemake(workflow_copy(tmp_path), "-n", "--cores", "all", "results/tables")
    assert result.returncode == 0, result.stderr[-3000:]
    for rule in ("prepare_data", "make_mask", "reconstruct", "evaluate", "tables"):
        assert rule in result.stdout, f"{rule} missing from the plan"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(unknown_key=1), "unknown key unknown_key"),
        (lambda c: c["masks"]["radial-r0.40"].update(rate=1.5), "masks.radial-r0.40.rate"),
        (lambda c: c["datasets"]["brain-real"].update(size=-8), "datasets.brain-real.size"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, edit, message):
    work = workflow_copy(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    edit(config)
    (work / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "results/tables", "--cores", "1", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert not (work / "results").exists() and not (work / "data").exists()


def test_smoke_tables_exist_with_sensible_numbers(smoke_run):
    tables = smoke_run / "results" / "tables"
    for name in ("zero_filled_real", "zero_filled_complex"):
        for ext in ("csv", "md", "tex"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0
    real = pd.read_csv(tables / "zero_filled_real.csv")
    assert set(real.columns) >= {"mask", "rate_achieved", "model", "psnr_mean", "psnr_std",
                                 "ssim_mean", "hfen_mean", "nmse_mean", "seconds_mean"}
    radial = real[real["mask"].str.startswith("radial")].sort_values("rate_achieved")
    assert radial["psnr_mean"].is_monotonic_increasing and len(radial) == 2
    assert radial["psnr_mean"].iloc[-1] > radial["psnr_mean"].iloc[0] + 3
    assert radial["hfen_mean"].iloc[-1] < radial["hfen_mean"].iloc[0]
    assert (real["ssim_mean"].between(0, 1)).all()
    md = (tables / "zero_filled_real.md").read_text()
    assert "noise σ = 0.02" in md and "MNI" in md
    per_image = pd.read_csv(smoke_run / "results/metrics/brain-real/radial-r0.40/zero-filled.csv")
    assert len(per_image) == 2


def test_smoke_learned_and_tuned_methods(smoke_run):
    table = pd.read_csv(smoke_run / "results" / "tables" / "ifrnet_nominal.csv")
    by_model = table.set_index("model")["psnr_mean"]
    assert by_model["ifrcs"] > by_model["zero-filled"]
    md = (smoke_run / "results" / "tables" / "ifrnet_nominal.md").read_text()
    assert "Tuned on the validation split: ifrcs at radial-r0.40: lam = " in md
    model_dir = smoke_run / "results/models/brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct"
    log = pd.read_csv(model_dir / "train_log.csv")
    assert set(log["split"]) == {"train", "val"} and (log["loss"] > 0).all()
    assert (model_dir / "checkpoints" / "last.pt").exists()
    with h5py.File(smoke_run / "results/recon/brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct.h5",
                   "r") as f:
        assert f["maps"].shape == (2, 2, 64, 64) and list(f.attrs["maps_stages"]) == [1, 2]
        assert f.attrs["seconds_per_image"] > 0


def test_smoke_rerun_has_nothing_to_do(smoke_run):
    result = snakemake(smoke_run, "results/tables", "-n", "--cores", "1", "--configfile",
                       "config/smoke.yaml")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr

"""The Snakemake workflow: lint, dry-run plans, config errors, and the smoke study end to end
(every table and figure, with a user's own method registered through the config)."""

import json
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.workflow_helpers import (
    ROOT,
    USER_MODULE,
    job_counts,
    smoke_with_user_method,
    snakemake,
    workflow_copy,
)

TABLES = [f"table_{n}" for n in ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")]
FIGURES = [f"fig{n:02d}" for n in range(1, 13)]

# Every test runs Snakemake (lint, dry runs, bad configs) or reads the smoke study.
pytestmark = pytest.mark.slow


def test_lint_is_clean(tmp_path):
    result = snakemake(workflow_copy(tmp_path), "--lint")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_default_tables_target_plans_exactly_the_table_jobs(tmp_path):
    result = snakemake(workflow_copy(tmp_path), "-n", "--cores", "all", "results/tables")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["table"] == 9 and counts["results/tables"] == 1 and counts["claims"] == 1
    assert not {"figure", "results/figures", "report"} & set(counts)
    assert counts["stage_metrics"] == 1  # the claims check Fig. 6's stage outputs
    for rule in ("prepare_data", "make_mask", "train", "tune", "reconstruct", "evaluate"):
        assert counts.get(rule, 0) > 0, f"{rule} missing from the plan"


def test_mask_figure_needs_no_training(tmp_path):
    result = snakemake(workflow_copy(tmp_path), "-n", "--cores", "all", "results/figures/fig05.png")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"make_mask": 3, "figure": 1}


def _train_resources(output: str) -> list[str]:
    """The ``resources:`` line of every train job in a dry run's output."""
    found, in_train = [], False
    for line in output.splitlines():
        if line.startswith("rule "):
            in_train = line.startswith("rule train:")
        elif in_train and line.strip().startswith("resources:"):
            found.append(line.strip())
    return found


@pytest.mark.parametrize(("device", "slots"), [("cpu", 0), ("cuda", 1), ("cuda:1", 1)])
def test_trainings_on_a_gpu_take_one_gpu_slot(tmp_path, device, slots):
    """Each training on a GPU takes one of the gpu_slots that profiles/default allows at once;
    on the CPU it takes none (the CPU's trainings are limited by --cores only)."""
    work = workflow_copy(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["device"] = device
    (work / "device.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        work, "-n", "--cores", "all", "results/tables", "--configfile", "device.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    train = _train_resources(result.stdout)
    assert len(train) == job_counts(result.stdout)["train"] > 0
    assert all(f"gpu_slots={slots}," in line for line in train), train[:2]


def test_profiles_limit_trainings_per_local_gpu_but_not_on_a_cluster():
    """profiles/default caps concurrent GPU trainings (k); the SLURM profile, which the default
    profile's keys override, scopes that cap per job: as a global limit it would let only k
    trainings run on the whole cluster (seen on the local test cluster)."""
    default = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    slurm = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert (
        isinstance(default["resources"]["gpu_slots"], int)
        and default["resources"]["gpu_slots"] >= 1
    )
    assert slurm["set-resource-scopes"]["gpu_slots"] == "local"
    assert "gpu_slots" not in slurm.get("resources", {})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(unknown_key=1), "unknown key unknown_key"),
        (lambda c: c["masks"]["radial-r0.40"].update(rate=1.5), "masks.radial-r0.40.rate"),
        (lambda c: c["datasets"]["brain-real"].update(size=-8), "datasets.brain-real.size"),
        (lambda c: c["figures"]["fig07"].update(models=["nope"]), "figures.fig07.models"),
        (lambda c: c["tables"]["table_IV"].update(paper="XI"), "tables.table_IV.paper"),
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
    assert not (work / "data").exists()
    assert not (work / "results").exists() or not any((work / "results").rglob("*.csv"))


def test_smoke_builds_every_table_with_the_papers_column(smoke_study):
    tables = smoke_study / "results" / "tables"
    for name in TABLES:
        for ext in ("csv", "md", "tex", "prov.json"):
            assert (tables / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
        table = pd.read_csv(tables / f"{name}.csv")
        assert {
            "psnr_mean",
            "psnr_std",
            "psnr_paper",
            "psnr_diff",
            "ssim_paper",
            "hfen_paper",
            "p_psnr",
            "nmse_mean",
            "seconds_mean",
        } <= set(table.columns)
        assert table["psnr_paper"].notna().any(), f"{name} shows no paper value"
        assert "mine" in set(table["model"]), f"user method missing from {name}"
        md = (tables / f"{name}.md").read_text()
        assert "| paper |" in md and "Paper: Table" in md and "noise σ = 0.02" in md
    iv = pd.read_csv(tables / "table_IV.csv")
    row = iv[(iv["mask"] == "radial-r0.10") & (iv["model"] == "ifrcs")].iloc[0]
    assert row["psnr_paper"] == pytest.approx(28.9242)
    assert row["psnr_diff"] == pytest.approx(row["psnr_mean"] - 28.9242, abs=1e-4)
    assert (
        "Tuned on the validation split: IFR-CS at radial-r0.10: lam = "
        in (tables / "table_IV.md").read_text()
    )
    assert "Warning, tuned on the edge of the grid" in (tables / "table_IV.md").read_text()
    assert list(pd.read_csv(tables / "table_IX.csv")["label"]) == [
        "IFR-Net (init = dct)",
        "IFR-Net (init = random)",
        "Mine",
    ]
    tex = (tables / "table_VII.tex").read_text()
    assert tex.isascii() and r"\begin{table*}" in tex and "D5-C5" in tex


def test_smoke_builds_every_figure_and_the_report(smoke_study):
    figures = smoke_study / "results" / "figures"
    for name in FIGURES:
        for ext in ("png", "pdf"):
            assert (figures / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"
    report = (smoke_study / "results" / "report.html").read_text()
    for name in TABLES + FIGURES:
        assert f"id='{name}'" in report
    assert "Mine" in report or "mine" in report
    order = [report.index(f"<h2>Table {n.removeprefix('table_')}.") for n in TABLES]
    assert order == sorted(order)  # II, III, ..., IX, X: the paper's order


def test_run_ends_saying_where_the_results_are(smoke_study):
    out = (smoke_study / "snakemake.out").read_text()
    assert "ifrnet-bench: finished in " in out
    assert f"report:  {smoke_study.resolve() / 'results' / 'report.html'}" in out
    assert "(9 tables: .csv, .md, .tex)" in out and "(12 figures: .png, .pdf)" in out


def test_every_artefact_has_provenance(smoke_study):
    record = json.loads((smoke_study / "results/figures/fig07.prov.json").read_text())
    assert {
        "config_sha256",
        "code_version",
        "packages",
        "seed",
        "inputs",
        "config",
        "device",
        "hardware",
    } <= set(record)
    assert record["config"]["models"]["mine"]["method"] == "my_recon:BoxFilteredZeroFilled"
    assert "results/recon/brain-real/radial-r0.10/mine.h5" in record["inputs"]
    assert record["packages"]["torch"] and len(record["config_sha256"]) == 64
    table = json.loads((smoke_study / "results/tables/table_IV.prov.json").read_text())
    assert "config/published.yaml" in table["inputs"]


def test_smoke_learned_methods_store_logs_and_maps(smoke_study):
    model_dir = smoke_study / "results/models/brain-real/radial-r0.40/ifrnet-s2-k1-l8-dct/seed-0"
    log = pd.read_csv(model_dir / "train_log.csv")
    assert set(log["split"]) == {"train", "val"} and (log["loss"] > 0).all()
    assert not (model_dir / "checkpoints").exists()  # removed when training finished
    with h5py.File(
        smoke_study / "results/recon/brain-real/random2d-r0.25/ifrnet-s2-k1-l8-dct/seed-0.h5", "r"
    ) as f:
        assert f["maps"].shape == (2, 2, 64, 64) and list(f.attrs["maps_stages"]) == [1, 2]
        assert f.attrs["seconds_per_image"] > 0
    stages = pd.read_csv(
        smoke_study / "results/stages/brain-real/radial-r0.40/ifrnet-s3-k1-l8-dct/seed-0.csv"
    )
    assert sorted(stages["stage"].unique()) == [1, 2, 3]


def test_a_model_with_two_seeds_trains_two_checkpoints_and_tables_show_their_spread(
    smoke_study,
):
    """smoke.yaml trains ifrnet-s2-k1-l8-random with seeds [0, 1]: two checkpoints, two
    reconstructions, and Table III's cell is the mean of the two seeds' means ± their std
    (ddof 1), computed here from the per-image metrics files with NumPy."""
    results = smoke_study / "results"
    run = "ifrnet-s2-k1-l8-random/seed-{}"
    weights = [
        torch.load(
            results / f"models/brain-real/radial-r0.40/{run.format(s)}/model.pt", weights_only=True
        )
        for s in (0, 1)
    ]
    assert [w["metadata"]["seed"] for w in weights] == [0, 1]
    assert any(
        not torch.equal(weights[0]["model"][k], weights[1]["model"][k]) for k in weights[0]["model"]
    )
    per_image = np.stack(
        [
            pd.read_csv(results / f"metrics/brain-real/radial-r0.40/{run.format(s)}.csv")["psnr"]
            for s in (0, 1)
        ]
    )
    assert not np.array_equal(per_image[0], per_image[1])  # two seeds, two different numbers
    table = pd.read_csv(results / "tables/table_III.csv").set_index("model")
    cell = table.loc["ifrnet-s2-k1-l8-random"]
    assert cell["n_seeds"] == 2 and cell["seeds"] == "0;1"
    assert cell["psnr_mean"] == pytest.approx(per_image.mean(axis=1).mean(), abs=1e-4)
    assert cell["psnr_seed_std"] == pytest.approx(np.std(per_image.mean(axis=1), ddof=1), rel=1e-4)
    md = (results / "tables/table_III.md").read_text()
    assert f"{per_image.mean():.2f} ± {np.std(per_image.mean(axis=1), ddof=1):.2f} (2 seeds)" in md
    assert table.loc["ifrnet-s2-k1-l16-random", "n_seeds"] == 1  # the default: one seed


def test_claims_table_and_the_reports_claims_section(smoke_study):
    results = smoke_study / "results"
    claims = pd.read_csv(results / "tables/claims.csv")
    expected = set(yaml.safe_load((ROOT / "config/claims.yaml").read_text())["claims"])
    assert set(claims["claim"]) == expected
    assert set(claims["verdict"]) <= {"holds", "contradicted", "within noise", "not run"}
    ix = claims[claims["claim"] == "IX-dct-above-random-init"]
    assert (ix["seeds_worse"] == 2).all()  # the random-init model's two seeds
    md = (results / "tables/claims.md").read_text()
    assert md.splitlines()[2].startswith("Scale:") and "not comparable with the paper" in md
    report = (results / "report.html").read_text()
    assert "id='claims'" in report and report.index("id='claims'") < report.index("id='table_II'")
    assert "not comparable with the paper" in report.split("<nav>")[0]  # the scale, on top
    assert "Scale:" in (results / "tables/table_IV.md").read_text().splitlines()[2]


def test_generalisation_uses_models_trained_on_another_data_set(smoke_study):
    assert (smoke_study / "results/recon/brain-coronal/radial-r0.10/admmnet-s3/seed-0.h5").exists()
    assert not (smoke_study / "results/models/brain-coronal").exists()


def test_smoke_rerun_has_nothing_to_do(smoke_study):
    result = snakemake(
        smoke_study,
        "-n",
        "--cores",
        "1",
        "--configfile",
        "mine.yaml",
        extra_env={"PYTHONPATH": str(smoke_study)},
    )
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_single_table_then_all_tables_rebuilds_the_rest(smoke_study, tmp_path):
    """Building one table first must not make the folder target look complete."""
    # Its own copy of the study's data and models (not the tables): it deletes and rebuilds
    # outputs, which the shared study must keep.
    work = workflow_copy(tmp_path)
    shutil.copytree(smoke_study / "data", work / "data")
    shutil.copytree(
        smoke_study / "results",
        work / "results",
        ignore=shutil.ignore_patterns("tables", "figures", "report.html"),
    )
    (work / "my_recon.py").write_text(USER_MODULE)
    shutil.copy(smoke_study / "mine.yaml", work / "mine.yaml")
    env = {"PYTHONPATH": str(work)}
    args = ("--cores", "1", "--configfile", "mine.yaml")
    assert snakemake(work, "results/tables/table_IX.csv", *args, extra_env=env).returncode == 0
    assert sorted(p.name for p in (work / "results/tables").iterdir()) == [
        "table_IX.csv",
        "table_IX.md",
        "table_IX.prov.json",
        "table_IX.tex",
    ]
    result = snakemake(work, "results/tables", *args, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((work / "results/tables").glob("table_*.csv"))) == 9
    assert (work / "results/tables/claims.md").is_file()


def _without_timing(csv: Path) -> bytes:
    """A table's CSV bytes without its wall-clock columns (seconds per image vary by run)."""
    table = pd.read_csv(csv)
    return (
        table.drop(columns=[c for c in table.columns if c.startswith("seconds_")])
        .to_csv(index=False)
        .encode()
    )


#: Tables the second run rebuilds from scratch: between them every step kind (prepare, mask,
#: train, tune, reconstruct, evaluate, table), real and complex data, generated and fastMRI masks,
#: IFR-Net, U-Net and IFR-CS — 31 of the study's 151 jobs, so CI pays for one study, not two.
SECOND_RUN_TABLES = ("table_VI", "table_VIII")


@pytest.fixture(scope="module")
def second_study(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """Tables of the smoke study built again from scratch, in a directory named with a space and
    a quote: the second run of the determinism test and the run of the quoting test (one run
    serves both; the shared smoke study cannot, being the first run in a plain directory)."""
    odd = tmp_path_factory.mktemp("second") / "it's a dir"
    odd.mkdir()
    work = workflow_copy(odd)
    smoke_with_user_method(work)
    targets = [f"results/tables/{name}.csv" for name in SECOND_RUN_TABLES]
    result = snakemake(
        work,
        *targets,
        "--cores",
        "2",
        "--configfile",
        "mine.yaml",
        extra_env={"PYTHONPATH": str(work)},
    )
    return work, result


def test_smoke_study_is_deterministic(smoke_study, second_study):
    """A second run from scratch gives the same tables, byte for byte apart from timings."""
    work, result = second_study
    assert result.returncode == 0, result.stderr[-3000:]
    for name in SECOND_RUN_TABLES:
        ours, theirs = (run / "results" / "tables" / f"{name}.csv" for run in (smoke_study, work))
        assert _without_timing(ours) == _without_timing(theirs), name


def test_paths_with_spaces_and_quotes(second_study):
    """Config strings and paths reach the shell quoted: a work directory named with a space and
    a quote runs."""
    work, result = second_study
    assert " " in work.name and "'" in work.name
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(pd.read_csv(work / "results/metrics/brain-real/fastmri-a4/zero-filled.csv")) == 2


@pytest.fixture(scope="module")
def edited_study(smoke_study, tmp_path_factory) -> Path:
    """A copy of the finished smoke study (with Snakemake's records of it) whose config the
    rerun tests edit; they only dry-run it."""
    work = tmp_path_factory.mktemp("edited") / "study"
    shutil.copytree(smoke_study, work, symlinks=True)
    return work


def _dry_run_after(work: Path, edit) -> dict[str, int]:
    """Job counts of a dry run of every target after ``edit`` of the smoke study's config
    (empty: nothing to do)."""
    config = yaml.safe_load((work / "mine.yaml").read_text())
    edit(config)
    (work / "edited.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        work,
        "-n",
        "--cores",
        "1",
        "--configfile",
        "edited.yaml",
        extra_env={"PYTHONPATH": str(work)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if "Nothing to be done" in result.stdout + result.stderr:
        return {}
    return job_counts(result.stdout)


def _showing(model: str) -> tuple[int, int]:
    """(tables, figures) of the smoke study that show ``model``."""
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    shows = [spec for spec in config["tables"].values() if model in spec["models"]]
    figures = [
        spec
        for spec in config["figures"].values()
        if model in spec.get("models", []) or spec.get("model") == model
    ]
    return len(shows), len(figures)


def test_switching_device_reruns_nothing(edited_study):
    assert _dry_run_after(edited_study, lambda c: c.update(device="cuda")) == {}


def test_editing_threads_reruns_only_the_report_that_shows_the_config(edited_study):
    def threads(config):
        config["models"]["ifrcs"]["threads"] = 2
        config["models"]["ifrnet-s2-k1-l8-dct"]["threads"] = 2

    assert _dry_run_after(edited_study, threads) == {"report": 1, "all": 1}


def test_a_label_edit_rerenders_only_the_artefacts_that_show_it(edited_study):
    def relabel(config):
        config["models"]["ifrcs"]["label"] = "IFR-CS (tuned)"

    tables, figures = _showing("ifrcs")
    assert tables and figures
    counts = _dry_run_after(edited_study, relabel)
    # the claims table names the models of its comparisons too
    assert counts == {"table": tables, "figure": figures, "claims": 1, "report": 1, "all": 1}


def test_editing_one_tables_entry_reruns_that_table_only(edited_study):
    def retitle(config):
        config["tables"]["table_IV"]["title"] += " (edited)"

    assert _dry_run_after(edited_study, retitle) == {"table": 1, "report": 1, "all": 1}


def test_a_device_that_is_not_there_stops_the_run(edited_study):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: cuda is a valid device here")
    config = yaml.safe_load((edited_study / "mine.yaml").read_text())
    config["device"] = "cuda"
    (edited_study / "gpu.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        edited_study,
        "--cores",
        "1",
        "--configfile",
        "gpu.yaml",
        "-f",
        "results/tables/table_IV.md",
        extra_env={"PYTHONPATH": str(edited_study)},
    )
    assert result.returncode != 0
    assert "cuda" in result.stdout + result.stderr
    config["device"] = "cdua"  # a typo: the schema's pattern
    (edited_study / "typo.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        edited_study,
        "-n",
        "--cores",
        "1",
        "--configfile",
        "typo.yaml",
        extra_env={"PYTHONPATH": str(edited_study)},
    )
    assert result.returncode != 0 and "device" in result.stdout + result.stderr

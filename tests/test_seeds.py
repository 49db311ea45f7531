"""Training seeds: runs and their paths, the workflow's inputs per seed, and tables that show the
mean and spread across seeds (checked against NumPy), with one seed rendering as before."""

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifrnet.bench import paths
from ifrnet.bench.artefacts import checkpoint_file, figure_inputs, table_inputs, table_view
from ifrnet.bench.config import ConfigError, load_config, load_schema, validate_config
from ifrnet.bench.render.tables import Cell, summarise, write_table
from tests.workflow_helpers import ROOT

SCHEMA_PATH = ROOT / "config" / "schema.yaml"
GOLDEN = Path(__file__).parent / "data" / "one_seed_table"


def smoke() -> dict:
    return load_config(ROOT / "config" / "smoke.yaml", SCHEMA_PATH)


def test_runs_name_the_training_seed_and_parse_back():
    assert paths.runs("ifrnet", [0, 2]) == ["ifrnet/seed-0", "ifrnet/seed-2"]
    assert paths.runs("ifrcs", None) == ["ifrcs"] and paths.runs("ifrcs", ()) == ["ifrcs"]
    assert paths.parse_run("ifrnet/seed-12") == ("ifrnet", 12)
    assert paths.parse_run("ifrcs") == ("ifrcs", None)
    for bad in ("a/b", "a/seed-x", "a/seed-1/seed-2", ""):
        with pytest.raises(ValueError, match="not a run"):
            paths.parse_run(bad)
    assert paths.checkpoint("d", "m", "net/seed-1") == "results/models/d/m/net/seed-1/model.pt"
    assert paths.recon("d", "m", "net/seed-1") == "results/recon/d/m/net/seed-1.h5"
    assert paths.metrics("d", "m", "ifrcs") == "results/metrics/d/m/ifrcs.csv"


def test_a_model_trained_here_has_one_run_per_seed_and_others_one_run():
    config = smoke()
    view = table_view(config, "table_IX")
    assert view["models"]["ifrnet-s2-k1-l8-random"]["seeds"] == [0, 1]
    assert view["models"]["ifrnet-s2-k1-l8-dct"]["seeds"] == [config["seed"]]  # the default
    metrics = table_inputs(config, "table_IX", "config/published.yaml")["metrics"]
    assert metrics == [
        paths.metrics("brain-real", "radial-r0.40", "ifrnet-s2-k1-l8-dct/seed-0"),
        paths.metrics("brain-real", "radial-r0.40", "ifrnet-s2-k1-l8-random/seed-0"),
        paths.metrics("brain-real", "radial-r0.40", "ifrnet-s2-k1-l8-random/seed-1"),
    ]
    tuned = table_inputs(config, "table_IV", "config/published.yaml")["metrics"]
    assert paths.metrics("brain-real", "radial-r0.10", "ifrcs") in tuned  # not trained: no seed


def test_the_master_seed_is_the_default_training_seed():
    config = smoke()
    config["seed"] = 7
    assert table_view(config, "table_II")["models"]["ifrnet-s2-k1-l8-dct"]["seeds"] == [7]


def test_figures_show_the_first_seed_and_the_stages_figure_every_seed():
    config = smoke()
    stages = figure_inputs(config, "fig06")
    assert stages == [
        paths.stage_metrics("brain-real", "radial-r0.40", f"ifrnet-s3-k1-l8-dct/seed-{s}")
        for s in (0, 1)
    ]
    config["figures"]["fig07"]["models"] = ["ifrnet-s2-k1-l8-random"]
    recons = figure_inputs(config, "fig07")[1:]
    assert all(path.endswith("ifrnet-s2-k1-l8-random/seed-0.h5") for path in recons)


def test_checkpoints_are_per_run_and_refuse_runs_without_the_seed():
    config = smoke()
    assert checkpoint_file(config, "brain-coronal", "radial-r0.10", "admmnet-s3/seed-0") == (
        paths.checkpoint("brain-real", "radial-r0.10", "admmnet-s3/seed-0")  # train_on
    )
    with pytest.raises(ValueError, match="name the training seed"):
        checkpoint_file(config, "brain-real", "radial-r0.10", "admmnet-s3")
    with pytest.raises(ValueError, match="not trained here"):
        checkpoint_file(config, "brain-real", "radial-r0.10", "ifrcs/seed-0")


def test_seeds_belong_to_models_trained_here():
    config = yaml_smoke()
    config["models"]["ifrcs"]["seeds"] = [0, 1]
    with pytest.raises(ConfigError, match="models.ifrcs.seeds: only models trained here"):
        validate_config(config, load_schema(SCHEMA_PATH))
    config = yaml_smoke()
    config["models"]["d5c5"]["seeds"] = [1, 1]
    with pytest.raises(ConfigError, match="models.d5c5.seeds"):
        validate_config(config, load_schema(SCHEMA_PATH))


def yaml_smoke() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


# ---------------------------------------------------------------------------------------------
# Tables over seeds


def _metrics(path: Path, rng: np.random.Generator, offset: float) -> Path:
    n = 4
    pd.DataFrame(
        {
            "psnr": offset + rng.normal(0, 1, n),
            "ssim": 0.9 + 0.01 * rng.random(n),
            "hfen": 0.3 + 0.05 * rng.random(n),
            "nmse": 0.01 * rng.random(n),
            "seconds": 0.1 + 0.01 * rng.random(n),
        }
    ).to_csv(path, index=False)
    return path


def test_several_seeds_give_the_mean_of_seed_means_and_their_spread(tmp_path):
    rng = np.random.default_rng(3)
    runs = tuple(_metrics(tmp_path / f"net-{s}.csv", rng, 30 + s) for s in range(3))
    other = (_metrics(tmp_path / "cs.csv", rng, 29),)
    summary = summarise(
        [
            Cell("m", 0.3, "net", runs, None, "Net", (0, 1, 2)),
            Cell("m", 0.3, "cs", other, None, "CS"),
        ],
        reference="net",
    ).set_index("model")
    values = np.stack([pd.read_csv(p)["psnr"].to_numpy() for p in runs])  # (seeds, images)
    net = summary.loc["net"]
    assert net["psnr_mean"] == pytest.approx(values.mean(axis=1).mean())
    assert net["psnr_seed_std"] == pytest.approx(np.std(values.mean(axis=1), ddof=1))
    assert net["psnr_std"] == pytest.approx(np.mean([np.std(row) for row in values]))
    assert net["n_seeds"] == 3 and net["seeds"] == "0;1;2"
    per_seed = [float(v) for v in net["psnr_per_seed"].split(";")]
    assert per_seed == pytest.approx(values.mean(axis=1), rel=1e-5)
    from scipy.stats import wilcoxon

    cs = pd.read_csv(other[0])["psnr"].to_numpy()
    assert summary.loc["cs", "p_psnr"] == pytest.approx(wilcoxon(values.mean(axis=0), cs).pvalue)
    assert math.isnan(summary.loc["cs", "psnr_seed_std"]) and summary.loc["cs", "n_seeds"] == 1
    write_table(summary.reset_index(), tmp_path, "t", "T", "caption", "Scale: test.")
    md = (tmp_path / "t.md").read_text()
    expected = f"{values.mean():.2f} ± {np.std(values.mean(axis=1), ddof=1):.2f} (3 seeds)"
    assert expected in md
    assert md.splitlines()[2] == "Scale: test."  # above the numbers


def test_seeds_that_hold_different_images_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    a = _metrics(tmp_path / "a.csv", rng, 30)
    b = tmp_path / "b.csv"
    pd.read_csv(a).iloc[:2].to_csv(b, index=False)
    with pytest.raises(ValueError, match="different numbers of test images"):
        summarise([Cell("m", 0.3, "net", (a, b), None, "Net", (0, 1))])


def _golden_inputs(directory: Path) -> list[Cell]:
    """The hand-made one-seed metrics the golden table was rendered from by the code before
    seeds (commit 846b550; tests/data/one_seed_table)."""
    cells = [
        ("radial", "ifrcs", {"psnr": 33.0, "hfen": 0.2, "ssim": 0.95}),
        ("radial", "admmnet", {"psnr": 32.5, "hfen": 0.25, "ssim": 0.94}),
        ("radial", "ifrnet", {"psnr": 34.0, "hfen": 0.15, "ssim": 0.96}),
        ("random", "ifrcs", None),
        ("random", "admmnet", {"psnr": 31.0, "hfen": 0.3, "ssim": 0.93}),
        ("random", "ifrnet", {"psnr": 32.0, "hfen": 0.28, "ssim": 0.935}),
    ]
    rng = np.random.default_rng(11)
    found = []
    for i, (mask, model, paper) in enumerate(cells):
        n = 5
        frame = pd.DataFrame(
            {
                "psnr": 30 + i + rng.normal(0, 1.5, n),
                "ssim": 0.9 + 0.01 * rng.random(n),
                "hfen": 0.3 + 0.05 * rng.random(n),
                "nmse": 0.01 * rng.random(n),
                "seconds": 0.1 + 0.01 * rng.random(n),
            }
        )
        path = directory / f"{mask}-{model}-0.csv"
        frame.to_csv(path, index=False)
        found.append(Cell(mask, 0.25, model, (path,), paper, model.upper(), (0,)))
    return found


def test_one_seed_renders_the_tables_of_the_code_before_seeds(tmp_path):
    summary = summarise(_golden_inputs(tmp_path), reference="ifrnet")
    write_table(summary, tmp_path, "golden", "Golden table", "caption")
    assert (tmp_path / "golden.md").read_bytes() == (GOLDEN / "golden.md").read_bytes()
    assert (tmp_path / "golden.tex").read_bytes() == (GOLDEN / "golden.tex").read_bytes()
    before = pd.read_csv(GOLDEN / "golden.csv")
    now = pd.read_csv(tmp_path / "golden.csv")
    assert list(now.columns[: len(before.columns)]) == list(before.columns)  # seeds come after
    assert (
        (tmp_path / "golden.csv")
        .read_text()
        .splitlines()[1]
        .startswith((GOLDEN / "golden.csv").read_text().splitlines()[1])
    )
    pd.testing.assert_frame_equal(now[before.columns], before)


def test_adding_a_seed_reruns_nothing_of_the_other_seeds():
    """A run's files and its job's params name only its own seed: `seeds` reaches no computing
    job (ifrnet.bench.artefacts.DISPLAY_ONLY; tests/test_rerun_policy.py)."""
    from ifrnet.bench.artefacts import DISPLAY_ONLY

    assert "seeds" in DISPLAY_ONLY
    config = smoke()
    more = copy.deepcopy(config)
    more["models"]["ifrnet-s2-k1-l8-random"]["seeds"] = [0, 1, 5]
    before = table_inputs(config, "table_III", "p")["metrics"]
    after = table_inputs(more, "table_III", "p")["metrics"]
    assert set(before) < set(after)

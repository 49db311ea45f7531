"""Grid search: ordering, the winner, the result file, and the pipeline's use of it."""

import json

import numpy as np
import pytest

from ifrnet.bench.data.sources import prepare_dataset
from ifrnet.bench.pipeline import build_method
from ifrnet.bench.tuning import (
    edge_note,
    grid_edges,
    grid_points,
    read_edges,
    read_tuned,
    tune_method,
)
from ifrnet.numerics.masks import make_mask, save_mask


def test_grid_points_order_and_errors():
    points = grid_points({"rho": [1, 2], "lam": [0.1, 0.3]})
    assert points == [
        {"lam": 0.1, "rho": 1},
        {"lam": 0.1, "rho": 2},
        {"lam": 0.3, "rho": 1},
        {"lam": 0.3, "rho": 2},
    ]
    with pytest.raises(ValueError, match="non-empty"):
        grid_points({"lam": []})


def test_tune_picks_the_best_psnr_and_the_pipeline_uses_it(tmp_path):
    spec = dict(
        source="embedded", kind="real", size=64, n_train=0, n_val=2, n_test=1, noise_sigma=0.02
    )
    prepare_dataset("b", spec, seed=0, out_dir=tmp_path)
    save_mask(make_mask("radial", (64, 64), rate=0.3), tmp_path / "m.npz")
    model = {
        "method": "ifrcs",
        "params": {"max_iter": 15},
        "tune": {"grid": {"lam": [0.0, 0.01, 10.0], "rho": [0.5]}},
    }
    result = tune_method(
        "ifrcs", model, tmp_path / "val.h5", tmp_path / "m.npz", tmp_path / "t.json"
    )
    scores = [t["psnr"] for t in result["trials"]]
    assert result["score"] == max(scores) and len(scores) == 3
    assert result["best"] == result["trials"][int(np.argmax(scores))]["params"]
    assert result["best"]["lam"] != 10.0  # shrinking everything cannot win
    assert json.loads((tmp_path / "t.json").read_text())["best"] == result["best"]
    method = build_method(model, real=True, tuned=tmp_path / "t.json")
    assert method.lam == result["best"]["lam"] and method.max_iter == 15
    with pytest.raises(ValueError, match="tuning result"):
        build_method(model, real=True)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        read_tuned(tmp_path / "bad.json")


@pytest.mark.slow
def test_iterations_in_the_grid_are_scored_from_one_run_as_if_run_alone(tmp_path):
    spec = dict(
        source="embedded", kind="real", size=64, n_train=0, n_val=2, n_test=1, noise_sigma=0.02
    )
    prepare_dataset("b", spec, seed=0, out_dir=tmp_path)
    save_mask(make_mask("radial", (64, 64), rate=0.3), tmp_path / "m.npz")
    grid = {"lam": [0.003, 0.01], "max_iter": [2, 8, 25], "rho": [0.5]}
    model = {"method": "ifrcs", "params": {"tol": 1e-4}, "tune": {"grid": grid}}
    result = tune_method(
        "ifrcs", model, tmp_path / "val.h5", tmp_path / "m.npz", tmp_path / "t.json"
    )
    for trial in result["trials"]:  # each point alone, through the same tuner
        alone = {**model, "tune": {"grid": {k: [v] for k, v in trial["params"].items()}}}
        single = tune_method(
            "ifrcs", alone, tmp_path / "val.h5", tmp_path / "m.npz", tmp_path / "one.json"
        )
        assert single["score"] == trial["psnr"]
    assert [t["params"] for t in result["trials"]] == grid_points(grid)


def test_winners_on_the_edge_of_their_grid_are_found():
    grid = {
        "denoiser": ["dct", "wavelet"],
        "lam": [0.01, 0.005, 0.02],
        "max_iter": [60, 150, 1000],
        "rho": [1.0],
    }
    best = {"denoiser": "dct", "lam": 0.005, "max_iter": 1000, "rho": 1.0}
    edges = grid_edges(grid, best)
    assert edges == {
        "lam": {"value": 0.005, "edge": "lowest", "grid": [0.005, 0.01, 0.02]},
        "max_iter": {"value": 1000, "edge": "highest", "grid": [60, 150, 1000]},
    }
    assert edge_note(edges) == (
        "lam = 0.005 is the lowest of its grid (0.005 to 0.02); "
        "max_iter = 1000 is the highest of its grid (60 to 1000)"
    )
    assert grid_edges(grid, {**best, "lam": 0.01, "max_iter": 150}) == {}  # inside: fine
    assert edge_note({}) == ""


def test_tuning_records_and_warns_about_an_edge_winner(tmp_path, capsys):
    spec = dict(
        source="embedded", kind="real", size=64, n_train=0, n_val=2, n_test=1, noise_sigma=0.02
    )
    prepare_dataset("b", spec, seed=0, out_dir=tmp_path)
    save_mask(make_mask("radial", (64, 64), rate=0.3), tmp_path / "m.npz")
    model = {
        "method": "ifrcs",
        "params": {"max_iter": 15},
        "tune": {"grid": {"lam": [1.0, 10.0], "rho": [0.5]}},
    }  # both far too strong
    result = tune_method(
        "ifrcs", model, tmp_path / "val.h5", tmp_path / "m.npz", tmp_path / "t.json"
    )
    assert result["best"]["lam"] == 1.0
    assert result["edges"] == {"lam": {"value": 1.0, "edge": "lowest", "grid": [1.0, 10.0]}}
    assert read_edges(tmp_path / "t.json") == result["edges"]
    assert "warning: ifrcs at m: lam = 1 is the lowest of its grid (1 to 10)" in (
        capsys.readouterr().err
    )

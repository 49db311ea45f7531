"""What each table and figure needs and shows (ifrnet.bench.artefacts), the path module, the figure
kinds registry and the schema's defaults."""

import copy
import subprocess
import sys

import numpy as np
import pytest
import yaml

from ifrnet.bench import paths
from ifrnet.bench.artefacts import (
    experiments,
    figure_inputs,
    figure_view,
    table_inputs,
    table_view,
)
from ifrnet.bench.config import apply_defaults, load_config, load_schema
from ifrnet.bench.render import kinds
from ifrnet.bench.render.build import build_figure, build_table
from tests.workflow_helpers import ROOT

SCHEMA_PATH = ROOT / "config" / "schema.yaml"


def smoke() -> dict:
    return load_config(ROOT / "config" / "smoke.yaml", SCHEMA_PATH)


def views(config: dict) -> dict[str, dict]:
    """Every artefact's view of ``config``, by artefact name."""
    found = {name: table_view(config, name) for name in config["tables"]}
    found.update({name: figure_view(config, name) for name in config["figures"]})
    return found


def test_config_and_paths_import_no_artefacts_module():
    """No import cycle: the config and the path patterns stand alone."""
    code = (
        "import sys, ifrnet.bench.config, ifrnet.bench.paths; "
        "print(sorted(m for m in sys.modules if m in "
        "('ifrnet.bench.artefacts', 'ifrnet.bench.render')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_schema_defaults_are_applied_once_on_loading():
    raw = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    del raw["batch_size"]
    raw["models"]["ifrcs"].pop("threads", None)
    raw["models"]["ifrcs"]["label"] = "IFR-CS"
    config = apply_defaults(copy.deepcopy(raw), load_schema(SCHEMA_PATH))
    assert config["batch_size"] == 4 and config["models"]["ifrcs"]["threads"] == 1
    assert config["models"]["ifrcs"]["label"] == "IFR-CS"  # given values stay
    assert smoke()["batch_size"] == 2  # the file's value wins over the default


def test_editing_one_table_changes_only_its_view():
    config = smoke()
    edited = copy.deepcopy(config)
    edited["tables"]["table_IV"]["title"] += " (edited)"
    changed = {n for n, v in views(config).items() if views(edited)[n] != v}
    assert changed == {"table_IV"}


def test_threads_show_nowhere_and_a_label_only_where_its_model_is():
    config = smoke()
    model = "ifrcs"
    edited = copy.deepcopy(config)
    edited["models"][model]["threads"] += 1
    assert views(edited) == views(config)
    edited["models"][model]["label"] = "IFR-CS (renamed)"
    changed = {n for n, v in views(config).items() if views(edited)[n] != v}
    showing = {
        n
        for n, spec in {**config["tables"], **config["figures"]}.items()
        if model in spec.get("models", []) or spec.get("model") == model
    }
    assert changed == showing and changed


def test_device_is_in_no_view():
    config = smoke()
    edited = {**copy.deepcopy(config), "device": "cuda:1"}
    assert views(edited) == views(config)


def test_inputs_come_from_the_path_patterns():
    config = smoke()
    spec = config["figures"]["fig05"]
    side = config["datasets"][spec["dataset"]]["size"]
    assert figure_inputs(config, "fig05") == [paths.mask(m, side, side) for m in spec["masks"]]
    inputs = table_inputs(config, "table_IV", "config/published.yaml")
    dataset = config["tables"]["table_IV"]["dataset"]
    assert inputs["data"] == paths.prepared(dataset, "test") == f"data/prepared/{dataset}/test.h5"
    assert inputs["published"] == ["config/published.yaml"]
    assert all(f.startswith("results/metrics/") for f in inputs["metrics"])
    assert all(f.startswith("results/tuning/") for f in inputs["tuned"]) and inputs["tuned"]
    assert paths.table_files("t") == [f"results/tables/t{e}" for e in paths.TABLE_EXTS]


def test_schema_figure_kinds_are_the_registry():
    schema = load_schema(SCHEMA_PATH)
    enum = schema["properties"]["figures"]["additionalProperties"]["properties"]["kind"]["enum"]
    assert sorted(enum) == sorted(kinds.FIGURE_KINDS)
    for kind in kinds.FIGURE_KINDS.values():
        assert callable(kind.drawer()), kind.name


def _toy_draw(view, inputs):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.load(inputs[0], allow_pickle=False))
    ax.set_title(view["entry"]["dataset"])
    return fig


def test_a_new_figure_kind_is_one_registry_line(tmp_path, monkeypatch):
    source = tmp_path / "image.npy"
    np.save(source, np.eye(8))
    toy = kinds.FigureKind("toy", _toy_draw, inputs=lambda view: [str(source)])
    monkeypatch.setitem(kinds.FIGURE_KINDS, "toy", toy)
    config = smoke()
    config["figures"]["fig99"] = {"kind": "toy", "dataset": "brain-real"}
    assert figure_inputs(config, "fig99") == [str(source)]
    assert ("brain-real", "radial-r0.40", "zero-filled") not in experiments(
        {**config, "tables": {}, "figures": {"fig99": config["figures"]["fig99"]}}
    )
    out = tmp_path / "fig99.png"
    written = build_figure(figure_view(config, "fig99"), "fig99", [source], out)
    assert [p.name for p in written] == ["fig99.png", "fig99.pdf", "fig99.prov.json"]
    assert out.stat().st_size > 500
    with pytest.raises(ValueError, match="unknown figure kind 'nope'"):
        kinds.figure_kind("nope")


def test_a_table_refuses_files_that_do_not_match_its_cells(tmp_path):
    config = smoke()
    view = table_view(config, "table_IV")
    inputs = table_inputs(config, "table_IV", "config/published.yaml")
    with pytest.raises(ValueError, match="metrics: .* files needed"):
        build_table(
            view,
            "table_IV",
            tmp_path / "table_IV.csv",
            metrics=inputs["metrics"][:-1],
            masks=inputs["masks"],
            data=inputs["data"],
            tuned=inputs["tuned"],
            published=ROOT / "config" / "published.yaml",
        )

"""Config validation: the shipped configs pass; bad ones fail naming the key."""

from pathlib import Path

import pytest
import yaml

from ifrnet.bench.artefacts import experiments
from ifrnet.bench.config import ConfigError, load_config, load_schema, validate_config

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = load_schema(ROOT / "config" / "schema.yaml")


def default() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize(
    "name", ["config.yaml", "smoke.yaml", "brain.yaml", "brain-paper.yaml", "paper.yaml"]
)
def test_shipped_configs_are_valid(name):
    config = load_config(ROOT / "config" / name, ROOT / "config" / "schema.yaml")
    assert experiments(config)


def test_schema_declares_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(colour="red"), "unknown key colour"),
        (lambda c: c["datasets"]["brain-real"].update(sise=3), "datasets.brain-real.sise"),
        (lambda c: c["masks"]["radial-r0.40"].update(rate=1.5), "masks.radial-r0.40.rate"),
        (lambda c: c["datasets"]["brain-real"].update(size=-3), "datasets.brain-real.size"),
        (lambda c: c["datasets"]["brain-real"].update(n_test=-1), "datasets.brain-real.n_test"),
        (lambda c: c["masks"]["radial-r0.40"].update(rate=0), "masks.radial-r0.40.rate"),
        (
            lambda c: c["tables"]["table_II"]["masks"].append("radial-r0.99"),
            "unknown mask 'radial-r0.99'",
        ),
        (lambda c: c["tables"]["table_II"]["models"].append("nope"), "unknown model 'nope'"),
        (lambda c: c.update(device="tpu"), "device"),
        (lambda c: c["masks"].update(fm={"kind": "fastmri"}), "needs 'acceleration'"),
        (lambda c: c["masks"].update(f={"kind": "file"}), "'path' is a required property"),
        (
            lambda c: c["masks"].update(f={"kind": "file", "path": "m.mat", "url": "https://x/m"}),
            "'sha256' is a required property",
        ),
        (
            lambda c: c["masks"].update(f={"kind": "radial", "rate": 0.2, "path": "m.mat"}),
            "masks.f",
        ),
        (
            lambda c: c["models"].update(p={"method": "unet", "weights": {"path": "n.mat"}}),
            "models.p.weights: published weights convert for methods ifrnet and admmnet",
        ),
        (
            lambda c: c["models"].update(
                p={
                    "method": "admmnet",
                    "weights": {"path": "n.mat"},
                    "train": {"epochs": 1, "lr": 0.1},
                }
            ),
            "models.p",
        ),
        (
            lambda c: c["models"]["admmnet-s15"].update(save_maps=[2]),
            "models.admmnet-s15.save_maps: model 'admmnet-s15'",
        ),
        (
            lambda c: c["figures"]["fig06"].update(model="admmnet-s15"),
            "figures.fig06.model: model 'admmnet-s15'",
        ),
        (
            lambda c: c["figures"]["fig12"].update(model="admmnet-s15"),
            "figures.fig12.model: model 'admmnet-s15'",
        ),
    ],
)
def test_bad_config_names_the_key(edit, message):
    config = default()
    edit(config)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        validate_config(config, SCHEMA)


def test_stage_output_flags_match_the_classes():
    from ifrnet.methods.method import StagedNetwork
    from ifrnet.methods.registry import METHODS, has_stage_outputs, resolve

    for name in METHODS:
        assert has_stage_outputs(name) == issubclass(resolve(name), StagedNetwork), name
    assert has_stage_outputs("ifrnet") and not has_stage_outputs("admmnet")


def test_validation_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, yaml; from ifrnet.bench.config import validate_config, load_schema; "
        "validate_config(yaml.safe_load(open('config/config.yaml')), "
        "load_schema('config/schema.yaml')); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_study_is_read_once_into_typed_read_only_entries():
    import dataclasses

    from ifrnet.bench.config import Study

    study = Study.from_config(yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text()), SCHEMA)
    assert (
        study.models["ifrcs"].fitting == "tuned" and study.models["zero-filled"].fitting == "plain"
    )
    assert study.models["ifrcs"].threads == 1  # the schema's default
    assert study.datasets["brain-coronal"].get("train_on") == "brain-real"
    with pytest.raises(TypeError):
        study.models["ifrcs"].spec["method"] = "x"  # read-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.seed = 1
    bad = default()
    bad["device"] = "cdua"
    with pytest.raises(ConfigError, match="device"):
        Study.from_config(bad, SCHEMA)


def test_the_librarys_batch_default_is_the_schemas():
    """One default batch size: the schema's, which the library's INFERENCE_BATCH restates."""
    from ifrnet.methods.defaults import INFERENCE_BATCH

    assert SCHEMA["properties"]["batch_size"]["default"] == INFERENCE_BATCH

"""The rerun policy (ifrnet.bench.artefacts): what each computing job of a model is handed of its
entry, so that an edit reruns exactly the jobs it changes. Snakemake reruns a job whose params
changed, so "reruns" here means "changes the params that job is handed"."""

import copy

import pytest
import yaml

from ifrnet.bench.artefacts import (
    DISPLAY_ONLY,
    TRAIN_KEYS,
    TUNE_KEYS,
    recon_params,
    table_view,
    train_params,
    tune_params,
)
from ifrnet.bench.config import load_schema
from tests.workflow_helpers import ROOT

SCHEMA = load_schema(ROOT / "config" / "schema.yaml")
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
TRAINED = CONFIG["models"]["ifrnet-s9-k2-l8-dct"]
TUNED = CONFIG["models"]["ifrcs"]

#: An edit of each key of a model entry.
EDITS = {
    "label": "Renamed",
    "threads": 3,
    "seeds": [0, 1, 2],
    "method": "admmnet",
    "params": {"stages": 3},
    "train": {"epochs": 1, "lr": 0.1},
    "tune": {"grid": {"lam": [0.5]}},
    "save_maps": [1],
    "weights": {"path": "x.mat"},
}


def jobs_params(entry: dict) -> dict[str, dict]:
    return {"train": train_params(entry), "tune": tune_params(entry), "recon": recon_params(entry)}


def edited(entry: dict, key: str) -> dict:
    changed = copy.deepcopy(entry)
    changed[key] = EDITS[key]
    return changed


def test_every_key_of_a_model_entry_has_a_place_in_the_policy():
    keys = set(SCHEMA["properties"]["models"]["additionalProperties"]["properties"])
    assert keys == set(EDITS)  # a new key needs a decision here (and in artefacts.py)
    placed = set(DISPLAY_ONLY) | set(TRAIN_KEYS) | set(TUNE_KEYS) | {"save_maps", "weights"}
    assert keys == placed


# The policy stated here, independently of the code's tuples.
DISPLAY = ["label", "threads", "seeds"]
TRAINING = ["method", "params", "train"]
TUNING = ["method", "params", "tune"]


@pytest.mark.parametrize("key", DISPLAY)
@pytest.mark.parametrize("entry", [TRAINED, TUNED], ids=["trained", "tuned"])
def test_a_display_only_key_reruns_nothing(entry, key):
    assert jobs_params(edited(entry, key)) == jobs_params(entry)


@pytest.mark.parametrize("key", TRAINING)
def test_a_training_key_retrains_and_reconstructs_its_model(key):
    before, after = jobs_params(TRAINED), jobs_params(edited(TRAINED, key))
    assert after["train"] != before["train"] and after["recon"] != before["recon"]


@pytest.mark.parametrize("key", TUNING)
def test_a_tuning_key_retunes_and_reconstructs_its_model(key):
    before, after = jobs_params(TUNED), jobs_params(edited(TUNED, key))
    assert after["tune"] != before["tune"] and after["recon"] != before["recon"]


def test_reconstruction_options_do_not_retrain():
    before, after = jobs_params(TRAINED), jobs_params(edited(TRAINED, "save_maps"))
    assert after["train"] == before["train"] and after["recon"] != before["recon"]


def test_a_label_shows_in_the_views_of_the_artefacts():
    config = copy.deepcopy(CONFIG)
    config["models"]["ifrnet-s9-k2-l8-dct"]["label"] = "Renamed"
    shown = table_view(config, "table_II")["models"]["ifrnet-s9-k2-l8-dct"]
    assert shown["label"] == "Renamed"

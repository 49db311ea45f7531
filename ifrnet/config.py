"""Load and validate the workflow configuration, and expand its experiment matrix.

Validation is JSON Schema (draft 2020-12, ``config/schema.yaml``) plus cross-reference checks
(tables name existing data sets, masks and models; masks have the parameters their kind needs).
Every error names the offending key as a dotted path, e.g. ``datasets.brain-real.size``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

# The schema of this checkout (the project is installed from its source tree, editable).
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key path."""


def _key_path(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        unknown = ", ".join(f"{path}.{k}" if path else k for k in extra)
        return f"unknown key {unknown}"
    if error.validator == "required":
        return f"{path or '<top level>'}: {error.message}"
    return f"{path or '<top level>'}: {error.message}"


def load_schema(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the YAML schema file."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate_config(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise ConfigError listing every schema violation and cross-reference fault."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(_key_path(e) for e in validator.iter_errors(config))
    if not problems:
        problems = _cross_reference(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _cross_reference(config: dict[str, Any]) -> list[str]:
    from ifrnet.data.sources import SOURCES
    from ifrnet.masks import MASK_KINDS

    problems = []
    for name, mask in config["masks"].items():
        problems += MASK_KINDS[mask["kind"]].problems(name, mask)
    for name, spec in config["models"].items():
        if "weights" in spec and spec["method"] not in ("ifrnet", "admmnet"):
            problems.append(f"models.{name}.weights: published weights convert for methods "
                            f"ifrnet and admmnet, not {spec['method']!r}")
    for name, spec in config["datasets"].items():
        problems += SOURCES[spec["source"]].problems(name, spec)
        for part, source in spec.get("urls", {}).items():
            if isinstance(source, str):  # not echoed: it may be a signed URL
                problems.append(f"datasets.{name}.urls.{part}: give {{env: NAME}} or "
                                "{file: PATH} where the signed URL is kept, not the URL itself "
                                "(it would reach shell commands, logs and .snakemake/)")
        if spec["n_train"] + spec["n_val"] + spec["n_test"] == 0:
            problems.append(f"datasets.{name}: no images requested")
    for name, spec in config["datasets"].items():
        if spec.get("train_on", name) not in config["datasets"]:
            problems.append(f"datasets.{name}.train_on: unknown data set {spec['train_on']!r}")
    for figure, spec in config.get("figures", {}).items():
        for key, known in (("dataset", "datasets"), ("datasets", "datasets"), ("mask", "masks"),
                           ("masks", "masks"), ("model", "models"), ("models", "models")):
            values = spec.get(key, [])
            for value in [values] if isinstance(values, str) else values:
                if value not in config[known]:
                    problems.append(f"figures.{figure}.{key}: unknown {known[:-1]} {value!r}")
    problems += _stage_output_problems(config)
    for table, spec in config["tables"].items():
        if spec["dataset"] not in config["datasets"]:
            problems.append(f"tables.{table}.dataset: unknown data set {spec['dataset']!r}")
        for mask in spec["masks"]:
            if mask not in config["masks"]:
                problems.append(f"tables.{table}.masks: unknown mask {mask!r}")
        for model in spec["models"]:
            if model not in config["models"]:
                problems.append(f"tables.{table}.models: unknown model {model!r}")
    return problems


def _stage_output_problems(config: dict[str, Any]) -> list[str]:
    """Models asked for stage outputs (``save_maps``, ``stages``/``maps`` figures) whose method
    has none (e.g. ADMM-Net), found here rather than as a TypeError inside a job."""
    from ifrnet.registry import has_stage_outputs

    asks = [(f"models.{name}.save_maps", name) for name, spec in config["models"].items()
            if spec.get("save_maps")]
    asks += [(f"figures.{figure}.model", spec["model"])
             for figure, spec in config.get("figures", {}).items()
             if spec["kind"] in ("stages", "maps") and spec.get("model") in config["models"]]
    problems = []
    for key, model in asks:
        method = config["models"][model]["method"]
        try:
            ok = has_stage_outputs(method)
        except ValueError as err:
            problems.append(f"models.{model}.method: {err}")
            continue
        if not ok:
            problems.append(f"{key}: model {model!r} (method {method!r}) has no stage outputs; "
                            "only methods with stage_outputs (e.g. ifrnet) do")
    return problems


def load_config(path: str | os.PathLike[str], schema_path: str | os.PathLike[str]) -> dict:
    """Read a YAML config file and validate it (ConfigError naming the file on failure)."""
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    try:
        validate_config(config, load_schema(schema_path))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return config


#: What a model needs before it reconstructs: nothing (``plain``), a tuning result on the
#: validation split (``tuned``), or a network checkpoint (``learned``: trained here, or converted
#: from the authors' published ``weights``).
ModelKind = Literal["plain", "tuned", "learned"]


def model_kind(entry: Mapping[str, Any]) -> ModelKind:
    """The kind of a model config entry: the one place that reads it from the entry's keys."""
    if "train" in entry or "weights" in entry:
        return "learned"
    return "tuned" if "tune" in entry else "plain"


def is_network(entry: Mapping[str, Any]) -> bool:
    """A model entry that reconstructs with a network checkpoint (:func:`model_kind` learned)."""
    return model_kind(entry) == "learned"


def published_model_path(model: str) -> str:
    """Checkpoint converted from a model's published weights (one for every data set, mask)."""
    return f"results/models/published/{model}/model.pt"


def file_downloads(config: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{local path: (URL, SHA-256)} of the mask files and published weights the config
    downloads (data sets list theirs in :func:`ifrnet.data.sources.downloads`)."""
    entries = [spec for spec in config["masks"].values() if spec["kind"] == "file"]
    entries += [spec["weights"] for spec in config["models"].values() if "weights" in spec]
    return {spec["path"]: (spec["url"], spec["sha256"]) for spec in entries if "url" in spec}


def mask_files(spec: dict[str, Any]) -> list[str]:
    """Files a mask entry is read from (the workflow's inputs of its job): ``path`` of a
    ``file`` mask, none for generated kinds."""
    return [spec["path"]] if spec["kind"] == "file" else []


def image_shape(config: dict[str, Any], dataset: str) -> tuple[int, int]:
    """Image shape (H, W) of a data set."""
    size = int(config["datasets"][dataset]["size"])
    return size, size


def mask_path(config: dict[str, Any], dataset: str, mask: str) -> str:
    """The mask file a data set's experiments use: ``results/masks/{mask}-{H}x{W}.npz``."""
    h, w = image_shape(config, dataset)
    return f"results/masks/{mask}-{h}x{w}.npz"


def experiments(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (dataset, mask, model) that some table or figure shows, sorted, without repeats."""
    from ifrnet.artefacts import figure_experiments

    found = {
        (spec["dataset"], mask, model)
        for spec in config["tables"].values()
        for mask in spec["masks"]
        for model in spec["models"]
    }
    for spec in config.get("figures", {}).values():
        found.update(figure_experiments(spec))
    return sorted(found)


def table_cells(config: dict[str, Any], table: str) -> list[tuple[str, str, str]]:
    """The (dataset, mask, model) cells of one table, in the order the config lists them."""
    spec = config["tables"][table]
    return [(spec["dataset"], mask, model) for mask in spec["masks"] for model in spec["models"]]


def prepared_path(dataset: str, split: str) -> str:
    """Prepared split of a data set (the file contract)."""
    return f"data/prepared/{dataset}/{split}.h5"


def metrics_path(dataset: str, mask: str, model: str) -> str:
    """Per-image metrics file of one experiment."""
    return f"results/metrics/{dataset}/{mask}/{model}.csv"


def tuning_path(dataset: str, mask: str, model: str) -> str:
    """Tuning result of one experiment of a tuned method."""
    return f"results/tuning/{dataset}/{mask}/{model}.json"


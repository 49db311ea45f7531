"""Load and validate the workflow configuration, and expand its experiment matrix.

Validation is JSON Schema (draft 2020-12, ``config/schema.yaml``) plus cross-reference checks
(tables name existing data sets, masks and models; masks have the parameters their kind needs).
Every error names the offending key as a dotted path, e.g. ``datasets.brain-real.size``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import jsonschema
import yaml

from ifrnet.bench.paths import SOURCE_ROOT

# The schema of this checkout (the project is installed from its source tree, editable).
SCHEMA_PATH = SOURCE_ROOT / "config" / "schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key path."""


def _key_path(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(map(str, set(error.instance) - set(error.schema.get("properties", {}))))
        unknown = ", ".join(f"{path}.{k}" if path else k for k in extra)
        return f"unknown key {unknown}"
    if error.validator == "required":
        return f"{path or '<top level>'}: {error.message}"
    return f"{path or '<top level>'}: {error.message}"


#: PyYAML's safe loader, in C where libyaml is there (ten times faster than the Python one).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_schema(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the YAML schema file."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=SAFE_LOADER)


def validate_config(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise ConfigError listing every schema violation and cross-reference fault."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(_key_path(e) for e in validator.iter_errors(config))
    if not problems:
        problems = _cross_reference(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def validate_entry(entry: Any, section: str, schema: dict[str, Any], where: str) -> None:
    """Raise ConfigError if ``entry`` is not a valid entry of config ``section`` (e.g. a mask
    given as JSON on the command line, ``where`` naming the option)."""
    validator = jsonschema.Draft202012Validator(
        schema["properties"][section]["additionalProperties"]
    )
    problems = sorted(
        _key_path(e).replace("<top level>: ", "") for e in validator.iter_errors(entry)
    )
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))


def _cross_reference(config: dict[str, Any]) -> list[str]:
    from ifrnet.bench.data.sources import SOURCES
    from ifrnet.numerics.masks import MASK_KINDS

    problems = []
    for name, mask in config["masks"].items():
        problems += MASK_KINDS[mask["kind"]].problems(name, mask)
    for name, spec in config["models"].items():
        if "weights" in spec and spec["method"] not in ("ifrnet", "admmnet"):
            problems.append(
                f"models.{name}.weights: published weights convert for methods "
                f"ifrnet and admmnet, not {spec['method']!r}"
            )
    for name, spec in config["models"].items():
        if "seeds" in spec and "train" not in spec:
            problems.append(
                f"models.{name}.seeds: only models trained here (with train) have training seeds"
            )
    for name, spec in config["datasets"].items():
        problems += SOURCES[spec["source"]].problems(name, spec)
        for part, source in spec.get("urls", {}).items():
            if isinstance(source, str):  # not echoed: it may be a signed URL
                problems.append(
                    f"datasets.{name}.urls.{part}: give {{env: NAME}} or "
                    "{file: PATH} where the signed URL is kept, not the URL itself "
                    "(it would reach shell commands, logs and .snakemake/)"
                )
        if spec["n_train"] + spec["n_val"] + spec["n_test"] == 0:
            problems.append(f"datasets.{name}: no images requested")
    for name, spec in config["datasets"].items():
        if spec.get("train_on", name) not in config["datasets"]:
            problems.append(f"datasets.{name}.train_on: unknown data set {spec['train_on']!r}")
    for figure, spec in config.get("figures", {}).items():
        for key, known in (
            ("dataset", "datasets"),
            ("datasets", "datasets"),
            ("mask", "masks"),
            ("masks", "masks"),
            ("model", "models"),
            ("models", "models"),
        ):
            values = spec.get(key, [])
            for value in [values] if isinstance(values, str) else values:
                if value not in config[known]:
                    problems.append(f"figures.{figure}.{key}: unknown {known[:-1]} {value!r}")
    problems += _stage_output_problems(config)
    for table, spec in config["tables"].items():
        if table == "claims":
            problems.append("tables.claims: the name is taken by the claims table; rename it")
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
    from ifrnet.methods.registry import has_stage_outputs

    asks = [
        (f"models.{name}.save_maps", name)
        for name, spec in config["models"].items()
        if spec.get("save_maps")
    ]
    asks += [
        (f"figures.{figure}.model", spec["model"])
        for figure, spec in config.get("figures", {}).items()
        if spec["kind"] in ("stages", "maps") and spec.get("model") in config["models"]
    ]
    problems = []
    for key, model in asks:
        method = config["models"][model]["method"]
        try:
            ok = has_stage_outputs(method)
        except ValueError as err:
            problems.append(f"models.{model}.method: {err}")
            continue
        if not ok:
            problems.append(
                f"{key}: model {model!r} (method {method!r}) has no stage outputs; "
                "only methods with stage_outputs (e.g. ifrnet) do"
            )
    return problems


def load_config(path: str | os.PathLike[str], schema_path: str | os.PathLike[str]) -> dict:
    """Read a YAML config file and validate it (ConfigError naming the file on failure)."""
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.load(f, Loader=SAFE_LOADER)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None
    schema = load_schema(schema_path)
    try:
        validate_config(config, schema)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return apply_defaults(config, schema)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML parser error on one line: the problem and where (line, column)."""
    problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def apply_defaults(config: Any, schema: Mapping[str, Any]) -> Any:
    """``config`` (valid against ``schema``) with every absent key that has a ``default:`` in the
    schema filled in, nested (the one place defaults come from); returns it, edited in place."""
    if not isinstance(config, dict):
        return config
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = sub["default"]
        if key in config:
            apply_defaults(config[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in set(config) - set(schema.get("properties", {})):
            apply_defaults(config[key], extra)
    return config


#: What a model needs before it reconstructs: nothing (``plain``), a tuning result on the
#: validation split (``tuned``), or a network checkpoint (``learned``: trained here, or converted
#: from the authors' published ``weights``).
ModelFitting = Literal["plain", "tuned", "learned"]


def model_fitting(entry: Mapping[str, Any]) -> ModelFitting:
    """How a model entry is fitted: the one place that reads it from the entry's keys."""
    if "train" in entry or "weights" in entry:
        return "learned"
    return "tuned" if "tune" in entry else "plain"


def training_seeds(entry: Mapping[str, Any], master_seed: int) -> tuple[int, ...]:
    """Training seeds of a model entry: its ``seeds`` if it is trained here (``train``), else
    the master seed alone; none for a model that is not trained here (plain, tuned, published
    weights), whose one run is named as the model (:func:`ifrnet.bench.paths.runs`)."""
    if "train" not in entry:
        return ()
    return tuple(int(seed) for seed in entry.get("seeds", [master_seed]))


def is_network(entry: Mapping[str, Any]) -> bool:
    """A model entry that reconstructs with a network checkpoint (:func:`model_fitting` learned)."""
    return model_fitting(entry) == "learned"


def file_downloads(config: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{local path: (URL, SHA-256)} of the mask files and published weights the config
    downloads (data sets list theirs in :func:`ifrnet.bench.data.sources.downloads`)."""
    from ifrnet.numerics.masks import mask_kind

    entries = [spec for spec in config["masks"].values() if mask_kind(spec["kind"]).files(spec)]
    entries += [spec["weights"] for spec in config["models"].values() if "weights" in spec]
    return {spec["path"]: (spec["url"], spec["sha256"]) for spec in entries if "url" in spec}


def locate_checksums(config: dict[str, Any], locate: Callable[[str], str]) -> None:
    """Replace every data set's ``checksums`` path (its own and its ``test_source``'s) by
    ``locate(path)``, in place."""
    for spec in config["datasets"].values():
        for location in (spec, spec.get("test_source", {})):
            if "checksums" in location:
                location["checksums"] = locate(location["checksums"])


def _frozen(value: Any) -> Any:
    """A read-only deep copy: mappings as MappingProxyType, lists as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


@dataclass(frozen=True)
class Entry:
    """One named entry of a config section, read-only (``spec``: its keys, defaults filled)."""

    name: str
    spec: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.spec.get(key, default)


@dataclass(frozen=True)
class Model(Entry):
    @property
    def method(self) -> str:
        return self.spec["method"]

    @property
    def fitting(self) -> ModelFitting:
        return model_fitting(self.spec)

    @property
    def threads(self) -> int:
        return int(self.spec["threads"])

    def seeds(self, master_seed: int) -> tuple[int, ...]:
        """Training seeds (:func:`training_seeds`)."""
        return training_seeds(self.spec, master_seed)


@dataclass(frozen=True)
class Study:
    """A validated config with its schema defaults, read once: typed, immutable entries.
    ``config`` keeps the plain dictionary (for JSON arguments and :mod:`ifrnet.bench.artefacts`)."""

    config: Mapping[str, Any]
    seed: int
    device: str
    batch_size: int
    datasets: Mapping[str, Entry]
    masks: Mapping[str, Entry]
    models: Mapping[str, Model]
    tables: Mapping[str, Entry]
    figures: Mapping[str, Entry]

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        schema: Mapping[str, Any],
        locate: Callable[[str], str] | None = None,
    ) -> Study:
        """Validate ``config`` (ConfigError), fill in the schema's defaults, point its checksum
        lists at ``locate(path)`` (the workflow: the repository's copy of a shipped list), and
        freeze it; ``config`` is completed in place."""
        validate_config(config, schema)
        apply_defaults(config, schema)
        if locate is not None:
            locate_checksums(config, locate)

        def section(name: str, kind: type[Entry] = Entry) -> Mapping[str, Any]:
            return MappingProxyType(
                {key: kind(key, _frozen(spec)) for key, spec in config.get(name, {}).items()}
            )

        return cls(
            config,
            config["seed"],
            config["device"],
            config["batch_size"],
            section("datasets"),
            section("masks"),
            section("models", Model),
            section("tables"),
            section("figures"),
        )

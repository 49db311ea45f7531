"""Provenance sidecars: what made an artefact, as ``{artefact stem}.prov.json``.

The record holds the part of the config the artefact was built from (its own entry and what
it shows of the models, data sets and masks it names; :mod:`ifrnet.bench.artefacts`) and its SHA-256
(of its canonical JSON), the code version
(``git describe`` of the working tree, marked ``-dirty`` when it has local changes, else the
package version), the versions of the packages the numbers depend on, the configured ``device``,
the hardware and torch/CUDA build of the machine that wrote the record, the master seed, and the
SHA-256 of every input file.

Secrets stay out: the config has no place for them (signed fastMRI URLs are named by an
environment variable or a file, :mod:`ifrnet.bench.data.archive`), and as a second guard any URL in
it is recorded without its query string, where signed URLs keep their credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from ifrnet.bench.paths import SOURCE_ROOT
from ifrnet.util.io import file_sha256, write_text_atomic

PACKAGES = (
    "ifrnet-bench",
    "numpy",
    "scipy",
    "torch",
    "sigpy",
    "scikit-image",
    "h5py",
    "matplotlib",
    "pandas",
    "snakemake",
    "nilearn",
    "nibabel",
)


def config_sha256(config: dict[str, Any]) -> str:
    """SHA-256 of a config's canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def code_version() -> str:
    """``git describe --always --dirty`` of this package's checkout, else its version."""
    root = SOURCE_ROOT
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return f"git {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return f"ifrnet-bench {package_versions().get('ifrnet-bench', 'unknown')}"


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` (missing ones omitted) and of Python."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def public_config(config: Any) -> Any:
    """``config`` with every URL's query string and fragment removed (nested, copied)."""
    from ifrnet.bench.data.archive import redact

    if isinstance(config, dict):
        return {key: public_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [public_config(value) for value in config]
    if isinstance(config, str) and "://" in config:
        return redact(config)
    return config


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """This machine: CPU model and core count, visible CUDA GPUs, torch and its CUDA/cuDNN."""
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else []
    )
    return {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "gpus": gpus,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "platform": platform.platform(),
    }


def write_provenance(
    artefact: str | os.PathLike[str],
    config: dict[str, Any],
    inputs: list[str | os.PathLike[str]],
    device: str | None = None,
) -> Path:
    """Write the sidecar of ``artefact`` (``stem.prov.json`` beside it) and return its path.

    ``config``: what the artefact was built from (the workflow hands its view of the config:
    :func:`ifrnet.bench.artefacts.table_view`); ``device``: where the jobs ran (default the
    config's).
    """
    artefact = Path(artefact)
    record = {
        "artefact": artefact.stem,
        "config_sha256": config_sha256(config),
        "code_version": code_version(),
        "packages": package_versions(),
        "seed": config.get("seed"),
        "device": device if device is not None else config.get("device"),
        "hardware": hardware(),
        "config": public_config(config),
        "inputs": {str(p): file_sha256(p) for p in sorted(map(str, inputs))},
    }
    path = artefact.with_name(f"{artefact.stem}.prov.json")
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return path

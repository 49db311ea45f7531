"""Provenance sidecars: what made an artefact, as ``{artefact stem}.prov.json``.

The record holds the config's SHA-256 (of its canonical JSON), the code version (``git
describe`` of the working tree, marked ``-dirty`` when it has local changes, else the package
version), the versions of the packages the numbers depend on, the master seed, and the SHA-256
of every input file.
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

from ifrnet.io import file_sha256, write_text_atomic

PACKAGES = ("ifrnet-bench", "numpy", "scipy", "torch", "sigpy", "scikit-image", "h5py",
            "matplotlib", "pandas", "snakemake", "nilearn", "nibabel")


def config_sha256(config: dict[str, Any]) -> str:
    """SHA-256 of a config's canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def code_version() -> str:
    """``git describe --always --dirty`` of this package's checkout, else its version."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10, check=True)
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


def write_provenance(artefact: str | os.PathLike[str], config: dict[str, Any],
                     inputs: list[str | os.PathLike[str]]) -> Path:
    """Write the sidecar of ``artefact`` (``stem.prov.json`` beside it) and return its path."""
    artefact = Path(artefact)
    record = {
        "artefact": artefact.stem,
        "config_sha256": config_sha256(config),
        "code_version": code_version(),
        "packages": package_versions(),
        "seed": config.get("seed"),
        "inputs": {str(p): file_sha256(p) for p in sorted(map(str, inputs))},
    }
    path = artefact.with_name(f"{artefact.stem}.prov.json")
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return path

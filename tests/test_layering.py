"""The package layering is visible in the folders and enforced here (README "Layout").

    ifrnet.util       files, progress, devices             imports nothing of the project
    ifrnet.numerics   Fourier operators, forward model, masks, metrics, layers, kernels
    ifrnet.methods    the method interface, the registry, IFR-Net, training  ┐ methods
    baselines         one module per competing method                        ┘
    ifrnet.bench      config, paths, steps, formats, data sources, rendering, CLI

A module imports only from its own layer or the layers above it in this list (``baselines``
may import ``ifrnet.methods``, not the reverse; the registry names baseline classes as
``"module:Class"`` strings, imported on use, like a user's own method). Every import counts,
also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {
    "ifrnet.util": 0,
    "ifrnet.numerics": 1,
    "ifrnet.methods": 2,
    "baselines": 3,
    "ifrnet.bench": 4,
}


def layer(module: str) -> str | None:
    """The layer a dotted module name belongs to (None: outside the project, or ``ifrnet``)."""
    for name in sorted(RANK, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module the source of ``module`` imports (absolute and relative, at any depth)."""
    names, package = [], module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            # `from ifrnet import numerics` / `from ifrnet.numerics import plf`: name the modules
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports of ``module`` from a layer above its own."""
    own = layer(module)
    if own is None:
        return []
    return [
        name
        for name in imported(source, module, is_package)
        if layer(name) is not None and RANK[layer(name)] > RANK[own]
    ]


SOURCES = sorted(p for pkg in ("ifrnet", "baselines") for p in (ROOT / pkg).rglob("*.py"))


def test_every_module_lives_in_a_layer():
    loose = [
        module_name(p)
        for p in SOURCES
        if layer(module_name(p)) is None and module_name(p) not in ("ifrnet", "baselines")
    ]
    assert not loose, f"modules outside the layer folders: {loose}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_only_down_the_layers(path):
    module = module_name(path)
    upward = upward_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    assert not upward, f"{module} ({layer(module)}) imports from a higher layer: {upward}"


def test_upward_imports_are_caught():
    """The check can fail: absolute, relative and in-function imports of a higher layer."""
    source = (
        "import numpy\nfrom ifrnet.bench.config import load_config\n"
        "def f():\n    import baselines.vn\n    from ..methods import registry\n"
        "from .fourier import fft2c\nfrom ifrnet.util.io import atomic_path\n"
    )
    assert upward_imports(source, "ifrnet.numerics.probe") == [
        "ifrnet.bench.config.load_config",
        "baselines.vn",
        "ifrnet.methods.registry",
    ]
    assert upward_imports(source, "ifrnet.bench.probe") == []

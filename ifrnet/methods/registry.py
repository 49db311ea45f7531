"""The single list of reconstruction methods: name → :class:`MethodEntry` (where its class is,
the label readers see, whether it has stage outputs).

Classes are imported lazily, so listing a method costs nothing until it is used (validating a
config imports no torch). Adding a method is its module plus one line here. A config may also
name any importable class directly as ``"package.module:ClassName"`` (bring your own method);
it must follow :mod:`ifrnet.methods.method`'s interface.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MethodEntry:
    """A registered method: ``target`` ``"module:Class"``, ``label`` its name in the paper
    (figures, tables), ``stage_outputs`` whether the class is a
    :class:`ifrnet.methods.method.StagedNetwork` (tests/test_config.py checks it against the
    class)."""

    target: str
    label: str
    stage_outputs: bool = False


METHODS: dict[str, MethodEntry] = {
    "zero-filled": MethodEntry("baselines.zero_filled:ZeroFilled", "Zero-filled"),
    "ifrnet": MethodEntry("ifrnet.methods.ifrnet:IFRNet", "IFR-Net", stage_outputs=True),
    "admmnet": MethodEntry("baselines.admmnet:ADMMNet", "ADMM-Net"),
    "ifrcs": MethodEntry("baselines.ifrcs:IFRCS", "IFR-CS"),
    "d5c5": MethodEntry("baselines.d5c5:D5C5", "D5-C5"),
    "vn": MethodEntry("baselines.vn:VN", "VN"),
    "unet": MethodEntry("baselines.unet:UNetRecon", "U-Net"),
    "pano": MethodEntry("baselines.pano:PANO", "PANO"),
    "fdlcp": MethodEntry("baselines.fdlcp:FDLCP", "FDLCP"),
}


def resolve(method: str) -> type:
    """The class for a registered name or a ``"module:Class"`` path (ValueError if unknown)."""
    target = METHODS[method].target if method in METHODS else method
    if ":" not in target:
        raise ValueError(
            f"unknown method {method!r}: registered methods are {sorted(METHODS)}, "
            "or give 'package.module:ClassName'"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"method {method!r}: cannot import module {module_name!r}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ValueError(f"method {method!r}: module {module_name!r} has no {attr!r}") from err


def label(method: str) -> str | None:
    """The paper's name of a registered method (None for a user's ``module:Class``)."""
    return METHODS[method].label if method in METHODS else None


def has_stage_outputs(method: str) -> bool:
    """Whether the method's network is a :class:`ifrnet.methods.method.StagedNetwork` (stage outputs
    and descriptor maps T): needed by ``save_maps`` and ``stages``/``maps`` figures. Registered
    methods answer from their entry; your own ``module:Class`` is imported and checked."""
    if method in METHODS:
        return METHODS[method].stage_outputs
    from ifrnet.methods.method import StagedNetwork

    cls = resolve(method)
    return isinstance(cls, type) and issubclass(cls, StagedNetwork)


def _expected(default: Any) -> str | None:
    """What a parameter with this default takes (None: anything)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a finite number"
    if isinstance(default, str):
        return "a string"
    return None


def _fits(value: Any, expected: str) -> bool:
    if expected == "true or false":
        return isinstance(value, bool)
    if expected == "an integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "a finite number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return isinstance(value, str)


def check_params(
    method: str, cls: type, params: Mapping[str, Any], fixed: Collection[str] = ()
) -> None:
    """ValueError naming the first of ``params`` that the class of ``method`` does not take
    (or that is one of the arguments the caller sets, ``fixed``), or whose value is not of the
    kind of its default: true/false, an integer, a finite number, a string."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to check against
        return
    taken = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in fixed
    }
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for name, value in params.items():
        if name in fixed:
            raise ValueError(f"method {method!r}: parameter {name!r} is set from the data")
        if name not in taken:
            if open_ended:
                continue
            raise ValueError(
                f"method {method!r} has no parameter {name!r}; it takes {sorted(taken)}"
            )
        expected = _expected(taken[name].default)
        if expected is not None and not _fits(value, expected):
            raise ValueError(
                f"method {method!r}: parameter {name} must be {expected}, got {value!r}"
            )

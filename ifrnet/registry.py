"""The single list of reconstruction methods: name → ``"module:Class"``.

Classes are imported lazily, so listing a method costs nothing until it is used. A config may
also name any importable class directly as ``"package.module:ClassName"`` (bring your own
method); it must follow :mod:`ifrnet.method`'s interface.
"""

from __future__ import annotations

import importlib

METHODS: dict[str, str] = {
    "zero-filled": "baselines.zero_filled:ZeroFilled",
    "ifrnet": "ifrnet.models.ifrnet:IFRNet",
    "admmnet": "baselines.admmnet:ADMMNet",
    "ifrcs": "baselines.ifrcs:IFRCS",
    "d5c5": "baselines.d5c5:D5C5",
    "vn": "baselines.vn:VN",
    "unet": "baselines.unet:UNetRecon",
    "pano": "baselines.pano:PANO",
    "fdlcp": "baselines.fdlcp:FDLCP",
}


def resolve(method: str) -> type:
    """The class for a registered name or a ``"module:Class"`` path (ValueError if unknown)."""
    target = METHODS.get(method, method)
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


#: Registered methods whose class sets ``stage_outputs = True``, listed so that validating a
#: config imports no torch (tests/test_config.py checks the list against the classes).
STAGE_OUTPUTS = frozenset({"ifrnet"})


def has_stage_outputs(method: str) -> bool:
    """Whether the method's network returns its stage outputs and descriptor maps T (a class
    attribute ``stage_outputs = True``): needed by ``save_maps`` and ``stages``/``maps`` figures.
    Your own ``module:Class`` is imported to read the attribute."""
    if method in METHODS:
        return method in STAGE_OUTPUTS
    return bool(getattr(resolve(method), "stage_outputs", False))

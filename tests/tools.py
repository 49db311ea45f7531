"""External programs some tests need (Chromium, pdflatex, mount): found, or the test skips —
except in CI (``CI`` set and not ``0``/``false``), where a missing program fails the test, so a
check that `.ci/run` was meant to run can never pass by skipping."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    """Whether the tests run in CI (the ``CI`` variable, set by `.ci/run` and CI services)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip the calling test for ``reason`` — or, in CI, fail it."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: .ci/run installs what CI needs)")
    pytest.skip(reason)


def require(*names: str) -> str:
    """Path of the first of ``names`` on PATH; skips (fails in CI) if none is installed."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    unavailable(f"{' or '.join(names)} not installed")
    raise AssertionError("unreachable")  # pragma: no cover

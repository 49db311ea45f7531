"""Shared fixtures. ``smoke_study``: the full smoke study (config/smoke.yaml plus a user's own
method registered through the config), run once per test session by Snakemake in a scratch copy
of the workflow; tests that only read its outputs share it. It takes minutes, so every test that
uses it must be marked ``slow`` (checked at collection): ``pytest -m "not slow"`` never runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflow_helpers import smoke_with_user_method, snakemake, workflow_copy


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> Path:
    """The scratch copy after ``snakemake --cores 2 --configfile mine.yaml`` (all targets);
    ``snakemake.out`` holds the run's output. Read it, never write to it: tests that change
    outputs or rerun jobs work in their own copy."""
    work = workflow_copy(tmp_path_factory.mktemp("smoke"))
    smoke_with_user_method(work)
    result = snakemake(
        work, "--cores", "2", "--configfile", "mine.yaml", extra_env={"PYTHONPATH": str(work)}
    )
    (work / "snakemake.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-4000:]
    return work


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the smoke study but is not marked slow would start the study in the
    fast tier: refuse it at collection."""
    unmarked = [
        item.nodeid
        for item in items
        if "smoke_study" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "uses the smoke_study fixture but is not marked slow: " + ", ".join(unmarked)
        )

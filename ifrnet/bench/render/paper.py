"""The paper's published numbers (``config/published.yaml``) beside ours, and paired tests.

A table entry of the config names its paper table (``paper: IV``) and how its cells map onto
the paper's rows (``paper_keys``): for each of our masks and models, the fields a published row
must have, e.g. ``masks: {radial-r0.10: {rate: 0.1}}``, ``models: {ifrcs: {method: IFR-CS}}``.
A cell's paper row is the single row of that table holding all fields of its mask and model;
cells with no such row (zero-filled, say) have no paper value.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import yaml


def load_published(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The published-results file (ValueError naming the file if it is not one)."""
    try:
        with open(path, encoding="utf-8") as f:
            published = yaml.safe_load(f)
        published["tables"]  # noqa: B018 - presence check
    except (OSError, yaml.YAMLError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: not a published-results file ({err})") from err
    return published


def paper_row(published: dict[str, Any], table: str, keys: dict[str, Any]) -> dict | None:
    """The one row of published table ``table`` whose fields include ``keys`` (None if none).

    Numbers compare with a tolerance of 1e-9; ValueError if several rows match (ambiguous keys).
    """

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return math.isclose(a, b, abs_tol=1e-9)
        return a == b

    rows = published["tables"][table]["rows"]
    hits = [r for r in rows if all(k in r and same(r[k], v) for k, v in keys.items())]
    if len(hits) > 1:
        raise ValueError(f"paper table {table}: keys {keys} match {len(hits)} rows")
    return hits[0] if hits else None


def cell_keys(spec: dict[str, Any], mask: str, model: str) -> dict[str, Any] | None:
    """Fields a paper row must have for (mask, model) of a table spec; None if not mapped."""
    keys = spec.get("paper_keys", {})
    if model not in keys.get("models", {}):
        return None
    return {**keys.get("masks", {}).get(mask, {}), **keys["models"][model]}


def paired_p_value(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired per-image scores (NaN if undefined:
    fewer than 2 images or all differences zero)."""
    from scipy.stats import wilcoxon  # not at import: the workflow reads this module to plan

    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    if ours.shape != theirs.shape:
        raise ValueError(f"paired test needs equal lengths, got {ours.shape} and {theirs.shape}")
    if len(ours) < 2 or np.allclose(ours, theirs, rtol=0, atol=0):
        return math.nan
    return float(wilcoxon(ours, theirs).pvalue)

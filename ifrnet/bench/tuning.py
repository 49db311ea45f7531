"""Reproducible grid search of an iterative method's constants on the validation split.

A model entry with a ``tune`` section, e.g. ``tune: {grid: {lam: [0.003, 0.01], rho: [0.1, 1]}}``,
is run on the validation images for every combination of the grid (keys sorted, values in the
listed order); the combination with the highest mean PSNR wins (the first one on ties). The
result file, ``results/tuning/{dataset}/{mask}/{model}.json``, records the winner, its score
and every trial; reconstructions of the test split use the winner, and table captions show it.
Grid points of a method with a ``stop_param`` (IFR-CS: ``max_iter``) that differ only in it
are scored from one run of the largest value
(:meth:`ifrnet.methods.method.Method.reconstruct_stops`),
with the same results as separate runs. A winner on the edge of its grid (λ the lowest tried,
``max_iter`` the highest, …) is recorded under ``edges``, warned about in the job's log and in
the captions of the tables that use it: a better value may lie outside the grid.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from typing import Any

import numpy as np

from ifrnet.methods.registry import resolve
from ifrnet.numerics.measure import measured_split
from ifrnet.numerics.metrics import evaluate
from ifrnet.util.formats import read_tuning, write_tuning
from ifrnet.util.progress import Progress

PathLike = str | os.PathLike[str]


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a grid, keys in sorted order, values in the listed order."""
    if not grid or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ValueError(f"tuning grid must map parameter names to non-empty lists, got {grid}")
    keys = sorted(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def tune_method(
    model_name: str,
    spec: dict[str, Any],
    val_path: PathLike,
    mask_path: PathLike,
    out_path: PathLike,
) -> dict[str, Any]:
    """Grid-search ``spec['tune']['grid']`` on a validation split; write and return the result."""
    split = measured_split(val_path, mask_path, spec["tune"].get("max_images"))
    images, attrs, mask, kspace = split.images, split.attrs, split.mask, split.kspace
    cls = resolve(spec["method"])
    real = split.real
    points = grid_points(spec["tune"]["grid"])
    scores: dict[int, float] = {}
    with Progress(len(points), f"tuning {model_name}", unit=" grid points") as bar:
        for group in _runs(points, cls.stop_param):
            recons = _reconstruct_group(
                cls, real, spec.get("params", {}), group, points, kspace, mask.array
            )
            for i, recon in recons.items():
                scores[i] = float(
                    np.mean([evaluate(r, t)["psnr"] for r, t in zip(recon, images, strict=True)])
                )
                bar.write(f"[{len(scores)}/{len(points)}] {points[i]}: PSNR {scores[i]:.3f} dB")
            bar.update(len(recons))
    trials = [{"params": point, "psnr": scores[i]} for i, point in enumerate(points)]
    best = max(range(len(trials)), key=lambda i: (trials[i]["psnr"], -i))
    edges = grid_edges(spec["tune"]["grid"], trials[best]["params"])
    result = {
        "model": model_name,
        "dataset": str(attrs["dataset"]),
        "mask": os.path.basename(str(mask_path)).removesuffix(".npz"),
        "metric": "psnr",
        "n_images": len(images),
        "best": trials[best]["params"],
        "score": trials[best]["psnr"],
        "edges": edges,
        "trials": trials,
    }
    if edges:
        print(
            f"warning: {model_name} at {result['mask']}: {edge_note(edges)}; widen the grid",
            file=sys.stderr,
            flush=True,
        )
    write_tuning(out_path, result)
    return result


def grid_edges(grid: dict[str, list[Any]], best: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The winner's values that sit on the edge of their grid: ``{name: {"value": v, "edge":
    "lowest" | "highest", "grid": [sorted values]}}`` for each numeric parameter searched over
    at least two values whose winning value is the smallest or largest of them (a better one
    may lie outside the grid). Fixed parameters (one value) and categorical ones never count."""
    edges = {}
    for name, values in sorted(grid.items()):
        numbers = sorted(
            {v for v in values if isinstance(v, int | float) and not isinstance(v, bool)}
        )
        if len(numbers) < 2 or len(numbers) != len(set(values)) or name not in best:
            continue
        if best[name] in (numbers[0], numbers[-1]):
            edge = "lowest" if best[name] == numbers[0] else "highest"
            edges[name] = {"value": best[name], "edge": edge, "grid": numbers}
    return edges


def edge_note(edges: dict[str, dict[str, Any]]) -> str:
    """One phrase for :func:`grid_edges`' result, e.g. ``lam = 0.005 is the lowest of the grid
    (0.005 to 0.02)``; empty if there is no edge."""
    return "; ".join(
        f"{name} = {e['value']:g} is the {e['edge']} of its grid "
        f"({e['grid'][0]:g} to {e['grid'][-1]:g})"
        for name, e in edges.items()
    )


def read_edges(path: PathLike) -> dict[str, dict[str, Any]]:
    """:func:`grid_edges` of a tuning result file, recomputed from its trials (so that files
    written before edges were recorded are checked too)."""
    result = read_tuning(path)
    try:
        grid: dict[str, list[Any]] = {}
        for trial in result["trials"]:
            for name, value in trial["params"].items():
                if value not in grid.setdefault(name, []):
                    grid[name].append(value)
        return grid_edges(grid, dict(result["best"]))
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a tuning result ({err})") from err


def _runs(points: list[dict[str, Any]], stop_param: str | None) -> list[list[int]]:
    """Indices of grid points grouped into runs: points that differ only in ``stop_param``
    share one run (each point alone if the method has none or the grid does not vary it)."""
    if stop_param is None or not all(stop_param in p for p in points):
        return [[i] for i in range(len(points))]
    groups: dict[str, list[int]] = {}
    for i, point in enumerate(points):
        rest = {k: v for k, v in point.items() if k != stop_param}
        groups.setdefault(json.dumps(rest, sort_keys=True), []).append(i)
    return list(groups.values())


def _reconstruct_group(
    cls: type,
    real: bool,
    params: dict[str, Any],
    group: list[int],
    points: list[dict[str, Any]],
    kspace: np.ndarray,
    mask: np.ndarray,
) -> dict[int, np.ndarray]:
    """Reconstructions (B, H, W) of the grid points ``group`` (indices into ``points``)."""
    if len(group) == 1:
        method = cls(real=real, **{**params, **points[group[0]]})
        return {group[0]: method(kspace, mask)}
    stops = {i: int(points[i][cls.stop_param]) for i in group}
    longest = max(group, key=stops.__getitem__)
    method = cls(real=real, **{**params, **points[longest]})
    recons = method.stops(kspace, mask, sorted(set(stops.values())))
    return {i: recons[stops[i]] for i in group}


def read_tuned(path: PathLike) -> dict[str, Any]:
    """The winning parameters of a tuning result file (ValueError naming a bad file)."""
    return dict(read_tuning(path)["best"])

"""Reproducible grid search of an iterative method's constants on the validation split.

A model entry with a ``tune`` section, e.g. ``tune: {grid: {lam: [0.003, 0.01], rho: [0.1, 1]}}``,
is run on the validation images for every combination of the grid (keys sorted, values in the
listed order); the combination with the highest mean PSNR wins (the first one on ties). The
result file, ``results/tuning/{dataset}/{mask}/{model}.json``, records the winner, its score
and every trial; reconstructions of the test split use the winner, and table captions show it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from typing import Any

import numpy as np

from ifrnet.data.measure import measure
from ifrnet.data.prepared import read_split
from ifrnet.io import write_text_atomic
from ifrnet.masks import load_mask
from ifrnet.metrics import evaluate
from ifrnet.registry import resolve

PathLike = str | os.PathLike[str]


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a grid, keys in sorted order, values in the listed order."""
    if not grid or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ValueError(f"tuning grid must map parameter names to non-empty lists, got {grid}")
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(
        *(grid[k] for k in keys))]


def tune_method(model_name: str, spec: dict[str, Any], val_path: PathLike, mask_path: PathLike,
                out_path: PathLike) -> dict[str, Any]:
    """Grid-search ``spec['tune']['grid']`` on a validation split; write and return the result."""
    images, attrs = read_split(val_path)
    limit = spec["tune"].get("max_images")
    images = images[:limit] if limit else images
    mask = load_mask(mask_path, expected_shape=images.shape[1:])
    kspace = measure(images, mask.array, float(attrs["noise_sigma"]), int(attrs["seed"]),
                     str(attrs["split"]))
    cls = resolve(spec["method"])
    real = attrs["kind"] == "real"
    trials = []
    points = grid_points(spec["tune"]["grid"])
    for k, point in enumerate(points, 1):
        method = cls(real=real, **{**spec.get("params", {}), **point})
        recon = method(kspace, mask.array)
        score = float(np.mean([evaluate(r, t)["psnr"] for r, t in zip(recon, images,
                                                                      strict=True)]))
        trials.append({"params": point, "psnr": score})
        print(f"[{k}/{len(points)}] {point}: PSNR {score:.3f} dB", file=sys.stderr, flush=True)
    best = max(range(len(trials)), key=lambda i: (trials[i]["psnr"], -i))
    result = {"model": model_name, "dataset": str(attrs["dataset"]),
              "mask": os.path.basename(str(mask_path)).removesuffix(".npz"), "metric": "psnr",
              "n_images": len(images), "best": trials[best]["params"],
              "score": trials[best]["psnr"], "trials": trials}
    write_text_atomic(out_path, json.dumps(result, indent=2) + "\n")
    return result


def read_tuned(path: PathLike) -> dict[str, Any]:
    """The winning parameters of a tuning result file (ValueError naming a bad file)."""
    try:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        return dict(result["best"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a tuning result ({err})") from err

"""Library entry points of the workflow's rules: reconstruct a test split, evaluate it.

Each function reads files, does one step and writes its outputs atomically; the Snakemake rules
and the ``ifrnet`` command line only call these.

Reconstruction file contract, ``results/recon/{dataset}/{mask}/{model}.h5``:
dataset ``recon`` complex64 (N, H, W); attributes ``model``, ``method``, ``dataset``, ``mask``,
``rate_achieved``, ``noise_sigma``, ``seconds_per_image`` and ``seconds`` (float array, per
image).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ifrnet.config import is_network
from ifrnet.data.measure import measure
from ifrnet.data.prepared import read_split
from ifrnet.io import atomic_path
from ifrnet.masks import load_mask
from ifrnet.metrics import evaluate
from ifrnet.registry import resolve

PathLike = str | os.PathLike[str]


def build_method(model_spec: dict[str, Any], real: bool, checkpoint: PathLike | None = None,
                 device: str = "cpu", batch_size: int = 4, tuned: PathLike | None = None) -> Any:
    """The method of a model's config entry: a network (needs ``checkpoint``) when the entry
    has a ``train`` or ``weights`` section, else the class ``method`` built with ``params``
    updated by the tuning result ``tuned`` (needed when the entry has a ``tune`` section)."""
    if is_network(model_spec):
        if checkpoint is None:
            raise ValueError(f"model {model_spec['method']!r} is a network: give its checkpoint")
        from ifrnet.learned import LearnedMethod, load_network

        network, _ = load_network(checkpoint, device)
        return LearnedMethod(network, real=real, device=device, batch_size=batch_size)
    params = dict(model_spec.get("params", {}))
    if "tune" in model_spec:
        if tuned is None:
            raise ValueError(f"model {model_spec['method']!r} is tuned: give its tuning result")
        from ifrnet.tuning import read_tuned

        params.update(read_tuned(tuned))
    cls = resolve(model_spec["method"])
    try:
        return cls(real=real, **params)
    except TypeError as err:  # e.g. an unknown parameter name
        raise ValueError(f"method {model_spec['method']!r} with {params}: {err}") from err


def reconstruct_split(
    data_path: PathLike, mask_path: PathLike, model_name: str, model_spec: dict[str, Any],
    out_path: PathLike, batch_size: int = 4, checkpoint: PathLike | None = None,
    device: str = "cpu", tuned: PathLike | None = None, maps: list[int] | None = None,
) -> np.ndarray:
    """Measure every image of a prepared split with a mask, reconstruct, write ``out_path``.

    Returns the reconstructions, complex64 (N, H, W). Seconds per image are measured around the
    method's call only (measurement simulation excluded), batch by batch, after the method's
    ``warm_up`` (steady-state speed). ``maps`` lists stages
    (1-based) whose feature-descriptor maps T a learned network should also store, as dataset
    ``maps`` float32 (N, len(maps), H, W) with attribute ``maps_stages`` (paper Fig. 12).
    """
    images, attrs = read_split(data_path)
    mask = load_mask(mask_path, expected_shape=images.shape[1:])
    kspace = measure(images, mask.array, float(attrs["noise_sigma"]), int(attrs["seed"]),
                     str(attrs["split"]))
    method = build_method(model_spec, attrs["kind"] == "real", checkpoint, device, batch_size,
                          tuned)
    recon = np.empty_like(kspace)
    seconds = np.empty(len(kspace))
    method.warm_up(kspace, mask.array)
    for start in range(0, len(kspace), batch_size):
        stop = min(start + batch_size, len(kspace))
        tic = time.perf_counter()
        recon[start:stop] = method(kspace[start:stop], mask.array)
        seconds[start:stop] = (time.perf_counter() - tic) / (stop - start)
    stage_maps = descriptor_maps(method, kspace, mask.array, maps, batch_size) if maps else None
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("recon", data=recon)
        if stage_maps is not None:
            f.create_dataset("maps", data=stage_maps)
            f.attrs["maps_stages"] = np.asarray(maps, dtype=np.int64)
        f.attrs.update({
            "model": model_name, "method": model_spec["method"], "dataset": attrs["dataset"],
            "mask": Path(mask_path).stem, "rate_achieved": mask.rate_achieved,
            "noise_sigma": float(attrs["noise_sigma"]),
            "seconds_per_image": float(seconds.mean()) if len(seconds) else 0.0,
            "seconds": seconds,
        })
    return recon


def descriptor_maps(method: Any, kspace: np.ndarray, mask: np.ndarray, stages: list[int],
                    batch_size: int) -> np.ndarray:
    """T maps of the given stages (1-based) of a learned network, float32 (N, S, H, W)."""
    import torch

    network = getattr(method, "network", None)
    n_stages = getattr(network, "stages", 0)
    if network is None or not all(1 <= s <= n_stages for s in stages):
        raise ValueError(f"maps of stages {stages} need a learned network with that many stages")
    out = np.empty((len(kspace), len(stages), *kspace.shape[1:]), np.float32)
    device = next(network.parameters()).device
    mask_t = torch.as_tensor(mask.astype(np.float32), device=device)
    with torch.no_grad():
        for start in range(0, len(kspace), batch_size):
            batch = torch.as_tensor(kspace[start : start + batch_size], device=device)
            _, maps = network(batch, mask_t.expand(len(batch), *mask_t.shape), return_maps=True)
            out[start : start + len(batch)] = torch.stack(
                [maps[s - 1] for s in stages], 1).cpu().numpy()
    return out


def read_recon(path: PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a reconstruction file: recon complex64 (N, H, W) and its attributes."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "recon" not in f:
                raise ValueError(f"{path}: no dataset 'recon'")
            return f["recon"][...], dict(f.attrs)
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err


def evaluate_split(recon_path: PathLike, data_path: PathLike, out_csv: PathLike) -> pd.DataFrame:
    """Per-image PSNR, SSIM, HFEN, NMSE and seconds of a reconstruction vs its ground truth."""
    recon, recon_attrs = read_recon(recon_path)
    truth, data_attrs = read_split(data_path)
    if recon.shape != truth.shape:
        raise ValueError(f"{recon_path}: shape {recon.shape} does not match {data_path} "
                         f"{truth.shape}")
    rows = []
    for i, (rec, gt) in enumerate(zip(recon, truth, strict=True)):
        rows.append({"image": i, "slice_index": int(data_attrs["slice_index"][i]),
                     **evaluate(rec, gt), "seconds": float(recon_attrs["seconds"][i])})
    table = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table


def stage_metrics(data_path: PathLike, mask_path: PathLike, checkpoint: PathLike,
                  out_csv: PathLike, device: str = "cpu") -> pd.DataFrame:
    """PSNR, SSIM and HFEN of every stage output n = 1..N of a trained unrolled network on a
    prepared split (paper Fig. 6); one row per (image, stage)."""
    import torch

    from ifrnet.learned import load_network

    truth, attrs = read_split(data_path)
    mask = load_mask(mask_path, expected_shape=truth.shape[1:])
    kspace = measure(truth, mask.array, float(attrs["noise_sigma"]), int(attrs["seed"]),
                     str(attrs["split"]))
    network, _ = load_network(checkpoint, device)
    if not hasattr(network, "stages"):
        raise ValueError(f"{checkpoint}: stage metrics need an unrolled network with stages")
    real = attrs["kind"] == "real"
    mask_t = torch.as_tensor(mask.array.astype(np.float32), device=device)
    rows = []
    with torch.no_grad():
        for i, (k, gt) in enumerate(zip(kspace, truth, strict=True)):
            _, outputs = network(torch.as_tensor(k[None], device=device), mask_t,
                                 return_stages=True)
            for n, x in enumerate(outputs, 1):
                image = x[0].cpu().numpy()
                rows.append({"image": i, "stage": n,
                             **evaluate(image.real if real else image, gt)})
    table = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table

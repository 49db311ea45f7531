"""Library entry points of the workflow's rules: reconstruct a test split, evaluate it.

Each function reads files, does one step and writes its outputs atomically; the Snakemake rules
and the ``ifrnet`` command line only call these. The files' contracts (reconstruction,
per-image and stage metrics) are in :mod:`ifrnet.util.formats`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ifrnet.bench.config import is_network
from ifrnet.methods.defaults import INFERENCE_BATCH
from ifrnet.methods.registry import check_params, resolve
from ifrnet.numerics.measure import measured_split
from ifrnet.numerics.metrics import evaluate
from ifrnet.util.formats import read_recon, read_split, write_csv, write_recon_file

__all__ = [
    "build_method",
    "descriptor_maps",
    "evaluate_split",
    "read_recon",
    "reconstruct_split",
    "stage_metrics",
]

PathLike = str | os.PathLike[str]


def build_method(
    model_spec: dict[str, Any],
    real: bool,
    checkpoint: PathLike | None = None,
    device: str = "cpu",
    batch_size: int = INFERENCE_BATCH,
    tuned: PathLike | None = None,
) -> Any:
    """The method of a model's config entry: a network (needs ``checkpoint``) when the entry
    has a ``train`` or ``weights`` section, else the class ``method`` built with ``params``
    updated by the tuning result ``tuned`` (needed when the entry has a ``tune`` section)."""
    if is_network(model_spec):
        if checkpoint is None:
            raise ValueError(f"model {model_spec['method']!r} is a network: give its checkpoint")
        from ifrnet.methods.learned import LearnedMethod, load_network

        network, _ = load_network(checkpoint, device)
        return LearnedMethod(network, real=real, device=device, batch_size=batch_size)
    params = dict(model_spec.get("params", {}))
    if "tune" in model_spec:
        if tuned is None:
            raise ValueError(f"model {model_spec['method']!r} is tuned: give its tuning result")
        from ifrnet.bench.tuning import read_tuned

        params.update(read_tuned(tuned))
    cls = resolve(model_spec["method"])
    check_params(model_spec["method"], cls, params, fixed=("real",))
    try:
        return cls(real=real, **params)
    except TypeError as err:  # e.g. an unknown parameter name
        raise ValueError(f"method {model_spec['method']!r} with {params}: {err}") from err


def reconstruct_split(
    data_path: PathLike,
    mask_path: PathLike,
    model_name: str,
    model_spec: dict[str, Any],
    out_path: PathLike,
    batch_size: int = INFERENCE_BATCH,
    checkpoint: PathLike | None = None,
    device: str = "cpu",
    tuned: PathLike | None = None,
    maps: list[int] | None = None,
) -> np.ndarray:
    """Measure every image of a prepared split with a mask, reconstruct, write ``out_path``.

    Returns the reconstructions, complex64 (N, H, W). Seconds per image are measured around the
    method's call only (measurement simulation excluded), batch by batch, after the method's
    ``warm_up`` (steady-state speed). ``maps`` lists stages
    (1-based) whose feature-descriptor maps T a learned network should also store, as dataset
    ``maps`` float32 (N, len(maps), H, W) with attribute ``maps_stages`` (paper Fig. 12).
    """
    split = measured_split(data_path, mask_path)
    kspace, mask, attrs = split.kspace, split.mask, split.attrs
    method = build_method(model_spec, split.real, checkpoint, device, batch_size, tuned)
    recon = np.empty_like(kspace)
    seconds = np.empty(len(kspace))
    method.warm_up(kspace, mask.array)
    for start in range(0, len(kspace), batch_size):
        stop = min(start + batch_size, len(kspace))
        tic = time.perf_counter()
        recon[start:stop] = method(kspace[start:stop], mask.array)
        seconds[start:stop] = (time.perf_counter() - tic) / (stop - start)
    stage_maps = descriptor_maps(method, kspace, mask.array, maps, batch_size) if maps else None
    write_recon_file(
        out_path,
        recon,
        {
            "model": model_name,
            "method": model_spec["method"],
            "dataset": attrs["dataset"],
            "mask": Path(mask_path).stem,
            "rate_achieved": mask.rate_achieved,
            "noise_sigma": float(attrs["noise_sigma"]),
            "seconds_per_image": float(seconds.mean()) if len(seconds) else 0.0,
            "seconds": seconds,
        },
        stage_maps,
        maps,
    )
    return recon


def _staged(network: Any, what: str) -> Any:
    """The network if it is a :class:`ifrnet.methods.method.StagedNetwork`, else a ValueError."""
    from ifrnet.methods.method import StagedNetwork

    if not isinstance(network, StagedNetwork):
        raise ValueError(
            f"{what} need a network with stage outputs (a StagedNetwork such as "
            f"ifrnet), not {type(network).__name__}"
        )
    return network


def descriptor_maps(
    method: Any, kspace: np.ndarray, mask: np.ndarray, stages: list[int], batch_size: int
) -> np.ndarray:
    """T maps of the given stages (1-based) of a learned network, float32 (N, S, H, W)."""
    import torch

    from ifrnet.methods.training import infer

    network = _staged(getattr(method, "network", None), f"maps of stages {stages}")
    if not all(1 <= s <= network.stages for s in stages):
        raise ValueError(f"maps of stages {stages}: the network has {network.stages} stages")

    def chosen(net: Any, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        maps = net.descriptor_maps(kspace, mask)
        return torch.stack([maps[s - 1] for s in stages], 1)

    device = str(next(network.parameters()).device)
    return infer(network, kspace, mask, batch_size, device, call=chosen)[0].astype(np.float32)


def evaluate_split(recon_path: PathLike, data_path: PathLike, out_csv: PathLike) -> pd.DataFrame:
    """Per-image PSNR, SSIM, HFEN, NMSE and seconds of a reconstruction vs its ground truth."""
    recon, recon_attrs = read_recon(recon_path)
    truth, data_attrs = read_split(data_path)
    if recon.shape != truth.shape:
        raise ValueError(
            f"{recon_path}: shape {recon.shape} does not match {data_path} {truth.shape}"
        )
    rows = []
    for i, (rec, gt) in enumerate(zip(recon, truth, strict=True)):
        rows.append(
            {
                "image": i,
                "slice_index": int(data_attrs["slice_index"][i]),
                **evaluate(rec, gt),
                "seconds": float(recon_attrs["seconds"][i]),
            }
        )
    table = pd.DataFrame(rows)
    write_csv(out_csv, table)
    return table


def stage_metrics(
    data_path: PathLike,
    mask_path: PathLike,
    checkpoint: PathLike,
    out_csv: PathLike,
    device: str = "cpu",
) -> pd.DataFrame:
    """PSNR, SSIM and HFEN of every stage output n = 1..N of a trained unrolled network on a
    prepared split (paper Fig. 6); one row per (image, stage)."""
    import torch

    from ifrnet.methods.learned import load_network
    from ifrnet.methods.training import infer

    split = measured_split(data_path, mask_path)
    network = _staged(load_network(checkpoint, device)[0], f"{checkpoint}: stage metrics")
    # one image per call: batching may move the last digit of a float
    outputs, _ = infer(
        network,
        split.kspace,
        split.mask.array,
        1,
        device,
        call=lambda net, k, m: torch.stack(net.forward_stages(k, m), 1),
    )
    rows = []
    for i, (stages, gt) in enumerate(zip(outputs, split.images, strict=True)):
        for n, image in enumerate(stages, 1):
            rows.append(
                {"image": i, "stage": n, **evaluate(image.real if split.real else image, gt)}
            )
    table = pd.DataFrame(rows)
    write_csv(out_csv, table)
    return table

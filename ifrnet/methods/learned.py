"""Learned methods in the workflow: train a network on prepared data, load it, reconstruct.

A learned model's config entry has ``method`` (a registered network class), ``params`` (its
constructor arguments) and ``train`` (:class:`ifrnet.methods.training.TrainSettings` fields).
Networks take ``real: bool`` in their constructor (True: real-valued data, as for every
:class:`ifrnet.methods.method.Method`) and are called as
``net(kspace (B, H, W) complex64, mask (B, H, W) float32) -> image (B, H, W) complex64``.

Checkpoint metadata (stored in ``model.pt`` beside the weights, all plain values so that
``torch.load(..., weights_only=True)`` reads it): ``method``, ``params``, ``real``,
``dataset``, ``mask``, ``model``, ``seed`` (training seed). Files that store ``complex_data``,
the negation of ``real``, instead load as well (:func:`checkpoint_real` reads either).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ifrnet.methods import capture
from ifrnet.methods.defaults import INFERENCE_BATCH
from ifrnet.methods.method import Method
from ifrnet.methods.registry import check_params, resolve
from ifrnet.methods.training import (
    TensorTriples,
    TrainSettings,
    check_weights,
    infer,
    load_checkpoint,
    stop_on_signals,
    train,
)
from ifrnet.numerics.measure import MeasuredSplit, measured_split
from ifrnet.util.io import DamagedFile, file_sha256

PathLike = str | os.PathLike[str]


def build_network(method: str, params: dict[str, Any], real: bool) -> torch.nn.Module:
    """Instantiate a network class from its registry name and constructor parameters, for
    real-valued data if ``real``."""
    cls = resolve(method)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ValueError(f"method {method!r} is not a trainable network (torch.nn.Module)")
    check_params(method, cls, params, fixed=("real",))
    return cls(real=real, **params)


def checkpoint_real(metadata: dict[str, Any]) -> bool:
    """Whether a checkpoint's network is for real-valued data: its ``real`` entry, else the
    negation of ``complex_data``; a file with neither is real (the networks' default)."""
    if "real" in metadata:
        return bool(metadata["real"])
    return not bool(metadata.get("complex_data", False))


def measured_triples(split: MeasuredSplit) -> TensorTriples:
    """(kspace, mask, target) training triples of a measured split."""
    return TensorTriples(
        torch.from_numpy(split.kspace),
        torch.from_numpy(split.mask.array.astype(np.float32)),
        torch.from_numpy(split.images),
    )


def train_model(
    train_path: PathLike,
    val_path: PathLike,
    mask_path: PathLike,
    model_name: str,
    spec: dict[str, Any],
    out_dir: PathLike,
    *,
    seed: int,
    device: str,
    threads: int | None = None,
    progress: bool = True,
) -> Path:
    """Train the model ``spec`` on a data set with a mask; write ``{out_dir}/model.pt``."""
    train_split = measured_split(train_path, mask_path)
    val_split = measured_split(val_path, mask_path)
    attrs = train_split.attrs
    settings = TrainSettings.from_dict(
        {**spec["train"], "seed": seed, "device": device, "threads": threads, "progress": progress}
    )
    real = train_split.real
    torch.manual_seed(seed)
    network = build_network(spec["method"], spec.get("params", {}), real)
    metadata = {
        "method": spec["method"],
        "params": spec.get("params", {}),
        "real": real,
        "dataset": str(attrs["dataset"]),
        "mask": Path(mask_path).stem,
        "model": model_name,
        "seed": seed,
        # a checkpoint resumes only into a run on the very same files
        "inputs_sha256": {
            name: file_sha256(path)
            for name, path in (("train", train_path), ("val", val_path), ("mask", mask_path))
        },
    }
    with stop_on_signals() as stop:  # SIGTERM (pre-emption): checkpoint, then stop
        train(
            network,
            measured_triples(train_split),
            measured_triples(val_split),
            settings,
            Path(out_dir),
            metadata=metadata,
            stop=stop,
        )
    return Path(out_dir) / "model.pt"


def load_network(checkpoint: PathLike, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a network from ``model.pt`` (weights_only load) and return it with its metadata."""
    state = load_checkpoint(checkpoint)
    metadata = state.get("metadata")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("method"), str)
        or not isinstance(metadata.get("params", {}), dict)
    ):
        raise DamagedFile(
            checkpoint, f"{checkpoint}: no model metadata (not a model.pt written by ifrnet)"
        )
    try:
        network = build_network(
            metadata["method"], dict(metadata.get("params", {})), checkpoint_real(metadata)
        )
    except ValueError as err:  # the metadata names a method or params that do not build
        raise ValueError(f"{checkpoint}: {err}") from err
    try:
        check_weights(network, state["model"], checkpoint)
    except ValueError as err:
        raise ValueError(
            f"weights do not fit {metadata['method']} {metadata.get('params', {})}: {err}"
        ) from err
    network.load_state_dict(state["model"])
    return network.to(device).eval(), metadata


class LearnedMethod(Method):
    """A trained network behind the :class:`ifrnet.methods.method.Method` interface."""

    trainable = True

    def __init__(
        self,
        network: torch.nn.Module,
        real: bool,
        device: str = "cpu",
        batch_size: int = INFERENCE_BATCH,
    ) -> None:
        super().__init__(real=real)
        self.network, self.device, self.batch_size = network, device, batch_size
        # on CUDA each batch shape's forward replays a CUDA graph (ifrnet.methods.capture)
        self.forward = capture.CapturedStep(
            lambda k, m: self.network(k, m),
            enabled=capture.graphs_enabled(device),
            key=lambda: self.network.training,
            name=f"{type(network).__name__} forward",
        )

    def warm_up(self, kspace: np.ndarray, mask: np.ndarray) -> None:
        """Untimed forward passes: one on the first image, or where the forward replays a CUDA
        graph as many on the first batch as its capture takes."""
        if not len(kspace):
            return
        if self.forward.calls_to_capture == 1:
            self.reconstruct(kspace[:1], mask)
            return
        for _ in range(self.forward.calls_to_capture):
            self.reconstruct(kspace[: self.batch_size], mask)

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        call = (lambda _, k, m: self.forward(k, m)) if self.forward.enabled else None
        images, _ = infer(
            self.network, kspace, mask.astype(np.float32), self.batch_size, self.device, call
        )
        return images.real.astype(np.complex64) if self.real else images

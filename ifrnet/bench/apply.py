"""Run any method on a user's own file: ``ifrnet reconstruct``.

The method is a trained checkpoint (``model.pt``), a model entry of a config (with its tuned
constants from a tuning result, ``results/tuning/{dataset}/{mask}/{model}.json``, or constants
given as parameters) or a registered method with parameters. Parameters override the tuning
result, which overrides the entry's ``params``.

Input: an image or k-space array (H, W) or (N, H, W) in .npy/.npz/.mat/.h5 (k-space centred, DC
at (H//2, W//2), as :mod:`ifrnet.numerics.fourier` defines it) and a mask file of shape (H, W).
Images are scaled per slice to max|x| = 1 (the scale networks are trained and constants tuned on),
measured with the mask, and the reconstruction is scaled back. K-space input is masked and scaled so
that the zero-filled image has max 1. Data are real-valued (methods reconstruct magnitudes) when a
checkpoint says so, else when ``kind`` says so, else when the input image has no imaginary part;
k-space input is complex unless ``kind="real"``. The result is written as .npy, .h5 (dataset
``recon``) or .mat (``recon``).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.bench.config import is_network
from ifrnet.bench.pipeline import build_method
from ifrnet.bench.tuning import read_tuned
from ifrnet.methods.defaults import INFERENCE_BATCH
from ifrnet.methods.learned import LearnedMethod, checkpoint_real, load_network
from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.masks import load_mask
from ifrnet.numerics.metrics import evaluate
from ifrnet.util.formats import USER_SUFFIXES, write_user_recon
from ifrnet.util.userio import read_array

PathLike = str | os.PathLike[str]


def _as_stack(data: np.ndarray, path: PathLike) -> np.ndarray:
    if data.ndim == 2:
        return data[None]
    if data.ndim == 3:
        return data
    raise ValueError(f"{path}: expected an array (H, W) or (N, H, W), got shape {data.shape}")


def model_spec(
    *,
    method: str | None = None,
    model: str | None = None,
    config: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    tuned: PathLike | None = None,
) -> dict[str, Any]:
    """The model entry to run: registered ``method`` (or ``"module:Class"``), or entry ``model``
    of ``config``; its ``params`` updated by the tuning result ``tuned``, then by ``params``.

    A tuned entry needs ``tuned`` or ``params``; the result has no ``tune`` section left."""
    if (method is None) == (model is None):
        raise ValueError("name one method (--method) or one configured model (--model)")
    if model is not None:
        models = (config or {}).get("models", {})
        if model not in models:
            raise ValueError(f"model {model!r} is not in the config; it has {sorted(models)}")
        spec = copy.deepcopy(models[model])
        if "tune" in spec and tuned is None and not params:
            raise ValueError(
                f"model {model!r} is tuned: give its tuning result (--tuned "
                f"results/tuning/<dataset>/<mask>/{model}.json) or its constants "
                "(--param name=value)"
            )
    else:
        spec = {"method": method}
    merged = dict(spec.get("params", {}))
    if tuned is not None:
        merged.update(read_tuned(tuned))
    merged.update(params or {})
    spec.pop("tune", None)
    spec["params"] = merged
    return spec


def reconstruct_file(
    checkpoint: PathLike | None,
    input_path: PathLike,
    mask_path: PathLike,
    out_path: PathLike,
    *,
    spec: dict[str, Any] | None = None,
    kind: str | None = None,
    key: str | None = None,
    input_kind: str = "image",
    reference: PathLike | None = None,
    reference_key: str | None = None,
    device: str = "cpu",
    batch_size: int = INFERENCE_BATCH,
) -> list[dict[str, float]]:
    """Reconstruct a user's file with a trained ``checkpoint`` or the model entry ``spec`` (see
    :func:`model_spec`; a network entry, trained or with published weights, also needs its
    checkpoint); return per-image metrics if a reference (or, for image input, the input
    itself) is available, else an empty list."""
    if input_kind not in ("image", "kspace"):
        raise ValueError(f"input kind must be 'image' or 'kspace', got {input_kind!r}")
    if kind not in (None, "real", "complex"):
        raise ValueError(f"data kind must be 'real' or 'complex', got {kind!r}")
    if Path(out_path).suffix.lower() not in USER_SUFFIXES:
        raise ValueError(f"{out_path}: output must end in .npy, .h5, .hdf5 or .mat")
    learned = spec is None or is_network(spec)
    if learned and checkpoint is None:
        name = repr(spec["method"]) if spec else "to run"
        raise ValueError(f"model {name} is a network: give its checkpoint (--checkpoint model.pt)")
    if not learned and checkpoint is not None:
        raise ValueError(f"a checkpoint applies to learned models only, not {spec['method']!r}")
    data = _as_stack(read_array(input_path, key), input_path).astype(np.complex64)
    mask = load_mask(mask_path, expected_shape=data.shape[1:]).array
    if learned:
        network, metadata = load_network(checkpoint, device)
        real = checkpoint_real(metadata)
        method = LearnedMethod(network, real=real, device=device, batch_size=batch_size)
    else:
        real = kind == "real" if kind else input_kind == "image" and not np.any(data.imag)
        method = build_method(spec, real, device=device, batch_size=batch_size)
    op = ForwardModel(mask)
    if input_kind == "image":
        truth = np.abs(data).astype(np.complex64) if real else data
        kspace = op.A(truth)
    else:
        truth = None
        kspace = data * mask
    scale = np.abs(op.A_dagger(kspace) if truth is None else truth).reshape(len(data), -1).max(1)
    if np.any(scale == 0):
        raise ValueError(f"{input_path}: an all-zero slice cannot be reconstructed")
    kspace = (kspace / scale[:, None, None]).astype(np.complex64)
    recon = method(kspace, mask) * scale[:, None, None]
    write_user_recon(out_path, recon.astype(np.complex64))
    if reference is not None:
        truth = _as_stack(read_array(reference, reference_key), reference)
        if truth.shape != recon.shape:
            raise ValueError(
                f"{reference}: shape {truth.shape} does not match the reconstruction {recon.shape}"
            )
    if truth is None:
        return []
    return [evaluate(r, t) for r, t in zip(recon, truth, strict=True)]

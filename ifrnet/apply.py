"""Apply a trained checkpoint to a user's own file: ``ifrnet reconstruct``.

Input: an image or k-space array (H, W) or (N, H, W) in .npy/.npz/.mat/.h5 (k-space centred, DC
at (H//2, W//2), as :mod:`ifrnet.fourier` defines it) and a mask file of shape (H, W). Images are
scaled per slice to max|x| = 1 (the scale networks are trained on), measured with the mask, and
the reconstruction is scaled back. K-space input is masked and scaled so that the zero-filled
image has max 1. The result is written as .npy, .h5 (dataset ``recon``) or .mat (``recon``).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ifrnet.fourier import fft2c, zero_filled
from ifrnet.io import atomic_path
from ifrnet.learned import LearnedMethod, load_network
from ifrnet.masks import load_mask
from ifrnet.metrics import evaluate
from ifrnet.userio import read_array

PathLike = str | os.PathLike[str]


def _as_stack(data: np.ndarray, path: PathLike) -> np.ndarray:
    if data.ndim == 2:
        return data[None]
    if data.ndim == 3:
        return data
    raise ValueError(f"{path}: expected an array (H, W) or (N, H, W), got shape {data.shape}")


def write_recon(path: PathLike, recon: np.ndarray) -> None:
    """Write reconstructions (N, H, W) to .npy, .h5/.hdf5 or .mat, atomically."""
    suffix = Path(path).suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, recon)
        elif suffix in (".h5", ".hdf5"):
            with h5py.File(tmp, "w") as f:
                f.create_dataset("recon", data=recon)
        elif suffix == ".mat":
            import scipy.io

            scipy.io.savemat(tmp, {"recon": recon})
        else:
            raise ValueError(f"{path}: output must end in .npy, .h5, .hdf5 or .mat")


def reconstruct_file(
    checkpoint: PathLike, input_path: PathLike, mask_path: PathLike, out_path: PathLike, *,
    key: str | None = None, input_kind: str = "image", reference: PathLike | None = None,
    reference_key: str | None = None, device: str = "cpu", batch_size: int = 4,
) -> list[dict[str, float]]:
    """Reconstruct a user's file with a trained model; return per-image metrics if a reference
    (or, for image input, the input itself) is available, else an empty list."""
    if input_kind not in ("image", "kspace"):
        raise ValueError(f"input kind must be 'image' or 'kspace', got {input_kind!r}")
    if Path(out_path).suffix.lower() not in (".npy", ".h5", ".hdf5", ".mat"):
        raise ValueError(f"{out_path}: output must end in .npy, .h5, .hdf5 or .mat")
    network, metadata = load_network(checkpoint, device)
    real = not metadata.get("complex_data", False)
    data = _as_stack(read_array(input_path, key), input_path).astype(np.complex64)
    mask = load_mask(mask_path, expected_shape=data.shape[1:]).array
    if input_kind == "image":
        truth = np.abs(data).astype(np.complex64) if real else data
        kspace = fft2c(truth) * mask
    else:
        truth = None
        kspace = data * mask
    scale = np.abs(zero_filled(kspace) if truth is None else truth).reshape(len(data), -1).max(1)
    if np.any(scale == 0):
        raise ValueError(f"{input_path}: an all-zero slice cannot be reconstructed")
    kspace = (kspace / scale[:, None, None]).astype(np.complex64)
    method = LearnedMethod(network, real=real, device=device, batch_size=batch_size)
    recon = method(kspace, mask) * scale[:, None, None]
    write_recon(out_path, recon.astype(np.complex64))
    if reference is not None:
        truth = _as_stack(read_array(reference, reference_key), reference)
        if truth.shape != recon.shape:
            raise ValueError(f"{reference}: shape {truth.shape} does not match the "
                             f"reconstruction {recon.shape}")
    if truth is None:
        return []
    return [evaluate(r, t) for r, t in zip(recon, truth, strict=True)]

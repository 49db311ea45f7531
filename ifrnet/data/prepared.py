"""The prepared-data file contract: ``data/prepared/{dataset}/{split}.h5``.

Each file holds one split of one data set:

- dataset ``images``: complex64 (N, H, W). Real-valued data sets store the magnitude image in
  [0, 1] with zero imaginary part; complex data sets are scaled per slice to ``max|x| = 1``.
- attributes: ``dataset``, ``split``, ``source`` (human-readable origin), ``kind``
  (``real`` | ``complex``), ``normalisation``, ``noise_sigma`` (measurement noise the
  experiments add, see :mod:`ifrnet.data.measure`), ``seed`` and ``slice_index`` (int array:
  which source slice each image came from).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ifrnet.io import atomic_path

REQUIRED_ATTRS = ("dataset", "split", "source", "kind", "normalisation", "noise_sigma", "seed")


def write_split(path: str | os.PathLike[str], images: np.ndarray, attrs: dict[str, Any]) -> None:
    """Write images (N, H, W) and attributes atomically; ``attrs`` must hold REQUIRED_ATTRS."""
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise ValueError(f"{path}: missing attributes {missing}")
    if images.ndim != 3:
        raise ValueError(f"{path}: images must be (N, H, W), got shape {images.shape}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
        for key, value in attrs.items():
            f.attrs[key] = value


def read_split(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a prepared split: images complex64 (N, H, W) and its attributes (validated)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prepared data file does not exist")
    try:
        with h5py.File(path, "r") as f:
            if "images" not in f:
                raise ValueError(f"{path}: no dataset 'images' (is this a prepared split?)")
            images = f["images"][...]
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise ValueError(f"{path}: missing attributes {missing}")
    if images.ndim != 3 or not np.iscomplexobj(images):
        raise ValueError(f"{path}: 'images' must be complex (N, H, W), got {images.dtype} "
                         f"{images.shape}")
    if not np.isfinite(images).all():
        raise ValueError(f"{path}: 'images' contains NaN or Inf")
    return images.astype(np.complex64, copy=False), attrs


def _plain(value: Any) -> Any:
    """HDF5 attribute → plain Python value (bytes → str, numpy scalars → Python scalars)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value

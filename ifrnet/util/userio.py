"""Read users' own arrays (images, k-space, masks) from .npy, .npz, .mat (v5 and v7.3) and HDF5.

Every error names the file and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

SUFFIXES = (".npy", ".npz", ".mat", ".h5", ".hdf5")


def _pick(keys: list[str], key: str | None, path: Path) -> str:
    if key is not None:
        if key not in keys:
            raise ValueError(f"{path}: no variable {key!r}; it has {sorted(keys)}")
        return key
    if len(keys) != 1:
        raise ValueError(f"{path}: holds {sorted(keys)}; name the one to use with --key")
    return keys[0]


def _read_hdf5(path: Path, key: str | None) -> np.ndarray:
    with h5py.File(path, "r") as f:
        names = [k for k in f.keys() if isinstance(f[k], h5py.Dataset) and not k.startswith("#")]
        data = f[_pick(names, key, path)][()]
    if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):  # MATLAB v7.3 complex
        data = data["real"] + 1j * data["imag"]
    return data


def _read_mat(path: Path, key: str | None) -> np.ndarray:
    import scipy.io

    if h5py.is_hdf5(path):  # MATLAB v7.3 files are HDF5, stored column-major (transposed)
        return _read_hdf5(path, key).T
    content = scipy.io.loadmat(path)
    names = [k for k in content if not k.startswith("__")]
    return content[_pick(names, key, path)]


def read_array(path: str | os.PathLike[str], key: str | None = None) -> np.ndarray:
    """The array stored in ``path`` (variable ``key`` if the file holds several)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; give one file ({', '.join(SUFFIXES)})")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file does not exist")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {SUFFIXES}")
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as content:
                data = content[_pick(list(content.keys()), key, path)]
        elif suffix == ".mat":
            data = _read_mat(path, key)
        else:
            data = _read_hdf5(path, key)
    except (OSError, ValueError, EOFError) as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{path}: cannot read ({err})") from err
    data = np.asarray(data)
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise ValueError(f"{path}: expected a numeric array, got dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: contains NaN or Inf")
    return data

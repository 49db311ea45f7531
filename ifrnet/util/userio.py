"""Read users' own arrays (images, k-space, masks) from .npy, .npz, .mat (v5 and v7.3) and HDF5.

Every error is a ValueError (FileNotFoundError for a missing file) whose message names the file
and what was wrong. Files are untrusted: the array a file declares (shape and dtype, from its
header) is checked before any data is read, so a truncated file or one declaring a huge array
(10¹² elements in a few bytes) is refused without allocating it (:func:`check_declared`);
pickled objects are never loaded; only boolean, integer, real and complex arrays are accepted.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ifrnet.util.io import DamagedFile

SUFFIXES = (".npy", ".npz", ".mat", ".h5", ".hdf5")


NUMERIC_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex


def memory_limit() -> int:
    """Bytes an array read from a file may take: half this machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError):  # pragma: no cover - systems without sysconf
        return 8 << 30


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def check_declared(path: str | os.PathLike[str], shape: tuple[int, ...], dtype: Any) -> None:
    """Refuse (ValueError naming ``path``) an array the file declares that could not be read
    into memory: larger than :func:`memory_limit`. Call it before reading the data."""
    nbytes = math.prod(int(n) for n in shape) * np.dtype(dtype).itemsize
    if nbytes > memory_limit():
        raise ValueError(
            f"{path}: declares a {tuple(int(n) for n in shape)} {np.dtype(dtype)} array "
            f"({_size(nbytes)}), more than half this machine's memory; not read"
        )


def _refuse_objects(path: Path, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise ValueError(
            f"{path}: holds objects (a pickle, MATLAB cells or structs), not a numeric array"
        )


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    _refuse_objects(path, dtype)
    if dtype.kind not in NUMERIC_KINDS and not _matlab_complex(dtype):
        raise ValueError(f"{path}: expected a numeric array, got dtype {dtype}")


def _matlab_complex(dtype: np.dtype) -> bool:
    """MATLAB v7.3 and h5py store complex numbers as a compound of numbers {real, imag}."""
    names = dtype.names or ()
    return set(names) == {"real", "imag"} and all(
        dtype[n].kind in NUMERIC_KINDS for n in ("real", "imag")
    )


def _pick(keys: list[str], key: str | None, path: Path) -> str:
    if key is not None:
        if key not in keys:
            raise ValueError(f"{path}: no variable {key!r}; it has {sorted(keys)}")
        return key
    if len(keys) != 1:
        raise ValueError(f"{path}: holds {sorted(keys)}; name the one to use with --key")
    return keys[0]


#: The largest .npy header numpy itself reads (``numpy.lib.format``'s default limit).
NPY_MAX_HEADER = 10_000


def _npy_header(f: Any, path: Path, available: int) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data bytes) from the header of an open .npy stream, checked against the
    ``available`` bytes of the stream before any data is read. The header's own length is
    checked first: numpy would allocate whatever length a file claims (up to 4 GB)."""
    start = f.tell()
    prefix = f.read(8)
    version = np.lib.format.read_magic(io.BytesIO(prefix))
    length_format = "<H" if version == (1, 0) else "<I"
    raw = f.read(struct.calcsize(length_format))
    if len(raw) < struct.calcsize(length_format):
        raise ValueError(f"{path}: truncated .npy header")
    length = struct.unpack(length_format, raw)[0]
    if length > NPY_MAX_HEADER or len(prefix) + len(raw) + length > available:
        raise ValueError(f"{path}: not a valid .npy header (declares {length} bytes)")
    header = io.BytesIO(prefix + raw + f.read(length))
    np.lib.format.read_magic(header)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(header)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(header)
    _refuse_objects(path, dtype)
    check_declared(path, shape, dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if f.tell() - start + nbytes > available:
        raise ValueError(
            f"{path}: truncated: declares a {shape} {dtype} array ({_size(nbytes)}) but holds "
            f"{_size(available - (f.tell() - start))} of data"
        )
    return shape, dtype, nbytes


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        _npy_header(f, path, path.stat().st_size)
    return np.load(path, allow_pickle=False)


def npz_entries(path: str | os.PathLike[str]) -> list[str]:
    """The names of the arrays of an ``.npz`` file."""
    with zipfile.ZipFile(path) as archive:
        return [n[:-4] for n in archive.namelist() if n.endswith(".npy")]


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    name = _pick(npz_entries(path), key, path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
        with archive.open(info) as f:
            _npy_header(f, path, info.file_size)
    with np.load(path, allow_pickle=False) as content:
        return content[name]


def read_npz_entry(path: str | os.PathLike[str], name: str) -> np.ndarray:
    """Array ``name`` of an ``.npz`` file, of any dtype but objects (its declared size checked
    first; ValueError naming the file on any fault)."""
    path = Path(path)
    try:
        return _read_npz(path, name)
    except Exception as err:  # zipfile, numpy's header parser: one line naming the file
        if str(path) in str(err):
            raise
        raise DamagedFile(path, f"{path}: cannot read {name!r} ({_first_line(err)})") from err


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _read_hdf5(path: Path, key: str | None) -> np.ndarray:
    with h5py.File(path, "r") as f:
        names = [
            k for k in f.keys() if isinstance(f.get(k), h5py.Dataset) and not k.startswith("#")
        ]
        dataset = f[_pick(names, key, path)]
        if dataset.shape is None:  # HDF5's null dataspace
            raise ValueError(f"{path}: dataset {dataset.name!r} is empty")
        _check_dtype(path, dataset.dtype)
        check_declared(path, dataset.shape, dataset.dtype)
        data = dataset[()]
    if _matlab_complex(data.dtype):
        data = data["real"] + 1j * data["imag"]
    return data


def _read_mat(path: Path, key: str | None) -> np.ndarray:
    import scipy.io

    if h5py.is_hdf5(path):  # MATLAB v7.3 files are HDF5, stored column-major (transposed)
        return _read_hdf5(path, key).T
    variables = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
    name = _pick(list(variables), key, path)
    check_declared(path, variables[name], np.complex128)  # MATLAB's widest: complex double
    content = scipy.io.loadmat(path, variable_names=[name])
    if name not in content:
        raise ValueError(f"{path}: variable {name!r} could not be read")
    return content[name]


def read_array(path: str | os.PathLike[str], key: str | None = None) -> np.ndarray:
    """The array stored in ``path`` (variable ``key`` if the file holds several): numeric,
    non-empty, finite."""
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
            data = _read_npy(path)
        elif suffix == ".npz":
            data = _read_npz(path, key)
        elif suffix == ".mat":
            data = _read_mat(path, key)
        else:
            data = _read_hdf5(path, key)
    except Exception as err:  # parsers of untrusted bytes raise anything: one line naming the file
        if str(path) in str(err):
            raise
        raise DamagedFile(path, f"{path}: cannot read ({_first_line(err)})") from err
    data = np.asarray(data)
    _check_dtype(path, data.dtype)
    if data.size == 0:
        raise ValueError(f"{path}: holds an empty array (shape {data.shape})")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: contains NaN or Inf")
    return data

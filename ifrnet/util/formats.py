"""The project's file formats: every file a step writes for another step is read and written
here, atomically (:func:`ifrnet.util.io.atomic_path`), with a clear ValueError naming a bad file.

Prepared split, ``data/prepared/{dataset}/{split}.h5`` (:func:`write_split` or, image by image,
:func:`split_writer`; :func:`read_split`):
dataset ``images`` complex64 (N, H, W) — real-valued data sets store the magnitude in [0, 1]
with zero imaginary part, complex ones are scaled per slice to ``max|x| = 1``; attributes
``dataset``, ``split``, ``source`` (human-readable origin), ``kind`` (``real`` | ``complex``),
``normalisation``, ``noise_sigma`` (the measurement noise the experiments add, see
:mod:`ifrnet.numerics.measure`), ``seed`` and ``slice_index`` (int64 array: which source slice each
image came from).

Mask, ``results/masks/{mask}-{H}x{W}.npz`` (:func:`write_mask_npz`, :func:`read_mask_npz`):
``np.savez`` arrays ``mask`` bool (H, W), ``kind`` str, ``rate_asked`` float (NaN: none),
``acceleration`` int (−1: none), ``rate_achieved`` float, ``shape`` int (2,), ``seed`` int.

Reconstruction, ``results/recon/{dataset}/{mask}/{model}.h5`` (:func:`write_recon_file`,
:func:`read_recon`): dataset ``recon`` complex64 (N, H, W); attributes ``model``, ``method``,
``dataset``, ``mask``, ``rate_achieved``, ``noise_sigma``, ``seconds_per_image`` and
``seconds`` (float array, per image); optionally dataset ``maps`` float32 (N, S, H, W), the
descriptor maps T of stages ``maps_stages`` (int64 attribute, 1-based).

Per-image metrics ``results/metrics/{dataset}/{mask}/{model}.csv`` and stage metrics
``results/stages/...csv`` (:func:`write_csv`): a table with a header row, no index, floats
written ``%.6g``.

Tuning result, ``results/tuning/{dataset}/{mask}/{model}.json`` (:func:`write_tuning`,
:func:`read_tuning`): a JSON object indented by 2, ending in a newline, with at least ``best``
(the winning parameters); :mod:`ifrnet.bench.tuning` describes the other keys.

Output of ``ifrnet reconstruct`` (:func:`write_user_recon`): ``.npy``, ``.h5``/``.hdf5``
(dataset ``recon``) or ``.mat`` (variable ``recon``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from ifrnet.util.io import DamagedFile, atomic_path, reserve_space, write_text_atomic
from ifrnet.util.userio import check_declared, npz_entries, read_array, read_npz_entry

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]

REQUIRED_ATTRS = ("dataset", "split", "source", "kind", "normalisation", "noise_sigma", "seed")
USER_SUFFIXES = (".npy", ".h5", ".hdf5", ".mat")


# ---------------------------------------------------------------------------------------------
# Prepared splits


def write_split(path: PathLike, images: np.ndarray, attrs: dict[str, Any]) -> None:
    """Write images (N, H, W) and attributes atomically; ``attrs`` must hold REQUIRED_ATTRS."""
    if images.ndim != 3:
        raise ValueError(f"{path}: images must be (N, H, W), got shape {images.shape}")
    with split_writer(path, len(images), images.shape[1:], attrs) as dataset:
        if len(images):
            dataset[...] = images.astype(np.complex64)


@contextlib.contextmanager
def split_writer(
    path: PathLike, count: int, shape: tuple[int, ...], attrs: dict[str, Any]
) -> Iterator[h5py.Dataset]:
    """Write a prepared split as it is filled, atomically: yields the dataset ``images``
    complex64 (count, H, W) to write images into one at a time (data larger than memory);
    ``attrs`` (REQUIRED_ATTRS; values may still change inside the block) are written when the
    block ends, and only then does the file appear at ``path``."""
    data = count * int(np.prod(shape)) * np.dtype(np.complex64).itemsize
    with atomic_path(path) as tmp, _new_hdf5(tmp, data + 16 * count) as f:
        dataset = f.create_dataset("images", shape=(count, *shape), dtype=np.complex64)
        yield dataset
        missing = [key for key in REQUIRED_ATTRS if key not in attrs]
        if missing:
            raise ValueError(f"{path}: missing attributes {missing}")
        for key, value in attrs.items():
            f.attrs[key] = value


def _new_hdf5(path: Path, data_bytes: int) -> h5py.File:
    """A new HDF5 file at ``path`` for about ``data_bytes`` of data, its space reserved first
    (:func:`ifrnet.util.io.reserve_space`; 1 MiB more for HDF5's own structures)."""
    reserve_space(path, data_bytes + (1 << 20))
    return h5py.File(path, "w")


def read_split(path: PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a prepared split: images complex64 (N, H, W) and its attributes (validated)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prepared data file does not exist")
    images, attrs = _read_h5(path, "images", "is this a prepared split?")
    attrs = {key: _plain(value) for key, value in attrs.items()}
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise DamagedFile(path, f"{path}: missing attributes {missing}")
    if images.ndim != 3 or not np.iscomplexobj(images):
        raise DamagedFile(
            path, f"{path}: 'images' must be complex (N, H, W), got {images.dtype} {images.shape}"
        )
    if not np.isfinite(images).all():
        raise DamagedFile(path, f"{path}: 'images' contains NaN or Inf")
    return images.astype(np.complex64, copy=False), attrs


def _read_h5(path: Path, name: str, hint: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Dataset ``name`` of an HDF5 file and the file's attributes (ValueError naming the file)."""
    try:
        with h5py.File(path, "r") as f:
            dataset = f.get(name)
            if not isinstance(dataset, h5py.Dataset):
                what = f" ({hint})" if hint else ""
                raise DamagedFile(path, f"{path}: no dataset {name!r}{what}")
            check_declared(path, dataset.shape or (), dataset.dtype)
            return dataset[...], dict(f.attrs)
    except (OSError, KeyError, TypeError, RuntimeError) as err:
        raise DamagedFile(path, f"{path}: not a readable HDF5 file ({err})") from err


def _plain(value: Any) -> Any:
    """HDF5 attribute → plain Python value (bytes → str, numpy scalars → Python scalars)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------------
# Masks


def write_mask_npz(
    path: PathLike,
    array: np.ndarray,
    kind: str,
    rate_asked: float | None,
    acceleration: int | None,
    seed: int,
) -> None:
    """Write a mask and its provenance to ``.npz`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            mask=array,
            kind=kind,
            rate_asked=np.nan if rate_asked is None else rate_asked,
            acceleration=-1 if acceleration is None else acceleration,
            rate_achieved=float(array.mean()),
            shape=np.array(array.shape),
            seed=seed,
        )


def read_mask_npz(path: PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """The array ``mask`` of a mask ``.npz`` and its provenance {kind, rate_asked,
    acceleration, seed} (absent entries: kind ``user``, None, None, 0). A file that is not a
    readable ``.npz`` or whose entries are not what this format stores raises a ValueError
    naming the file and the entry."""
    array = read_array(path, "mask")
    entries = set(npz_entries(path))

    def scalar(name: str, convert: Any) -> Any:
        value = read_npz_entry(path, name)
        try:
            if value.size != 1:
                raise ValueError(f"{value.size} values")
            return convert(value.item())
        except (TypeError, ValueError, OverflowError) as err:
            raise DamagedFile(
                path, f"{path}: entry {name!r} is not a {convert.__name__} ({err})"
            ) from None

    meta: dict[str, Any] = {"kind": "user", "rate_asked": None, "acceleration": None, "seed": 0}
    if "kind" in entries:
        meta["kind"] = scalar("kind", str)
    if "rate_asked" in entries and np.isfinite(rate := scalar("rate_asked", float)):
        meta["rate_asked"] = rate
    if "acceleration" in entries and (acceleration := scalar("acceleration", int)) > 0:
        meta["acceleration"] = acceleration
    if "seed" in entries:
        meta["seed"] = scalar("seed", int)
    return array, meta


# ---------------------------------------------------------------------------------------------
# Reconstructions


def write_recon_file(
    path: PathLike,
    recon: np.ndarray,
    attrs: dict[str, Any],
    maps: np.ndarray | None = None,
    maps_stages: list[int] | None = None,
) -> None:
    """Write a workflow reconstruction file (module docstring) atomically."""
    data = recon.nbytes + (0 if maps is None else maps.nbytes)
    with atomic_path(path) as tmp, _new_hdf5(tmp, data) as f:
        f.create_dataset("recon", data=recon)
        if maps is not None:
            f.create_dataset("maps", data=maps)
            f.attrs["maps_stages"] = np.asarray(maps_stages, dtype=np.int64)
        f.attrs.update(attrs)


def read_recon(path: PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a reconstruction file: recon complex64 (N, H, W) and its attributes."""
    return _read_h5(Path(path), "recon")


def write_user_recon(path: PathLike, recon: np.ndarray) -> None:
    """Write reconstructions (N, H, W) to .npy, .h5/.hdf5 or .mat, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in USER_SUFFIXES:
        raise ValueError(f"{path}: output must end in .npy, .h5, .hdf5 or .mat")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, recon)
        elif suffix == ".mat":
            import scipy.io

            scipy.io.savemat(tmp, {"recon": recon})
        else:
            with _new_hdf5(tmp, recon.nbytes) as f:
                f.create_dataset("recon", data=recon)


# ---------------------------------------------------------------------------------------------
# Tables and tuning results


def write_csv(path: PathLike, table: pd.DataFrame) -> None:
    """Write a metrics table (per image, per stage) as CSV atomically: no index, ``%.6g``."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def write_tuning(path: PathLike, result: dict[str, Any]) -> None:
    """Write a tuning result as indented JSON atomically."""
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")


def read_tuning(path: PathLike) -> dict[str, Any]:
    """A tuning result file as a dict with a ``best`` mapping (ValueError naming a bad file)."""
    try:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        if not isinstance(result, dict) or not isinstance(result.get("best"), dict):
            raise KeyError("best")
    except FileNotFoundError as err:  # missing, not damaged
        raise ValueError(f"{path}: not a tuning result ({err})") from err
    except (OSError, ValueError, KeyError) as err:  # JSON and UTF-8 decoding errors included
        raise DamagedFile(path, f"{path}: not a tuning result ({err})") from err
    return result

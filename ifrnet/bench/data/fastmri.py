"""fastMRI single-coil knee ingest (docs/methods.md §7): validate HDF5 files and extract slices.

A fastMRI single-coil file holds ``kspace`` complex (slices, H, W) (H = 640, W ≈ 368),
``reconstruction_esc`` float (slices, 320, 320) and the attribute ``max``. Every file used is
validated (keys, attribute, ranks, dtypes, matching slice counts, finite values, no all-zero
slice) and errors name the file and the fault. A slice's image is the centre ``crop`` × ``crop``
of ``ifft2c(kspace)`` (complex, fastMRI's own k-space convention), scaled to max |x| = 1.
Slices are taken from the middle of each volume outwards (edge slices hold little anatomy),
files in name order, until the requested count is reached.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ifrnet.numerics.fourier import ifft2c

PathLike = str | os.PathLike[str]


def validate_file(path: PathLike) -> int:
    """Check one single-coil file; return its number of slices (ValueError naming the fault)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): {err}"
        ) from err
    with f:
        for key in ("kspace", "reconstruction_esc"):
            if key not in f:
                raise ValueError(f"{path}: missing dataset {key!r} (has {sorted(f)})")
        if "max" not in f.attrs:
            raise ValueError(f"{path}: missing attribute 'max'")
        kspace, esc = f["kspace"], f["reconstruction_esc"]
        if kspace.ndim != 3:
            raise ValueError(f"{path}: kspace must be 3-D (slices, H, W), got shape {kspace.shape}")
        if not np.issubdtype(kspace.dtype, np.complexfloating):
            raise ValueError(f"{path}: kspace must be complex, got dtype {kspace.dtype}")
        if esc.ndim != 3 or esc.shape[0] != kspace.shape[0]:
            raise ValueError(
                f"{path}: reconstruction_esc shape {esc.shape} does not match kspace {kspace.shape}"
            )
        data = kspace[()]
        if not np.isfinite(data).all():
            raise ValueError(f"{path}: kspace holds NaN or Inf")
        empty = np.flatnonzero(~np.abs(data).reshape(len(data), -1).any(axis=1))
        if len(empty):
            raise ValueError(f"{path}: kspace slice(s) {empty.tolist()} are all zero")
        return int(kspace.shape[0])


def slice_order(n: int) -> list[int]:
    """Slice indices from the middle outwards: n // 2, n // 2 − 1, n // 2 + 1, …"""
    centre = n // 2
    order = [centre]
    for step in range(1, n):
        order += [i for i in (centre - step, centre + step) if 0 <= i < n]
    return order[:n]


def centre_crop(image: np.ndarray, crop: int) -> np.ndarray:
    """Centre crop × crop of the last two axes (ValueError if the image is smaller)."""
    h, w = image.shape[-2:]
    if h < crop or w < crop:
        raise ValueError(f"cannot crop {crop}×{crop} from an image of {h}×{w}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return image[..., top : top + crop, left : left + crop]


def iter_slices(
    directory: PathLike, crop: int, per_volume: int
) -> Iterator[tuple[np.ndarray, str]]:
    """(complex64 (crop, crop) image, "file:slice" label) of each slice taken from the files of
    ``directory`` (``*.h5``, at most ``per_volume`` per file), read one volume at a time."""
    import h5py

    files = sorted(Path(directory).glob("*.h5"))
    if not files:
        raise ValueError(f"{directory}: no fastMRI .h5 files")
    for path in files:
        n = validate_file(path)
        with h5py.File(path, "r") as f:
            for index in slice_order(n)[:per_volume]:
                image = centre_crop(ifft2c(f["kspace"][index]), crop)
                yield (image / np.abs(image).max()).astype(np.complex64), f"{path.name}:{index}"


def stream_slices(
    directory: PathLike, count: int, crop: int, per_volume: int
) -> Iterator[tuple[np.ndarray, str]]:
    """The first ``count`` (image, label) pairs of :func:`iter_slices`, one at a time (nothing
    is read for none); ValueError if the files hold fewer."""
    if count == 0:
        return
    taken = 0
    for pair in iter_slices(directory, crop, per_volume):
        yield pair
        taken += 1
        if taken == count:
            return
    raise ValueError(
        f"{directory}: {taken} slices available (≤ {per_volume} per volume), {count} requested"
    )


def extract_slices(
    directory: PathLike, count: int, crop: int, per_volume: int
) -> tuple[np.ndarray, list[str]]:
    """``count`` complex64 (crop, crop) images from the files of ``directory`` (``*.h5``), at
    most ``per_volume`` per file, stacked; also returns "file:slice" labels."""
    pairs = list(stream_slices(directory, count, crop, per_volume))
    images = [image for image, _ in pairs]
    stack = np.stack(images) if images else np.zeros((0, crop, crop), np.complex64)
    return stack, [label for _, label in pairs]

"""A folder of the user's own slices: data-set source ``folder``.

Every file of ``dir`` whose suffix :mod:`ifrnet.util.userio` reads (``.npy``, ``.npz``, ``.mat`` v5
and v7.3, ``.h5``/``.hdf5``) holds one slice (H, W) or a stack of slices: (N, H, W) with
``slice_axis: first`` (the default), or (H, W, N) with ``slice_axis: last`` (MATLAB's habit).
``key`` names the variable when a file holds several. ``content: image`` (default) takes the
arrays as images, real or complex; ``content: kspace`` as centred k-space (DC at (H//2, W//2),
the convention of :mod:`ifrnet.numerics.fourier`), turned into images by ``ifft2c``. Each image is
centre-cropped to ``size`` × ``size`` and scaled to max |x| = 1. Errors name the file and the
fault (unreadable, wrong rank, smaller than ``size``, NaN/Inf, an all-zero slice).

Split rule (deterministic for a given ``seed`` and folder content): files are taken in sorted
name order, slices in their order within a file, numbered 0, 1, … in that order (the prepared
files' ``slice_index``). ``split_by: file`` (default) shuffles the files with
``numpy.random.default_rng(seed).permutation`` and fills test, then val, then train, each from
whole files (slices of one file never land in two splits; slices a split does not need are left
unused). ``split_by: slice`` shuffles all slices the same way and takes the first ``n_test`` for
test, the next ``n_val`` for val, the next ``n_train`` for train.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.bench.data.fastmri import centre_crop
from ifrnet.numerics.fourier import ifft2c
from ifrnet.util.userio import SUFFIXES, read_array

PathLike = str | os.PathLike[str]

# Order in which splits are filled: the test split depends only on seed, files and n_test.
FILL_ORDER = ("test", "val", "train")


def folder_files(directory: PathLike) -> list[Path]:
    """The readable files of ``directory`` in sorted name order (ValueError if none)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: data directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise ValueError(f"{directory}: no slice files (looked for {', '.join(SUFFIXES)})")
    return files


def read_slices(
    path: PathLike,
    size: int,
    key: str | None = None,
    content: str = "image",
    slice_axis: str = "first",
) -> np.ndarray:
    """The slices of one file as complex64 (N, size, size) images, each with max |x| = 1."""
    data = read_array(path, key)
    if data.ndim == 2:
        data = data[None]
    elif data.ndim == 3:
        data = np.moveaxis(data, -1, 0) if slice_axis == "last" else data
    else:
        raise ValueError(
            f"{path}: expected a slice (H, W) or a stack of slices, got shape {data.shape}"
        )
    if content == "kspace":
        images = ifft2c(data.astype(np.complex128))
    elif content == "image":
        images = data.astype(np.complex128)
    else:
        raise ValueError(f"content must be 'image' or 'kspace', got {content!r}")
    h, w = images.shape[1:]
    if h < size or w < size:
        raise ValueError(f"{path}: slices are {h}×{w}, smaller than the data set's size {size}")
    images = centre_crop(images, size)
    peaks = np.abs(images).reshape(len(images), -1).max(axis=1)
    empty = np.flatnonzero(peaks == 0)
    if len(empty):
        raise ValueError(f"{path}: slice(s) {empty.tolist()} are all zero")
    return (images / peaks[:, None, None]).astype(np.complex64)


def split_slices(
    slices_per_file: list[int], counts: dict[str, int], seed: int, split_by: str = "file"
) -> dict[str, np.ndarray]:
    """Global slice numbers (files in sorted order, slices in file order) of each split."""
    offsets = np.concatenate([[0], np.cumsum(slices_per_file)]).astype(int)
    total, needed = int(offsets[-1]), sum(counts.values())
    rng = np.random.default_rng(seed)
    if split_by == "slice":
        if needed > total:
            raise ValueError(f"{total} slices, {needed} requested")
        order = rng.permutation(total)
        picked, start = {}, 0
        for split in FILL_ORDER:
            picked[split] = np.sort(order[start : start + counts[split]])
            start += counts[split]
        return picked
    if split_by != "file":
        raise ValueError(f"split_by must be 'file' or 'slice', got {split_by!r}")
    files = list(rng.permutation(len(slices_per_file)))
    picked = {}
    for split in FILL_ORDER:
        chosen: list[int] = []
        while len(chosen) < counts[split]:
            if not files:
                raise ValueError(
                    f"{len(slices_per_file)} files hold {total} slices; whole files per split "
                    f"cannot give {counts['test']} test, {counts['val']} val and "
                    f"{counts['train']} train slices (add files, lower the counts or set "
                    "split_by: slice)"
                )
            f = files.pop(0)
            chosen += range(offsets[f], offsets[f + 1])
        picked[split] = np.asarray(chosen[: counts[split]], dtype=np.int64)
    return picked


def folder_images(
    spec: dict[str, Any], seed: int, files: list[Path]
) -> tuple[dict[str, Iterator[np.ndarray]], dict[str, np.ndarray], str]:
    """Images and slice numbers of each split of a ``folder`` data set, and its description.

    Streams: every file is read (and checked) once to count its slices, then the images of each
    split are read again when iterated, one file at a time — memory holds one file, not the
    data set."""

    def read(path: Path) -> np.ndarray:
        axis = spec.get("slice_axis", "first")
        return read_slices(path, int(spec["size"]), spec.get("key"), content, axis)

    content = spec.get("content", "image")
    per_file, complex_data = [], False
    for path in files:
        stack = read(path)
        per_file.append(len(stack))
        complex_data = complex_data or bool(np.any(stack.imag))
    counts = {split: int(spec[f"n_{split}"]) for split in FILL_ORDER}
    try:
        picked = split_slices(per_file, counts, seed, spec.get("split_by", "file"))
    except ValueError as err:
        raise ValueError(f"{spec['dir']}: {err}") from None
    offsets = np.concatenate([[0], np.cumsum(per_file)]).astype(int)

    def images(numbers: np.ndarray) -> Iterator[np.ndarray]:
        held, stack = -1, np.empty(0)
        for number in numbers:
            index = int(np.searchsorted(offsets, number, side="right")) - 1
            if index != held:
                held, stack = index, read(files[index])
            yield stack[number - offsets[index]]

    description = (
        f"your folder {spec['dir']} ({len(files)} files, {offsets[-1]} slices, "
        f"{'complex' if complex_data else 'real'} {content}, "
        f"centre {spec['size']}×{spec['size']})"
    )
    return {split: images(idx) for split, idx in picked.items()}, picked, description

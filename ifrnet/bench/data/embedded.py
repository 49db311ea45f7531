"""The embedded data set: axial slices of the MNI ICBM152 2009a T1 template shipped in nilearn.

Source: ``nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz`` inside the
PyPI package ``nilearn`` (197×233×189 voxels, 1 mm isotropic, uint8, skull-stripped average of
152 subjects). It is read with nibabel from the installed package; nothing is downloaded.
Licence: MNI permissive licence (copyright notice kept; attribution in the README).

Slices are chosen on a fixed stride over the axial range where brain covers at least
``min_brain_fraction`` of the slice, then split by :func:`split_indices` so that no validation or
test slice lies within ``gap`` slices (mm) of a training slice: neighbouring template slices are
nearly identical, and a test slice next to a training slice would flatter every learned method.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

TEMPLATE_NAME = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
SOURCE_DESCRIPTION = "MNI ICBM152 2009a T1 template (nilearn), 1 mm, magnitude"


def template_path() -> Path:
    """Path of the template inside the installed nilearn package (FileNotFoundError if absent)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the embedded data set needs the Python package 'nilearn' (pip install nilearn)"
        )
    path = Path(spec.origin).parent / "datasets" / "data" / TEMPLATE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"nilearn is installed but {path} is missing")
    return path


def load_volume() -> np.ndarray:
    """The template as float32 (X, Y, Z) = (197, 233, 189) scaled to [0, 1]."""
    import nibabel as nib

    path = template_path()
    try:
        volume = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    except Exception as err:  # nibabel raises several types for corrupt files
        raise ValueError(f"{path}: cannot read the MNI152 template: {err}") from err
    if volume.ndim != 3:
        raise ValueError(f"{path}: expected a 3-D volume, got shape {volume.shape}")
    return volume / volume.max()


# Volume axis along which each plane's slices are taken (volume axes: X, Y, Z).
PLANES = {"axial": 2, "coronal": 1, "sagittal": 0}
#: Values of the optional config keys of the ``embedded`` source (the source's defaults in
#: :data:`ifrnet.bench.data.sources.SOURCES`, and this module's).
DEFAULTS = {"plane": "axial", "min_brain_fraction": 0.10}


def brain_slices(
    volume: np.ndarray,
    min_brain_fraction: float = DEFAULTS["min_brain_fraction"],
    plane: str = DEFAULTS["plane"],
) -> np.ndarray:
    """Slice indices (ascending) of a plane where voxels above 5 % of max cover ≥ the fraction."""
    axis = PLANES[plane]
    fraction = (volume > 0.05).mean(axis=tuple(a for a in range(3) if a != axis))
    return np.flatnonzero(fraction >= min_brain_fraction)


def axial_slice(
    volume: np.ndarray, index: int, size: int, plane: str = DEFAULTS["plane"]
) -> np.ndarray:
    """Slice ``index`` of a plane (default axial) as float32 (size, size), zero-padded, max
    scaled to 1; axial slices have anterior up.

    Sizes smaller than the slice shrink it (anti-aliased) to fit; larger sizes pad only.
    """
    image = np.rot90(np.take(volume, index, axis=PLANES[plane]))
    if max(image.shape) > size:
        from skimage.transform import resize

        scale = size / max(image.shape)
        target = tuple(max(1, int(round(n * scale))) for n in image.shape)
        image = resize(image, target, order=1, anti_aliasing=True, preserve_range=True)
    rows, cols = image.shape
    out = np.zeros((size, size), np.float32)
    top, left = (size - rows) // 2, (size - cols) // 2
    out[top : top + rows, left : left + cols] = image
    peak = out.max()
    if peak <= 0:
        raise ValueError(f"template slice {index} is empty")
    return out / peak


def split_indices(
    candidates: np.ndarray, counts: dict[str, int], seed: int, gap: int = 2
) -> dict[str, np.ndarray]:
    """Assign candidate slice indices to splits; held-out slices keep ``gap`` slices from train.

    The candidates are cut into consecutive blocks of ``2·gap + 1`` slices. A seeded permutation
    of the blocks gives each held-out split (``val``, ``test``, in that order) the centre slice of
    its own blocks; every slice of the remaining blocks is a training candidate, of which
    ``counts['train']`` are taken evenly spaced.
    """
    block = 2 * gap + 1
    n_blocks = len(candidates) // block
    held = counts.get("val", 0) + counts.get("test", 0)
    if held > n_blocks:
        raise ValueError(
            f"n_val + n_test = {held} exceeds the {n_blocks} separable slice blocks available"
        )
    order = np.random.default_rng(seed).permutation(n_blocks)
    blocks = [candidates[b * block : (b + 1) * block] for b in range(n_blocks)]
    out: dict[str, np.ndarray] = {}
    start = 0
    for split in ("val", "test"):
        chosen = order[start : start + counts.get(split, 0)]
        out[split] = np.sort([blocks[b][gap] for b in chosen]).astype(int)
        start += counts.get(split, 0)
    train_pool = np.sort(np.concatenate([blocks[b] for b in order[start:]] or [np.empty(0, int)]))
    n_train = counts.get("train", 0)
    if n_train > len(train_pool):
        raise ValueError(f"n_train = {n_train} exceeds the {len(train_pool)} training slices")
    pick = np.linspace(0, len(train_pool) - 1, n_train).round().astype(int) if n_train else []
    out["train"] = train_pool[pick].astype(int)
    return out


def embedded_images(
    size: int,
    counts: dict[str, int],
    seed: int,
    min_brain_fraction: float = DEFAULTS["min_brain_fraction"],
    plane: str = DEFAULTS["plane"],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Magnitude images per split, float32 (N, size, size) in [0, 1], and their slice indices."""
    volume = load_volume()
    indices = split_indices(brain_slices(volume, min_brain_fraction, plane), counts, seed)
    images = {
        split: np.stack([axial_slice(volume, int(i), size, plane) for i in idx])
        if len(idx)
        else np.zeros((0, size, size), np.float32)
        for split, idx in indices.items()
    }
    return images, indices

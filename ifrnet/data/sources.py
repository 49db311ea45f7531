"""Turn a data-set entry of the config into prepared split files (one adapter per source)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.data import embedded
from ifrnet.data.phase import smooth_phase
from ifrnet.data.prepared import write_split

SPLITS = ("train", "val", "test")


def _embedded(spec: dict[str, Any], seed: int) -> tuple[dict[str, np.ndarray], dict, str]:
    counts = {split: int(spec[f"n_{split}"]) for split in SPLITS}
    images, indices = embedded.embedded_images(
        int(spec["size"]), counts, seed, float(spec.get("min_brain_fraction", 0.10)),
        spec.get("plane", "axial"),
    )
    plane = spec.get("plane", "axial")
    return images, indices, embedded.SOURCE_DESCRIPTION + f", {plane} slices"


SOURCES = {"embedded": _embedded}


def to_kind(magnitude: dict[str, np.ndarray], indices: dict[str, np.ndarray], kind: str,
            seed: int) -> dict[str, np.ndarray]:
    """Magnitude images → complex64 images of the requested kind (``real`` or ``complex``).

    ``complex`` multiplies each slice by a smooth synthetic phase seeded by (seed, slice index)
    and rescales to ``max|x| = 1``.
    """
    out = {}
    for split, images in magnitude.items():
        if kind == "real":
            out[split] = images.astype(np.complex64)
        elif kind == "complex":
            phased = [
                img * np.exp(1j * smooth_phase(img.shape, seed * 100_003 + int(idx)))
                for img, idx in zip(images, indices[split], strict=True)
            ]
            arr = np.asarray(phased, dtype=np.complex64).reshape(images.shape)
            peak = np.abs(arr).reshape(len(arr), -1).max(axis=1) if len(arr) else np.ones(0)
            out[split] = (arr / peak[:, None, None]).astype(np.complex64)
        else:
            raise ValueError(f"dataset kind must be 'real' or 'complex', got {kind!r}")
    return out


def prepare_dataset(name: str, spec: dict[str, Any], seed: int,
                    out_dir: str | os.PathLike[str]) -> list[Path]:
    """Prepare data set ``name`` from its config entry; write ``{out_dir}/{split}.h5``."""
    source = spec["source"]
    if source not in SOURCES:
        raise ValueError(f"dataset {name!r}: unknown source {source!r}; known: {sorted(SOURCES)}")
    magnitude, indices, description = SOURCES[source](spec, seed)
    images = to_kind(magnitude, indices, spec["kind"], seed)
    written = []
    for split in SPLITS:
        path = Path(out_dir) / f"{split}.h5"
        caption = description if spec["kind"] == "real" else description + " × synthetic phase"
        write_split(path, images[split], {
            "dataset": name, "split": split, "source": caption, "kind": spec["kind"],
            "normalisation": "max |x| = 1 per slice",
            "noise_sigma": float(spec.get("noise_sigma", 0.0)), "seed": seed,
            "slice_index": np.asarray(indices[split], dtype=np.int64),
        })
        written.append(path)
    return written

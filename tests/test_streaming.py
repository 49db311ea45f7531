"""Data preparation streams: images go from the source to the prepared files one at a time, so
memory does not grow with the data set (benchmarks/prepare_memory.py measures the process's
peak RSS at 1× and 10× the paper's size), and the files hold exactly what stacking every image
in memory and converting it gave (the definition below)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from ifrnet.bench.cli import main
from ifrnet.bench.data.phase import smooth_phase
from ifrnet.bench.data.sources import SPLITS, data_source, prepare_dataset
from tests import fixtures


def converted(images: np.ndarray, indices: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """The prepared images of one split, from all its source images (N, H, W) at once: complex
    images give their magnitude (real) or stay (complex); real ones stay (real) or get a smooth
    phase seeded by (seed, slice index) and are rescaled to max |x| = 1 (complex)."""
    if np.iscomplexobj(images) and np.any(images.imag):
        return (np.abs(images) if kind == "real" else images).astype(np.complex64)
    if kind == "real":
        return images.astype(np.complex64)
    phased = [
        img * np.exp(1j * smooth_phase(img.shape, seed * 100_003 + int(i)))
        for img, i in zip(images, indices, strict=True)
    ]
    arr = np.asarray(phased, dtype=np.complex64).reshape(images.shape)
    peak = np.abs(arr).reshape(len(arr), -1).max(axis=1) if len(arr) else np.ones(0)
    return (arr / peak[:, None, None]).astype(np.complex64)


def folder_of(tmp_path: Path, files: int, complex_every: int = 0) -> Path:
    folder = tmp_path / f"slices-{files}"
    folder.mkdir()
    rng = np.random.default_rng(files)
    for i in range(files):
        stack = rng.random((4, 36, 36)) - 0.2
        if complex_every and i % complex_every == 0:
            stack = stack * (1 + 0.5j)
        np.save(folder / f"f{i:03d}.npy", stack)
    return folder


def spec_of(folder: Path, kind: str, split_by: str = "slice", n: int = 6) -> dict:
    return {
        "source": "folder",
        "dir": str(folder),
        "kind": kind,
        "size": 32,
        "n_train": n,
        "n_val": 2,
        "n_test": 2,
        "noise_sigma": 0.0,
        "split_by": split_by,
    }


@pytest.mark.parametrize("kind", ["real", "complex"])
@pytest.mark.parametrize("source", ["embedded", "folder of real slices", "mixed folder", "siat"])
def test_prepared_files_hold_the_converted_source_images(source, kind, tmp_path):
    if source == "embedded":
        spec = {"source": "embedded", "kind": kind, "size": 64, "n_train": 4, "n_val": 2}
        spec.update(n_test=2, noise_sigma=0.0)
    elif source == "siat":
        (tmp_path / "siat").mkdir()
        for i in range(1, 7):
            fixtures.siat_slice(tmp_path / "siat" / f"lsq{i}.mat", seed=i)
        spec = {"source": "siat", "dir": str(tmp_path / "siat"), "kind": kind, "size": 256}
        spec.update(n_train=3, n_val=1, n_test=2, noise_sigma=0.0)
    else:
        folder = folder_of(tmp_path, 5, complex_every=2 if source == "mixed folder" else 0)
        spec = spec_of(folder, kind)
    entry = data_source(spec["source"]).with_defaults(spec)
    images, indices, _ = data_source(spec["source"]).read(entry, 7)
    expected = {
        split: converted(np.stack(list(images[split])), indices[split], kind, 7) for split in SPLITS
    }
    for path in prepare_dataset("d", spec, 7, tmp_path / "out"):
        with h5py.File(path) as f:
            ours = f["images"][()]
            split = f.attrs["split"]
        assert ours.dtype == np.complex64 and ours.tobytes() == expected[split].tobytes()


def peak_bytes(spec: dict, out: Path) -> int:
    tracemalloc.start()
    try:
        prepare_dataset("d", spec, 0, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_data_set(tmp_path):
    """Four times the files and slices: the peak of traced allocations stays (a stacked data
    set of 128 slices would take 4× that of 32)."""
    small = peak_bytes(spec_of(folder_of(tmp_path, 10, 3), "complex", n=32), tmp_path / "a")
    large = peak_bytes(spec_of(folder_of(tmp_path, 40, 3), "complex", n=128), tmp_path / "b")
    assert large < 1.5 * small, (small, large)


def test_a_failing_split_leaves_no_prepared_file(tmp_path, capsys):
    """The three files appear together or not at all: a fault found while writing the test
    split (too few fastMRI slices) leaves neither train nor val behind."""
    for part in ("singlecoil_train", "singlecoil_val"):
        (tmp_path / part).mkdir()
        fixtures.fastmri_file(tmp_path / part / "a.h5", slices=4)
    spec = {"source": "fastmri", "dir": str(tmp_path), "kind": "complex", "size": 16}
    spec.update(crop=16, n_train=3, n_val=1, n_test=9, noise_sigma=0.0)
    out = tmp_path / "out"
    status = main(["prepare", "--dataset", "k", "--spec", json.dumps(spec), "--out-dir", str(out)])
    assert status == 2 and "4 slices available" in capsys.readouterr().err
    assert not out.exists() or not list(out.iterdir())


def test_a_test_only_fastmri_set_prepares(tmp_path):
    """The paper's knee-real set takes no train or val slice: its train part is not read (it
    was, and failed with "N slices available, 0 requested")."""
    for part in ("singlecoil_train", "singlecoil_val"):
        (tmp_path / part).mkdir()
        fixtures.fastmri_file(tmp_path / part / "a.h5", slices=4)
    spec = {"source": "fastmri", "dir": str(tmp_path), "kind": "real", "size": 16, "crop": 16}
    spec.update(n_train=0, n_val=0, n_test=2, noise_sigma=0.0)
    written = prepare_dataset("knee-real", spec, 0, tmp_path / "out")
    with h5py.File(written[2]) as f:
        assert f["images"].shape == (2, 16, 16)
    with h5py.File(written[0]) as f:
        assert f["images"].shape == (0, 16, 16)

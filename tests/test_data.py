"""Embedded data set, prepared-file contract, synthetic phase and the measurement model."""

import h5py
import numpy as np
import pytest

from ifrnet.bench.data import embedded
from ifrnet.bench.data.phase import SPAN, smooth_phase
from ifrnet.bench.data.prepared import read_split, write_split
from ifrnet.bench.data.sources import prepare_dataset
from ifrnet.numerics.fourier import fft2c
from ifrnet.numerics.measure import measure, noise_field

SPEC = dict(source="embedded", kind="real", size=64, n_train=3, n_val=2, n_test=2, noise_sigma=0.01)


def test_split_indices_are_disjoint_and_separated():
    candidates = np.arange(20, 143)
    splits = embedded.split_indices(candidates, {"train": 30, "val": 4, "test": 6}, seed=0, gap=2)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [30, 4, 6]
    held = np.concatenate([splits["val"], splits["test"]])
    distance = np.abs(held[:, None] - splits["train"][None, :]).min()
    assert distance > 2
    again = embedded.split_indices(candidates, {"train": 30, "val": 4, "test": 6}, seed=0, gap=2)
    assert all(np.array_equal(splits[s], again[s]) for s in splits)
    with pytest.raises(ValueError, match="n_val"):
        embedded.split_indices(candidates, {"train": 1, "val": 20, "test": 20}, seed=0)


def test_prepare_real_and_complex(tmp_path):
    prepare_dataset("b-real", SPEC, seed=0, out_dir=tmp_path / "r")
    images, attrs = read_split(tmp_path / "r" / "test.h5")
    assert images.shape == (2, 64, 64) and images.dtype == np.complex64
    assert np.all(images.imag == 0) and np.isclose(np.abs(images).max(), 1.0)
    assert attrs["kind"] == "real" and attrs["split"] == "test" and attrs["noise_sigma"] == 0.01
    assert "MNI" in attrs["source"]
    prepare_dataset("b-cplx", {**SPEC, "kind": "complex"}, seed=0, out_dir=tmp_path / "c")
    cimages, cattrs = read_split(tmp_path / "c" / "test.h5")
    np.testing.assert_allclose(np.abs(cimages).reshape(2, -1).max(axis=1), 1.0, rtol=1e-6)
    assert np.abs(cimages.imag).max() > 0.1
    # same magnitude up to per-slice scale: the phase multiplies, it does not reshape
    np.testing.assert_allclose(np.abs(cimages), np.abs(images), atol=1e-5)
    assert np.array_equal(attrs["slice_index"], cattrs["slice_index"])


def test_smooth_phase_is_seeded_smooth_and_bounded():
    p = smooth_phase((64, 64), seed=3)
    assert np.isclose(p.max() - p.min(), SPAN, rtol=1e-5)
    assert np.array_equal(p, smooth_phase((64, 64), seed=3))
    assert not np.array_equal(p, smooth_phase((64, 64), seed=4))
    assert np.abs(np.diff(p, axis=0)).max() < 0.5  # smooth: small steps between neighbours


def test_read_split_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="bad.h5"):
        read_split(bad)
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f.create_dataset("other", data=np.zeros(3))
    with pytest.raises(ValueError, match="no dataset 'images'"):
        read_split(tmp_path / "nokey.h5")
    attrs = dict(
        dataset="d",
        split="test",
        source="s",
        kind="real",
        normalisation="n",
        noise_sigma=0.0,
        seed=0,
    )
    write_split(tmp_path / "nan.h5", np.full((1, 4, 4), np.nan, np.complex64), attrs)
    with pytest.raises(ValueError, match="NaN"):
        read_split(tmp_path / "nan.h5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_split(tmp_path / "missing.h5")


def test_measure_noise_statistics_and_reproducibility():
    n = noise_field((128, 128), 0.1, seed=0, split="test", index=0)
    assert np.isclose(np.sqrt(np.mean(np.abs(n) ** 2)), 0.1, rtol=0.03)
    assert np.isclose(n.real.std(), 0.1 / np.sqrt(2), rtol=0.03)
    assert np.array_equal(n, noise_field((128, 128), 0.1, seed=0, split="test", index=0))
    assert not np.array_equal(n, noise_field((128, 128), 0.1, seed=0, split="test", index=1))
    images = np.random.default_rng(0).random((2, 16, 16)).astype(np.complex64)
    mask = np.zeros((16, 16), bool)
    mask[::2] = True
    y = measure(images, mask, 0.0, seed=0, split="test")
    np.testing.assert_allclose(y, fft2c(images) * mask, atol=1e-6)
    y_noisy = measure(images, mask, 0.05, seed=0, split="test")
    assert np.all(y_noisy[:, ~mask] == 0)
    expected = (
        fft2c(images) + np.stack([noise_field((16, 16), 0.05, 0, "test", i) for i in range(2)])
    ) * mask
    np.testing.assert_allclose(y_noisy, expected, atol=1e-6)

"""Reading users' files: every supported format round-trips; faults name the file."""

import h5py
import numpy as np
import pytest
import scipy.io

from ifrnet.util.userio import read_array


@pytest.fixture
def image():
    return np.random.default_rng(0).random((6, 5)) + 1j * np.random.default_rng(1).random((6, 5))


def test_formats_round_trip(tmp_path, image):
    np.save(tmp_path / "a.npy", image)
    np.savez(tmp_path / "b.npz", im=image)
    scipy.io.savemat(tmp_path / "c.mat", {"Img": image})
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("kspace", data=image)
    for name in ("a.npy", "b.npz", "c.mat", "d.h5"):
        np.testing.assert_array_equal(read_array(tmp_path / name), image)


def test_matlab_v73_complex_is_transposed_back(tmp_path, image):
    # MATLAB v7.3 writes HDF5 with a compound (real, imag) type, column-major (transposed)
    compound = np.zeros(image.T.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
    compound["real"], compound["imag"] = image.T.real, image.T.imag
    with h5py.File(tmp_path / "v73.mat", "w") as f:
        f.create_dataset("Img", data=compound)
    np.testing.assert_array_equal(read_array(tmp_path / "v73.mat"), image)


def test_faults_name_the_file(tmp_path, image):
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        read_array(tmp_path / "missing.npy")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_array(tmp_path / "x.txt")
    (tmp_path / "trunc.npy").write_bytes(b"\x93NUMPY\x01\x00")
    with pytest.raises(ValueError, match="trunc.npy"):
        read_array(tmp_path / "trunc.npy")
    scipy.io.savemat(tmp_path / "two.mat", {"a": image, "b": image})
    with pytest.raises(ValueError, match="name the one to use"):
        read_array(tmp_path / "two.mat")
    with pytest.raises(ValueError, match="no variable 'c'"):
        read_array(tmp_path / "two.mat", key="c")
    bad = image.copy()
    bad[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="NaN"):
        read_array(tmp_path / "nan.npy")
    np.save(tmp_path / "obj.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="numeric"):
        read_array(tmp_path / "obj.npy")

"""Paper data ingest on generated fixtures: SIAT .mat, IFR-Net test images, fastMRI HDF5, and
checksummed, resumable downloads."""

import numpy as np
import pytest

from ifrnet.bench.data.download import download, read_checksums, verify
from ifrnet.bench.data.fastmri import centre_crop, extract_slices, slice_order, validate_file
from ifrnet.bench.data.matfiles import read_siat_slice, read_test_image
from ifrnet.bench.data.prepared import read_split
from ifrnet.bench.data.sources import downloads, prepare_dataset, source_files
from ifrnet.numerics.fourier import ifft2c
from tests import fixtures


@pytest.fixture
def siat_dir(tmp_path):
    directory = tmp_path / "siat"
    directory.mkdir()
    for i in range(1, 7):
        fixtures.siat_slice(directory / f"lsq{i}.mat", seed=i)
    tests = tmp_path / "tests"
    tests.mkdir()
    for i in range(1, 3):
        fixtures.test_image(tests / f"test_{i}.mat", seed=i)
    for d in (directory, tests):
        lines = [f"{fixtures.sha256(p)}  {p.name}" for p in sorted(d.glob("*.mat"))]
        (d / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return directory, tests


def test_siat_slice_is_cropped_as_dataread_demo(tmp_path):
    raw = fixtures.siat_slice(tmp_path / "lsq1.mat")
    image = read_siat_slice(tmp_path / "lsq1.mat")
    # imrotate(Img, 90) = counter-clockwise quarter turn: out[i, j] = Img[j, W − 1 − i].
    rotated = np.array([[raw[j, 255 - i] for j in range(270)] for i in range(256)])
    expected = rotated[:, 7:263] / np.abs(raw).max()
    assert image.shape == (256, 256) and image.dtype == np.complex64
    np.testing.assert_allclose(image, expected, rtol=1e-5)


def test_mat_errors_name_the_file_and_fault(tmp_path):
    fixtures.siat_slice(tmp_path / "bad.mat", key="img")
    with pytest.raises(ValueError, match=r"bad\.mat: no variable 'Img' \(has \['img'\]\)"):
        read_siat_slice(tmp_path / "bad.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match=r"junk\.mat: not a readable \.mat file"):
        read_test_image(tmp_path / "junk.mat")
    import scipy.io

    scipy.io.savemat(tmp_path / "t.mat", {"Img": np.ones((256, 256))})
    with pytest.raises(ValueError, match=r"t\.mat: expected an image of shape \(270, 256\)"):
        read_siat_slice(tmp_path / "t.mat")


def test_prepare_siat_with_test_images_and_checksums(siat_dir, tmp_path):
    directory, tests = siat_dir
    spec = {
        "source": "siat",
        "kind": "real",
        "size": 256,
        "n_train": 3,
        "n_val": 1,
        "n_test": 2,
        "noise_sigma": 0.0,
        "dir": str(directory),
        "checksums": str(directory / "SHA256SUMS"),
        "test_source": {"dir": str(tests), "checksums": str(tests / "SHA256SUMS")},
    }
    prepare_dataset("brain", spec, seed=0, out_dir=tmp_path / "out")
    test, attrs = read_split(tmp_path / "out" / "test.h5")
    np.testing.assert_allclose(test[0].real, read_test_image(tests / "test_1.mat").real)
    train, _ = read_split(tmp_path / "out" / "train.h5")
    assert train.shape == (3, 256, 256) and np.all(train.imag == 0)  # real: magnitudes
    assert "SIAT" in attrs["source"] and "synthetic" not in attrs["source"]
    assert len(source_files(spec)) == 8
    complex_spec = {**spec, "kind": "complex"}
    del complex_spec["test_source"]
    prepare_dataset("brain-c", complex_spec, seed=0, out_dir=tmp_path / "c")
    assert np.abs(read_split(tmp_path / "c" / "test.h5")[0].imag).max() > 0


def test_siat_checksum_mismatch_is_reported(siat_dir, tmp_path):
    directory, _ = siat_dir
    fixtures.siat_slice(directory / "lsq3.mat", seed=99)  # altered after pinning
    spec = {
        "source": "siat",
        "kind": "real",
        "size": 256,
        "n_train": 3,
        "n_val": 1,
        "n_test": 1,
        "noise_sigma": 0.0,
        "dir": str(directory),
        "checksums": str(directory / "SHA256SUMS"),
    }
    with pytest.raises(ValueError, match=r"lsq3\.mat: checksum mismatch: expected SHA-256 "):
        prepare_dataset("brain", spec, seed=0, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_fastmri_extracts_centre_crops_from_the_middle_out(tmp_path):
    for i in range(2):
        fixtures.fastmri_file(tmp_path / f"file{i}.h5", slices=5, seed=i)
    images, labels = extract_slices(tmp_path, count=4, crop=16, per_volume=3)
    assert images.shape == (4, 16, 16) and labels == [
        "file0.h5:2",
        "file0.h5:1",
        "file0.h5:3",
        "file1.h5:2",
    ]
    import h5py

    with h5py.File(tmp_path / "file0.h5") as f:
        expected = centre_crop(ifft2c(f["kspace"][2]), 16)
    np.testing.assert_allclose(images[0], expected / np.abs(expected).max(), rtol=1e-5)
    assert slice_order(4) == [2, 1, 3, 0]
    with pytest.raises(ValueError, match="4 slices available"):
        extract_slices(tmp_path, count=9, crop=16, per_volume=2)


def test_prepare_fastmri_layout(tmp_path):
    for sub in ("singlecoil_train", "singlecoil_val"):
        (tmp_path / sub).mkdir()
        fixtures.fastmri_file(tmp_path / sub / "a.h5", slices=4)
    spec = {
        "source": "fastmri",
        "kind": "complex",
        "size": 16,
        "crop": 16,
        "dir": str(tmp_path),
        "n_train": 2,
        "n_val": 1,
        "n_test": 2,
        "noise_sigma": 0.0,
    }
    prepare_dataset("knee", spec, seed=0, out_dir=tmp_path / "out")
    assert read_split(tmp_path / "out" / "val.h5")[0].shape == (1, 16, 16)
    _, attrs = read_split(tmp_path / "out" / "test.h5")
    assert "fastMRI" in attrs["source"]


MALFORMED = {
    "missing kspace": ({"kspace": None}, "missing dataset 'kspace'"),
    "missing reconstruction_esc": (
        {"reconstruction_esc": None},
        "missing dataset 'reconstruction_esc'",
    ),
    "missing max": ({"attrs": {}}, "missing attribute 'max'"),
    "real kspace": ({"kspace": np.ones((3, 32, 24), np.float32)}, "kspace must be complex"),
    "2-D kspace": ({"kspace": np.ones((32, 24), np.complex64)}, "kspace must be 3-D"),
    "slice mismatch": (
        {"reconstruction_esc": np.ones((2, 16, 16), np.float32)},
        "does not match kspace",
    ),
    "NaN": ({"kspace": np.full((3, 32, 24), np.nan, np.complex64)}, "NaN or Inf"),
    "Inf": ({"kspace": np.full((3, 32, 24), np.inf, np.complex64)}, "NaN or Inf"),
    "all-zero slice": (
        {
            "kspace": np.concatenate([np.ones((2, 32, 24)), np.zeros((1, 32, 24))]).astype(
                np.complex64
            )
        },
        r"slice\(s\) \[2\] are all zero",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_fastmri_files_are_named(tmp_path, case):
    overrides, message = MALFORMED[case]
    path = tmp_path / "bad.h5"
    fixtures.fastmri_file(path, **overrides)
    with pytest.raises(ValueError, match=rf"bad\.h5: .*{message}"):
        validate_file(path)


def test_truncated_fastmri_file(tmp_path):
    path = tmp_path / "cut.h5"
    fixtures.fastmri_file(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"cut\.h5: not a readable HDF5 file"):
        validate_file(path)


def test_download_verifies_resumes_and_never_leaves_partial_files(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    payload = np.random.default_rng(0).bytes(50_000)
    (served / "f.bin").write_bytes(payload)
    sha = fixtures.sha256(served / "f.bin")
    url, server = fixtures.serve(served)
    try:
        dest = tmp_path / "dl" / "f.bin"
        (tmp_path / "dl").mkdir()
        (tmp_path / "dl" / "f.bin.part").write_bytes(payload[:12_345])  # an earlier attempt
        download(f"{url}/f.bin", dest, sha, progress=False)
        assert dest.read_bytes() == payload and not (tmp_path / "dl" / "f.bin.part").exists()
        download(f"{url}/f.bin", dest, sha, progress=False)  # present and valid: no-op
        bad = tmp_path / "dl" / "g.bin"
        with pytest.raises(
            ValueError,
            match=rf"from {url}/f.bin\): checksum mismatch: "
            rf"expected SHA-256 {'0' * 64}, got {sha}",
        ):
            download(f"{url}/f.bin", bad, "0" * 64, progress=False)
        assert not bad.exists() and not (tmp_path / "dl" / "g.bin.part").exists()
        with pytest.raises(ValueError, match="download failed"):
            download(f"{url}/missing.bin", tmp_path / "dl" / "m.bin", sha, progress=False)
    finally:
        server.shutdown()


def test_checksum_lists_and_download_plan(tmp_path):
    sums = tmp_path / "S"
    sums.write_text(f"# comment\n{'a' * 64}  x.mat\n{'b' * 64} *y.mat\n")
    assert read_checksums(sums) == {"x.mat": "a" * 64, "y.mat": "b" * 64}
    (tmp_path / "T").write_text("nonsense\n")
    with pytest.raises(ValueError, match=r"T:1: expected"):
        read_checksums(tmp_path / "T")
    plan = downloads({"b": {"dir": "data/raw/b", "url": "https://h/p/", "checksums": str(sums)}})
    assert plan["data/raw/b/x.mat"] == ("https://h/p/x.mat", "a" * 64)
    (tmp_path / "x.mat").write_bytes(b"1")
    with pytest.raises(ValueError, match=r"x\.mat: checksum mismatch"):
        verify(tmp_path / "x.mat", "a" * 64)

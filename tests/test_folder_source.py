"""Data-set source ``folder``: the user's own slice files in every format, the split rule, and
one-line errors naming the file and the fault."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from ifrnet.bench.config import ConfigError, load_schema, validate_config
from ifrnet.bench.data.folder import split_slices
from ifrnet.bench.data.prepared import read_split
from ifrnet.bench.data.sources import prepare_dataset, source_files
from tests.workflow_helpers import ROOT

H, W = 20, 24


def images(n: int, seed: int, complex_: bool) -> np.ndarray:
    """n random images (n, H, W), positive so that no slice is all zero."""
    rng = np.random.default_rng(seed)
    out = rng.random((n, H, W)) + 0.1
    return out * np.exp(1j * rng.uniform(-3, 3, (n, H, W))) if complex_ else out


def save_mat73(path: Path, name: str, array: np.ndarray) -> None:
    """An HDF5 file laid out as MATLAB's -v7.3 save: column-major (transposed), complex as a
    compound of real and imag."""
    data = array.T
    if np.iscomplexobj(data):
        compound = np.empty(data.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
        compound["real"], compound["imag"] = data.real, data.imag
        data = compound
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data)


def spec(directory: Path, **extra) -> dict:
    return {
        "source": "folder",
        "dir": str(directory),
        "kind": "complex",
        "size": 16,
        "n_train": 1,
        "n_val": 1,
        "n_test": 1,
        "noise_sigma": 0.0,
        **extra,
    }


def centre(stack: np.ndarray, size: int = 16) -> np.ndarray:
    top, left = (H - size) // 2, (W - size) // 2
    crop = stack[:, top : top + size, left : left + size]
    return crop / np.abs(crop).reshape(len(crop), -1).max(axis=1)[:, None, None]


@pytest.fixture
def every_format(tmp_path) -> tuple[Path, np.ndarray]:
    """One folder with a file of each format (9 slices, real and complex), and the slices
    expected in the documented order (sorted file names, then slice order)."""
    directory = tmp_path / "mine"
    directory.mkdir()
    a, b, c, d, e = (
        images(1, 1, False)[0],
        images(2, 2, True),
        images(3, 3, False),
        images(2, 4, True),
        images(1, 5, True),
    )
    np.save(directory / "a.npy", a)
    np.savez(directory / "b.npz", img=b)
    scipy.io.savemat(directory / "c.mat", {"img": c})  # v5
    save_mat73(directory / "d.mat", "img", d)  # v7.3 (HDF5)
    with h5py.File(directory / "e.h5", "w") as f:
        f.create_dataset("img", data=e)
    (directory / "notes.txt").write_text("ignored: not a slice file")
    return directory, np.concatenate([a[None], b, c, d, e])


def test_every_format_is_read_and_every_slice_lands_once(every_format, tmp_path):
    directory, expected = every_format
    spec_ = spec(directory, key="img", split_by="slice", n_train=5, n_val=2, n_test=2)
    prepare_dataset("mine", spec_, seed=3, out_dir=tmp_path / "out")
    seen = []
    for split, n in (("train", 5), ("val", 2), ("test", 2)):
        prepared, attrs = read_split(tmp_path / "out" / f"{split}.h5")
        assert prepared.shape == (n, 16, 16) and attrs["source"].startswith("your folder")
        for image, index in zip(prepared, attrs["slice_index"], strict=True):
            reference = centre(expected[index][None])[0]
            # real slices get the documented synthetic phase; the magnitude is unchanged
            np.testing.assert_allclose(np.abs(image), np.abs(reference), atol=1e-6)
            if index in (1, 2, 6, 7, 8):  # the complex slices stay as they are
                np.testing.assert_allclose(image, reference, atol=1e-6)
            seen.append(int(index))
    assert sorted(seen) == list(range(9))
    assert source_files(spec_) == [
        str(directory / n) for n in ("a.npy", "b.npz", "c.mat", "d.mat", "e.h5")
    ]


def test_real_kind_stores_magnitudes(every_format, tmp_path):
    directory, expected = every_format
    prepare_dataset(
        "m",
        spec(directory, key="img", kind="real", split_by="slice", n_train=0, n_val=0, n_test=9),
        seed=0,
        out_dir=tmp_path / "out",
    )
    prepared, attrs = read_split(tmp_path / "out" / "test.h5")
    assert np.all(prepared.imag == 0)
    np.testing.assert_allclose(
        prepared.real, np.abs(centre(expected[attrs["slice_index"]])), atol=1e-6
    )
    assert "synthetic" not in attrs["source"]


def test_kspace_content_is_inverse_transformed_and_centre_cropped(tmp_path):
    truth = images(2, 7, True)
    kspace = np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(truth, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )  # centred, orthonormal: float64 NumPy reference
    scipy.io.savemat(tmp_path / "k.mat", {"kspace": np.moveaxis(kspace, 0, -1)})  # (H, W, N)
    prepare_dataset(
        "k",
        spec(
            tmp_path,
            content="kspace",
            slice_axis="last",
            split_by="slice",
            n_train=0,
            n_val=0,
            n_test=2,
        ),
        seed=0,
        out_dir=tmp_path / "out",
    )
    prepared, attrs = read_split(tmp_path / "out" / "test.h5")
    np.testing.assert_allclose(prepared, centre(truth)[attrs["slice_index"]], atol=1e-5)


def test_file_split_keeps_whole_files_in_the_documented_order(tmp_path):
    for i in range(5):
        np.save(tmp_path / f"vol{i}.npy", images(3, i, False))
    spec_ = spec(tmp_path, kind="real", n_test=3, n_val=2, n_train=4)
    prepare_dataset("v", spec_, seed=11, out_dir=tmp_path / "out")
    order = np.random.default_rng(11).permutation(5)  # the documented rule, written out
    expected = {"test": [order[0]], "val": [order[1]], "train": [order[2], order[3]]}
    for split, files in expected.items():
        _, attrs = read_split(tmp_path / "out" / f"{split}.h5")
        taken = np.asarray(attrs["slice_index"])
        assert set(taken // 3) == {int(f) for f in files}
        np.testing.assert_array_equal(
            taken, np.concatenate([np.arange(3 * f, 3 * f + 3) for f in files])[: len(taken)]
        )
    again = split_slices([3] * 5, {"test": 3, "val": 2, "train": 4}, 11)
    assert {k: v.tolist() for k, v in again.items()} == {
        s: read_split(tmp_path / "out" / f"{s}.h5")[1]["slice_index"].tolist()
        for s in ("test", "val", "train")
    }


def _write(tmp_path: Path, name: str, array) -> None:
    if isinstance(array, bytes):
        (tmp_path / name).write_bytes(array)
    else:
        np.save(tmp_path / name, array)


BAD = {
    "empty folder": (None, {}, r"no slice files"),
    "NaN": (np.full((H, W), np.nan), {}, r"bad\.npy: contains NaN or Inf"),
    "too small": (
        np.ones((8, 8)),
        {},
        r"bad\.npy: slices are 8×8, smaller than the data "
        r"set's size 16",
    ),
    "all-zero slice": (
        np.stack([np.ones((H, W)), np.zeros((H, W))]),
        {},
        r"bad\.npy: slice\(s\) \[1\] are all zero",
    ),
    "4-D": (np.ones((2, 2, H, W)), {}, r"bad\.npy: expected a slice \(H, W\) or a stack"),
    "junk": (b"not numpy at all", {}, r"bad\.npy: cannot read"),
    "too few files": (
        np.ones((3, H, W)),
        {"n_test": 2},
        r"1 files hold 3 slices; .*set split_by: slice",
    ),
    "too few slices": (
        np.ones((3, H, W)),
        {"split_by": "slice", "n_train": 2},
        r"3 slices, 4 requested",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_folders_fail_with_one_line_naming_file_and_fault(tmp_path, case):
    array, extra, message = BAD[case]
    directory = tmp_path / "in"
    directory.mkdir()
    if array is not None:
        _write(directory, "bad.npy", array)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=message) as err:
        prepare_dataset("x", spec(directory, **extra), seed=0, out_dir=out)
    assert "\n" not in str(err.value)
    assert not out.exists() or not list(out.iterdir())


def test_npz_with_several_arrays_needs_the_key(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.ones((H, W)), b=np.ones((H, W)))
    with pytest.raises(ValueError, match=r"two\.npz: holds \['a', 'b'\]"):
        prepare_dataset("x", spec(tmp_path), seed=0, out_dir=tmp_path / "o")
    with pytest.raises(ValueError, match=r"two\.npz: no variable 'c'"):
        prepare_dataset("x", spec(tmp_path, key="c"), seed=0, out_dir=tmp_path / "o")


def test_schema_accepts_a_folder_entry_and_rejects_faults():
    import yaml

    schema = load_schema(ROOT / "config" / "schema.yaml")
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    name = next(iter(config["datasets"]))
    config["datasets"][name] = spec(
        Path("data/mine"),
        size=config["datasets"][name]["size"],
        key="Img",
        content="kspace",
        slice_axis="last",
        split_by="file",
    )
    validate_config(config, schema)
    del config["datasets"][name]["dir"]
    with pytest.raises(ConfigError, match=rf"datasets\.{name}: source folder needs 'dir'"):
        validate_config(config, schema)
    config["datasets"][name].update(dir="d", content="sinogram")
    with pytest.raises(ConfigError, match=rf"datasets\.{name}\.content: 'sinogram' is not one"):
        validate_config(config, schema)


def test_a_checksummed_folder_is_tracked_by_its_list_and_downloaded_from_its_url(tmp_path):
    """A folder with `url` and `checksums` (IFR-Net-Code's knee test images for Fig. 11): the
    workflow tracks the listed files, which the download rule fetches, before they exist."""
    from ifrnet.bench.data.sources import downloads

    listed = tmp_path / "knee.sha256"
    listed.write_text("0" * 64 + "  knee01.mat\n" + "1" * 64 + "  knee02.mat\n")
    entry = spec(tmp_path / "absent", checksums=str(listed), url="https://example.org/Test_data")
    assert source_files(entry) == [f"{tmp_path}/absent/knee01.mat", f"{tmp_path}/absent/knee02.mat"]
    assert downloads({"knee": entry})[f"{tmp_path}/absent/knee02.mat"] == (
        "https://example.org/Test_data/knee02.mat",
        "1" * 64,
    )

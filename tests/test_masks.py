"""Sampling masks: exact counts, rates, seeding, centring, files and errors."""

import h5py
import numpy as np
import pytest
import scipy.io

from ifrnet.numerics.masks import (
    Mask,
    _radial_lines,
    fastmri,
    load_mask,
    make_mask,
    radial,
    random1d,
    random2d,
    save_mask,
    save_preview_png,
)


@pytest.mark.parametrize("shape", [(256, 256), (64, 48), (33, 57)])
@pytest.mark.parametrize("rate", [0.1, 0.25, 0.4])
def test_random_masks_hit_the_count_exactly(shape, rate):
    m2 = random2d(shape, rate, seed=1)
    assert m2.sum() == round(rate * shape[0] * shape[1])
    m1 = random1d(shape, rate, seed=1)
    assert m1.any(axis=0).sum() == round(rate * shape[1])
    assert np.all(m1.all(axis=0) == m1.any(axis=0))  # whole columns only
    assert m2[shape[0] // 2, shape[1] // 2] and m1[:, shape[1] // 2].all()


@pytest.mark.parametrize("rate", [0.10, 0.20, 0.25, 0.30, 0.40])
def test_radial_rate_within_one_point_and_monotone(rate):
    mask = radial((256, 256), rate)
    assert rate <= mask.mean() < rate + 0.01
    assert mask[128, 128]
    n_lines = next(n for n in range(1, 400) if _radial_lines((256, 256), n, 0.0).mean() >= rate)
    assert np.array_equal(mask, _radial_lines((256, 256), n_lines, 0.0))  # fewest lines
    # a rasterised line through the centre is point-symmetric about the DC sample
    interior = mask[1:, 1:]
    assert (interior == interior[::-1, ::-1]).mean() > 0.97


def test_seeds():
    assert np.array_equal(random2d((64, 64), 0.25, seed=3), random2d((64, 64), 0.25, seed=3))
    assert not np.array_equal(random2d((64, 64), 0.25, seed=3), random2d((64, 64), 0.25, seed=4))
    assert np.array_equal(radial((64, 64), 0.3, seed=0), radial((64, 64), 0.3))
    assert not np.array_equal(random1d((64, 64), 0.25, seed=1), random1d((64, 64), 0.25, seed=2))


@pytest.mark.parametrize(("acc", "cf"), [(4, 0.08), (8, 0.04)])
def test_fastmri_semantics(acc, cf):
    w = 320
    n_low = round(w * cf)
    rates = []
    for seed in range(40):
        m = fastmri((320, w), acc, seed=seed)
        assert np.all(m.all(axis=0) == m.any(axis=0))
        pad = (w - n_low + 1) // 2
        assert m[:, pad : pad + n_low].all()
        rates.append(m.mean())
    assert abs(np.mean(rates) - 1 / acc) < 0.01


def test_make_mask_and_errors():
    mask = make_mask("radial", (32, 32), rate=0.3)
    assert isinstance(mask, Mask) and mask.rate_achieved >= 0.3 and mask.kind == "radial"
    with pytest.raises(ValueError, match="rate"):
        make_mask("radial", (32, 32), rate=1.5)
    with pytest.raises(ValueError, match="rate"):
        random2d((32, 32), 0.0)
    with pytest.raises(ValueError, match="shape"):
        make_mask("radial", (-4, 32), rate=0.3)
    with pytest.raises(ValueError, match="unknown mask kind"):
        make_mask("spiral", (32, 32), rate=0.3)
    with pytest.raises(ValueError, match="samples no"):
        random1d((32, 32), 0.001)
    with pytest.raises(ValueError, match="center_fraction"):
        fastmri((32, 32), 5)


def test_files_round_trip_and_validation(tmp_path):
    mask = make_mask("random2d", (32, 24), rate=0.25, seed=5)
    save_mask(mask, tmp_path / "m.npz")
    back = load_mask(tmp_path / "m.npz", expected_shape=(32, 24))
    assert np.array_equal(back.array, mask.array) and back.kind == "random2d"
    assert back.rate_asked == 0.25 and back.seed == 5
    np.save(tmp_path / "u.npy", mask.array.astype(np.uint8))
    assert np.array_equal(load_mask(tmp_path / "u.npy").array, mask.array)
    scipy.io.savemat(tmp_path / "u.mat", {"mask": mask.array.astype(float)})
    assert np.array_equal(load_mask(tmp_path / "u.mat").array, mask.array)
    with h5py.File(tmp_path / "v73.mat", "w") as f:  # MATLAB v7.3: HDF5, transposed
        f.create_dataset("mask", data=mask.array.T.astype(float))
    assert np.array_equal(load_mask(tmp_path / "v73.mat").array, mask.array)
    with pytest.raises(ValueError, match="does not match"):
        load_mask(tmp_path / "m.npz", expected_shape=(32, 32))
    np.save(tmp_path / "zero.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="samples nothing"):
        load_mask(tmp_path / "zero.npy")
    np.save(tmp_path / "vals.npy", np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="0/1"):
        load_mask(tmp_path / "vals.npy")
    np.save(tmp_path / "rank.npy", np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="2-D"):
        load_mask(tmp_path / "rank.npy")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.npz"):
        load_mask(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_mask(tmp_path / "nope.npz")
    save_preview_png(mask, tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# The lab's pseudo-radial convention and what a mask samples

# Measured from IFR-Net-Code `mask/mask_radial30.mat` (320×320, uint8, SHA-256 92c30cc6…): the
# sampled fraction, the fraction of samples whose point reflection through DC is sampled too,
# the fraction of k-space the mask ∪ its reflection covers, and the fraction of samples outside
# the disc of radius N/2. The file itself is not redistributed.
LAB_RADIAL30 = {"sampled": 0.2930, "mirrored": 0.4117, "coverage": 0.4654, "outside": 0.0026}


def _outside_disc(mask: np.ndarray) -> float:
    n = mask.shape[0]
    yy, xx = np.mgrid[:n, :n] - n // 2
    return float((mask & (np.hypot(yy, xx) > n / 2)).sum() / mask.sum())


def test_labradial_matches_the_labs_mask_radial30():
    mask = make_mask("labradial", (320, 320), rate=LAB_RADIAL30["sampled"])
    stats = mask.statistics
    assert stats.sampled == pytest.approx(LAB_RADIAL30["sampled"], abs=0.002)
    assert stats.mirrored == pytest.approx(LAB_RADIAL30["mirrored"], abs=0.01)
    assert stats.coverage == pytest.approx(LAB_RADIAL30["coverage"], abs=0.005)
    assert _outside_disc(mask.array) == pytest.approx(LAB_RADIAL30["outside"], abs=0.002)
    # the symmetric kind at the same rate: every sample mirrored, lines into the corners
    sym = make_mask("radial", (320, 320), rate=LAB_RADIAL30["sampled"])
    assert sym.statistics.mirrored > 0.99 and _outside_disc(sym.array) > 0.08


@pytest.mark.parametrize("rate", [0.10, 0.20, 0.25, 0.30, 0.40])
def test_labradial_is_the_fewest_lines_reaching_the_rate(rate):
    from ifrnet.numerics.masks import _lab_radial_lines

    mask = make_mask("labradial", (256, 256), rate=rate).array
    assert rate <= mask.mean() < rate + 0.01
    n = next(k for k in range(1, 600) if _lab_radial_lines((256, 256), k, 0.0).mean() >= rate)
    assert np.array_equal(mask, _lab_radial_lines((256, 256), n, 0.0))
    # lines through (128.5, 128.5): the centre 2×2 block is sampled, the mask is not symmetric
    # about DC but is about the half-pixel point, up to rounding
    assert mask[128:130, 128:130].all()
    assert mask_statistics_reference(mask)["mirrored"] < 0.6


def mask_statistics_reference(mask: np.ndarray) -> dict[str, float]:
    """Brute force over every sample: is the sample at frequency −f (mod N) there too?"""
    h, w = mask.shape
    mirrored = covered = 0
    for r in range(h):
        for c in range(w):
            fr, fc = r - h // 2, c - w // 2  # centred frequencies
            rr, cc = (-fr) % h, (-fc) % w  # −f on the uncentred grid
            rr, cc = (rr + h // 2) % h, (cc + w // 2) % w  # back to centred indices
            mirrored += bool(mask[r, c] and mask[rr, cc])
            covered += bool(mask[r, c] or mask[rr, cc])
    return {
        "sampled": mask.mean(),
        "mirrored": mirrored / mask.sum(),
        "coverage": covered / mask.size,
    }


@pytest.mark.parametrize("shape", [(16, 16), (15, 12)])
def test_mask_statistics_against_brute_force(shape):
    from ifrnet.numerics.masks import mask_statistics

    mask = np.random.default_rng(3).random(shape) < 0.3
    ours = mask_statistics(mask)
    ref = mask_statistics_reference(mask)
    assert ours.sampled == pytest.approx(ref["sampled"])
    assert ours.mirrored == pytest.approx(ref["mirrored"])
    assert ours.coverage == pytest.approx(ref["coverage"])


@pytest.mark.parametrize("shape", [(16, 16), (15, 12)])
def test_point_reflection_is_the_hermitian_partner_of_a_real_image(shape):
    """k(−f) = conj(k(f)) for a real image: the reflection pairs exactly those samples."""
    from ifrnet.numerics.fourier import fft2c
    from ifrnet.numerics.masks import point_reflection

    k = fft2c(np.random.default_rng(1).random(shape).astype(np.complex128))
    rows, cols = np.indices(shape)
    partner_rows, partner_cols = point_reflection(rows), point_reflection(cols)
    np.testing.assert_allclose(k[partner_rows, partner_cols], np.conj(k), atol=1e-12)


def test_statistics_are_printed_by_the_mask_command(tmp_path, capsys):
    from ifrnet.bench.cli import main

    main(
        [
            "mask",
            "--spec",
            '{"kind": "labradial", "rate": 0.2}',
            "--shape",
            "64x64",
            "--out",
            str(tmp_path / "m.npz"),
        ]
    )
    out = capsys.readouterr().out
    assert "% sampled (real data:" in out and "% of samples mirrored" in out


def test_file_masks_load_with_shape_check(tmp_path):
    array = radial((32, 32), 0.3)
    with h5py.File(tmp_path / "v73.mat", "w") as f:  # MATLAB v7.3 stores the transpose
        f.create_dataset("mask", data=array.T.astype(np.float64))
    scipy.io.savemat(tmp_path / "v5.mat", {"m": array.astype(np.uint8)})
    for name, key in (("v73.mat", None), ("v5.mat", "m")):
        spec = {"path": str(tmp_path / name)} | ({"key": key} if key else {})
        mask = make_mask("file", (32, 32), **spec)
        assert mask.kind == "file" and np.array_equal(mask.array, array)
    with pytest.raises(ValueError, match="does not match the data's"):
        make_mask("file", (64, 64), path=str(tmp_path / "v5.mat"), key="m")
    with pytest.raises(ValueError, match="needs path"):
        make_mask("file", (32, 32))

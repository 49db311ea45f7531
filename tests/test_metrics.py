"""Metrics against independent computations (skimage, scipy.ndimage) and closed forms."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from ifrnet.numerics.metrics import (
    evaluate,
    hfen,
    log_kernel,
    nmse,
    normalise_pair,
    psnr,
    relative_error,
    ssim,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    gt = ndimage.gaussian_filter(rng.random((48, 40)), 2)
    gt = (gt - gt.min()) / (gt.max() - gt.min())
    rec = np.clip(gt + 0.05 * rng.standard_normal(gt.shape), 0, 1)
    return rec, gt


def test_psnr_closed_forms(pair):
    _, gt = pair
    assert psnr(gt, gt) == float("inf")
    for c in (0.1, 0.01):
        assert np.isclose(psnr(gt + c, gt), 10 * np.log10(1 / c**2))


def test_ssim_identical_and_versus_skimage(pair):
    rec, gt = pair
    assert abs(ssim(gt, gt) - 1.0) < 1e-12
    # skimage with the same window and constants; it averages over the map cropped by
    # (win_size - 1) // 2 = 5 pixels, which is exactly our 'valid' region for an 11×11 window.
    reference = structural_similarity(
        255 * rec,
        255 * gt,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        K1=0.01,
        K2=0.03,
        win_size=11,
    )
    assert abs(ssim(rec, gt) - reference) < 1e-3
    assert ssim(rec, gt) < ssim((rec + gt) / 2, gt) < 1


def test_ssim_of_a_constant_shift_is_the_luminance_term():
    gt = np.full((20, 20), 0.5)
    rec = gt + 0.1
    a, b, c1 = 255 * 0.6, 255 * 0.5, (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # contrast-structure term is 1
    assert np.isclose(ssim(rec, gt), expected)


def test_log_kernel_matches_the_formula_independently():
    k = log_kernel(15, 1.5)
    assert k.shape == (15, 15) and abs(k.sum()) < 1e-12
    np.testing.assert_allclose(k, k.T)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    y, x = np.mgrid[-7:8, -7:8].astype(float)
    g = np.exp(-(x * x + y * y) / 4.5)
    g /= g.sum()
    h = g * (x * x + y * y - 4.5) / 1.5**4
    np.testing.assert_allclose(k, h - h.mean(), atol=1e-15)


def test_hfen_against_scipy(pair):
    rec, gt = pair
    assert hfen(gt, gt) == 0.0
    k = log_kernel()
    expected = np.linalg.norm(
        ndimage.correlate(rec, k, mode="constant") - ndimage.correlate(gt, k, mode="constant")
    )
    assert np.isclose(hfen(rec, gt), expected)
    assert np.isclose(hfen(gt + 2 * (rec - gt), gt), 2 * hfen(rec, gt))


def test_nmse_and_relative_error(pair):
    rec, gt = pair
    assert np.isclose(nmse(rec, gt), np.sum((rec - gt) ** 2) / np.sum(gt**2))
    assert np.isclose(relative_error(rec, gt) ** 2, nmse(rec, gt))


def test_normalise_pair_and_evaluate_on_complex(pair):
    rec, gt = pair
    phase = np.exp(1j * 0.7)
    rec_n, gt_n = normalise_pair(3 * rec * phase, 3 * gt * phase)
    assert np.isclose(gt_n.min(), 0) and np.isclose(gt_n.max(), 1)
    scores = evaluate(3 * rec * phase, 3 * gt * phase)
    assert set(scores) == {"psnr", "ssim", "hfen", "nmse"}
    assert np.isclose(scores["psnr"], psnr(rec_n, gt_n))


@pytest.mark.parametrize(
    ("rec", "gt", "message"),
    [
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), "2-D"),
        (np.zeros((8, 8)), np.zeros((8, 9)), "does not match"),
    ],
)
def test_bad_inputs(rec, gt, message):
    with pytest.raises(ValueError, match=message):
        psnr(rec, gt)


def test_constant_gt_cannot_be_normalised():
    with pytest.raises(ValueError, match="constant"):
        normalise_pair(np.ones((8, 8)), np.ones((8, 8)))

"""PANO and FDLCP: their patch frames, the shared ADMM solver, and reconstruction quality."""

import numpy as np
import pytest
import sigpy as sp

from baselines.fdlcp import (
    FDLCP,
    classify_patches,
    dct_dictionary,
    fdlcp_frame,
    learn_orthogonal_dictionary,
)
from baselines.pano import PANO, block_match, haar_matrix, pano_frame
from baselines.patches import patch_indices, reference_corners, soft_threshold
from ifrnet.bench.data import embedded
from ifrnet.bench.data.phase import smooth_phase
from ifrnet.methods.iterative import run
from ifrnet.numerics.fourier import ifft2c
from ifrnet.numerics.masks import random2d
from ifrnet.numerics.measure import measure
from ifrnet.numerics.metrics import evaluate

RNG = np.random.default_rng(0)


def complex_noise(shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


@pytest.fixture(scope="module")
def knee_like():
    """Two 128×128 complex slices (embedded magnitude × smooth phase), 25 % random2d, noisy."""
    images, _ = embedded.embedded_images(128, {"train": 0, "val": 0, "test": 2}, seed=0)
    x = (images["test"] * np.exp(1j * smooth_phase((128, 128), 0))).astype(np.complex64)
    mask = random2d((128, 128), 0.25)
    return x, mask, measure(x, mask, 0.02, seed=0, split="test")


def frames():
    guide = complex_noise((32, 40))
    return [pano_frame(guide, window=4), fdlcp_frame(guide, keep=4)]


@pytest.mark.parametrize("frame", frames(), ids=["pano", "fdlcp"])
def test_frame_adjoint_passes_dot_product_test(frame):
    x = complex_noise(frame.ishape)
    z = complex_noise(frame.oshape)
    lhs = np.vdot(frame(x).astype(np.complex128), z)
    rhs = np.vdot(x.astype(np.complex128), frame.H(z))
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


@pytest.mark.parametrize("frame", frames(), ids=["pano", "fdlcp"])
def test_frame_is_parseval(frame):
    x = complex_noise(frame.ishape)
    np.testing.assert_allclose(frame.H(frame(x)), x, rtol=1e-5, atol=1e-5)


def test_haar_and_dct_transforms_are_orthonormal():
    for n in (1, 2, 8, 16):
        np.testing.assert_allclose(haar_matrix(n) @ haar_matrix(n).T, np.eye(n), atol=1e-12)
    h = haar_matrix(4)
    np.testing.assert_allclose(h[0], np.full(4, 0.5))  # row 0: the scaled mean
    np.testing.assert_allclose(h[3], [0, 0, 1 / np.sqrt(2), -1 / np.sqrt(2)])
    with pytest.raises(ValueError, match="power-of-two"):
        haar_matrix(6)
    d = dct_dictionary(8)
    np.testing.assert_allclose(d.T @ d, np.eye(64), atol=1e-12)
    np.testing.assert_allclose(d[:, 0], np.full(64, 1 / 8))  # the DC atom


def test_block_match_agrees_with_brute_force():
    guide = RNG.random((20, 24))
    size, stride, window, group = 4, 4, 3, 5
    corners = block_match(guide, size, stride, window, group)
    tiled = np.tile(guide, (2, 2))
    for g, (r, c) in enumerate(reference_corners(guide.shape, stride)):
        ref = tiled[r : r + size, c : c + size]
        dists = sorted(
            float(
                (
                    (
                        tiled[
                            (r + dy) % 20 : (r + dy) % 20 + size,
                            (c + dx) % 24 : (c + dx) % 24 + size,
                        ]
                        - ref
                    )
                    ** 2
                ).sum()
            )
            for dy in range(-window, window + 1)
            for dx in range(-window, window + 1)
        )
        found = [
            float(((tiled[y : y + size, x : x + size] - ref) ** 2).sum()) for y, x in corners[g]
        ]
        assert tuple(corners[g, 0]) == (r, c)
        np.testing.assert_allclose(found, dists[:group], atol=1e-9)


def test_patch_indices_wrap_around():
    index = patch_indices(np.array([[3, 4]]), (4, 5), 2)
    np.testing.assert_array_equal(index, [[3 * 5 + 4, 3 * 5 + 0, 0 * 5 + 4, 0]])


def test_soft_threshold_matches_sigpy():
    v = complex_noise((50,))
    v[0] = 0
    np.testing.assert_allclose(soft_threshold(v, 0.7), sp.thresh.soft_thresh(0.7, v), atol=1e-6)


def test_patches_are_classified_by_direction():
    y, x = np.mgrid[0:16, 0:16].astype(float)
    stripes_along_x = np.sin(y)  # varies with y: gradient vertical
    stripes_along_y = np.sin(x)
    guide = np.zeros((16, 48))
    guide[:, :16], guide[:, 16:32] = stripes_along_x, stripes_along_y
    index = patch_indices(np.array([[4, 4], [4, 20], [4, 36]]), guide.shape, 8)
    classes = classify_patches(guide, index, directions=4, smooth_level=0.1)
    assert classes[2] == 0  # flat
    assert classes[0] != classes[1] and 0 not in classes[:2]


def test_learned_dictionary_is_orthogonal_and_sparsifies_better_than_dct():
    atoms = np.linalg.qr(RNG.standard_normal((16, 16)))[0]
    codes = RNG.standard_normal((400, 16)) * (RNG.random((400, 16)) < 0.15)
    samples = codes @ atoms.T
    init = dct_dictionary(4)

    def error(d):
        c = samples @ d
        cutoff = -np.partition(-np.abs(c), 2, axis=1)[:, 2:3]
        c[np.abs(c) < cutoff] = 0
        return np.linalg.norm(samples - c @ d.T)

    learned = learn_orthogonal_dictionary(samples, init, keep=3, iterations=20)
    np.testing.assert_allclose(learned.T @ learned, np.eye(16), atol=1e-10)
    assert error(learned) < 0.5 * error(init)


@pytest.mark.parametrize("method", [PANO, FDLCP])
def test_admm_objective_decreases(knee_like, method):
    _, mask, y = knee_like
    solver = method(lam=0.005, rho=0.5, inner=20)
    history: list[float] = []
    run(
        solver.algorithm(y[0], mask), 20, "ADMM", on_step=lambda _, a: history.append(a.objective())
    )
    h = np.array(history)
    assert np.all(np.diff(h) <= 1e-5 * h[1:])
    assert h[-1] < 0.9 * h[0]


@pytest.mark.parametrize("method", [PANO, FDLCP])
def test_beats_zero_filled_at_25_percent_random2d(knee_like, method):
    x, mask, y = knee_like
    recon = method(lam=0.003, rho=0.5)(y, mask)

    def psnr(images):
        return np.mean([evaluate(r, t)["psnr"] for r, t in zip(images, x, strict=True)])

    assert psnr(recon) > psnr(ifft2c(y)) + 5.0


def test_real_mode_returns_real_images(knee_like):
    _, mask, y = knee_like
    recon = FDLCP(real=True, outer=1, inner=3)(y[:1], mask)
    assert recon.dtype == np.complex64 and np.all(recon.imag == 0)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="rho"):
        PANO(rho=0)
    with pytest.raises(ValueError, match="power-of-two"):
        PANO(group=6)
    with pytest.raises(ValueError, match="stride"):
        FDLCP(stride=9)
    with pytest.raises(ValueError, match="uncovered"):
        pano_frame(complex_noise((16, 16)), size=4, stride=8, window=2, group=2)

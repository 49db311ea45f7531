"""fft2c/ifft2c against an explicit float64 DFT matrix (the forward model built on them:
tests/test_forward_model.py)."""

import numpy as np
import pytest
import torch

from ifrnet.numerics.fourier import fft2c, ifft2c


def dft_centred(n: int) -> np.ndarray:
    """Orthonormal DFT matrix with indices centred at n // 2 (independent of np.fft)."""
    idx = np.arange(n) - n // 2
    return np.exp(-2j * np.pi * np.outer(idx, idx) / n) / np.sqrt(n)


@pytest.mark.parametrize("shape", [(6, 8), (7, 5)])
def test_fft2c_matches_centred_dft_matrix(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    expected = dft_centred(shape[0]) @ x @ dft_centred(shape[1]).T
    np.testing.assert_allclose(fft2c(x), expected, atol=1e-12)
    np.testing.assert_allclose(ifft2c(expected), x, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 8, 6), (2, 4, 6), (2, 6, 10), (2, 7, 6), (1, 5, 5)])
def test_torch_and_numpy_agree_and_batch_dims(shape):
    # even sizes take the checkerboard path (with both signs of (−1)^(H/2 + W/2)), odd ones roll
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    k_t = fft2c(torch.from_numpy(x))
    assert isinstance(k_t, torch.Tensor)
    np.testing.assert_allclose(k_t.numpy(), fft2c(x), atol=1e-5)
    np.testing.assert_allclose(ifft2c(k_t).numpy(), x, atol=1e-5)


def test_dc_is_at_centre_and_norm_preserved():
    x = np.ones((8, 8))
    k = fft2c(x)
    assert abs(k[4, 4] - 8.0) < 1e-12  # sum / sqrt(N) = 64 / 8
    assert np.abs(np.delete(k.ravel(), 4 * 8 + 4)).max() < 1e-12
    rng = np.random.default_rng(2)
    y = rng.standard_normal((5, 9))
    assert np.isclose(np.linalg.norm(fft2c(y)), np.linalg.norm(y))

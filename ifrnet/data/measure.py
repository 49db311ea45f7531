"""The measurement model every method sees: ``y = M ⊙ (fft2c(x) + n)``.

``n`` is complex white Gaussian noise with standard deviation ``noise_sigma`` per k-space
sample (``noise_sigma/√2`` in each of the real and imaginary parts). With the orthonormal FFT the
same σ is the per-pixel noise level of a fully sampled image, in units of the image scale
(real images in [0, 1], complex ones with max|x| = 1). The noise of image ``i`` of a split is
drawn from a generator seeded by ``(seed, split, i)`` over the full grid and then masked, so it
is identical for every method and every mask: comparisons between methods and between
sampling rates see the same noise realisation.
"""

from __future__ import annotations

import zlib

import numpy as np

from ifrnet.fourier import fft2c


def noise_field(shape: tuple[int, int], sigma: float, seed: int, split: str,
                index: int) -> np.ndarray:
    """Complex64 (H, W) noise with per-sample std ``sigma``, reproducible from its keys."""
    if sigma < 0:
        raise ValueError(f"noise_sigma must be ≥ 0, got {sigma}")
    rng = np.random.default_rng([seed, zlib.crc32(split.encode()), index])
    noise = rng.standard_normal((2, *shape))
    return (sigma / np.sqrt(2.0) * (noise[0] + 1j * noise[1])).astype(np.complex64)


def measure(
    images: np.ndarray, mask: np.ndarray, noise_sigma: float, seed: int, split: str
) -> np.ndarray:
    """Undersampled noisy k-space, complex64 (N, H, W), from images (N, H, W) and mask (H, W)."""
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {images.shape}")
    if mask.shape != images.shape[1:]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {images.shape[1:]}")
    kspace = fft2c(images.astype(np.complex64)).astype(np.complex64)
    if noise_sigma > 0:
        for i in range(len(kspace)):
            kspace[i] += noise_field(mask.shape, noise_sigma, seed, split, i)
    return kspace * mask.astype(np.float32)

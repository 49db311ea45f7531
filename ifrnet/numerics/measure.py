"""The measurements every method sees: ``y = M ⊙ (fft2c(x) + n)`` (the forward model's
:meth:`~ifrnet.numerics.forward_model.ForwardModel.A`) for a prepared split.

``n`` is complex white Gaussian noise with standard deviation ``noise_sigma`` per k-space
sample (``noise_sigma/√2`` in each of the real and imaginary parts). With the orthonormal FFT the
same σ is the per-pixel noise level of a fully sampled image, in units of the image scale
(real images in [0, 1], complex ones with max|x| = 1). The noise of image ``i`` of a split is
drawn from a generator seeded by ``(seed, split, i)`` over the full grid and then masked, so it
is identical for every method and every mask: comparisons between methods and between
sampling rates see the same noise realisation.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ifrnet.numerics.forward_model import ForwardModel


def noise_field(
    shape: tuple[int, int], sigma: float, seed: int, split: str, index: int
) -> np.ndarray:
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
    noise = None
    if noise_sigma > 0:
        noise = np.stack(
            [noise_field(mask.shape, noise_sigma, seed, split, i) for i in range(len(images))]
        )
    return ForwardModel(mask).A(images.astype(np.complex64), noise).astype(np.complex64, copy=False)


@dataclass(frozen=True)
class MeasuredSplit:
    """A prepared split measured with a mask: ``images`` (the ground truth) complex64 (N, H, W),
    the split file's ``attrs``, the ``mask`` (:class:`ifrnet.numerics.masks.Mask`) and ``kspace``
    complex64 (N, H, W) with the split's noise and seed."""

    images: np.ndarray
    attrs: dict[str, Any]
    mask: Any
    kspace: np.ndarray

    @property
    def real(self) -> bool:
        """Whether the data set is real-valued (methods keep the real part)."""
        return self.attrs["kind"] == "real"


def measured_split(
    data_path: str | os.PathLike[str], mask_path: str | os.PathLike[str], limit: int | None = None
) -> MeasuredSplit:
    """Read a prepared split (its first ``limit`` images if given), load the mask (checked
    against the images' shape) and measure every image as the workflow does: the one place
    that turns a split and a mask file into what methods see."""
    from ifrnet.numerics.masks import load_mask
    from ifrnet.util.formats import read_split

    images, attrs = read_split(data_path)
    images = images[:limit] if limit else images
    mask = load_mask(mask_path, expected_shape=images.shape[1:])
    kspace = measure(
        images, mask.array, float(attrs["noise_sigma"]), int(attrs["seed"]), str(attrs["split"])
    )
    return MeasuredSplit(images, attrs, mask, kspace)

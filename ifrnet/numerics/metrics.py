"""Image-quality metrics with the IFR-Net authors' conventions (IFR_Net_test.m), docs/methods.md §3.

All metric functions take real float arrays ``rec`` and ``gt`` of shape (H, W) on the scale
where the ground truth spans [0, 1]; :func:`evaluate` first brings any pair there with
:func:`normalise_pair` (magnitudes; ground truth min-max normalised; the same affine map applied
to the reconstruction).

- PSNR = 10·log10(1 / MSE), peak 1 (``inf`` for identical images).
- SSIM: Wang et al. 2004 with an 11×11 Gaussian window (σ = 1.5, normalised to sum 1),
  K1 = 0.01, K2 = 0.03, on images ×255 with L = 255, averaged over the 'valid' region only.
- HFEN = ‖LoG(rec) − LoG(gt)‖_F with the 15×15, σ = 1.5 Laplacian of Gaussian of MATLAB's
  ``fspecial('log', 15, 1.5)`` (zero-sum kernel), zero-padded 'same' correlation; not normalised.
- NMSE = ‖rec − gt‖² / ‖gt‖² (squared, fastMRI's convention); ``relative_error`` is the
  unsquared ‖rec − gt‖ / ‖gt‖ that the authors' code prints as "NMSE".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _check_pair(rec: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rec, gt = np.asarray(rec), np.asarray(gt)
    if gt.ndim != 2:
        raise ValueError(f"gt must be a 2-D image (H, W), got shape {gt.shape}")
    if rec.shape != gt.shape:
        raise ValueError(f"rec shape {rec.shape} does not match gt shape {gt.shape}")
    if np.iscomplexobj(rec) or np.iscomplexobj(gt):
        raise ValueError("metrics take real images; use normalise_pair for complex ones")
    return rec.astype(np.float64), gt.astype(np.float64)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Separable Gaussian window as a 1-D float64 vector of length ``size`` summing to 1."""
    x = np.arange(size) - (size - 1) / 2
    w = np.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def log_kernel(size: int = 15, sigma: float = 1.5) -> np.ndarray:
    """MATLAB ``fspecial('log', size, sigma)``: (size, size) float64, sums to zero.

    h_g = exp(−(x² + y²) / (2σ²)); h = h_g·(x² + y² − 2σ²) / (σ⁴·Σh_g); h ← h − mean(h).
    """
    x = np.arange(size) - (size - 1) / 2
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    hg = np.exp(-r2 / (2 * sigma**2))
    h = hg * (r2 - 2 * sigma**2) / (sigma**4 * hg.sum())
    return h - h.mean()


def psnr(rec: np.ndarray, gt: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB with peak 1: 10·log10(1 / MSE); inf if identical."""
    rec, gt = _check_pair(rec, gt)
    mse = float(np.mean((rec - gt) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D image with the outer product of ``window``."""
    from scipy import ndimage  # not at import: the workflow reads METRICS to plan

    n = len(window)
    rows = ndimage.correlate1d(image, window, axis=0, mode="constant")
    both = ndimage.correlate1d(rows, window, axis=1, mode="constant")
    lo, hi = n // 2, n - 1 - n // 2
    return both[lo : image.shape[0] - hi, lo : image.shape[1] - hi]


def ssim(rec: np.ndarray, gt: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) with the authors' settings; 1 if identical."""
    rec, gt = _check_pair(rec, gt)
    window = gaussian_window()
    if min(gt.shape) < len(window):
        raise ValueError(f"images must be at least {len(window)}×{len(window)}, got {gt.shape}")
    a, b = 255.0 * rec, 255.0 * gt
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter_valid(a, window), _filter_valid(b, window)
    var_a = _filter_valid(a * a, window) - mu_a**2
    var_b = _filter_valid(b * b, window) - mu_b**2
    cov = _filter_valid(a * b, window) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def hfen(rec: np.ndarray, gt: np.ndarray) -> float:
    """High-frequency error norm: Frobenius norm of the difference of LoG-filtered images."""
    from scipy import ndimage

    rec, gt = _check_pair(rec, gt)
    kernel = log_kernel()
    diff = ndimage.correlate(rec - gt, kernel, mode="constant")  # LoG is linear
    return float(np.linalg.norm(diff))


def nmse(rec: np.ndarray, gt: np.ndarray) -> float:
    """Normalised mean squared error ‖rec − gt‖² / ‖gt‖²."""
    rec, gt = _check_pair(rec, gt)
    return float(np.sum((rec - gt) ** 2) / np.sum(gt**2))


def relative_error(rec: np.ndarray, gt: np.ndarray) -> float:
    """Relative L2 error ‖rec − gt‖ / ‖gt‖ (the authors' printed "NMSE")."""
    rec, gt = _check_pair(rec, gt)
    return float(np.linalg.norm(rec - gt) / np.linalg.norm(gt))


def normalise_pair(rec: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes, with gt min-max normalised to [0, 1] and rec mapped by the same affine map."""
    rec_m, gt_m = np.abs(np.asarray(rec)), np.abs(np.asarray(gt))
    if rec_m.shape != gt_m.shape:
        raise ValueError(f"rec shape {rec_m.shape} does not match gt shape {gt_m.shape}")
    lo, hi = float(gt_m.min()), float(gt_m.max())
    if hi <= lo:
        raise ValueError("gt is constant: min-max normalisation is undefined")
    return (rec_m - lo) / (hi - lo), (gt_m - lo) / (hi - lo)


@dataclass(frozen=True)
class Metric:
    """One column of the per-image metrics files, and everything a reader sees of it.

    ``key``: the column (and the field of a published row, ``config/published.yaml``);
    ``name``: its short name (``PSNR``); ``header``: a table's column header (``PSNR (dB)``);
    ``digits``: decimals in tables; ``difference_digits``: decimals of a difference between two
    methods (the claims: a few hundredths of a dB matter there); ``higher_is_better``: the
    direction of a better value (None for a measurement that is not a quality: seconds);
    ``function``: computed on a normalised pair (:func:`normalise_pair`), None when measured
    elsewhere (seconds per image, around the method's call); ``paper_column``: its place among
    the metrics the paper publishes (PSNR, HFEN, SSIM: its tables' order), None if the paper
    does not publish it.
    """

    key: str
    name: str
    header: str
    digits: int
    difference_digits: int
    higher_is_better: bool | None
    function: Callable[[np.ndarray, np.ndarray], float] | None = None
    paper_column: int | None = None


#: Every metric, in the column order of the per-image metrics files.
METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric("psnr", "PSNR", "PSNR (dB)", 2, 3, True, psnr, paper_column=0),
        Metric("ssim", "SSIM", "SSIM", 4, 4, True, ssim, paper_column=2),
        Metric("hfen", "HFEN", "HFEN", 4, 4, False, hfen, paper_column=1),
        Metric("nmse", "NMSE", "NMSE", 5, 5, False, nmse),
        Metric("seconds", "s/image", "s/image", 3, 3, None),
    )
}

#: The metrics the paper publishes, in its tables' order: PSNR, HFEN, SSIM.
PAPER_METRICS: tuple[str, ...] = tuple(
    sorted(
        (m.key for m in METRICS.values() if m.paper_column is not None),
        key=lambda key: METRICS[key].paper_column,
    )
)

#: The quality metrics (those with a better direction).
QUALITY_METRICS: tuple[str, ...] = tuple(
    m.key for m in METRICS.values() if m.higher_is_better is not None
)


def evaluate(rec: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM, HFEN and NMSE of a (possibly complex) reconstruction against its reference."""
    rec_n, gt_n = normalise_pair(rec, gt)
    return {m.key: m.function(rec_n, gt_n) for m in METRICS.values() if m.function is not None}

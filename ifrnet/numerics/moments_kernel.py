"""Fused CPU kernel for the local moments of IFR-Net's feature descriptor T (paper App. A).

For images a and b (b = the Gaussian-filtered a) it returns the 5×5 box (zero padding, divided
by 25, as ``imfilter(…, ones(5)/25)``) covariance σ_ab and the variance sum σ_a² + σ_b²; the
composition of library calls (:func:`ifrnet.numerics.layers.separable_filter` on five stacked
images) stays the reference and the path for other devices. No gradient: T's input is detached.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics.plf import numba, sync_threads

if numba is not None:

    @numba.njit(parallel=True, cache=True)
    def _row_sums(a, b, size):  # pragma: no cover - numba
        """Horizontal window sums of a, b, a², b², ab in float64: (planes, 5, H + 2r, W), rows
        offset by r = size // 2 (zero rows above and below for the vertical pass)."""
        planes, h, w = a.shape
        r = size // 2
        sums = np.zeros((planes, 5, h + 2 * r, w), dtype=np.float64)
        for pr in numba.prange(planes * h):
            p, row = pr // h, pr % h
            dst = sums[p, :, row + r]
            for j in range(w):
                s0 = s1 = s2 = s3 = s4 = 0.0
                for k in range(max(0, j - r), min(w, j + r + 1)):
                    xa, yb = np.float64(a[p, row, k]), np.float64(b[p, row, k])
                    s0 += xa
                    s1 += yb
                    s2 += xa * xa
                    s3 += yb * yb
                    s4 += xa * yb
                dst[0, j], dst[1, j], dst[2, j], dst[3, j], dst[4, j] = s0, s1, s2, s3, s4
        return sums

    @numba.njit(cache=True)
    def _window_moments(sums, p, row, j, size):  # pragma: no cover - numba
        """(σ_ab, σ_a² + σ_b²) in float64 of the size×size window at (row, j) of plane p, from
        the horizontal sums of :func:`_row_sums` (vertical pass over ``size`` rows)."""
        n = float(size * size)
        s0 = s1 = s2 = s3 = s4 = 0.0
        for k in range(row, row + size):
            s0 += sums[p, 0, k, j]
            s1 += sums[p, 1, k, j]
            s2 += sums[p, 2, k, j]
            s3 += sums[p, 3, k, j]
            s4 += sums[p, 4, k, j]
        mu_a, mu_b = s0 / n, s1 / n
        return s4 / n - mu_a * mu_b, (s2 / n - mu_a * mu_a) + (s3 / n - mu_b * mu_b)

    @numba.njit(parallel=True, cache=True)
    def _moments(a, b, size, cov, var):  # pragma: no cover - numba
        planes, h, w = a.shape
        sums = _row_sums(a, b, size)
        for pr in numba.prange(planes * h):  # vertical sums, then the moments
            p, row = pr // h, pr % h
            for j in range(w):
                cov[p, row, j], var[p, row, j] = _window_moments(sums, p, row, j, size)

    @numba.njit(parallel=True, cache=True)
    def _refine(a, b, x, u, c, size, with_slope, t, out, slope):  # pragma: no cover - numba
        # the moments as in _moments (float64 sums, rounded to the data's dtype), then T, the
        # blend u + T (x − u) and ∂T/∂|V| · (x − u) in the data's dtype, as the torch ops of
        # ifrnet.numerics.layers._Refine compute them (IEEE arithmetic: no fastmath here)
        planes, h, w = a.shape
        sums = _row_sums(a, b, size)
        one = c - c + 1
        zero = c - c
        tiny = np.finfo(a.dtype).tiny
        for pr in numba.prange(planes * h):
            p, row = pr // h, pr % h
            for j in range(w):
                cov64, var64 = _window_moments(sums, p, row, j, size)
                cov, var = a.dtype.type(cov64), a.dtype.type(var64)
                den = var + c
                denc = max(den, tiny)
                ratio = (cov + cov + c) / denc
                raw = one - abs(ratio)
                tt = min(max(raw, zero), one)
                d = x[p, row, j] - u[p, row, j]
                t[p, row, j] = tt
                out[p, row, j] = u[p, row, j] + tt * d
                if with_slope:
                    sl = zero
                    if raw >= zero and raw <= one and ratio != zero:
                        sl = ((ratio if den >= tiny else zero) - one) / denc
                        sl = sl if ratio > zero else -sl
                    slope[p, row, j] = sl * d


def available(a: torch.Tensor) -> bool:
    """Whether the kernel can run on a: numba present, a float32/64 CPU tensor."""
    return (
        numba is not None and a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64)
    )


def box_moments(a: torch.Tensor, b: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b real (B, 1, H, W) → (σ_ab, σ_a² + σ_b²), each (B, 1, H, W) in a's dtype, over a
    size×size window (odd size) with zero padding; accumulated in float64."""
    sync_threads()
    an = a.detach()[:, 0].contiguous().numpy()
    bn = b.detach()[:, 0].to(a.dtype).contiguous().numpy()
    cov, var = np.empty_like(an), np.empty_like(an)
    _moments(an, bn, size, cov, var)
    return torch.from_numpy(cov).unsqueeze(1), torch.from_numpy(var).unsqueeze(1)


def refine(
    a: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    u: torch.Tensor,
    c: torch.Tensor,
    size: int,
    with_slope: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """IFR-Net's R step in one pass: a (the descriptor's image), b (its Gaussian blur), x, u real
    (B, 1, H, W), c = |V| (0-dim) → (T, u + T (x − u), ∂T/∂|V| · (x − u) or None), each
    (B, 1, H, W) in a's dtype; T from the size×size box moments (see :func:`box_moments`)."""
    sync_threads()
    dtype = a.dtype

    def planes(t: torch.Tensor) -> np.ndarray:
        return t.detach()[:, 0].to(dtype).contiguous().numpy()

    an = planes(a)
    t, out = np.empty_like(an), np.empty_like(an)
    slope = np.empty_like(an) if with_slope else np.empty((1, 1, 1), an.dtype)
    cn = an.dtype.type(c.detach().to(dtype).item())
    _refine(an, planes(b), planes(x), planes(u), cn, size, with_slope, t, out, slope)
    wrap = [torch.from_numpy(v).unsqueeze(1) for v in (t, out, slope)]
    return wrap[0], wrap[1], wrap[2] if with_slope else None

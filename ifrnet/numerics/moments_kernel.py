"""Fused CPU kernel for the local moments of IFR-Net's feature descriptor T (paper App. A).

For images a and b (b = the Gaussian-filtered a) it returns the 5×5 box (zero padding, divided
by 25, as ``imfilter(…, ones(5)/25)``) covariance σ_ab and the variance sum σ_a² + σ_b²; the
composition of library calls (:func:`ifrnet.numerics.layers.separable_filter` on five stacked
images) stays the reference and the path for other devices. No gradient: T's input is detached.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import dispatch
from ifrnet.numerics.dispatch import numba

if numba is not None:

    @numba.njit(cache=True, inline="always")
    def _slot(k, size, h):  # pragma: no cover - numba
        """The ring slot of row k's horizontal sums: k % size, or the zeros' slot ``size`` for
        a row outside the image."""
        return k % size if 0 <= k < h else size

    @numba.njit(cache=True)
    def _row_sums(a, b, p, row, size, pad, dst):  # pragma: no cover - numba
        """Horizontal size-tap window sums of a, b, a², b², ab along row ``row`` of plane p in
        float64 into dst (5, W); pad is (5, W + size − 1) scratch. Each sum adds its taps left
        to right onto 0.0, as a scalar loop over the window would: from +0.0 on no partial sum
        is −0.0, so the zero padding's +0.0 changes nothing."""
        w = a.shape[2]
        r = size // 2
        pad[:, :r] = 0.0
        pad[:, r + w :] = 0.0
        for j in range(w):
            xa, yb = np.float64(a[p, row, j]), np.float64(b[p, row, j])
            pad[0, r + j] = xa
            pad[1, r + j] = yb
            pad[2, r + j] = xa * xa
            pad[3, r + j] = yb * yb
            pad[4, r + j] = xa * yb
        for q in range(5):
            d, s = dst[q], pad[q]
            if size == 5:  # one pass (IFR-Net's window)
                for j in range(w):  # (indices, not five slices: views cost here)
                    d[j] = ((((0.0 + s[j]) + s[j + 1]) + s[j + 2]) + s[j + 3]) + s[j + 4]
            else:
                d[:] = 0.0
                for k in range(size):
                    for j in range(w):
                        d[j] += s[j + k]

    @numba.njit(cache=True)
    def _window_sums(a, b, p, row, size, first, pad, ring, acc):  # pragma: no cover - numba
        """acc (5, W) ← the size×size window sums (float64) centred on row ``row`` of plane p:
        the horizontal sums of rows row − r … row + r added top to bottom onto 0.0 (a row
        outside the image adds ring[size], zeros). ring (size + 1, 5, W) keeps the horizontal
        sums of row k in slot k % size; ``first`` fills them for this row, else only row + r."""
        h = a.shape[1]
        r = size // 2
        lo = max(0, row - r) if first else row + r
        for k in range(lo, min(h, row + r + 1)):
            _row_sums(a, b, p, k, size, pad, ring[k % size])
        if size == 5:
            s0, s1, s2 = _slot(row - 2, size, h), _slot(row - 1, size, h), _slot(row, size, h)
            s3, s4 = _slot(row + 1, size, h), _slot(row + 2, size, h)
            for q in range(5):
                d = acc[q]
                for j in range(d.shape[0]):
                    t = ((0.0 + ring[s0, q, j]) + ring[s1, q, j]) + ring[s2, q, j]
                    d[j] = (t + ring[s3, q, j]) + ring[s4, q, j]
        else:
            acc[:] = 0.0
            for k in range(row - r, row + r + 1):
                src = ring[k % size if 0 <= k < h else size]
                for q in range(5):
                    d, s = acc[q], src[q]
                    for j in range(d.shape[0]):
                        d[j] += s[j]

    @numba.njit(cache=True)
    def _scratch(w, size):  # pragma: no cover - numba
        """Per-job buffers of :func:`_window_sums`: pad, ring (its last slot zeros), acc."""
        pad = np.empty((5, w + size - 1), dtype=np.float64)
        ring = np.empty((size + 1, 5, w), dtype=np.float64)
        ring[size] = 0.0
        return pad, ring, np.empty((5, w), dtype=np.float64)

    @numba.njit(cache=True)
    def _row_moments(acc, n, crow, vrow):  # pragma: no cover - numba
        """crow, vrow (W,) ← σ_ab, σ_a² + σ_b² of one row from its window sums acc (5, W) over
        n pixels (float64, rounded to the rows' dtype)."""
        s0, s1, s2, s3, s4 = acc[0], acc[1], acc[2], acc[3], acc[4]
        for j in range(crow.shape[0]):
            mu_a, mu_b = s0[j] / n, s1[j] / n
            crow[j] = s4[j] / n - mu_a * mu_b
            vrow[j] = (s2[j] / n - mu_a * mu_a) + (s3[j] / n - mu_b * mu_b)

    @numba.njit(parallel=True, cache=True)
    def _moments(a, b, size, block, cov, var):  # pragma: no cover - numba
        """cov, var (planes, H, W) ← σ_ab, σ_a² + σ_b² (float64 moments, rounded to their
        dtype); prange over planes × blocks of ``block`` rows."""
        planes, h, w = a.shape
        blocks = (h + block - 1) // block
        n = float(size * size)
        for job in numba.prange(planes * blocks):
            p, r0 = job // blocks, (job % blocks) * block
            pad, ring, acc = _scratch(w, size)
            for row in range(r0, min(h, r0 + block)):
                _window_sums(a, b, p, row, size, row == r0, pad, ring, acc)
                _row_moments(acc, n, cov[p, row], var[p, row])

    @numba.njit(parallel=True, cache=True)
    def _refine(a, b, x, u, c, size, block, with_slope, t, out, slope):  # pragma: no cover
        # the moments as in _moments (float64 sums, rounded to the data's dtype), then T, the
        # blend u + T (x − u) and ∂T/∂|V| · (x − u) in the data's dtype, as the torch ops of
        # ifrnet.numerics.layers._Refine compute them (IEEE arithmetic: no fastmath here)
        planes, h, w = a.shape
        blocks = (h + block - 1) // block
        n = float(size * size)
        one = c - c + 1
        zero = c - c
        tiny = np.finfo(a.dtype).tiny
        for job in numba.prange(planes * blocks):
            p, r0 = job // blocks, (job % blocks) * block
            pad, ring, acc = _scratch(w, size)
            covs, vars_ = np.empty(w, dtype=a.dtype), np.empty(w, dtype=a.dtype)
            for row in range(r0, min(h, r0 + block)):
                _window_sums(a, b, p, row, size, row == r0, pad, ring, acc)
                _row_moments(acc, n, covs, vars_)
                xr, ur, tr, outr = x[p, row], u[p, row], t[p, row], out[p, row]
                sr = slope[p, row] if with_slope else slope[0, 0]
                for j in range(w):
                    cov, var = covs[j], vars_[j]
                    den = var + c
                    denc = max(den, tiny)
                    ratio = (cov + cov + c) / denc
                    raw = one - abs(ratio)
                    tt = min(max(raw, zero), one)
                    d = xr[j] - ur[j]
                    tr[j] = tt
                    outr[j] = ur[j] + tt * d
                    if with_slope:
                        sl = zero
                        if raw >= zero and raw <= one and ratio != zero:
                            sl = ((ratio if den >= tiny else zero) - one) / denc
                            sl = sl if ratio > zero else -sl
                        sr[j] = sl * d


def _block(planes: int, h: int) -> int:
    """Rows per prange job: about four jobs per thread (each job recomputes the horizontal sums
    of BOX_SIZE − 1 rows at its top edge)."""
    jobs = max(1, -(-4 * numba.get_num_threads() // planes))
    return max(8, -(-h // jobs))


def box_moments(a: torch.Tensor, b: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b real (B, 1, H, W) → (σ_ab, σ_a² + σ_b²), each (B, 1, H, W) in a's dtype, over a
    size×size window (odd size) with zero padding; accumulated in float64."""
    dispatch.sync_threads()
    an = a.detach()[:, 0].contiguous().numpy()
    bn = b.detach()[:, 0].to(a.dtype).contiguous().numpy()
    cov, var = np.empty_like(an), np.empty_like(an)
    _moments(an, bn, size, _block(*an.shape[:2]), cov, var)
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
    dispatch.sync_threads()
    dtype = a.dtype

    def planes(t: torch.Tensor) -> np.ndarray:
        return t.detach()[:, 0].to(dtype).contiguous().numpy()

    an = planes(a)
    t, out = np.empty_like(an), np.empty_like(an)
    slope = np.empty_like(an) if with_slope else np.empty((1, 1, 1), an.dtype)
    cn = an.dtype.type(c.detach().to(dtype).item())
    block = _block(*an.shape[:2])
    _refine(an, planes(b), planes(x), planes(u), cn, size, block, with_slope, t, out, slope)
    wrap = [torch.from_numpy(v).unsqueeze(1) for v in (t, out, slope)]
    return wrap[0], wrap[1], wrap[2] if with_slope else None

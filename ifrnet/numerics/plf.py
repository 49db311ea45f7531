"""The learnable piecewise-linear function (PLF) of ADMM-Net and IFR-Net (paper Eq. (10)).

Control points p_i = −1 + 2i/(N−1), i = 0..N−1, carry learnable values q (C, N), one function
per channel. For x in (−1, 1) the output interpolates linearly between the neighbouring points;
outside it continues with slope 1: ``x − p_0 + q_0`` for x ≤ −1, ``x − p_{N−1} + q_{N−1}`` for
x ≥ 1. The derivative at exactly ±1 is taken from the outer (slope-1) side.

Two implementations with identical semantics, chosen by :func:`ifrnet.numerics.dispatch.use_kernel`:
- numba CPU kernels on the rows of :mod:`ifrnet.numerics.kernel_rows`: forward one pass writing
  the output and its derivative; backward per chunk of pixels one vectorised pass (x's
  gradient, bins, weights) and one scatter into per-plane histograms for q's gradient;
- the reference torch ops (clamp, gather, index_add_), the path of other devices.

A NaN input gives NaN output and NaN gradient and contributes nothing to q's gradient on both
paths; it never becomes an index (an index out of range would write out of bounds).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ifrnet.numerics import dispatch, kernel_rows
from ifrnet.numerics.dispatch import FASTMATH, numba

CHUNK = 2048  # pixels per pass of the backward kernel (its scratch rows stay in cache)

if numba is not None:
    # The forward pass also writes the derivative (the table lookup that keeps a loop from
    # vectorising happens once), so the backward pass is a vectorised loop (x's gradient, bins,
    # weights) and a scatter into q's histogram.

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _lookup_row(xr, qc, dc, inv, one, yr, sr, bins, frac):  # pragma: no cover - numba
        """yr ← PLF(xr) for one channel's table; sr ← the slope q[i + 1] − q[i] of each pixel's
        bin i, bins ← i, frac ← its position in the bin (scratch rows ≥ n): two loops, the
        table lookups alone stay scalar."""
        kernel_rows.plf_bin_row(xr, inv, one, yr, bins, frac)
        kernel_rows.plf_table_slope_row(qc, dc, bins, frac, yr, sr)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _value_row(xr, qc, dc, inv, one, yr, sr, bins, frac):  # pragma: no cover - numba
        """yr ← PLF(xr) and sr ← its derivative (NaN where xr is NaN) for one channel's table;
        bins, frac: scratch (≥ n,), left holding each pixel's bin and position in it."""
        _lookup_row(xr, qc, dc, inv, one, yr, sr, bins, frac)
        for m in range(xr.shape[0]):
            sr[m] = kernel_rows.plf_derivative(xr[m], sr[m], inv, one)

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _forward_kernel(x, q, d, inv, one, y, s):  # pragma: no cover - numba
        planes, pixels = x.shape
        channels = q.shape[0]
        for p in numba.prange(planes):
            bins = np.empty(CHUNK, dtype=np.uint32)
            frac = np.empty(CHUNK, dtype=x.dtype)
            qc, dc = q[p % channels], d[p % channels]
            for start in range(0, pixels, CHUNK):
                stop = min(start + CHUNK, pixels)
                _value_row(
                    x[p, start:stop],
                    qc,
                    dc,
                    inv,
                    one,
                    y[p, start:stop],
                    s[p, start:stop],
                    bins,
                    frac,
                )

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _backward_chunk(xr, sr, gr, inv, one, gxr, hist, bins, low, high):  # pragma: no cover
        """Pixels xr (n ≤ CHUNK,) of one plane with derivatives sr and output gradient gr →
        gxr (n,), and q's gradient added into hist (LANES, points)."""
        zero = one - one
        n = xr.shape[0]
        for k in range(n):
            v, gg = xr[k], gr[k]
            _, _, i, f = kernel_rows.plf_bin(v, inv, one)
            gxr[k] = gg * sr[k]
            bins[k] = i
            low[k], high[k] = kernel_rows.plf_split(v, gg, f, zero)
        kernel_rows.plf_add_shares(bins[:n], low, high, hist)

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _backward_kernel(x, s, inv, one, g, gx, partial):  # pragma: no cover - numba
        # partial (planes, LANES, points): neighbouring pixels usually fall in the same bin, so
        # one histogram would serialise on its own read-modify-write; LANES interleaved copies
        # keep the additions independent (summed by the caller, in a fixed order).
        planes, pixels = x.shape
        for p in numba.prange(planes):
            bins = np.empty(CHUNK, dtype=np.uint32)
            low = np.empty(CHUNK, dtype=x.dtype)
            high = np.empty(CHUNK, dtype=x.dtype)
            for start in range(0, pixels, CHUNK):
                stop = min(start + CHUNK, pixels)
                _backward_chunk(
                    x[p, start:stop],
                    s[p, start:stop],
                    g[p, start:stop],
                    inv,
                    one,
                    gx[p, start:stop],
                    partial[p],
                    bins,
                    low,
                    high,
                )


def _planes(x: torch.Tensor) -> np.ndarray:
    """x (B, C, H, W) as a (B·C, H·W) array sharing memory when x is contiguous."""
    return x.detach().contiguous().view(x.shape[0] * x.shape[1], -1).numpy()


class _PLFKernel(torch.autograd.Function):
    """CPU kernels (numba)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:  # noqa: D102
        dispatch.sync_threads()
        x = x.contiguous()
        y, slope = torch.empty_like(x), torch.empty_like(x)
        qd, dd, inv, one = kernel_rows.plf_tables(q, x.dtype)
        _forward_kernel(_planes(x), qd, dd, inv, one, _planes(y), _planes(slope))
        ctx.save_for_backward(x, slope)
        ctx.q_shape, ctx.q_dtype = q.shape, q.dtype
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        x, slope = ctx.saved_tensors
        gx = torch.empty_like(x)
        channels, points = ctx.q_shape
        partial = np.zeros((x.shape[0] * x.shape[1], kernel_rows.LANES, points), dtype=np.float64)
        inv, one = kernel_rows.plf_grid(points, x.dtype)
        dispatch.sync_threads()
        _backward_kernel(
            _planes(x), _planes(slope), inv, one, _planes(grad.to(x.dtype)), _planes(gx), partial
        )
        grad_q = partial.sum(axis=1).reshape(x.shape[0], channels, -1).sum(axis=0)
        return gx, torch.from_numpy(grad_q).to(ctx.q_dtype)


class _PLFTorch(torch.autograd.Function):
    """Reference torch ops (any device); q's gradient by index_add_ over the C·N bins."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:  # noqa: D102
        channels, points = q.shape
        inv = (points - 1) / 2.0
        xc = torch.nan_to_num(x.clamp(-1.0, 1.0), nan=0.0)  # NaN: any valid index; out stays NaN
        t = (xc + 1.0) * inv
        idx = t.floor().clamp_(0, points - 2)
        frac = t - idx
        flat = idx.to(torch.int64)
        flat += (torch.arange(channels, device=x.device) * points).view(1, channels, 1, 1)
        q_flat = q.to(x.dtype).reshape(-1)
        lo, hi = q_flat[flat], q_flat[flat + 1]
        ctx.save_for_backward(flat, frac, lo, hi, x)
        ctx.shape_q, ctx.inv = q.shape, inv
        return torch.lerp(lo, hi, frac) + (x - xc)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        flat, frac, lo, hi, x = ctx.saved_tensors
        inside = (x > -1.0) & (x < 1.0)
        nan = torch.isnan(x)  # as the CPU kernel: NaN gradient there, nothing for q
        grad_x = torch.where(inside, grad * (hi - lo) * ctx.inv, grad).masked_fill(nan, math.nan)
        grad = grad.masked_fill(nan, 0.0)
        n_bins = ctx.shape_q[0] * ctx.shape_q[1]
        idx = flat.reshape(-1)
        g = grad.reshape(-1).to(torch.float64)
        gf = g * frac.reshape(-1).to(torch.float64)
        # index_add_, not bincount: CUDA's bincount reads the largest index back to the host
        grad_q = g.new_zeros(n_bins).index_add_(0, idx, g - gf).index_add_(0, idx + 1, gf)
        return grad_x, grad_q.to(grad.dtype).view(ctx.shape_q)


def plf(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Apply channel c's PLF (values q[c], points evenly on [−1, 1]) to x[:, c]; x (B, C, H, W)."""
    return (_PLFKernel if dispatch.use_kernel(x) else _PLFTorch).apply(x, q)


def soft_threshold(p: torch.Tensor, threshold: float) -> torch.Tensor:
    """sign(p)·max(|p| − threshold, 0)."""
    return torch.sign(p) * torch.clamp(p.abs() - threshold, min=0.0)


class PiecewiseLinear(nn.Module):
    """Per-channel learnable PLF; input and output (B, C, H, W) (see the module docstring).

    ``q`` (C, points) starts as the soft threshold of the control points at ``threshold``
    (1/14 for IFR-Net, `initialize_IFR_NET.m`; 0.05 for ADMM-Net).
    """

    def __init__(self, channels: int, points: int = 101, threshold: float = 1 / 14) -> None:
        super().__init__()
        if points < 2:
            raise ValueError(f"a PLF needs at least 2 control points, got {points}")
        grid = torch.linspace(-1.0, 1.0, points, dtype=torch.float64)
        self.q = nn.Parameter(soft_threshold(grid, threshold).float().repeat(channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply channel c's PLF to x[:, c]."""
        if x.dim() != 4 or x.shape[1] != self.q.shape[0]:
            raise ValueError(f"PLF expects (B, {self.q.shape[0]}, H, W), got {tuple(x.shape)}")
        return plf(x, self.q)

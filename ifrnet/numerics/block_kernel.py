"""One autograd node for a whole IFR-Net CNN block on the CPU (paper Eq. (10)).

    c1 = w1 ∗ u + b1,  h = PLF(c1),  c2 = w2 ∗ h + b2,  out = η1·u + η2·x − c2

(zero-padded 'same' correlations). The block is one autograd node instead of about ten
(convolutions, PLF, the η combination and their backward nodes), on numpy arrays, no image
padded or copied between the steps:

- forward: :func:`_correlate_plf` (c1, h = PLF(c1) and the PLF's derivative, row by row) and
  :func:`_correlate_blend` (c2 and the η combination);
- backward: :func:`_backward_rows`, one pass over fixed blocks of rows (h's gradient, the PLF
  backward from the saved derivative, b1's, w1's and w2's gradient rows, Σg, Σg·u, Σg·x and q's
  histogram), then :func:`_correlate_blend` for u's gradient.

The composition of :func:`ifrnet.numerics.layers.conv2d_same` and
:func:`ifrnet.numerics.plf.plf` stays the reference and the path for other devices (CUDA), for
float16 and when numba is absent; the tests compare the two.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import conv_kernel
from ifrnet.numerics import plf as plf_module

ROWS = 16  # rows per job of the backward pass (a fixed blocking: results do not depend on threads)

if plf_module.numba is not None:
    numba = plf_module.numba

    @numba.njit(parallel=True, fastmath=plf_module._FASTMATH, cache=True)
    def _correlate_plf(x, w, bias, q, d, inv, one, c1, h, slope):  # pragma: no cover - numba
        # c1 = conv_kernel._correlate(x, w, bias) (zero padding), h = PLF(c1) and its
        # derivative row by row (channel o of c1 uses q[o])
        batch, channels, rows, wd = x.shape
        for job in numba.prange(batch * rows):
            row = job % rows
            b = job // rows
            size = w.shape[2]
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            bins = np.empty(wd, dtype=np.uint32)
            frac = np.empty(wd, dtype=x.dtype)
            conv_kernel._padded_rows(x, b, row, size, False, buf)
            for o in range(w.shape[0]):
                acc = c1[b, o, row]
                conv_kernel._correlate_row(buf, w, o, bias[o], acc)
                hr, sr = h[b, o, row], slope[b, o, row]
                plf_module._value_row(acc, q[o], d[o], inv, one, hr, sr, bins, frac)

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _correlate_blend(x, w, bias, sign, a, ea, c, ec, out):  # pragma: no cover - numba
        # out (B, 1, H, W) = ea·a + ec·c + sign·(bias + w ∗ x): x (B, C, H, W), w (1, C, f, f)
        batch, channels, rows, wd = x.shape
        size = w.shape[2]
        for job in numba.prange(batch * rows):
            row = job % rows
            b = job // rows
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            acc = np.empty(wd, dtype=x.dtype)
            conv_kernel._padded_rows(x, b, row, size, False, buf)
            conv_kernel._correlate_row(buf, w, 0, bias, acc)
            ar, cr, orow = a[b, 0, row], c[b, 0, row], out[b, 0, row]
            for j in range(wd):
                orow[j] = ea * ar[j] + ec * cr[j] + sign * acc[j]

    @numba.njit(parallel=True, fastmath=plf_module._FASTMATH, cache=True)
    def _backward_rows(g, u, x, h, c1, slope, w2a, inv, one, g_c1, hist, g_w1, g_w2, sums):  # noqa: E501
        # One pass over rows, in fixed blocks of ROWS rows (job = image, block) so that the
        # per-job partial sums, added by the caller in job order, do not depend on the thread
        # count. Per row: g_h = w2a ∗ g (w2a: the adjoint of w2, 1 → L), then per channel o the
        # PLF backward (g_c1 and q's histogram, plf._backward_chunk), b1's gradient, and the
        # weight-gradient rows Σ_j g_c1[o, j]·u_pad[a, j + k] and Σ_j g[j]·h_pad[o, a, j + k];
        # and Σ g, Σ g·u, Σ g·x in float64 (sums[job, L :]; b1's gradient in sums[job, : L]).
        batch, channels, rows, wd = h.shape
        size, points = w2a.shape[-1], hist.shape[-1]
        per = (rows + ROWS - 1) // ROWS
        for job in numba.prange(batch * per):
            b, first = job // per, (job % per) * ROWS
            gbuf = np.empty((1, size, wd + size - 1), dtype=g.dtype)
            ubuf = np.empty((1, size, wd + size - 1), dtype=g.dtype)
            hbuf = np.empty((channels, size, wd + size - 1), dtype=g.dtype)
            acc = np.empty(wd, dtype=g.dtype)
            bins = np.empty(wd, dtype=np.uint32)
            low = np.empty(wd, dtype=g.dtype)
            high = np.empty(wd, dtype=g.dtype)
            lanes = np.zeros((channels, plf_module.LANES, points))
            for row in range(first, min(first + ROWS, rows)):
                conv_kernel._padded_rows(g, b, row, size, False, gbuf)
                conv_kernel._padded_rows(u, b, row, size, False, ubuf)
                conv_kernel._padded_rows(h, b, row, size, False, hbuf)
                grow, urow, xrow = g[b, 0, row], u[b, 0, row], x[b, 0, row]
                sg = su = sx = 0.0
                for j in range(wd):
                    gj = np.float64(grow[j])
                    sg += gj
                    su += gj * np.float64(urow[j])
                    sx += gj * np.float64(xrow[j])
                sums[job, channels] += sg
                sums[job, channels + 1] += su
                sums[job, channels + 2] += sx
                for o in range(channels):
                    conv_kernel._correlate_row(gbuf, w2a, o, one - one, acc)
                    gc = g_c1[b, o, row]
                    plf_module._backward_chunk(
                        c1[b, o, row],
                        slope[b, o, row],
                        acc,
                        inv,
                        one,
                        gc,
                        lanes[o],
                        bins,
                        low,
                        high,
                    )
                    s = one - one
                    for j in range(wd):
                        s += gc[j]
                    sums[job, o] += s
                    conv_kernel._weight_grad_row(ubuf[0], gc, g_w1[job, o])
                    conv_kernel._weight_grad_row(hbuf[o], grow, g_w2[job, o])
            for o in range(channels):
                for lane in range(plf_module.LANES):
                    for i in range(points):
                        hist[job, o, i] += lanes[o, lane, i]


def available(u: torch.Tensor) -> bool:
    """Whether the fused block can run on u: the conv and PLF kernels both can."""
    return conv_kernel.available(u) and plf_module._use_kernel(u)


def _adjoint(w: np.ndarray) -> np.ndarray:
    """Filters of the adjoint correlation: flipped in space, channels swapped."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


class _Block(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, x, w1, b1, q, w2, b2, eta1, eta2):  # noqa: D102
        plf_module.sync_threads()
        dtype = u.dtype
        un, xn = conv_kernel._array(u), conv_kernel._array(x, dtype)
        w1n, b1n = conv_kernel._array(w1, dtype), conv_kernel._array(b1, dtype)
        w2n, b2n = conv_kernel._array(w2, dtype), conv_kernel._array(b2, dtype)
        scalar = un.dtype.type
        e1, e2, one = scalar(eta1.item()), scalar(eta2.item()), scalar(1)
        c1 = np.empty((un.shape[0], w1n.shape[0], *un.shape[2:]), dtype=un.dtype)
        h, slope = np.empty_like(c1), np.empty_like(c1)
        qd, dd, inv, _ = plf_module._tables(q, dtype)
        _correlate_plf(un, w1n, b1n, qd, dd, inv, one, c1, h, slope)
        out = np.empty_like(un)
        _correlate_blend(h, w2n, b2n[0], -one, un, e1, xn, e2, out)
        ctx.arrays = (un, xn, w1n, w2n, c1, h, slope, e1, e2)
        ctx.points = q.shape[1]
        ctx.dtypes = tuple(t.dtype for t in (u, x, w1, b1, q, w2, b2, eta1, eta2))
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        plf_module.sync_threads()
        un, xn, w1n, w2n, c1, h, slope, e1, e2 = ctx.arrays
        batch, channels, rows, _ = c1.shape
        size = w1n.shape[-1]
        g = grad.detach().contiguous().numpy().astype(un.dtype, copy=False)
        jobs = batch * ((rows + ROWS - 1) // ROWS)
        g_c1 = np.empty_like(c1)
        hist = np.zeros((jobs, channels, ctx.points))
        g_w1 = np.zeros((jobs, channels, size, size))
        g_w2 = np.zeros((jobs, channels, size, size))
        sums = np.zeros((jobs, channels + 3))
        inv, one = plf_module._grid(ctx.points, ctx.dtypes[0])
        w2a = -_adjoint(w2n)
        _backward_rows(g, un, xn, h, c1, slope, w2a, inv, one, g_c1, hist, g_w1, g_w2, sums)
        g_u = np.empty_like(g)
        zero = one - one
        _correlate_blend(g_c1, _adjoint(w1n), zero, one, g, e1, g, zero, g_u)
        sums = sums.sum(0)
        grads = (
            torch.from_numpy(g_u),
            torch.from_numpy(e2 * g),
            torch.from_numpy(g_w1.sum(0)[:, None]),
            torch.from_numpy(sums[:channels]),
            torch.from_numpy(hist.sum(0)),
            torch.from_numpy(-g_w2.sum(0)[None]),
            torch.from_numpy(-sums[channels : channels + 1]),
            torch.tensor(sums[channels + 1], dtype=torch.float64),
            torch.tensor(sums[channels + 2], dtype=torch.float64),
        )
        return tuple(
            t.to(dtype) if need else None
            for t, dtype, need in zip(grads, ctx.dtypes, ctx.needs_input_grad, strict=True)
        )


def cnn_block(
    u: torch.Tensor,
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    q: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    eta1: torch.Tensor,
    eta2: torch.Tensor,
) -> torch.Tensor:
    """η1·u + η2·x − (w2 ∗ PLF_q(w1 ∗ u + b1) + b2) for u, x (B, 1, H, W) float32/64 CPU
    tensors (see :func:`available`); w1 (L, 1, f, f), w2 (1, L, f, f), q (L, points)."""
    return _Block.apply(u, x, w1, b1, q, w2, b2, eta1, eta2)

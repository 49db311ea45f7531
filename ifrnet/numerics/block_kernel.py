"""One autograd node for a whole IFR-Net CNN block on the CPU (paper Eq. (10)).

    c1 = w1 ∗ u + b1,  h = PLF(c1),  c2 = w2 ∗ h + b2,  out = η1·u + η2·x − c2

(zero-padded 'same' correlations). The block is one autograd node instead of about ten
(convolutions, PLF, the η combination and their backward nodes), on numpy arrays, and no
(B, L, H, W) array is ever made: both passes stream over fixed blocks of ROWS output rows, each
job computing the rows of c1 and h its rows need (f − 1 rows of halo recomputed) into ring
buffers of f rows per channel:

- forward: :func:`_forward` (c1 and the PLF's first pass in one loop, the table lookups, then
  c2 and the η combination for each output row once its h rows are in); nothing is saved for
  the backward but the inputs, so inference costs no more than this pass;
- backward: :func:`_backward` recomputes c1 and h row by row and writes g_c1 = PLF'(c1) ⊙
  (w2's adjoint ∗ g) into a second ring; for the job's own rows it adds q's histogram, b1's,
  w1's and w2's gradient rows and Σg, Σg·u, Σg·x, and u's gradient w1ᵀ ∗ g_c1 + η1·g.

Recomputing costs less than storing c1, h and PLF'(c1) (3·L images a block, touched once more
each, and page-faulted in anew every step): at L = 128 they would be 96 MB a block at 256².

The composition of :func:`ifrnet.numerics.layers.conv2d_same` and
:func:`ifrnet.numerics.plf.plf` is the reference (:class:`ifrnet.methods.ifrnet.CNNBlock` picks
by :func:`ifrnet.numerics.dispatch.use_kernel`); the tests compare the two.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import dispatch, kernel_rows
from ifrnet.numerics.dispatch import FASTMATH, numba

ROWS = 32  # output rows per job (a fixed blocking: results do not depend on threads)

if numba is not None:

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _scratch(n_rings, channels, size, wd, dtype):  # pragma: no cover - numba
        """A job's buffers: ring buffers of f padded rows per channel (zeros), a padded
        single-channel input buffer, four rows of the data's dtype and a row of bins."""
        rings = np.zeros((n_rings, channels, size, wd + size - 1), dtype=dtype)
        rows = np.empty((4, wd), dtype=dtype)
        return rings, np.empty((1, size, wd + size - 1), dtype=dtype), rows, np.empty(wd, np.uint32)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _c1_bins3(ubuf, w1, o, bias, inv, one, keep, c1, yr, bins, frac):  # pragma: no cover
        """c1 = w1[o] ∗ u + bias along one row for 3×3 filters (ubuf: u's padded rows; into c1
        if ``keep``) and the PLF's first pass on it (kernel_rows.plf_bin_row into yr, bins,
        frac), in one loop. (Callers branch on the filter size themselves: a function holding
        both this loop and calls for other sizes runs it about 40 % slower.)"""
        r0, r1, r2 = ubuf[0, 0], ubuf[0, 1], ubuf[0, 2]
        taps = kernel_rows.taps3(w1, o, 0)
        for j in range(yr.shape[0]):
            v = kernel_rows.add_taps3(bias, taps, r0, r1, r2, j)
            if keep:
                c1[j] = v
            bins[j], frac[j], yr[j] = kernel_rows.plf_first_pass(v, inv, one)

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _forward(u, x, w1, b1, q, d, inv, one, w2, b2, e1, e2, out):  # pragma: no cover
        # Per job (image, ROWS output rows): rows k of h = PLF(w1 ∗ u + b1) go into ring slot
        # k % f (zeros outside the image), f − 1 rows of halo recomputed at each end; output
        # row r = k − p, once h rows r − p … r + p are in, is e1·u + e2·x − (w2 ∗ h + b2).
        batch, _, rows, wd = u.shape
        channels, size = w1.shape[0], w1.shape[2]
        p = size // 2
        per = (rows + ROWS - 1) // ROWS
        for job in numba.prange(batch * per):
            b, first = job // per, (job % per) * ROWS
            last = min(first + ROWS, rows)
            rings, ubuf, tmp, bins = _scratch(1, channels, size, wd, u.dtype)
            ring, acc, frac = rings[0], tmp[0], tmp[2]
            for k in range(first - p, last + p):
                slot = k % size
                if k < 0 or k >= rows:
                    ring[:, slot] = 0
                else:
                    kernel_rows.padded_rows(u, b, k, size, False, ubuf)
                    for o in range(channels):
                        hr = ring[o, slot, p : p + wd]
                        if size == 3:  # c1 (into acc) and the PLF's first pass
                            _c1_bins3(ubuf, w1, o, b1[o], inv, one, False, acc, hr, bins, frac)
                        else:
                            kernel_rows.correlate_row(ubuf, w1, o, b1[o], acc)
                            kernel_rows.plf_bin_row(acc, inv, one, hr, bins, frac)
                        kernel_rows.plf_table_row(q[o], d[o], bins, frac, hr)
                r = k - p
                if r >= first:
                    kernel_rows.correlate_ring(ring, (r - p) % size, w2, 0, b2, acc)
                    ur, xr, orow = u[b, 0, r], x[b, 0, r], out[b, 0, r]
                    for j in range(wd):
                        orow[j] = e1 * ur[j] + e2 * xr[j] - acc[j]

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _backward(g, u, x, w1, b1, q, d, w2a, w1a, inv, one, e1, g_u, hist, g_w1, g_w2, sums):  # noqa: E501
        # The forward's jobs again, recomputing c1 and h rows (ring 0) and writing g_c1 rows
        # (ring 1): g_c1 = PLF'(c1) ⊙ (w2a ∗ g) (w2a: the adjoint of −w2, 1 → L). For the
        # job's own rows k also q's histogram (kernel_rows.plf_add_shares), b1's gradient
        # (sums[job, : L]) and w1's gradient rows Σ_j g_c1[o, j]·u_pad[a, j + k]; for its output
        # rows r (h and g_c1 rows r − p … r + p in) w2's gradient rows Σ_j g[j]·h_pad[o, a, j +
        # k], Σ g, Σ g·u, Σ g·x (float64, sums[job, L :]) and u's gradient e1·g + w1a ∗ g_c1
        # (w1a: the adjoint of w1, L → 1). Per-job partial sums are added by the caller in job
        # order.
        batch, _, rows, wd = u.shape
        channels, size = w1.shape[0], w1.shape[2]
        points = hist.shape[-1]
        p = size // 2
        per = (rows + ROWS - 1) // ROWS
        zero = one - one
        for job in numba.prange(batch * per):
            b, first = job // per, (job % per) * ROWS
            last = min(first + ROWS, rows)
            rings, ubuf, tmp, bins = _scratch(2, channels, size, wd, u.dtype)
            gbuf = np.empty_like(ubuf)
            c1, gh, slope, frac = tmp[0], tmp[1], tmp[2], tmp[3]
            low, high = np.empty_like(c1), np.empty_like(c1)
            lanes = np.zeros((channels, kernel_rows.LANES, points))
            for k in range(first - p, last + p):
                slot = k % size
                if k < 0 or k >= rows:
                    rings[:, :, slot] = 0
                else:
                    kernel_rows.padded_rows(u, b, k, size, False, ubuf)
                    kernel_rows.padded_rows(g, b, k, size, False, gbuf)
                    for o in range(channels):
                        hr = rings[0, o, slot, p : p + wd]
                        if size == 3:
                            _c1_bins3(ubuf, w1, o, b1[o], inv, one, True, c1, hr, bins, frac)
                        else:
                            kernel_rows.correlate_row(ubuf, w1, o, b1[o], c1)
                            kernel_rows.plf_bin_row(c1, inv, one, hr, bins, frac)
                        kernel_rows.plf_table_slope_row(q[o], d[o], bins, frac, hr, slope)
                        kernel_rows.correlate_row(gbuf, w2a, o, zero, gh)
                        gc = rings[1, o, slot, p : p + wd]
                        if k < first or k >= last:  # halo: g_c1 only
                            for j in range(wd):
                                gc[j] = gh[j] * kernel_rows.plf_derivative(
                                    c1[j], slope[j], inv, one
                                )
                            continue
                        s = zero
                        for j in range(wd):
                            v = c1[j]
                            gc[j] = gh[j] * kernel_rows.plf_derivative(v, slope[j], inv, one)
                            s += gc[j]
                            low[j], high[j] = kernel_rows.plf_split(v, gh[j], frac[j], zero)
                        sums[job, o] += s
                        kernel_rows.plf_add_shares(bins, low, high, lanes[o])
                        kernel_rows.weight_grad_row(ubuf[0], gc, g_w1[job, o])
                r = k - p
                if r >= first:
                    top = (r - p) % size
                    grow, urow, xrow = g[b, 0, r], u[b, 0, r], x[b, 0, r]
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
                        kernel_rows.weight_grad_ring(rings[0, o], top, grow, g_w2[job, o])
                    acc = tmp[1]
                    kernel_rows.correlate_ring(rings[1], top, w1a, 0, zero, acc)
                    gur = g_u[b, 0, r]
                    for j in range(wd):
                        gur[j] = e1 * grow[j] + acc[j]
            for o in range(channels):
                for lane in range(kernel_rows.LANES):
                    for i in range(points):
                        hist[job, o, i] += lanes[o, lane, i]


def _adjoint(w: np.ndarray) -> np.ndarray:
    """Filters of the adjoint correlation: flipped in space, channels swapped."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _block_forward(u, x, w1, b1, q, w2, b2, eta1, eta2) -> tuple[torch.Tensor, tuple]:
    """The block's output and the arrays its backward recomputes c1 and h from."""
    dispatch.sync_threads()
    dtype = u.dtype
    un, xn = kernel_rows.as_array(u), kernel_rows.as_array(x, dtype)
    w1n, b1n = kernel_rows.as_array(w1, dtype), kernel_rows.as_array(b1, dtype)
    w2n, b2n = kernel_rows.as_array(w2, dtype), kernel_rows.as_array(b2, dtype)
    scalar = un.dtype.type
    e1, e2, one = scalar(eta1.item()), scalar(eta2.item()), scalar(1)
    qd, dd, inv, _ = kernel_rows.plf_tables(q, dtype)
    out = np.empty_like(un)
    _forward(un, xn, w1n, b1n, qd, dd, inv, one, w2n, b2n[0], e1, e2, out)
    return torch.from_numpy(out), (un, xn, w1n, b1n, qd, dd, w2n, e1, e2)


class _Block(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, x, w1, b1, q, w2, b2, eta1, eta2):  # noqa: D102
        out, ctx.arrays = _block_forward(u, x, w1, b1, q, w2, b2, eta1, eta2)
        ctx.dtypes = tuple(t.dtype for t in (u, x, w1, b1, q, w2, b2, eta1, eta2))
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        dispatch.sync_threads()
        un, xn, w1n, b1n, qd, dd, w2n, e1, e2 = ctx.arrays
        batch, _, rows, _ = un.shape
        channels, _, size, _ = w1n.shape
        g = grad.detach().contiguous().numpy().astype(un.dtype, copy=False)
        jobs = batch * ((rows + ROWS - 1) // ROWS)
        hist = np.zeros((jobs, channels, qd.shape[1]))
        g_w1 = np.zeros((jobs, channels, size, size))
        g_w2 = np.zeros((jobs, channels, size, size))
        sums = np.zeros((jobs, channels + 3))
        inv, one = kernel_rows.plf_grid(qd.shape[1], ctx.dtypes[0])
        g_u = np.empty_like(g)
        w2a, w1a = -_adjoint(w2n), _adjoint(w1n)
        _backward(g, un, xn, w1n, b1n, qd, dd, w2a, w1a, inv, one, e1, g_u, hist, g_w1, g_w2, sums)
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
    tensors (where :func:`ifrnet.numerics.dispatch.use_kernel` allows); w1 (L, 1, f, f), w2
    (1, L, f, f), q (L, points). Without autograd (no_grad, or nothing requiring grad) the
    forward pass alone, outside a node."""
    inputs = (u, x, w1, b1, q, w2, b2, eta1, eta2)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return _Block.apply(*inputs)
    return _block_forward(*inputs)[0]

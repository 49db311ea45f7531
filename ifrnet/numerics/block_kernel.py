"""One autograd node for a whole IFR-Net CNN block on the CPU (paper Eq. (10)).

    c1 = w1 ∗ u + b1,  h = PLF(c1),  c2 = w2 ∗ h + b2,  out = η1·u + η2·x − c2

(zero-padded 'same' correlations). Forward and backward run the numba kernels of
:mod:`ifrnet.numerics.conv_kernel` and :mod:`ifrnet.numerics.plf` on numpy arrays one after the
other (the first correlation and the PLF in one kernel, :func:`_correlate_plf`), so a block
costs one autograd node instead of about ten (convolutions, PLF, pads, the η combination and
their backward nodes), and no image is padded or copied between them. The composition of
:func:`ifrnet.numerics.layers.conv2d_same` and :func:`ifrnet.numerics.plf.plf` stays the
reference and the path for other devices (CUDA), for float16 and when numba is absent; the
tests compare the two.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import conv_kernel
from ifrnet.numerics import plf as plf_module

if plf_module.numba is not None:
    numba = plf_module.numba

    @numba.njit(parallel=True, fastmath=plf_module._FASTMATH, cache=True)
    def _correlate_plf(x, w, bias, q, d, inv, one, c1, h):  # pragma: no cover - numba
        # c1 = conv_kernel._correlate(x, w, bias) (zero padding) and h = PLF(c1) row by row,
        # the PLF as plf._forward_kernel computes it (channel o of c1 uses q[o])
        batch, channels, rows, wd = x.shape
        out_ch, _, size, _ = w.shape
        top, top_value = np.uint32(q.shape[1] - 2), (inv + inv) - one
        for job in numba.prange(batch * rows):
            row = job % rows
            b = job // rows
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            conv_kernel._padded_rows(x, b, row, size, False, buf)
            acc = np.empty(wd, dtype=x.dtype)
            for o in range(out_ch):
                conv_kernel._correlate_row(buf, w, o, bias[o], acc)
                c1[b, o, row] = acc
                qc, dc, hr = q[o], d[o], h[b, o, row]
                for m in range(wd):
                    v = acc[m]
                    vc = min(max(v, -one), one)
                    t = (vc + one) * inv
                    floor = min(np.floor(t), top_value)
                    i = min(np.uint32(np.int32(floor)), top)
                    hr[m] = qc[i] + (t - floor) * dc[i] + (v - vc)


def available(u: torch.Tensor) -> bool:
    """Whether the fused block can run on u: the conv and PLF kernels both can."""
    return conv_kernel.available(u) and plf_module._use_kernel(u)


def _adjoint(w: np.ndarray) -> np.ndarray:
    """Filters of the adjoint correlation: flipped in space, channels swapped."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b in float64 by numpy's pairwise sum (np.dot would call BLAS, whose own thread pool
    costs milliseconds here)."""
    product = a.astype(np.float64)
    product *= b
    return float(product.sum())


class _Block(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, x, w1, b1, q, w2, b2, eta1, eta2):  # noqa: D102
        plf_module.sync_threads()
        dtype = u.dtype
        un, xn = conv_kernel._array(u), conv_kernel._array(x, dtype)
        w1n, b1n = conv_kernel._array(w1, dtype), conv_kernel._array(b1, dtype)
        w2n, b2n = conv_kernel._array(w2, dtype), conv_kernel._array(b2, dtype)
        scalar = un.dtype.type
        e1, e2 = scalar(eta1.item()), scalar(eta2.item())
        c1 = np.empty((un.shape[0], w1n.shape[0], *un.shape[2:]), dtype=un.dtype)
        h = np.empty_like(c1)
        qd, dd, inv, one = plf_module._tables(q, dtype)
        _correlate_plf(un, w1n, b1n, qd, dd, inv, one, c1, h)
        c2 = conv_kernel.correlate_array(h, w2n, b2n, False)
        out = e1 * un
        out += e2 * xn
        out -= c2
        ctx.arrays = (un, xn, w1n, w2n, c1, h, e1, e2)
        ctx.save_for_backward(q)
        ctx.dtypes = tuple(t.dtype for t in (u, x, w1, b1, q, w2, b2, eta1, eta2))
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        plf_module.sync_threads()
        (q,) = ctx.saved_tensors
        un, xn, w1n, w2n, c1, h, e1, e2 = ctx.arrays
        size = w1n.shape[-1]
        g = grad.detach().contiguous().numpy().astype(un.dtype, copy=False)
        g_c2 = -g
        g_w2 = conv_kernel.weight_grad_array(h, g_c2, size, False)
        g_h = conv_kernel.correlate_array(g_c2, _adjoint(w2n), None, False)
        planes = c1.shape[0] * c1.shape[1]
        g_c1 = np.empty_like(c1)
        partial = np.zeros((planes, plf_module.LANES, q.shape[1]), dtype=np.float64)
        qd, dd, inv, one = plf_module._tables(q, ctx.dtypes[0])
        plf_module._backward_kernel(
            c1.reshape(planes, -1),
            qd,
            dd,
            inv,
            one,
            g_h.reshape(planes, -1),
            g_c1.reshape(planes, -1),
            partial,
        )
        g_q = partial.sum(axis=1).reshape(c1.shape[0], c1.shape[1], -1).sum(axis=0)
        g_w1 = conv_kernel.weight_grad_array(un, g_c1, size, False)
        g_u = conv_kernel.correlate_array(g_c1, _adjoint(w1n), None, False)
        g_u += e1 * g
        grads = (
            torch.from_numpy(g_u),
            torch.from_numpy(e2 * g),
            torch.from_numpy(g_w1),
            torch.from_numpy(g_c1.sum(axis=(0, 2, 3), dtype=np.float64)),
            torch.from_numpy(g_q),
            torch.from_numpy(g_w2),
            torch.from_numpy(-g.sum(axis=(0, 2, 3), dtype=np.float64)),
            torch.tensor(_dot(g, un), dtype=torch.float64),
            torch.tensor(_dot(g, xn), dtype=torch.float64),
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

"""CPU kernels for the few-channel 'same' correlations of IFR-Net and ADMM-Net.

oneDNN handles the 1 → L and L → 1 channel, 3×3 convolutions on large images poorly (about
1 ms each at 256², ~5 GMAC/s on two cores: reorders to its blocked layouts dominate); these
numba loops run over image rows (:mod:`ifrnet.numerics.kernel_rows`) with a row accumulator that
LLVM vectorises, and pad inside (zero or circular). Shapes: x (B, C, H, W); w (O, C, f, f), odd
f. :func:`ifrnet.numerics.layers.conv2d_same` runs them where
:func:`ifrnet.numerics.dispatch.use_kernel` says so.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import dispatch, kernel_rows
from ifrnet.numerics.dispatch import FASTMATH, numba

if numba is not None:

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _correlate(x, w, bias, circular, out):  # pragma: no cover - numba
        batch, channels, h, wd = x.shape
        out_ch, _, size, _ = w.shape
        for job in numba.prange(batch * h):
            row = job % h
            b = job // h
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            kernel_rows.padded_rows(x, b, row, size, circular, buf)
            acc = np.empty(wd, dtype=out.dtype)
            for o in range(out_ch):
                kernel_rows.correlate_row(buf, w, o, bias[o], acc)
                out[b, o, row] = acc

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _weight_grad(x, g, circular, partial):  # pragma: no cover - numba
        # partial (B·H, O, C, f, f) float64 zeros: one row's share per job
        batch, channels, h, wd = x.shape
        out_ch = g.shape[1]
        size = partial.shape[-1]
        for job in numba.prange(batch * h):
            row = job % h
            b = job // h
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            kernel_rows.padded_rows(x, b, row, size, circular, buf)
            for o in range(out_ch):
                for c in range(channels):
                    kernel_rows.weight_grad_row(buf[c], g[b, o, row], partial[job, o, c])


def correlate_array(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, circular: bool
) -> np.ndarray:
    """:func:`correlate` on numpy arrays of one dtype (w and bias already in x's dtype)."""
    if bias is None:
        bias = np.zeros(w.shape[0], x.dtype)
    out = np.empty((x.shape[0], w.shape[0], x.shape[2], x.shape[3]), dtype=x.dtype)
    _correlate(x, w, bias, circular, out)
    return out


def weight_grad_array(x: np.ndarray, g: np.ndarray, size: int, circular: bool) -> np.ndarray:
    """:func:`correlate_weight_grad` on numpy arrays of one dtype; float64 result."""
    partial = np.zeros((g.shape[0] * g.shape[2], g.shape[1], x.shape[1], size, size))
    _weight_grad(x, g, circular, partial)
    return partial.sum(0)


def correlate(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, circular: bool = False
) -> torch.Tensor:
    """'same' correlation: x (B, C, H, W), w (O, C, f, f) odd f, bias (O,) → (B, O, H, W), in
    x's dtype; zero padding, or periodic boundaries when ``circular`` (f ≤ H, W). No autograd
    (the caller's Function provides it)."""
    dispatch.sync_threads()
    bn = None if bias is None else kernel_rows.as_array(bias, x.dtype)
    return torch.from_numpy(
        correlate_array(kernel_rows.as_array(x), kernel_rows.as_array(w, x.dtype), bn, circular)
    )


def correlate_weight_grad(
    x: torch.Tensor, g: torch.Tensor, size: int, circular: bool = False
) -> torch.Tensor:
    """Gradient of Σ g ⊙ correlate(x, w, circular=circular) with respect to w: x (B, C, H, W),
    g (B, O, H, W) → (O, C, size, size) float64, rows summed in float64."""
    dispatch.sync_threads()
    return torch.from_numpy(
        weight_grad_array(kernel_rows.as_array(x), kernel_rows.as_array(g, x.dtype), size, circular)
    )

"""CPU kernels for the few-channel 'valid' correlations of IFR-Net and ADMM-Net.

oneDNN handles the 1 → L and L → 1 channel, 3×3 convolutions on large images poorly (about
1 ms each at 256², ~5 GMAC/s on two cores: reorders to its blocked layouts dominate); these
numba loops run over image rows with a row accumulator that LLVM vectorises. Shapes:
x_pad (B, C, H + f − 1, W + f − 1) already padded (zero or circular, by the caller);
w (O, C, f, f). :func:`ifrnet.numerics.layers.conv2d_same` uses them for float32/64 CPU tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics.plf import numba, sync_threads

if numba is not None:
    # Whole-row views (integer indices keep a contiguous layout) with non-negative offsets
    # inside the index vectorise; slices such as ``row[b : b + w]`` do not.

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _correlate(x_pad, w, bias, out):  # pragma: no cover - numba
        batch, channels, hp, wp = x_pad.shape
        out_ch, _, size, _ = w.shape
        h, wd = out.shape[2], out.shape[3]
        for job in numba.prange(batch * out_ch * h):
            row = job % h
            o = (job // h) % out_ch
            b = job // (h * out_ch)
            acc = np.empty(wd, dtype=out.dtype)
            acc[:] = bias[o]
            for c in range(channels):
                for a in range(size):
                    src = x_pad[b, c, row + a]
                    for k in range(size):
                        tap = w[o, c, a, k]
                        for j in range(wd):
                            acc[j] += tap * src[j + k]
            out[b, o, row] = acc

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _weight_grad(x_pad, g, partial):  # pragma: no cover - numba
        batch, channels, hp, wp = x_pad.shape
        out_ch, h, wd = g.shape[1], g.shape[2], g.shape[3]
        size = partial.shape[-1]
        for job in numba.prange(batch * h):
            row = job % h
            b = job // h
            for o in range(out_ch):
                grow = g[b, o, row]
                for c in range(channels):
                    for a in range(size):
                        src = x_pad[b, c, row + a]
                        for k in range(size):
                            s = grow[0] * 0
                            for j in range(wd):
                                s += grow[j] * src[j + k]
                            partial[job, o, c, a, k] = s


def available(x: torch.Tensor) -> bool:
    """Whether the kernels can run on x: numba present, a float32/64 CPU tensor."""
    return numba is not None and x.device.type == "cpu" and x.dtype in (torch.float32,
                                                                         torch.float64)


def correlate_valid(x_pad: torch.Tensor, w: torch.Tensor,
                    bias: torch.Tensor | None = None) -> torch.Tensor:
    """'valid' correlation: x_pad (B, C, H + f − 1, W + f − 1), w (O, C, f, f), bias (O,) →
    (B, O, H, W), in x_pad's dtype. No autograd (the caller's Function provides it)."""
    sync_threads()
    size = w.shape[-1]
    batch, _, hp, wp = x_pad.shape
    xn = x_pad.detach().contiguous().numpy()
    wn = w.detach().to(x_pad.dtype).contiguous().numpy()
    bn = (np.zeros(w.shape[0], xn.dtype) if bias is None
          else bias.detach().to(x_pad.dtype).contiguous().numpy())
    out = np.empty((batch, w.shape[0], hp - size + 1, wp - size + 1), dtype=xn.dtype)
    _correlate(xn, wn, bn, out)
    return torch.from_numpy(out)


def correlate_weight_grad(x_pad: torch.Tensor, g: torch.Tensor, size: int) -> torch.Tensor:
    """Gradient of Σ g ⊙ correlate_valid(x_pad, w) with respect to w: x_pad (B, C, …),
    g (B, O, H, W) → (O, C, size, size), rows summed in float64."""
    sync_threads()
    xn = x_pad.detach().contiguous().numpy()
    gn = g.detach().to(x_pad.dtype).contiguous().numpy()
    partial = np.empty((g.shape[0] * g.shape[2], g.shape[1], x_pad.shape[1], size, size))
    _weight_grad(xn, gn, partial)
    return torch.from_numpy(partial.sum(0))

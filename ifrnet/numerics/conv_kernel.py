"""CPU kernels for the few-channel 'same' correlations of IFR-Net and ADMM-Net.

oneDNN handles the 1 → L and L → 1 channel, 3×3 convolutions on large images poorly (about
1 ms each at 256², ~5 GMAC/s on two cores: reorders to its blocked layouts dominate); these
numba loops run over image rows with a row accumulator that LLVM vectorises, and pad inside
(zero or circular). Shapes: x (B, C, H, W); w (O, C, f, f), odd f.
:func:`ifrnet.numerics.layers.conv2d_same` and :mod:`ifrnet.numerics.block_kernel` use them for
float32/64 CPU tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics.plf import numba, sync_threads

if numba is not None:
    # Whole-row views (integer indices keep a contiguous layout) with non-negative offsets
    # inside the index vectorise; slices such as ``row[b : b + w]`` do not. Each job copies the
    # f input rows it needs, padded (zeros, or wrapped around), into a small buffer, so the
    # caller never pads whole images.

    @numba.njit(inline="always")
    def _padded_rows(x, b, row, size, circular, buf):  # pragma: no cover - numba
        # buf (C, size, W + size − 1) ← rows row − p … row + p of x[b], padded by p each side
        channels, h, wd = x.shape[1], x.shape[2], x.shape[3]
        p = size // 2
        for c in range(channels):
            for a in range(size):
                dst = buf[c, a]
                r = row + a - p
                if circular:
                    r = r % h
                elif r < 0 or r >= h:
                    dst[:] = 0
                    continue
                src = x[b, c, r]
                for j in range(wd):
                    dst[j + p] = src[j]
                for j in range(p):
                    dst[j] = src[wd - p + j] if circular else 0
                    dst[wd + p + j] = src[j] if circular else 0

    @numba.njit(inline="always")
    def _taps3(w, o, c):  # pragma: no cover - numba
        """The nine taps of filter w[o, c] (3×3), row by row, as locals (hoisted out of loops
        that write arrays, which numba cannot prove apart from w)."""
        return (
            w[o, c, 0, 0], w[o, c, 0, 1], w[o, c, 0, 2],
            w[o, c, 1, 0], w[o, c, 1, 1], w[o, c, 1, 2],
            w[o, c, 2, 0], w[o, c, 2, 1], w[o, c, 2, 2],
        )  # fmt: skip

    @numba.njit(fastmath=True, inline="always")
    def _add_taps3(start, t, r0, r1, r2, j):  # pragma: no cover - numba
        """start + the 3×3 correlation at column j of the padded rows r0, r1, r2 (taps t)."""
        v = start + t[0] * r0[j] + t[1] * r0[j + 1] + t[2] * r0[j + 2]
        v += t[3] * r1[j] + t[4] * r1[j + 1] + t[5] * r1[j + 2]
        return v + t[6] * r2[j] + t[7] * r2[j + 1] + t[8] * r2[j + 2]

    @numba.njit(fastmath=True, cache=True)
    def _correlate_row(buf, w, o, bias, acc):  # pragma: no cover - numba
        """acc (W,) ← bias + output channel o of one row: buf (C, f, W + f − 1) the padded
        input rows it reads, w (O, C, f, f)."""
        _correlate_ring(buf, 0, w, o, bias, acc)

    @numba.njit(fastmath=True, cache=True)
    def _correlate_ring(buf, top, w, o, bias, acc):  # pragma: no cover - numba
        """:func:`_correlate_row` with buf's rows in ring order: filter row a reads buf[:,
        (top + a) % f]. 3×3 filters: the nine taps of a channel in one pass over the row (other
        sizes: one pass per tap)."""
        channels, size, wd = buf.shape[0], w.shape[2], acc.shape[0]
        acc[:] = bias
        for c in range(channels):
            if size == 3:
                r0, r1, r2 = buf[c, top % 3], buf[c, (top + 1) % 3], buf[c, (top + 2) % 3]
                taps = _taps3(w, o, c)
                for j in range(wd):
                    acc[j] = _add_taps3(acc[j], taps, r0, r1, r2, j)
                continue
            for a in range(size):
                src = buf[c, (top + a) % size]
                for k in range(size):
                    tap = w[o, c, a, k]
                    for j in range(wd):
                        acc[j] += tap * src[j + k]

    @numba.njit(fastmath=True, cache=True)
    def _weight_grad_row(src, grow, out):  # pragma: no cover - numba
        """out (f, f) float64 += Σ_j grow[j]·src[a, j + k]: one row's share of a weight
        gradient; src (f, W + f − 1) one input channel's padded rows, grow (W,) the output
        gradient's row (each sum in the data's dtype)."""
        _weight_grad_ring(src, 0, grow, out)

    @numba.njit(fastmath=True, cache=True)
    def _weight_grad_ring(src, top, grow, out):  # pragma: no cover - numba
        """:func:`_weight_grad_row` with src's rows in ring order (filter row a reads src[(top +
        a) % f]). 3×3: the nine sums in one pass."""
        size, wd = src.shape[0], grow.shape[0]
        zero = grow[0] - grow[0]
        if size == 3:
            r0, r1, r2 = src[top % 3], src[(top + 1) % 3], src[(top + 2) % 3]
            s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = zero
            for j in range(wd):
                gj = grow[j]
                s00 += gj * r0[j]
                s01 += gj * r0[j + 1]
                s02 += gj * r0[j + 2]
                s10 += gj * r1[j]
                s11 += gj * r1[j + 1]
                s12 += gj * r1[j + 2]
                s20 += gj * r2[j]
                s21 += gj * r2[j + 1]
                s22 += gj * r2[j + 2]
            out[0, 0] += s00
            out[0, 1] += s01
            out[0, 2] += s02
            out[1, 0] += s10
            out[1, 1] += s11
            out[1, 2] += s12
            out[2, 0] += s20
            out[2, 1] += s21
            out[2, 2] += s22
            return
        for a in range(size):
            row = src[(top + a) % size]
            for k in range(size):
                total = zero
                for j in range(wd):
                    total += grow[j] * row[j + k]
                out[a, k] += total

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _correlate(x, w, bias, circular, out):  # pragma: no cover - numba
        batch, channels, h, wd = x.shape
        out_ch, _, size, _ = w.shape
        for job in numba.prange(batch * h):
            row = job % h
            b = job // h
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            _padded_rows(x, b, row, size, circular, buf)
            acc = np.empty(wd, dtype=out.dtype)
            for o in range(out_ch):
                _correlate_row(buf, w, o, bias[o], acc)
                out[b, o, row] = acc

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _weight_grad(x, g, circular, partial):  # pragma: no cover - numba
        # partial (B·H, O, C, f, f) float64 zeros: one row's share per job
        batch, channels, h, wd = x.shape
        out_ch = g.shape[1]
        size = partial.shape[-1]
        for job in numba.prange(batch * h):
            row = job % h
            b = job // h
            buf = np.empty((channels, size, wd + size - 1), dtype=x.dtype)
            _padded_rows(x, b, row, size, circular, buf)
            for o in range(out_ch):
                for c in range(channels):
                    _weight_grad_row(buf[c], g[b, o, row], partial[job, o, c])


def available(x: torch.Tensor) -> bool:
    """Whether the kernels can run on x: numba present, a float32/64 CPU tensor."""
    return (
        numba is not None and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    )


def _array(t: torch.Tensor, dtype: torch.dtype | None = None) -> np.ndarray:
    return t.detach().to(t.dtype if dtype is None else dtype).contiguous().numpy()


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
    sync_threads()
    bn = None if bias is None else _array(bias, x.dtype)
    return torch.from_numpy(correlate_array(_array(x), _array(w, x.dtype), bn, circular))


def correlate_weight_grad(
    x: torch.Tensor, g: torch.Tensor, size: int, circular: bool = False
) -> torch.Tensor:
    """Gradient of Σ g ⊙ correlate(x, w, circular=circular) with respect to w: x (B, C, H, W),
    g (B, O, H, W) → (O, C, size, size) float64, rows summed in float64."""
    sync_threads()
    return torch.from_numpy(weight_grad_array(_array(x), _array(g, x.dtype), size, circular))

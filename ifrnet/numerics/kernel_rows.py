"""The row functions shared by the CPU kernels: one image row of the PLF and of a few-channel
'same' correlation, as numba functions that the kernels of :mod:`ifrnet.numerics.plf`,
:mod:`ifrnet.numerics.conv_kernel` and :mod:`ifrnet.numerics.block_kernel` compose (the last
fuses both into IFR-Net's CNN block), with the arrays they take.

PLF rows (paper Eq. (10); points p_i = −1 + 2i/(N − 1), values q (C, N)). ``inv`` = (N − 1)/2
and ``one`` = 1 come in the data's dtype (:func:`plf_grid`), ``qc``/``dc`` hold one channel's
values q[c] and slopes q[c, i + 1] − q[c, i] (:func:`plf_tables`). Branch-free: the value is
clamped to [−1, 1] for the interpolation and continues with slope 1 through (v − clamped); the
bin index is an unsigned integer capped at N − 2, so it is in range for every input, NaN
included (whose output stays NaN), and needs no wrap-around test. A row is two passes: a
vectorised one (bins, positions in them, the slope-1 part: :func:`plf_bin_row`) and the table
lookups, which stay scalar (:func:`plf_table_row`).

Correlation rows (filters w (O, C, f, f), odd f). Whole-row views (integer indices keep a
contiguous layout) with non-negative offsets inside the index vectorise; slices such as
``row[b : b + w]`` do not. A job copies the f input rows it needs, padded (zeros, or wrapped
around), into a small buffer (:func:`padded_rows`), so no caller pads whole images; the
correlation and weight-gradient rows read such buffers, optionally as a ring of f rows.

Fast-math as :mod:`ifrnet.numerics.dispatch` states it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ifrnet.numerics.dispatch import FASTMATH, numba

LANES = 4  # interleaved histograms of q's gradient (a power of two)


def plf_grid(points: int, dtype: torch.dtype) -> tuple[Any, Any]:
    """((N − 1)/2, 1) in the data's (numpy) dtype: the PLF rows' grid scale and one."""
    scalar = torch.empty(0, dtype=dtype).numpy().dtype.type
    return scalar((points - 1) / 2), scalar(1)


def plf_tables(q: torch.Tensor, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """(values, slopes, (N − 1)/2, 1) of the PLFs q (C, N) for the rows, in the data's dtype."""
    values = q.detach().to(dtype).contiguous().numpy()
    slopes = np.ascontiguousarray(np.diff(values, axis=1))
    return values, slopes, *plf_grid(values.shape[1], dtype)


def as_array(t: torch.Tensor, dtype: torch.dtype | None = None) -> np.ndarray:
    """t (detached, in ``dtype`` if given) as a C-contiguous numpy array."""
    return t.detach().to(t.dtype if dtype is None else dtype).contiguous().numpy()


if numba is not None:
    # -----------------------------------------------------------------------------------------
    # PLF rows

    @numba.njit(fastmath=FASTMATH, cache=True)
    def plf_bin(v, inv, one):  # pragma: no cover - numba
        """(clamped v, position t on the grid, its bin i ≤ N − 2 as uint32, t − i)."""
        top_value = (inv + inv) - one  # N − 2
        vc = min(max(v, -one), one)
        t = (vc + one) * inv
        floor = min(np.floor(t), top_value)  # in the data's dtype (no float64 detour)
        return vc, t, min(np.uint32(np.int32(floor)), np.uint32(top_value)), t - floor

    @numba.njit(fastmath=FASTMATH, cache=True, inline="always")
    def plf_first_pass(v, inv, one):  # pragma: no cover - numba
        """(bin i, position t − i in it, v − clamp(v)) of one pixel: what the table lookup of
        :func:`plf_table_row` needs (the last term is the slope-1 continuation outside
        [−1, 1])."""
        vc, _, i, f = plf_bin(v, inv, one)
        return i, f, v - vc

    @numba.njit(fastmath=FASTMATH, cache=True)
    def plf_bin_row(xr, inv, one, yr, bins, frac):  # pragma: no cover - numba
        """The PLF's first pass over a row (vectorised): bins, frac, yr ← :func:`plf_first_pass`."""
        for m in range(xr.shape[0]):
            bins[m], frac[m], yr[m] = plf_first_pass(xr[m], inv, one)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def plf_table_row(qc, dc, bins, frac, yr):  # pragma: no cover - numba
        """The PLF's second pass (the table lookups, scalar): yr += q[i] + frac·(q[i + 1] −
        q[i]) for one channel's values qc and slopes dc."""
        for m in range(yr.shape[0]):
            i = bins[m]
            yr[m] = qc[i] + frac[m] * dc[i] + yr[m]

    @numba.njit(fastmath=FASTMATH, cache=True)
    def plf_table_slope_row(qc, dc, bins, frac, yr, sr):  # pragma: no cover - numba
        """:func:`plf_table_row`, also writing each pixel's table slope q[i + 1] − q[i] to sr."""
        for m in range(yr.shape[0]):
            i = bins[m]
            slope = dc[i]
            yr[m] = qc[i] + frac[m] * slope + yr[m]
            sr[m] = slope

    @numba.njit(fastmath=FASTMATH, cache=True, inline="always")
    def plf_derivative(v, slope, inv, one):  # pragma: no cover - numba
        """The PLF's derivative at v whose bin has the table slope ``slope`` (NaN at NaN; at
        exactly ±1 from the outer, slope-1 side)."""
        return v if v != v else (slope * inv if (v > -one) & (v < one) else one)

    @numba.njit(fastmath=FASTMATH, cache=True, inline="always")
    def plf_split(v, gg, f, zero):  # pragma: no cover - numba
        """A pixel's shares (lower point, upper point) of q's gradient: gg at position f in
        its bin; none for a NaN input v."""
        nan = v != v
        return (zero if nan else gg - gg * f), (zero if nan else gg * f)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def plf_add_shares(bins, low, high, hist):  # pragma: no cover - numba
        """hist (LANES, points) += the shares low, high of pixels in bins (lane k % LANES)."""
        for k in range(bins.shape[0]):
            lane = k & (LANES - 1)
            hist[lane, bins[k]] += low[k]
            hist[lane, bins[k] + 1] += high[k]

    # -----------------------------------------------------------------------------------------
    # Correlation rows

    @numba.njit(inline="always")
    def padded_rows(x, b, row, size, circular, buf):  # pragma: no cover - numba
        """buf (C, size, W + size − 1) ← rows row − p … row + p of x[b] (x (B, C, H, W)),
        padded by p = size // 2 each side with zeros, or wrapped around when ``circular``."""
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
    def taps3(w, o, c):  # pragma: no cover - numba
        """The nine taps of filter w[o, c] (3×3), row by row, as locals (hoisted out of loops
        that write arrays, which numba cannot prove apart from w)."""
        return (
            w[o, c, 0, 0], w[o, c, 0, 1], w[o, c, 0, 2],
            w[o, c, 1, 0], w[o, c, 1, 1], w[o, c, 1, 2],
            w[o, c, 2, 0], w[o, c, 2, 1], w[o, c, 2, 2],
        )  # fmt: skip

    @numba.njit(fastmath=FASTMATH, inline="always")
    def add_taps3(start, t, r0, r1, r2, j):  # pragma: no cover - numba
        """start + the 3×3 correlation at column j of the padded rows r0, r1, r2 (taps t)."""
        v = start + t[0] * r0[j] + t[1] * r0[j + 1] + t[2] * r0[j + 2]
        v += t[3] * r1[j] + t[4] * r1[j + 1] + t[5] * r1[j + 2]
        return v + t[6] * r2[j] + t[7] * r2[j + 1] + t[8] * r2[j + 2]

    @numba.njit(fastmath=FASTMATH, cache=True)
    def correlate_row(buf, w, o, bias, acc):  # pragma: no cover - numba
        """acc (W,) ← bias + output channel o of one row: buf (C, f, W + f − 1) the padded
        input rows it reads, w (O, C, f, f)."""
        correlate_ring(buf, 0, w, o, bias, acc)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def correlate_ring(buf, top, w, o, bias, acc):  # pragma: no cover - numba
        """:func:`correlate_row` with buf's rows in ring order: filter row a reads buf[:,
        (top + a) % f]. 3×3 filters: the nine taps of a channel in one pass over the row (other
        sizes: one pass per tap)."""
        channels, size, wd = buf.shape[0], w.shape[2], acc.shape[0]
        acc[:] = bias
        for c in range(channels):
            if size == 3:
                r0, r1, r2 = buf[c, top % 3], buf[c, (top + 1) % 3], buf[c, (top + 2) % 3]
                taps = taps3(w, o, c)
                for j in range(wd):
                    acc[j] = add_taps3(acc[j], taps, r0, r1, r2, j)
                continue
            for a in range(size):
                src = buf[c, (top + a) % size]
                for k in range(size):
                    tap = w[o, c, a, k]
                    for j in range(wd):
                        acc[j] += tap * src[j + k]

    @numba.njit(fastmath=FASTMATH, cache=True)
    def weight_grad_row(src, grow, out):  # pragma: no cover - numba
        """out (f, f) float64 += Σ_j grow[j]·src[a, j + k]: one row's share of a weight
        gradient; src (f, W + f − 1) one input channel's padded rows, grow (W,) the output
        gradient's row (each sum in the data's dtype)."""
        weight_grad_ring(src, 0, grow, out)

    @numba.njit(fastmath=FASTMATH, cache=True)
    def weight_grad_ring(src, top, grow, out):  # pragma: no cover - numba
        """:func:`weight_grad_row` with src's rows in ring order (filter row a reads src[(top +
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

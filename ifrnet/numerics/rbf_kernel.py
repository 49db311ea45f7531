"""CPU kernels for VN's radial-basis activations (baselines.vn, Hammernik et al. 2018).

φ_c(z) = Σ_d w_{c, n+d} G_d over the 2R + 1 Gaussians nearest to z: with b = (z − μ_0)/σ, n
its nearest centre (clamped to −R … N_w − 1 + R) and r = b − n (clamped to ±½),
G_{−R} = exp(−(r + R)²/2) (0 out of reach of every centre) and G_{d+1} = G_d · (e^r · e^{−d−½}).
These are the operations of :func:`baselines.vn._rbf_window`, which composes them from torch
ops over (C, M, 2R + 1) tensors (the reference, and the path of other devices); here each pixel
is one pass over its 2R + 1 Gaussians, nothing of that size is stored, and the backward
recomputes them:

- forward: φ;
- backward: z's gradient g·Σ_d w_{n+d} G_d (d − r)/σ and the weights' gradient as rows
  ``table[c, n + R, d + R] += g·G_d`` (float64, per job), folded by the caller as
  :func:`baselines.vn._fold_rows` does.

Pixels are processed in fixed chunks of a plane (one job each: the partial tables, summed in
job order, do not depend on the thread count); a first loop per chunk (vectorised) finds each
pixel's n, r, e^r and G_{−R}, a second (the weight lookups: scalar) does the rest.
"""

from __future__ import annotations

import numpy as np
import torch

from ifrnet.numerics import dispatch
from ifrnet.numerics.dispatch import FASTMATH, numba

CHUNK = 4096  # pixels per job and pass (their scratch rows stay in cache)

if numba is not None:

    @numba.njit(fastmath=FASTMATH, cache=True, inline="always")
    def _exp_small(x):  # pragma: no cover - numba
        """e^x for |x| ≤ ½ in x's dtype: its Taylor polynomial to x¹³ by Horner (truncation
        < 1e-15 relative), which vectorises where a call of exp does not."""
        p = x * (1 / 6227020800) + 1 / 479001600  # 1/13!, 1/12!
        p = p * x + 1 / 39916800
        p = p * x + 1 / 3628800
        p = p * x + 1 / 362880
        p = p * x + 1 / 40320
        p = p * x + 1 / 5040
        p = p * x + 1 / 720
        p = p * x + 1 / 120
        p = p * x + 1 / 24
        p = p * x + 1 / 6
        p = p * x + 1 / 2
        p = p * x + 1
        return p * x + 1

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _first(zr, mu0, sigma, reach, top, n, r, er, g0, power):  # pragma: no cover - numba
        """Per pixel of zr: n (int64, row index n + R of the weight rows), r, e^r and G_{−R}
        (zero out of reach: b outside [−R − ½, N_w − ½ + R]); ``top`` = N_w − 1 + R; power:
        scratch. G_{−R} = exp(−(r + R)²/2) is e^{−R²/2} · e^{−r²/2} / (e^r)^R, the
        exponentials of arguments in [−½, ½] by :func:`_exp_small`: vectorised loops only."""
        half = mu0 - mu0 + 0.5
        lo, hi = -reach, top
        scale = half - half + np.exp(-0.5 * reach * reach)  # e^{−R²/2}, in the data's dtype
        for m in range(zr.shape[0]):
            b = (zr[m] - mu0) / sigma
            near = min(max(np.rint(b), lo), hi)  # half to even, as torch.round; NaN: an end
            inside = (b >= lo - half) & (b <= hi + half)
            rm = min(max(b - near, -half), half)
            n[m] = np.int64(near) + reach
            r[m] = rm
            er[m] = _exp_small(rm)
            g0[m] = scale * _exp_small(-half * rm * rm) if inside else half - half
            power[m] = half + half
        for _ in range(reach):
            for m in range(zr.shape[0]):
                power[m] *= er[m]
        for m in range(zr.shape[0]):
            g0[m] /= power[m]

    @numba.njit(fastmath=FASTMATH, cache=True)
    def _job(z, rows, job, mu0, sigma):  # pragma: no cover - numba
        """A job's plane p and pixels start … stop − 1 of z (P, M), with their n, r, e^r and
        G_{−R} (:func:`_first`); rows: the weight rows (C, N_w + 2R, 2R + 1)."""
        n_rows, k = rows.shape[1:]
        reach, chunks = (k - 1) // 2, _chunks(z)
        p, start = job // chunks, (job % chunks) * CHUNK
        stop = min(start + CHUNK, z.shape[1])
        zr = z[p, start:stop]
        n = np.empty(stop - start, np.int64)
        r, er = np.empty_like(zr), np.empty_like(zr)
        g0, power = np.empty_like(zr), np.empty_like(zr)
        _first(zr, mu0, sigma, reach, n_rows - 1 - reach, n, r, er, g0, power)
        return p, start, stop, n, r, er, g0

    @numba.njit(cache=True)
    def _chunks(z):  # pragma: no cover - numba
        """Jobs per plane of z (P, M): chunks of CHUNK pixels."""
        return (z.shape[1] + CHUNK - 1) // CHUNK

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _forward(z, rows, steps, mu0, sigma, out):  # pragma: no cover - numba
        """out (P, M) ← φ of z (P, M), plane p in channel p % C; rows (C, N_w + 2R, 2R + 1)
        the weight rows, steps (2R + 1,) the factors e^{−d−½}, d = −R … R − 1, and a 1."""
        channels, _, k = rows.shape
        for job in numba.prange(z.shape[0] * _chunks(z)):
            p, start, stop, n, r, er, g0 = _job(z, rows, job, mu0, sigma)
            orow, wc = out[p, start:stop], rows[p % channels]
            for m in range(stop - start):
                w, g, e = wc[n[m]], g0[m], er[m]
                acc = g - g
                for d in range(k):  # G_{d+1} after G_d is used (steps[2R] is a spare 1)
                    acc += g * w[d]
                    g = g * (e * steps[d])
                orow[m] = acc

    @numba.njit(parallel=True, fastmath=FASTMATH, cache=True)
    def _backward(z, grad, rows, steps, mu0, sigma, with_z, gz, table):  # pragma: no cover
        """gz (P, M) ← z's gradient (if with_z) and table (jobs, N_w + 2R, 2R + 1) ← each
        job's rows of the weights' gradient, for the output gradient grad (P, M)."""
        channels, _, k = rows.shape
        reach = (k - 1) // 2
        for job in numba.prange(z.shape[0] * _chunks(z)):
            p, start, stop, n, r, er, g0 = _job(z, rows, job, mu0, sigma)
            grow, wc, tj = grad[p, start:stop], rows[p % channels], table[job]
            for m in range(stop - start):
                w, t, g, e, gm = wc[n[m]], tj[n[m]], g0[m], er[m], grow[m]
                total = moment = g - g
                offset = total - reach  # d, as a number of the data's dtype
                for d in range(k):
                    term = g * w[d]
                    total += term
                    moment += term * offset
                    t[d] += np.float64(gm * g)
                    g = g * (e * steps[d])
                    offset += 1
                if with_z:
                    gz[p, start + m] = gm * (moment - r[m] * total) / sigma


def _planes(t: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) → a (B·C, H·W) array sharing memory where t is contiguous."""
    return t.detach().contiguous().view(t.shape[0] * t.shape[1], -1).numpy()


def _scalars(z: torch.Tensor, centres: torch.Tensor, sigma: float, reach: int):
    """(μ_0, σ, the factors e^{−d−½} for d = −R … R − 1 and a spare 1) in z's dtype (the
    reference's ``steps``, computed as it does)."""
    scalar = np.dtype(str(z.dtype).removeprefix("torch.")).type
    steps = torch.exp(-torch.arange(-reach, reach, dtype=z.dtype) - 0.5)
    return scalar(centres[0].item()), scalar(sigma), torch.cat([steps, steps.new_ones(1)]).numpy()


def rbf(z: torch.Tensor, rows: torch.Tensor, centres: torch.Tensor, sigma: float) -> torch.Tensor:
    """φ(z) for z (B, C, H, W) and the weight rows (C, N_w + 2R, 2R + 1) of
    :func:`baselines.vn._weight_rows` (in z's dtype); no autograd."""
    dispatch.sync_threads()
    reach = (rows.shape[-1] - 1) // 2
    mu0, sig, steps = _scalars(z, centres, sigma, reach)
    out = torch.empty_like(z, memory_format=torch.contiguous_format)
    rows_n = rows.detach().to(z.dtype).contiguous().numpy()
    _forward(_planes(z), rows_n, steps, mu0, sig, _planes(out))
    return out


def rbf_backward(
    z: torch.Tensor,
    grad: torch.Tensor,
    rows: torch.Tensor,
    centres: torch.Tensor,
    sigma: float,
    with_z: bool,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(z's gradient or None, the weight rows' gradient (C, N_w + 2R, 2R + 1) float64) of
    Σ grad ⊙ φ(z); shapes as :func:`rbf`."""
    dispatch.sync_threads()
    channels, n_rows, k = rows.shape
    reach = (k - 1) // 2
    mu0, sig, steps = _scalars(z, centres, sigma, reach)
    zn = _planes(z)
    chunks = -(-zn.shape[1] // CHUNK)
    table = np.zeros((zn.shape[0] * chunks, n_rows, k))
    gz = torch.empty_like(z, memory_format=torch.contiguous_format) if with_z else None
    gz_n = _planes(gz) if with_z else np.empty((1, 1), zn.dtype)
    rows_n = rows.detach().to(z.dtype).contiguous().numpy()
    g = _planes(grad.to(z.dtype))
    _backward(zn, g, rows_n, steps, mu0, sig, with_z, gz_n, table)
    # job = (plane, chunk), plane = (image, channel): add each channel's jobs in job order
    per_channel = table.reshape(-1, channels, chunks, n_rows, k).sum(axis=(0, 2))
    return gz, torch.from_numpy(per_channel)

"""IFR-Net's X step for real images (paper Eq. (6)): torch ops, and CPU kernels around FFTs.

x = Re ifft2c(z), z = (y + ρ·fft2c(x_t)) / d, d = M + ρ (1e-6 where that is 0): the X step of
:meth:`ifrnet.numerics.forward_model.ForwardModel.data_consistency_real`, as one autograd node
on torch ops (the reference, any device) or on CPU kernels, chosen by
:func:`real_data_consistency` (:func:`ifrnet.numerics.dispatch.use_kernel` and :func:`fits`).
The kernels, for even H and W:

- the centring is an index shift: with (p, q) the FFT's own frequency indices and (m, n) =
  ((p + H/2) mod H, (q + W/2) mod W) the centred ones, fft2c(x)[m, n] = σ·fft2(x)[p, q] and
  ifft2c(z) = ifft2(Z) with Z[p, q] = σ·z[m, n], σ = (−1)^(p+q);
- x_t and x are real: x_t's spectrum is ``rfft2``'s half (q ≤ W/2; the rest is its Hermitian
  mirror), and Re ifft2(Z) = ``irfft2`` of the half of Z's Hermitian part
  (Z[P] + conj Z[P̄]) / 2, P̄ = (−p, −q) mod (H, W).

So the X step is rfft2 → one elementwise pass → irfft2, and its backward likewise, with the
ρ-gradient's inner product (Parseval) taken over the half spectrum in float64 in the same pass.
Arithmetic in the data's dtype (IEEE, no fastmath; a division by d is a product with 1/d),
so it agrees with the torch path to rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ifrnet.numerics import dispatch
from ifrnet.numerics.dispatch import numba
from ifrnet.numerics.fourier import fft2c, ifft2c

if numba is not None:

    @numba.njit(parallel=True, cache=True, error_model="numpy")
    def _forward(spec, y, mask, rho, half, with_grad, dz, weight):  # pragma: no cover - numba
        """One pass over the half spectrum: (B, H, W/2 + 1) points, complex values stored as
        real and imaginary parts in a last axis of 2 (W + 2 reals per row). spec: rfft2(x_t),
        or zeros (1, 1, W + 2) for x_t = 0; y (B, H, 2W) centred; mask (1 or B, H, W); rho in
        the data's dtype. Writes half: (Z[P] + conj Z[P̄]) / 2, the input of irfft2; dz: ∂Z/∂ρ
        paired for Parseval, (D[P] + conj D[P̄]) · (½ on columns 0 and W/2, else 1); weight
        (B, H, W/2 + 1): (ρ/d[P] + ρ/d[P̄]) / 2, x_t's gradient factor. dz and weight only
        ``with_grad`` (else they may be (1, 1, ·) placeholders, left alone)."""
        batch, h = half.shape[:2]
        w2 = mask.shape[2] // 2
        h2 = h // 2
        one, zero, halfc = y.dtype.type(1), y.dtype.type(0), y.dtype.type(0.5)
        eps = y.dtype.type(1e-6)
        u1 = np.uint64(1)
        for bp in numba.prange(batch * h):
            b, p = bp // h, bp % h
            # the centred rows of P = (p, q) and P̄ = (−p, −q); their columns are
            # w2 + q (0 for q = w2) and w2 − q
            m, mm = (p + h2) % h, (h - p + h2) % h
            ya, yb = y[b, m], y[b, mm]
            ma, mb = mask[b % mask.shape[0], m], mask[b % mask.shape[0], mm]
            x = spec[b % spec.shape[0], p % spec.shape[1]]
            hr = half[b, p]
            dr = dz[b % dz.shape[0], p % dz.shape[1]]
            wr = weight[b % weight.shape[0], p % weight.shape[1]]
            sp = one if p % 2 == 0 else -one
            for lo, hi, shift in ((0, w2, w2), (w2, w2 + 1, -w2)):  # (each loop vectorises)
                for q in range(lo, hi):
                    # unsigned indices: no negative-index wraparound, so the loop vectorises
                    k, n, nn = np.uint64(q), np.uint64(q + shift), np.uint64(w2 - q)
                    k2, n2, nn2 = k + k, n + n, nn + nn
                    sg = sp if q % 2 == 0 else -sp
                    den, denb = ma[n] + rho, mb[nn] + rho
                    # d = M + ρ, 1e-6 where that is 0; divisions as products with 1/d
                    ida = one / (den if den != zero else eps)
                    idb = one / (denb if denb != zero else eps)
                    # Z at P and at P̄ (where x_t's spectrum is conj(xr + i xi))
                    xr, xi = x[k2], x[k2 + u1]
                    zr = (sg * ya[n2] + rho * xr) * ida
                    zi = (sg * ya[n2 + u1] + rho * xi) * ida
                    zbr = (sg * yb[nn2] + rho * xr) * idb
                    zbi = (sg * yb[nn2 + u1] - rho * xi) * idb
                    hr[k2] = (zr + zbr) * halfc
                    hr[k2 + u1] = (zi - zbi) * halfc
                    if not with_grad:
                        continue
                    # ∂Z/∂ρ = (X − Z·[M + ρ ≠ 0]) / d (the replaced denominator a constant)
                    d0 = (xr - (zr if den != zero else zero)) * ida
                    d1 = (xi - (zi if den != zero else zero)) * ida
                    d2 = (xr - (zbr if denb != zero else zero)) * idb
                    d3 = (-xi - (zbi if denb != zero else zero)) * idb
                    edge = halfc if q == 0 or q == w2 else one
                    dr[k2] = (d0 + d2) * edge
                    dr[k2 + u1] = (d1 - d3) * edge
                    wr[k] = rho * (ida + idb) * halfc

    @numba.njit(parallel=True, cache=True, error_model="numpy")
    def _backward(spec, weight, with_x, dz, with_rho, out, partial):  # pragma: no cover - numba
        """spec: rfft2 of the output's gradient (B, H, W + 2), interleaved as in
        :func:`_forward`. Writes out = spec · weight (if with_x; the half spectrum of x_t's
        gradient) and partial[b·H + p] = Σ_q Re(conj spec · dz) in float64 (if with_rho;
        summed in a fixed order by the caller)."""
        batch, h, n = spec.shape
        for bp in numba.prange(batch * h):
            b, p = bp // h, bp % h
            s, d, o, wr = (
                spec[b, p],
                dz[b, p],
                out[b % out.shape[0], p % out.shape[1]],
                weight[b, p],
            )
            if with_x:
                for i in range(n):
                    o[i] = s[i] * wr[i >> 1]
            if with_rho:
                acc = 0.0
                for i in range(n):
                    acc += np.float64(s[i]) * np.float64(d[i])
                partial[bp] = acc


def fits(x_t: torch.Tensor | None, y: torch.Tensor, mask: torch.Tensor, rho: torch.Tensor) -> bool:
    """The kernels' condition on their inputs (beyond :func:`ifrnet.numerics.dispatch.use_kernel`'s
    on devices and dtypes): y complex (B, H, W) with H and W even; mask (H, W) or (1 or B, H, W)
    and x_t (B, 1, H, W) or None in y's real dtype; ρ a real 0-dim tensor."""
    if not y.is_complex() or y.dim() != 3 or y.shape[-2] % 2 or y.shape[-1] % 2:
        return False
    real = y.real.dtype
    batch, h, w = y.shape
    mask_ok = mask.dtype == real and mask.shape[-2:] == (h, w)
    mask_ok = mask_ok and (mask.dim() == 2 or (mask.dim() == 3 and mask.shape[0] in (1, batch)))
    x_ok = x_t is None or (x_t.dtype == real and x_t.shape == (batch, 1, h, w))
    return mask_ok and x_ok and rho.dim() == 0 and not rho.is_complex()


def _pairs(t: torch.Tensor) -> np.ndarray:
    """Complex tensor (…, N) → numpy view of its real and imaginary parts, interleaved
    (…, 2N)."""
    parts = torch.view_as_real(t.detach().resolve_conj().contiguous()).numpy()
    return parts.reshape(*parts.shape[:-2], -1)


class RealDataConsistency(torch.autograd.Function):
    """The X step for real images on the kernels: (x_t (B, 1, H, W) or None, y (B, H, W),
    mask, ρ) → x (B, 1, H, W), gradients to x_t and ρ (see the module docstring)."""

    @staticmethod
    def forward(ctx, x_t, y, mask, rho, with_grad=True):  # noqa: D102
        # with_grad False: no backward will follow (no_grad, or neither x_t nor ρ needs grad)
        dispatch.sync_threads()
        batch, h, w = y.shape
        real = y.real.dtype
        rho_v = np.dtype(str(real).removeprefix("torch.")).type(rho.detach().item())
        with_x = x_t is not None
        shape = (batch, h, w // 2 + 1)
        spec = (
            _pairs(torch.fft.rfft2(x_t.detach()[:, 0], norm="ortho"))
            if with_x
            else np.zeros((1, 1, 2 * shape[2]), rho_v.dtype)
        )
        half = torch.empty((*shape, 2), dtype=real)
        kept = shape if with_grad else (1, 1, 1)  # dz and weight, or placeholders
        dz = torch.empty((*kept, 2), dtype=real)
        weight = torch.empty(kept, dtype=real)
        mask_n = mask.detach().contiguous().reshape(-1, h, w).numpy()
        flat = (batch, h, -1)
        _forward(
            spec, _pairs(y), mask_n, rho_v, half.numpy().reshape(flat), with_grad,
            dz.numpy().reshape(*kept[:2], -1), weight.numpy(),
        )  # fmt: skip
        ctx.save_for_backward(weight, dz, rho)
        ctx.with_x = with_x
        out = torch.fft.irfft2(torch.view_as_complex(half), s=(h, w), norm="ortho")
        return out.unsqueeze(1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: D102
        weight, dz, rho = ctx.saved_tensors
        with_x = ctx.with_x and ctx.needs_input_grad[0]
        with_rho = ctx.needs_input_grad[3]
        if not (with_x or with_rho):
            return None, None, None, None, None
        dispatch.sync_threads()
        h, w = grad.shape[-2:]
        spec = _pairs(torch.fft.rfft2(grad[:, 0], norm="ortho"))
        out = torch.empty(dz.shape if with_x else (1, 1, 1, 2), dtype=dz.dtype)
        partial = np.zeros(spec.shape[0] * spec.shape[1])
        flat = (*out.shape[:2], -1)
        dz_n = dz.numpy().reshape(*dz.shape[:2], -1)
        _backward(spec, weight.numpy(), with_x, dz_n, with_rho, out.numpy().reshape(flat), partial)
        g_x = g_rho = None
        if with_x:
            g_x = torch.fft.irfft2(torch.view_as_complex(out), s=(h, w), norm="ortho").unsqueeze(1)
        if with_rho:
            g_rho = torch.tensor(partial.sum(), dtype=rho.dtype)
        return g_x, None, None, g_rho, None


def real_data_consistency(
    x_t: torch.Tensor | None, y: torch.Tensor, mask: torch.Tensor, rho: torch.Tensor
) -> torch.Tensor:
    """x = Re ifft2c((y + ρ·fft2c(x_t)) / d) (module docstring) as one autograd node, gradients
    to x_t and ρ: x_t real (B, 1, H, W) or None for zeros, y complex (B, H, W), mask (H, W) or
    (B, H, W), ρ 0-dim → real (B, 1, H, W). On the kernels where
    :func:`ifrnet.numerics.dispatch.use_kernel` and :func:`fits` allow, else on the torch ops."""
    if dispatch.use_kernel(y, mask, x_t, rho, fits=fits(x_t, y, mask, rho)):
        with_grad = dispatch.grad_wanted(rho) or (x_t is not None and dispatch.grad_wanted(x_t))
        return RealDataConsistency.apply(x_t, y, mask, rho, with_grad)
    return _TorchRealDataConsistency.apply(x_t, y, mask, rho)


class _TorchRealDataConsistency(torch.autograd.Function):
    """The reference torch ops (any device): x = Re ifft2c((y + ρ·fft2c(x_t)) / d), d = M + ρ
    (1e-6 where that is 0), as one node. Its backward needs two FFTs (the adjoint of x_t ↦
    Re F⁻¹(ρ/d)F x_t is the same map) and one inner product for ρ (Parseval)."""

    @staticmethod
    def forward(ctx, x_t, y, mask, rho):  # noqa: D102
        denom = mask + rho
        nonzero = denom != 0
        d = torch.where(nonzero, denom, torch.full_like(denom, 1e-6))
        if x_t is None:
            z = y / d
            dz = z * nonzero
            dz.neg_()
        else:
            k = fft2c(x_t[:, 0])
            z = (y + rho * k) / d
            dz = k - z * nonzero
        dz /= d  # ∂z/∂ρ (the replaced denominator is a constant)
        ctx.save_for_backward(d, rho, dz)
        return ifft2c(z).real.contiguous().unsqueeze(1)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        d, rho, dz = ctx.saved_tensors
        spectrum = fft2c(grad[:, 0])
        g_x = g_rho = None
        if ctx.needs_input_grad[0]:
            g_x = ifft2c(spectrum * (rho / d)).real.contiguous().unsqueeze(1)
        if ctx.needs_input_grad[3]:
            # Re Σ conj(G)·∂z/∂ρ, by elementwise products (torch.vdot calls BLAS, slow here)
            g_rho = (torch.view_as_real(spectrum) * torch.view_as_real(dz)).sum().to(rho.dtype)
        return g_x, None, None, g_rho

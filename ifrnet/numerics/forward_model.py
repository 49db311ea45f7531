"""The single-coil MRI forward model as one operator (docs/methods.md §1, paper Eq. (6)).

    y = A x + M ⊙ n,   A x = M ⊙ F x

with F the centred orthonormal 2-D FFT (:func:`ifrnet.numerics.fourier.fft2c`), M the sampling
mask (real, 0 or 1, centred) and n complex k-space noise. Since F is unitary and M a projection,
AᴴA = Fᴴ M F and the pseudo-inverse A⁺ = Aᴴ. :class:`ForwardModel` holds M and gives

    A(x, n)                  M ⊙ (F x + n)                           measurement (n optional)
    A_adjoint(y)             Fᴴ (M ⊙ y)                              adjoint
    A_dagger(y)              Fᴴ y                                    A⁺ y for y zero off M: the
                                                                    zero-filled image
    data_consistency(x_t, y, ρ)
                             (AᴴA + ρI)⁻¹(Aᴴy + ρ x_t)               X step of IFR-CS and IFR-Net
                             = F⁻¹[(y + ρ F x_t) / (M + ρ)]          (Eq. (6), ``xmid.m``)
    data_consistency_real(x_t, y, ρ)
                             Re of the above for real images, as real (B, 1, H, W) tensors;
                             its fast path is :mod:`ifrnet.numerics.dc_kernel`
    solve(y, r, w)           (AᴴA + FᴴWF)⁻¹(Aᴴy + Fᴴr) = F⁻¹[(y + r) / (M + w)]
                             for a regulariser diagonal in k-space (ADMM-Net's X step)
    replace_sampled(x, y)    F⁻¹[(1 − M) ⊙ F x + y], the ρ → 0 limit (D5-C5)

Images are (…, H, W), real or complex; k-space (…, H, W) complex with zeros where M = 0 (what
every method receives); the mask (H, W) or (B, H, W). NumPy arrays and torch tensors on any
device both work, each result of the kind and precision that
:func:`~ifrnet.numerics.fourier.fft2c` gives for its input. In data consistency a denominator
M + ρ exactly 0 (ρ = 0 off the mask) is replaced by 1e-6, as in the authors' code. Real-valued
experiments keep the real part of the solution (the authors' ``xmid.m``); it solves the
real-constrained problem when the mask is point-symmetric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ifrnet.numerics.fourier import Array, fft2c, ifft2c, is_tensor

if TYPE_CHECKING:  # torch is imported where tensors are in play: data preparation runs without
    import torch


class ForwardModel:
    """A = M ⊙ F for the mask ``mask`` (H, W) or (B, H, W), real 0/1 (a tensor or an array);
    the operations of the module docstring."""

    def __init__(self, mask: Any) -> None:
        self.mask = mask

    def A(self, x: Array, noise: Array | None = None) -> Array:  # noqa: N802
        """y = M ⊙ (F x + n) for images x (…, H, W); n complex (…, H, W) or None. With noise,
        F x is rounded to the noise's precision before n is added (NumPy before 2.0 computes
        FFTs in double precision; data preparation draws complex64 noise)."""
        if tuple(self.mask.shape[-2:]) != tuple(x.shape[-2:]):
            raise ValueError(
                f"mask shape {tuple(self.mask.shape)} does not match the data's spatial shape "
                f"{tuple(x.shape[-2:])}"
            )
        k = fft2c(x)
        if noise is not None:
            k = (k.to(noise.dtype) if is_tensor(k) else k.astype(noise.dtype, copy=False)) + noise
        return k * self._mask_like(k)

    def A_adjoint(self, y: Array) -> Array:  # noqa: N802
        """Aᴴ y = Fᴴ (M ⊙ y): k-space (…, H, W) → complex image (…, H, W)."""
        return ifft2c(self._mask_like(y) * y)

    def A_dagger(self, y: Array) -> Array:  # noqa: N802
        """The zero-filled image Fᴴ y of measured k-space y (zero where M = 0, so that it is
        A⁺ y = Aᴴ y)."""
        return ifft2c(y)

    def data_consistency(self, x_t: Array, y: Array, rho: torch.Tensor | float) -> Array:
        """The X step (AᴴA + ρI)⁻¹(Aᴴy + ρ x_t) = F⁻¹[(y + ρ F x_t) / (M + ρ)], argmin of
        ‖M ⊙ F x − y‖² + ρ‖x − x_t‖²: x_t, y complex (B, H, W); ρ ≥ 0 a scalar (tensor).
        A denominator exactly 0 is replaced by 1e-6."""
        denom = self.mask + rho
        if is_tensor(denom):
            import torch

            denom = torch.where(denom == 0, torch.full_like(denom, 1e-6), denom)
        else:
            denom = np.where(denom == 0, denom.dtype.type(1e-6), denom)
        return ifft2c((y + rho * fft2c(x_t)) / denom)

    def data_consistency_real(
        self, x_t: torch.Tensor | None, y: torch.Tensor, rho: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`data_consistency` for real images, real part kept, on real tensors: x_t real
        (B, 1, H, W) or None for zeros, y complex (B, H, W), ρ a 0-dim tensor → real
        (B, 1, H, W), i.e. ``data_consistency(x_t, y, ρ).real`` as one autograd node with
        gradients to x_t and ρ (when y or the mask need gradients: the complex ops), from
        :func:`ifrnet.numerics.dc_kernel.real_data_consistency` (its CPU kernel or its torch
        ops)."""
        from ifrnet.numerics import dc_kernel

        if y.requires_grad or self.mask.requires_grad:
            import torch

            parts = None if x_t is None else x_t[:, 0]
            x_c = (
                torch.zeros_like(y)
                if x_t is None
                else torch.complex(parts, torch.zeros_like(parts))
            )
            return self.data_consistency(x_c, y, rho).real.unsqueeze(1)
        return dc_kernel.real_data_consistency(x_t, y, self.mask, rho)

    def solve(self, y: Array, r: Array | None, w: Any) -> Array:
        """(AᴴA + FᴴWF)⁻¹(Aᴴy + Fᴴr) = F⁻¹[(y + r) / (M + w)] for a regulariser with k-space
        weights w ≥ 0 (broadcasting against y) and k-space term r (None: zero); M + w must not
        vanish."""
        return ifft2c((y if r is None else y + r) / (self.mask + w))

    def replace_sampled(self, x: Array, y: Array) -> Array:
        """Noiseless data consistency F⁻¹[(1 − M) ⊙ F x + y]: the sampled k-space of x replaced
        by the measurements y, the rest kept (the ρ → 0 limit of :meth:`data_consistency`)."""
        return ifft2c((1 - self.mask) * fft2c(x) + y)

    def _mask_like(self, k: Array) -> Array:
        """The mask in k's real dtype (and device)."""
        if is_tensor(k):
            return self.mask.to(device=k.device, dtype=k.real.dtype)
        return np.asarray(self.mask, dtype=k.real.dtype)

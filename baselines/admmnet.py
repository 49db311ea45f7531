"""ADMM-Net (Sun, Li, Wang, Xu, NIPS 2016; `yangyan92/Deep-ADMM-Net`), docs/methods.md §5.

ADMM for min_x ½‖M ⊙ F x − y‖² + Σ_l λ_l g(H_l x), unrolled into stages n = 1..N with learned
filters (L = 8, 3×3, circular convolution, initialised to the non-DC DCT bases; the X layer of
stage n has its own H_l⁽ⁿ⁾ and the C layer its own D_l⁽ⁿ⁾, as in the paper), penalties
ρ_l, multiplier steps η_l and a piecewise-linear shrinkage per filter:

    X:  x⁽ⁿ⁾ = F⁻¹[(y + Σ_l ρ_l (F H_l)* ⊙ F(z_l⁽ⁿ⁻¹⁾ − β_l⁽ⁿ⁻¹⁾)) / (M + Σ_l ρ_l |F H_l|²)]
    C:  c_l⁽ⁿ⁾ = D_l x⁽ⁿ⁾
    Z:  z_l⁽ⁿ⁾ = PLF_l(c_l⁽ⁿ⁾ + β_l⁽ⁿ⁻¹⁾)
    M:  β_l⁽ⁿ⁾ = β_l⁽ⁿ⁻¹⁾ + η_l (c_l⁽ⁿ⁾ − z_l⁽ⁿ⁾)

with z⁽⁰⁾ = β⁽⁰⁾ = 0, and a final X layer after the last stage (the reference code's
`Multi_final` followed by `X_mid`). The X step is exact because circular convolutions are
diagonal in k-space: F(h ⊛ x) = ĥ ⊙ F x with ĥ the (centred) DFT of the filter wrapped at
the origin. Initial values (the reference `InitNet.m`, docs/methods.md §5): ρ = 0.2, η = 1.6, PLF =
soft threshold at 0.05, 101 points on [−1, 1]. Real-valued data keep the real part of x;
complex data run C, Z and M on real and imaginary parts with the same weights. The PLF is
IFR-Net's (:mod:`ifrnet.numerics.plf`). The original was trained with L-BFGS; here the optimiser is
config.

Computation: the 3×3 circular convolutions run in image space (:func:`conv2d_same` with
periodic boundaries), and the X step's numerator takes one FFT of Σ_l ρ_l H_lᵀ(z_l − β_l)
and its denominator one FFT of Σ_l ρ_l (h_l ⋆ h_l), the filters' autocorrelations — three
FFTs per stage instead of 3L + 3 when every filter goes through k-space. That is the CPU's
form (its numba convolution kernels); on other devices (a GPU, where FFTs are cheap and
small convolutions are not) every filter goes through k-space, which trained 1.2× faster on an
H100 (``benchmarks/ifrnet_speed.py --device cuda``). ``spectral=True``/``False`` forces
either (the k-space form is the reference in tests); both compute the same network.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.fourier import fft2c, ifft2c
from ifrnet.numerics.layers import (
    conv2d_same,
    dct_filters,
    from_parts,
    keep_real,
    network_mask,
    to_parts,
)
from ifrnet.numerics.plf import PiecewiseLinear


def filter_response(filters: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Centred DFT (L, H, W) of 2-D filters (L, f, f) for circular convolution on (H, W).

    ``ifft2c(response ⊙ fft2c(x))`` is the circular convolution h ⊛ x. With the filter's centre
    tap placed at the image centre (H//2, W//2), ifftshift moves it to the origin, so the
    unnormalised DFT of the origin-wrapped filter is √(HW) · fft2c(centred filter).
    """
    n_filters, size, _ = filters.shape
    h, w = shape
    if size > min(h, w):
        raise ValueError(f"filters of size {size} do not fit images of shape {shape}")
    top, left = h // 2 - size // 2, w // 2 - size // 2
    centred = F.pad(filters, (left, w - size - left, top, h - size - top))
    return fft2c(from_parts(centred, real=True)) * (h * w) ** 0.5


def admm_x_step(
    y: torch.Tensor,
    mask: torch.Tensor,
    response: torch.Tensor,
    rho: torch.Tensor,
    z_minus_beta: torch.Tensor | None,
) -> torch.Tensor:
    """The closed-form X step. y complex (B, H, W); mask (B, H, W) or (H, W); response (L, H, W);
    rho (L,); z_minus_beta complex or real (B, L, H, W) or None (zero). Returns complex (B, H, W).
    """
    weights = rho.view(-1, 1, 1).to(response.real.dtype)
    power = response.real**2 + response.imag**2
    r = None
    if z_minus_beta is not None:
        r = (weights * response.conj() * fft2c(z_minus_beta.to(y.dtype))).sum(1)
    return ForwardModel(mask).solve(y, r, (weights * power).sum(0))


def weighted_autocorrelation(filters: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """Σ_l ρ_l (h_l ⋆ h_l): filters (L, f, f), rho (L,) → (2f − 1, 2f − 1), centred; its
    response (:func:`filter_response`) is Σ_l ρ_l |ĥ_l|², real and even."""
    n_filters, size, _ = filters.shape
    padded = F.pad(filters[None], (size - 1,) * 4)  # (1, L, 3f − 2, 3f − 2)
    auto = F.conv2d(padded, filters[:, None], groups=n_filters)[0]  # (L, 2f − 1, 2f − 1)
    return (rho.view(-1, 1, 1).to(auto.dtype) * auto).sum(0)


def admm_x_step_spatial(
    y: torch.Tensor,
    mask: torch.Tensor,
    filters: torch.Tensor,
    rho: torch.Tensor,
    z_minus_beta: torch.Tensor | None,
    real: bool,
) -> torch.Tensor:
    """:func:`admm_x_step` with the filters' circular convolutions in image space.

    y complex (B, H, W); mask (B, H, W) or (H, W); filters (L, f, f); rho (L,); z_minus_beta
    real parts (P, L, H, W) (:func:`to_parts` layout) or None. Returns complex (B, H, W).
    """
    shape = tuple(y.shape[-2:])
    auto = weighted_autocorrelation(filters, rho)
    if auto.shape[-1] <= min(shape):
        power = filter_response(auto[None], shape)[0].real
    else:  # tiny images: the autocorrelation would wrap; sum the filters' powers instead
        response = filter_response(filters, shape)
        power = (rho.view(-1, 1, 1) * (response.real**2 + response.imag**2)).sum(0)
    r = None
    if z_minus_beta is not None:
        weights = (rho.view(-1, 1, 1).to(filters.dtype) * filters)[None]  # (1, L, f, f)
        # H_l z = h_l ⊛ z (convolution), so H_lᵀ is the correlation with h_l
        adjoint = conv2d_same(z_minus_beta, weights, circular=True)[:, 0]
        r = fft2c(from_parts(adjoint, real))
    return ForwardModel(mask).solve(y, r, power)


class ADMMNet(nn.Module):
    """ADMM-Net with ``stages`` stages of X, C, Z, M and a final X layer (module docstring).

    Called as ``net(kspace (B, H, W) complex, mask (H, W) or (B, H, W))`` → image (B, H, W)
    complex (imaginary part zero for real data).
    """

    def __init__(
        self,
        stages: int = 15,
        filters: int = 8,
        filter_size: int = 3,
        plf_points: int = 101,
        rho: float = 0.2,
        eta: float = 1.6,
        threshold: float = 0.05,
        real: bool = True,
        spectral: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"stages must be a positive integer, got {stages!r}")
        if filters != filter_size**2 - 1:
            raise ValueError(
                f"ADMM-Net initialises its {filters} filters from the "
                f"{filter_size**2 - 1} non-DC DCT bases: use filters = "
                f"{filter_size**2 - 1}"
            )
        self.stages, self.real, self.spectral = stages, real, spectral
        base = dct_filters(filter_size)[:, 0]
        # X layers have their own filters H (stages + 1 of them), C layers theirs D (paper:
        # H_l^(n) in X^(n), D_l^(n) in C^(n)); all start as the DCT bases
        self.x_filters = nn.ParameterList(nn.Parameter(base.clone()) for _ in range(stages + 1))
        self.c_filters = nn.ParameterList(nn.Parameter(base.clone()) for _ in range(stages))
        self.rho = nn.Parameter(torch.full((stages + 1, filters), float(rho)))
        self.eta = nn.Parameter(torch.full((stages, filters), float(eta)))
        self.plf = nn.ModuleList(
            PiecewiseLinear(filters, plf_points, threshold) for _ in range(stages)
        )

    def uses_spectral(self, device: torch.device) -> bool:
        """Whether the filters go through k-space for data on ``device``: as forced by
        ``spectral``, else everywhere but on the CPU."""
        return device.type != "cpu" if self.spectral is None else self.spectral

    def _x(self, y, mask, n: int, zb) -> torch.Tensor:
        """X layer n; zb = z − β as real parts (P, L, H, W) or None."""
        filters, rho = self.x_filters[n], self.rho[n]
        if self.uses_spectral(y.device):
            response = filter_response(filters, tuple(y.shape[-2:]))
            zb = None if zb is None else from_parts(zb, self.real)
            x = admm_x_step(y, mask, response, rho, zb)
        else:
            x = admm_x_step_spatial(y, mask, filters, rho, zb, self.real)
        return keep_real(x) if self.real else x

    def _c(self, n: int, parts: torch.Tensor) -> torch.Tensor:
        """C layer n: real parts (P, H, W) → (P, L, H, W), each filter's circular convolution."""
        filters = self.c_filters[n]
        if self.uses_spectral(parts.device):
            response = filter_response(filters, tuple(parts.shape[-2:]))
            return ifft2c(response * fft2c(parts.to(response.dtype)).unsqueeze(1)).real
        # convolution = correlation with the flipped filter
        return conv2d_same(parts.unsqueeze(1), filters.flip(-1, -2).unsqueeze(1), circular=True)

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """kspace complex (B, H, W), mask (H, W) or (B, H, W) → image complex (B, H, W)."""
        mask = network_mask(kspace, mask)
        zb = beta = None
        for n in range(self.stages):
            x = self._x(kspace, mask, n, zb)
            c = self._c(n, to_parts(x, self.real))  # (P, L, H, W)
            if beta is None:
                beta = torch.zeros_like(c)
            z = self.plf[n](c + beta)
            beta = beta + self.eta[n].view(1, -1, 1, 1) * (c - z)
            zb = z - beta
        return self._x(kspace, mask, self.stages, zb)

"""Building blocks shared by IFR-Net and the model-based baselines (docs/methods.md §4).

- :class:`PiecewiseLinear` — the learnable piecewise-linear function (PLF), from
:mod:`ifrnet.numerics.plf`.
- :func:`conv2d_same` — 'same' correlation with a fast backward for few-channel filters.
- :func:`dct_filters` — the non-DC f×f 2-D DCT basis filters used to initialise convolutions.
- :func:`feature_descriptor` and :class:`FeatureRefinement` — T and R, paper Eq. (8)/(11), App. A.

Images inside the denoiser are real tensors (B, 1, H, W); k-space and X-step images are complex
(B, H, W). Everything follows the input tensors' device and dtype; the X step is the forward
model's (:mod:`ifrnet.numerics.forward_model`). Convolutions and the descriptor run on CPU
kernels where :func:`ifrnet.numerics.dispatch.use_kernel` says so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ifrnet.numerics import conv_kernel, moments_kernel
from ifrnet.numerics.dispatch import grad_wanted, use_kernel
from ifrnet.numerics.plf import PiecewiseLinear, plf, soft_threshold

__all__ = [
    "PiecewiseLinear",
    "plf",
    "soft_threshold",
    "conv2d_same",
    "dct_filters",
    "feature_descriptor",
    "FeatureRefinement",
    "to_parts",
    "from_parts",
    "keep_real",
    "network_mask",
]

# ---------------------------------------------------------------------------------------------
# Real and complex images


def to_parts(x: torch.Tensor, real: bool) -> torch.Tensor:
    """Complex (B, …) → real (P, …): the real part for real-valued data (P = B), else real and
    imaginary parts stacked along the batch (P = 2B), so real-valued filters treat both parts
    with the same weights (paper, "Extension for multi-channel images")."""
    return x.real if real else torch.cat([x.real, x.imag], 0)


def from_parts(parts: torch.Tensor, real: bool) -> torch.Tensor:
    """Inverse of :func:`to_parts`: real (P, …) → complex (B, …)."""
    if real:
        return torch.complex(parts, torch.zeros_like(parts))
    re, im = parts.chunk(2, dim=0)
    return torch.complex(re, im)


def network_mask(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A network's input check: ValueError unless kspace is complex (B, H, W) and the mask
    (H, W) or (B, H, W) of the same size; returns the mask as a real tensor on kspace's device,
    in its real dtype."""
    if kspace.dim() != 3 or not kspace.is_complex():
        raise ValueError(
            f"kspace must be complex (B, H, W), got {kspace.dtype} {tuple(kspace.shape)}"
        )
    if tuple(mask.shape) not in (tuple(kspace.shape[1:]), tuple(kspace.shape)):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match k-space "
            f"{tuple(kspace.shape)}: expected (H, W) or (B, H, W)"
        )
    return mask.to(device=kspace.device, dtype=kspace.real.dtype)


def keep_real(x: torch.Tensor) -> torch.Tensor:
    """Complex x with its imaginary part set to 0 (real-valued experiments, `xmid.m`)."""
    return torch.complex(x.real, torch.zeros_like(x.real))


# ---------------------------------------------------------------------------------------------
# Convolution with a GEMM backward


def _pad(x: torch.Tensor, p: int, circular: bool) -> torch.Tensor:
    return F.pad(x, (p, p, p, p), mode="circular" if circular else "constant")


def shifted_stack(x: torch.Tensor, size: int, circular: bool = False) -> torch.Tensor:
    """Shifts of x (B, C, H, W) → (B, C, size², H, W); entry k = (i, j) holds
    x[..., r + i − p, c + j − p] with p = size // 2, outside the image zero (or, ``circular``,
    wrapped around): the im2col of a 'same' correlation."""
    p = size // 2
    h, w = x.shape[-2:]
    padded = _pad(x, p, circular)
    return torch.stack(
        [padded[..., i : i + h, j : j + w] for i in range(size) for j in range(size)], dim=2
    )


class _Conv2dSame(torch.autograd.Function):
    """'same' correlation (zero or circular padding) for few-channel filters.

    Where :func:`ifrnet.numerics.dispatch.use_kernel` says so (CPU), both passes run in the numba
    kernels of :mod:`ifrnet.numerics.conv_kernel` (oneDNN is slow for the 1→L and L→1 filters of
    IFR-Net on large images). The reference torch ops (any device): F.conv2d forward; the weight
    gradient is one matrix product against the im2col of whichever side has fewer channels, and
    the input gradient is a forward convolution with the flipped, transposed filters (the
    adjoint, with the same padding).
    """

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, circular: bool
    ) -> torch.Tensor:  # noqa: D102
        ctx.circular, ctx.has_bias = circular, b is not None
        p = w.shape[-1] // 2
        ctx.save_for_backward(x, w)
        ctx.kernel = use_kernel(x)  # the backward takes the same path
        if ctx.kernel:  # numba loops, padding inside
            return conv_kernel.correlate(x, w, b, circular)
        if circular:
            return F.conv2d(_pad(x, p, True), w, b)
        return F.conv2d(x, w, b, padding=p)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # noqa: D102
        saved, w = ctx.saved_tensors
        out_ch, in_ch, size, _ = w.shape
        circular = ctx.circular
        g = g.contiguous()
        gx = None
        adjoint = w.flip(-1, -2).transpose(0, 1)
        if ctx.kernel:
            if ctx.needs_input_grad[0]:
                gx = conv_kernel.correlate(g, adjoint, None, circular)
            gw = conv_kernel.correlate_weight_grad(saved, g, size, circular).to(w.dtype)
            gb = g.sum((0, 2, 3)) if ctx.has_bias else None
            return gx, gw, gb, None
        x = saved
        batch, _, h, wd = x.shape
        if ctx.needs_input_grad[0]:
            gx = F.conv2d(_pad(g, size // 2, circular), adjoint)
        if in_ch <= out_ch:
            cols = shifted_stack(x, size, circular).reshape(batch, in_ch * size * size, h * wd)
            gw = torch.matmul(g.reshape(batch, out_ch, h * wd), cols.transpose(1, 2))
            gw = gw.sum(0).view(out_ch, in_ch, size, size)
        else:  # Σ x[c, r + d] g[o, r] = Σ x[c, r] g[o, r − d]: shift g the other way
            gcols = (
                shifted_stack(g, size, circular)
                .flip(2)
                .reshape(batch, out_ch * size * size, h * wd)
            )
            gw = torch.matmul(gcols, x.reshape(batch, in_ch, h * wd).transpose(1, 2))
            gw = gw.sum(0).view(out_ch, size, size, in_ch).permute(0, 3, 1, 2)
        gb = g.sum((0, 2, 3)) if ctx.has_bias else None
        return gx, gw, gb, None


def conv2d_same(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, circular: bool = False
) -> torch.Tensor:
    """Correlation of x (B, C, H, W) with w (O, C, f, f), odd f, plus bias (O,) if given;
    zero padding, or periodic boundaries when ``circular`` (f ≤ H, W)."""
    if circular and w.shape[-1] > min(x.shape[-2:]):
        raise ValueError(
            f"filters of size {w.shape[-1]} do not fit images of shape {tuple(x.shape[-2:])}"
        )
    return _Conv2dSame.apply(x, w, b, circular)


# ---------------------------------------------------------------------------------------------
# DCT filter bank


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, MATLAB ``dctmtx(n)``: rows are basis vectors."""
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * j + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def dct_filters(
    size: int = 3, include_dc: bool = False, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The 2-D DCT basis filters, (size²−1, 1, size, size) — or all size² with the DC filter
    first when ``include_dc`` (an orthonormal basis, i.e. a tight frame for IFR-CS).

    Filter i is row i+1 (1-based) of ``kron(dctmtx(size), dctmtx(size))`` reshaped column-major,
    as the authors' ``filter_base.m`` + ``reshape`` do, so the order matches their networks.
    """
    basis = np.kron(dct_matrix(size), dct_matrix(size))
    first = 0 if include_dc else 1
    filters = np.stack([basis[i].reshape(size, size, order="F") for i in range(first, size * size)])
    return torch.from_numpy(filters[:, None]).to(dtype)


# ---------------------------------------------------------------------------------------------
# Feature descriptor T and refinement R

GAUSS_SIZE, GAUSS_SIGMA, BOX_SIZE = 51, 50.0, 5


def gaussian_1d(size: int = GAUSS_SIZE, sigma: float = GAUSS_SIGMA) -> torch.Tensor:
    """1-D Gaussian of ``size`` taps summing to 1; its outer product is ``fspecial('gaussian')``."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def band_matrix(n: int, kernel: torch.Tensor) -> torch.Tensor:
    """(n, n) matrix A with (A @ v) = 'same' zero-padded correlation of v with an odd kernel."""
    half = kernel.numel() // 2
    idx = torch.arange(n, device=kernel.device)
    offset = idx[None, :] - idx[:, None] + half
    inside = (offset >= 0) & (offset < kernel.numel())
    return torch.where(
        inside,
        kernel[offset.clamp(0, kernel.numel() - 1)],
        torch.zeros((), dtype=kernel.dtype, device=kernel.device),
    )


def separable_filter(a: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """'same' zero-padded correlation of a (…, H, W) with outer(kernel, kernel).

    Computed as A_H · a · A_Wᵀ with banded matrices (two small matrix products), which is exact
    and much faster on CPUs than a 51-tap convolution. Each product runs over blocks of about
    64 output rows (columns) against only the band's span of the other factor: for 256² and 51
    taps 40 % of the multiplications of the full product, with the same result (the products
    skipped are with zeros).
    """
    half = kernel.numel() // 2
    rows = _cached_band(a.shape[-2], kernel, a)
    cols = rows if a.shape[-1] == a.shape[-2] else _cached_band(a.shape[-1], kernel, a)
    spans = _band_blocks(a.shape[-2], half)
    a = torch.cat([rows[r0:r1, lo:hi] @ a[..., lo:hi, :] for r0, r1, lo, hi in spans], dim=-2)
    spans = _band_blocks(a.shape[-1], half)
    return torch.cat([a[..., lo:hi] @ cols[r0:r1, lo:hi].T for r0, r1, lo, hi in spans], dim=-1)


def _band_blocks(n: int, half: int) -> list[tuple[int, int, int, int]]:
    """Blocks (r0, r1) of about 64 of n rows of a band matrix of half-width ``half``, each with
    the columns (lo, hi) where its rows can be nonzero."""
    count = max(1, n // 64)
    edges = [i * n // count for i in range(count + 1)]
    return [
        (e, f, max(0, e - half), min(n, f + half)) for e, f in zip(edges, edges[1:], strict=False)
    ]


_BANDS: dict[tuple, torch.Tensor] = {}


def _cached_band(n: int, kernel: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """:func:`band_matrix` in ``like``'s device and dtype, built once per (n, kernel)."""
    key = (n, tuple(kernel.tolist()), like.device, like.dtype)
    if key not in _BANDS:
        if len(_BANDS) > 64:
            _BANDS.clear()
        _BANDS[key] = band_matrix(n, kernel.to(device=like.device, dtype=like.dtype))
    return _BANDS[key]


def box_kernel(size: int = BOX_SIZE) -> torch.Tensor:
    """1-D uniform kernel of ``size`` taps; its outer product is ``ones(size)/size²``."""
    return torch.full((size,), 1.0 / size, dtype=torch.float64)


def feature_descriptor(
    a: torch.Tensor, v: torch.Tensor | float, kernel: torch.Tensor | None = None
) -> torch.Tensor:
    """T = 1 − |(2σ_ab + |V|) / (σ_a² + σ_b² + |V|)| with b = G ⋆ a (App. A, `texture_map.m`).

    a real (B, 1, H, W); G the 51×51, σ = 50 Gaussian (zero padding); local means, variances
    and covariance over a 5×5 uniform window (zero padding). By Cauchy–Schwarz
    |2σ_ab| ≤ σ_a² + σ_b², so T ∈ [0, 1]; rounding can step outside by ~1e-7, which the final
    clamp removes. Returns T (B, 1, H, W).
    """
    b = separable_filter(a, gaussian_1d() if kernel is None else kernel)
    if use_kernel(a, fits=not a.requires_grad):  # the kernel gives no gradient
        cov, var = moments_kernel.box_moments(a, b, BOX_SIZE)
    else:
        stats = separable_filter(torch.cat([a, b, a * a, b * b, a * b], dim=1), box_kernel())
        mu_a, mu_b, aa, bb, ab = stats.split(1, dim=1)
        cov, var = ab - mu_a * mu_b, (aa - mu_a * mu_a) + (bb - mu_b * mu_b)
    c = torch.as_tensor(v, dtype=a.dtype, device=a.device).abs()
    t = 1.0 - ((2 * cov + c) / (var + c).clamp_min(torch.finfo(a.dtype).tiny)).abs()
    return t.clamp(0.0, 1.0)


class _Refine(torch.autograd.Function):
    """R step with T a constant map of its (detached) input image: x_t = u + T ⊙ (x − u), with
    T's derivative with respect to V written out (the same as autograd through
    :func:`feature_descriptor`, clamps and absolute values included)."""

    @staticmethod
    def forward(ctx, x, u, v, kernel, from_x, v_grad=True):  # noqa: D102
        # v_grad False: no gradient to V will be asked for (no_grad, or V frozen)
        a = (x if from_x else u).detach()
        b = separable_filter(a, kernel.to(a.dtype))
        c = v.detach().to(a.dtype).abs()
        v_grad = v_grad and ctx.needs_input_grad[2]
        if use_kernel(a):  # one CPU pass for all of the below
            t, out, slope = moments_kernel.refine(a, b, x, u, c, BOX_SIZE, v_grad)
            ctx.save_for_backward(t, slope, v)
            ctx.mark_non_differentiable(t)
            return out, t
        stats = separable_filter(torch.cat([a, b, a * a, b * b, a * b], dim=1), box_kernel())
        mu_a, mu_b, aa, bb, ab = stats.split(1, dim=1)
        cov, var = ab - mu_a * mu_b, (aa - mu_a * mu_a) + (bb - mu_b * mu_b)
        den = var + c
        tiny = torch.finfo(a.dtype).tiny
        ratio = (2 * cov + c) / den.clamp_min(tiny)
        t = 1.0 - ratio.abs()
        diff = x.detach() - u.detach()
        slope = None
        if v_grad:  # ∂T/∂|V| (times x − u) where neither clamp is active
            slope = ((den >= tiny) * ratio - 1.0) / den.clamp_min(tiny)
            slope *= ratio.sgn() * ((t >= 0) & (t <= 1))
            slope *= diff
        t = t.clamp_(0.0, 1.0)
        out = torch.addcmul(u.detach(), t, diff)
        ctx.save_for_backward(t, slope, v)
        ctx.mark_non_differentiable(t)
        return out, t

    @staticmethod
    def backward(ctx, grad, _grad_t):  # noqa: D102
        t, slope_diff, v = ctx.saved_tensors
        g_x = grad * t
        g_u = grad - g_x
        g_v = None
        if ctx.needs_input_grad[2]:
            g_v = ((grad * slope_diff).sum() * v.sgn()).to(v.dtype)
        return g_x, g_u, g_v, None, None, None


class FeatureRefinement(nn.Module):
    """R module: ``x_t = u + T ⊙ (x − u)`` with a trainable V (paper Eq. (11)), init 0.008.

    ``descriptor_input`` picks the image T is computed from: ``"x"`` (the X output, as the
    authors' `Tmid.m`) or ``"u"`` (the denoised image, as the paper's appendix writes).
    ``descriptor_grad="v"`` (default) lets gradients reach T only through V, as the authors'
    hand-written backward does (T is treated as a constant map of x); ``"full"`` differentiates
    T with respect to its input image as well.
    """

    def __init__(
        self, v: float = 0.008, descriptor_input: str = "x", descriptor_grad: str = "v"
    ) -> None:
        super().__init__()
        if descriptor_input not in ("x", "u"):
            raise ValueError(f"descriptor_input must be 'x' or 'u', got {descriptor_input!r}")
        if descriptor_grad not in ("v", "full"):
            raise ValueError(f"descriptor_grad must be 'v' or 'full', got {descriptor_grad!r}")
        self.v = nn.Parameter(torch.tensor(float(v)))
        self.descriptor_input, self.descriptor_grad = descriptor_input, descriptor_grad
        # a CPU constant: the band cache keys on its values, which a device tensor would have to
        # copy to the host on every call (that would also stop a CUDA graph capture)
        self.kernel = gaussian_1d().float()

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x, u real (B, 1, H, W) → (x_t, T), both (B, 1, H, W)."""
        if self.descriptor_grad == "v":  # one node (same values as the composed ops below)
            from_x, v_grad = self.descriptor_input == "x", grad_wanted(self.v)
            return _Refine.apply(x, u, self.v, self.kernel, from_x, v_grad)
        a = x if self.descriptor_input == "x" else u
        t = feature_descriptor(a, self.v, self.kernel.to(a.dtype))
        return u + t * (x - u), t

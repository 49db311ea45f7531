"""VN: the variational network of Hammernik et al. (Magn. Reson. Med. 79:3055–3071, 2018),
single-coil, docs/methods.md §5.

T unrolled gradient steps on a learned energy, starting from the zero-filled image x₀ = Fᴴ y:

    x_{t+1} = x_t − (1/N_k) Σ_i K_{t,i}ᵀ φ_{t,i}(K_{t,i} x_t) − λ_t Fᴴ M (M F x_t − y)

- K_{t,i} x = k_{t,i}^re ⋆ Re x + k_{t,i}^im ⋆ Im x: one real filter per channel (real,
  imaginary) summed into one real response; K_{t,i}ᵀ z = (k^re ∗ z) + i (k^im ∗ z), its adjoint
  (``conv_transpose2d``). Real-valued data use the real channel only and stay real.
- Filters: N_k = 24 of 11×11 per step, constrained to be zero-mean (each channel) and inside
  the unit ℓ² ball (both channels together), as the authors' reference code projects them
  (`VLOGroup/mri-variationalnetwork`, ``vn/proxmaps.py: zero_mean_norm_ball``). Initialised
  N(0, 1)/√(f²·C) and made zero-mean (their ``add_convolution_params``).
- Activations φ_{t,i}(z) = Σ_j w_{t,i,j} exp(−(z − μ_j)² / (2σ²)): N_w = 31 Gaussian radial
  basis functions, centres μ_j equally spaced on [−v, v], σ the spacing 2v/(N_w − 1);
  initialised linear, w_j = 0.04 μ_j (their ``configs/mri_vn.yaml``: v = 1 for data scaled
  to about unit peak, which ours is; that file notes that the paper's interval differs
  because the paper scaled the data differently).
- λ_t: one data-term weight per step, ≥ 0, initialised 1 (their config). With the project's
  centred orthonormal FFT (:mod:`ifrnet.numerics.fourier`), λ = 1 makes the data step replace the
  sampled k-space of x_t by y.
- The regulariser gradient is divided by N_k, as in the reference code's ``Ru /= num_filter``.

Changes, and why:
- Constraints are kept by a re-parametrisation instead of the paper's projected (IPALM)
  optimiser, because the shared trainer (:mod:`ifrnet.methods.training`) has no projection step: the
  network uses P(k) = (k − mean k) / max(‖k − mean k‖₂, 1) of its raw filters and λ_t = |θ_t|.
  The feasible sets are the paper's; the optimisation path differs.
- Convolutions pad with zeros ('same') rather than the reference's symmetric padding with a
  crop, so that Kᵀ is the exact adjoint of K and the step is the exact gradient of the energy.
  Our images have a zero background, where the two agree.
- Trained with the config's optimiser and loss (Adam) like every learned method here; the
  reference code trains with IPALM on the squared error of magnitudes.
- φ sums only the 2·REACH + 1 = 13 Gaussians nearest to z (the others weigh < 1.5e-8 of their
  weight, below float32 resolution) and gets them by products instead of exponentials.
  Tests check it against the full float64 sum.

Speed on a CPU: φ and its backward run on :mod:`ifrnet.numerics.rbf_kernel` (one pass per
pixel; the torch ops below materialise (C, M, 13) tensors, ~75 % of a step), and Kᵀ on
depthwise correlations (oneDNN's conv_transpose2d is ~10× slower than conv2d for these
shapes): a training step (one thread, 128×128, complex) takes 0.27 s instead of the torch ops'
1.28 s, about 0.6× D5-C5's. :func:`ifrnet.numerics.dispatch.use_kernel` picks the path; the
torch ops are the reference and the path of other devices (CUDA).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ifrnet.numerics import rbf_kernel
from ifrnet.numerics.dispatch import use_kernel
from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.layers import keep_real, network_mask


def rbf_centres(n_weights: int, vmax: float) -> torch.Tensor:
    """The N_w equally spaced RBF centres on [−vmax, vmax] (float64)."""
    return torch.linspace(-vmax, vmax, n_weights, dtype=torch.float64)


# Gaussians farther than REACH spacings from z are skipped: each is < exp(−REACH²/2) ≈ 1.5e-8
# of its weight (σ = the spacing), below float32 resolution.
REACH = 6


def _rbf_window(
    z: torch.Tensor, weight: torch.Tensor, centres: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The K = 2·REACH + 1 Gaussians nearest to each element of z (B, C, H, W).

    Returns ``gauss`` (C, M, K), exp(−(r − d)²/2) for d = −REACH … REACH with r = z's distance
    (in σ) to its nearest centre n (zero for elements out of reach of every centre); ``rows``
    (C, M), the index of (c, n) in :func:`_weight_rows`; M = B·H·W.
    """
    n_channels, n_weights = weight.shape
    b = ((z - centres[0]) / sigma).transpose(0, 1).reshape(n_channels, -1)  # (C, M)
    nearest = torch.round(b).clamp(-REACH, n_weights - 1 + REACH)
    inside = (b >= -REACH - 0.5) & (b <= n_weights - 0.5 + REACH)
    r = (b - nearest).clamp(-0.5, 0.5)
    # G_{−REACH} directly, then G_{d+1} = G_d · e^{r − d − ½} (products instead of exponentials)
    first = (torch.exp(-0.5 * (r + REACH) ** 2) * inside).unsqueeze(-1)
    steps = torch.exp(-torch.arange(-REACH, REACH, device=z.device, dtype=z.dtype) - 0.5)
    gauss = torch.cumprod(torch.cat([first, torch.exp(r).unsqueeze(-1) * steps], -1), -1)
    per_channel = n_weights + 2 * REACH
    channel = torch.arange(n_channels, device=z.device).unsqueeze(-1) * per_channel
    return gauss, channel + (nearest.long() + REACH)


def _weight_rows(weight: torch.Tensor) -> torch.Tensor:
    """(C·(N_w + 2·REACH), K): row (c, n) holds w_{c, n−REACH … n+REACH}, zero off the table."""
    padded = F.pad(weight, (2 * REACH, 2 * REACH))
    return padded.unfold(1, 2 * REACH + 1, 1).reshape(-1, 2 * REACH + 1)


def _weight_table(weight: torch.Tensor) -> torch.Tensor:
    """:func:`_weight_rows` as (C, N_w + 2·REACH, K), the layout of the CPU kernels."""
    return _weight_rows(weight).view(weight.shape[0], -1, 2 * REACH + 1)


def _fold_rows(rows: torch.Tensor, n_channels: int, n_weights: int) -> torch.Tensor:
    """Adjoint of :func:`_weight_rows`: (C·(N_w + 2·REACH), K) → (C, N_w)."""
    k = 2 * REACH + 1
    rows = rows.view(n_channels, n_weights + 2 * REACH, k)
    padded = rows.new_zeros(n_channels, n_weights + 4 * REACH)
    for j in range(k):
        padded[:, j : j + n_weights + 2 * REACH] += rows[:, :, j]
    return padded[:, 2 * REACH : 2 * REACH + n_weights]


def _to_image(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(C, M) → (B, C, H, W) shaped like ``like``."""
    return values.view(like.shape[1], like.shape[0], *like.shape[2:]).transpose(0, 1)


class _RBFFunction(torch.autograd.Function):
    """φ_c(z) = Σ_j w_{c,j} exp(−(z − μ_j)² / (2σ²)) over the 2·REACH + 1 nearest centres; the
    backward recomputes the Gaussians instead of storing them. Where
    :func:`ifrnet.numerics.dispatch.use_kernel` says so (CPU) both passes run in
    :mod:`ifrnet.numerics.rbf_kernel` (one pass per pixel, the same operations); elsewhere, and as
    the reference, on the torch ops below."""

    @staticmethod
    def forward(
        ctx, z: torch.Tensor, weight: torch.Tensor, centres: torch.Tensor, sigma: float
    ) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(z, weight, centres)
        ctx.sigma = sigma
        ctx.kernel = use_kernel(z)  # the backward takes the same path
        if ctx.kernel:
            return rbf_kernel.rbf(z, _weight_table(weight), centres, sigma)
        gauss, rows = _rbf_window(z, weight, centres, sigma)
        return _to_image((gauss * F.embedding(rows, _weight_rows(weight))).sum(-1), z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        z, weight, centres = ctx.saved_tensors
        grad_z = grad_w = None
        if ctx.kernel:
            with_z = ctx.needs_input_grad[0]
            grad_z, table = rbf_kernel.rbf_backward(
                z, grad, _weight_table(weight), centres, ctx.sigma, with_z
            )
            if ctx.needs_input_grad[1]:
                rows = table.view(-1, 2 * REACH + 1)
                grad_w = _fold_rows(rows, *weight.shape).to(weight.dtype)
            return grad_z, grad_w, None, None
        gauss, rows = _rbf_window(z, weight, centres, ctx.sigma)
        g = grad.transpose(0, 1).reshape(weight.shape[0], -1, 1)  # (C, M, 1)
        if ctx.needs_input_grad[0]:
            # d/dz exp(−(z − μ)²/(2σ²)) = (μ − z)/σ² · exp(…) = (d − r)/σ · exp(…)
            terms = gauss * F.embedding(rows, _weight_rows(weight))
            offsets = torch.arange(-REACH, REACH + 1, device=z.device, dtype=z.dtype)
            r = (z - centres[0]) / ctx.sigma
            r = (r - torch.round(r)).transpose(0, 1).reshape(weight.shape[0], -1)
            slope = terms @ offsets - r.clamp(-0.5, 0.5) * terms.sum(-1)
            grad_z = _to_image(g.squeeze(-1) * slope / ctx.sigma, z)
        if ctx.needs_input_grad[1]:
            table = gauss.new_zeros(weight.shape[0] * (weight.shape[1] + 2 * REACH), 2 * REACH + 1)
            table.index_add_(0, rows.reshape(-1), (g * gauss).reshape(-1, 2 * REACH + 1))
            grad_w = _fold_rows(table, *weight.shape)
        return grad_z, grad_w, None, None


class RBFActivation(nn.Module):
    """One learned activation per channel: φ_c(z) = Σ_j w_{c,j} exp(−(z − μ_j)² / (2σ²)).

    ``channels`` activations of ``n_weights`` Gaussians on [−vmax, vmax]; σ = the centre
    spacing. Weights start linear, w_{c,j} = ``init_scale`` · μ_j.
    """

    def __init__(
        self, channels: int, n_weights: int = 31, vmax: float = 1.0, init_scale: float = 0.04
    ) -> None:
        super().__init__()
        if n_weights < 2 or vmax <= 0:
            raise ValueError(
                f"RBF activations need n_weights ≥ 2 and vmax > 0; got {n_weights}, {vmax}"
            )
        self.n_weights, self.vmax = n_weights, float(vmax)
        self.sigma = 2 * self.vmax / (n_weights - 1)
        centres = rbf_centres(n_weights, self.vmax)
        self.weight = nn.Parameter((init_scale * centres).float().repeat(channels, 1))
        # on the module's device (a CPU tensor copied per call would stop a CUDA graph capture)
        self.register_buffer("centres", centres, persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z real (B, C, H, W) → φ(z) real (B, C, H, W), channel c through its own φ_c."""
        centres = self.centres.to(device=z.device, dtype=z.dtype)
        return _RBFFunction.apply(z, self.weight.to(z.dtype), centres, self.sigma)


def project_filters(raw: torch.Tensor) -> torch.Tensor:
    """Filters (N, C, f, f) made zero-mean per channel and scaled into the unit ℓ² ball (the
    norm taken over C, f, f): (k − mean k) / max(‖k − mean k‖, 1)."""
    centred = raw - raw.mean(dim=(-2, -1), keepdim=True)
    norm = centred.flatten(1).norm(dim=1).clamp_min(1.0)
    return centred / norm.view(-1, 1, 1, 1)


def conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """K x: x real (B, C, H, W), filters (N, C, f, f), odd f → (B, N, H, W) ('same', zeros)."""
    if use_kernel(x):
        return _ConvCPU.apply(x, k)
    return F.conv2d(x, k, padding=k.shape[-1] // 2)


def conv_adjoint(z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Kᵀ z, the exact adjoint of :func:`conv`: z (B, N, H, W) → (B, C, H, W)."""
    if use_kernel(z):
        return _ConvAdjointCPU.apply(z, k)
    return F.conv_transpose2d(z, k, padding=k.shape[-1] // 2)


# On the CPU, oneDNN runs the N → C direction of these 11×11 convolutions (conv_transpose2d, and
# conv2d's input gradient) about 10× slower than the C → N one (128², N = 24, C = 1: 9.8 ms
# against 0.9 ms); as N depthwise correlations summed per output channel it takes 2.4 ms. The
# two nodes below use that for Kᵀ, conv2d for K, and conv2d with batch and channels swapped for
# the filter gradients (the same values as conv2d's own), where
# ifrnet.numerics.dispatch.use_kernel says so; F.conv2d / F.conv_transpose2d are the reference
# and the path of other devices (CUDA: cuDNN has no such gap).


def _adjoint_depthwise(z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Kᵀ z as Σ_i (depthwise correlation of z_i with k_{i,c} flipped), per output channel c."""
    n, channels, size, _ = k.shape
    flipped = k.flip(-1, -2)
    parts = [
        F.conv2d(z, flipped[:, c : c + 1], padding=size // 2, groups=n).sum(1)
        for c in range(channels)
    ]
    return torch.stack(parts, 1)


def _filter_gradient(x: torch.Tensor, g: torch.Tensor, size: int) -> torch.Tensor:
    """∂/∂k of Σ g ⊙ conv(x, k): x (B, C, H, W), g (B, N, H, W) → (N, C, size, size), as one
    conv2d of x's channels (batch and channels swapped) with g's."""
    out = F.conv2d(x.transpose(0, 1), g.transpose(0, 1), padding=size // 2)
    return out.transpose(0, 1)


class _ConvCPU(torch.autograd.Function):
    """K x with its backward on :func:`_adjoint_depthwise` and :func:`_filter_gradient`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x, k)
        return F.conv2d(x, k, padding=k.shape[-1] // 2)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # noqa: D102
        x, k = ctx.saved_tensors
        gx = _adjoint_depthwise(g, k) if ctx.needs_input_grad[0] else None
        gk = _filter_gradient(x, g, k.shape[-1]) if ctx.needs_input_grad[1] else None
        return gx, gk


class _ConvAdjointCPU(torch.autograd.Function):
    """Kᵀ z on :func:`_adjoint_depthwise`; its backward K g and the filter gradient."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(z, k)
        return _adjoint_depthwise(z, k)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # noqa: D102
        z, k = ctx.saved_tensors
        gz = F.conv2d(g, k, padding=k.shape[-1] // 2) if ctx.needs_input_grad[0] else None
        # Σ g ⊙ Kᵀz = Σ z ⊙ K g: the filter gradient of K applied to g, against z
        gk = _filter_gradient(g, z, k.shape[-1]) if ctx.needs_input_grad[1] else None
        return gz, gk


def data_gradient(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fᴴ M (M F x − y), the gradient of ½‖M F x − y‖²: x, y complex (B, H, W)."""
    op = ForwardModel(mask)
    return op.A_adjoint(op.A(x) - y)


class VN(nn.Module):
    """The variational network: ``steps`` gradient steps, each with ``filters`` filters of
    ``filter_size``² and ``rbf_weights``-Gaussian activations (see the module docstring)."""

    def __init__(
        self,
        steps: int = 10,
        filters: int = 24,
        filter_size: int = 11,
        rbf_weights: int = 31,
        vmax: float = 1.0,
        init_scale: float = 0.04,
        lam: float = 1.0,
        real: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(steps, int) or steps < 1 or filters < 1:
            raise ValueError(f"VN needs steps ≥ 1 and filters ≥ 1; got {steps!r}, {filters!r}")
        if filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"VN filter_size must be odd and positive, got {filter_size}")
        self.real = real
        channels = 1 if real else 2
        raw = torch.randn(steps, filters, channels, filter_size, filter_size)
        raw = raw / (channels * filter_size**2) ** 0.5
        self.filters = nn.Parameter(raw - raw.mean(dim=(-2, -1), keepdim=True))
        self.activations = nn.ModuleList(
            RBFActivation(filters, rbf_weights, vmax, init_scale) for _ in range(steps)
        )
        self.lam = nn.Parameter(torch.full((steps,), float(lam)))

    def _channels(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x.real] if self.real else [x.real, x.imag]
        return torch.stack(parts, dim=1)

    def regulariser_gradient(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """(1/N_k) Σ_i K_{t,i}ᵀ φ_{t,i}(K_{t,i} x) for x complex (B, H, W) → complex (B, H, W)."""
        k = project_filters(self.filters[t])
        out = conv_adjoint(self.activations[t](conv(self._channels(x), k)), k) / k.shape[0]
        imag = torch.zeros_like(out[:, 0]) if self.real else out[:, 1]
        return torch.complex(out[:, 0], imag)

    def step(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, t: int) -> torch.Tensor:
        """Gradient step t: x_t, y complex (B, H, W), mask real → x_{t+1} complex (B, H, W)."""
        x = x - self.regulariser_gradient(x, t) - self.lam[t].abs() * data_gradient(x, y, mask)
        return keep_real(x) if self.real else x

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """kspace complex (B, H, W), mask (H, W) or (B, H, W) → image complex (B, H, W)."""
        mask = network_mask(kspace, mask)
        x = ForwardModel(mask).A_dagger(kspace)
        x = keep_real(x) if self.real else x
        for t in range(len(self.activations)):
            x = self.step(x, kspace, mask, t)
        return x

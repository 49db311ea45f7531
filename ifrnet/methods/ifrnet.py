"""IFR-Net (Liu et al., IEEE TCI 2020): IFR-CS unrolled into N stages of X, Z and R modules.

With measurements y = M ⊙ F x (F = fft2c) and x_t⁽⁰⁾ = 0, stage n = 1..N computes

    X:  x⁽ⁿ⁾ = F⁻¹[(y + ρₙ F x_t⁽ⁿ⁻¹⁾) / (M + ρₙ)]                         Eq. (6), (9)
    Z:  u⁽ⁿ'⁰⁾ = x⁽ⁿ⁾;  for k = 1..K:                                      Eq. (10)
          c1 = w1ₖ ∗ u⁽ⁿ'ᵏ⁻¹⁾ + b1ₖ   (1 → L filters, f×f)
          h  = PLFₖ(c1)              (one piecewise-linear function per channel)
          c2 = w2ₖ ∗ h + b2ₖ          (L → 1)
          u⁽ⁿ'ᵏ⁾ = η1ₖ u⁽ⁿ'ᵏ⁻¹⁾ + η2ₖ x⁽ⁿ⁾ − c2
    R:  x_t⁽ⁿ⁾ = u⁽ⁿ⁾ + T⁽ⁿ⁾ ⊙ (x⁽ⁿ⁾ − u⁽ⁿ⁾),                              Eq. (8), (11)
        T = 1 − |(2σ_ab + |Vₙ|) / (σ_a² + σ_b² + |Vₙ|)|, a = x⁽ⁿ⁾ (or u⁽ⁿ⁾)   App. A

and a final X layer returns x̂ = X_{N+1}(x_t⁽ᴺ⁾) (Eq. (13); loss Eq. (12) in
ifrnet.methods.training).
Real-valued data take the real part after every X step (authors' `xmid.m`); complex data send
real and imaginary parts through Z and R as two single-channel images with the same weights
(paper, "Extension for multi-channel images").

Initial values follow the authors' `initialize_IFR_NET.m`: ρ = 0.02; η1 = 0.99, η2 = 0.01;
w1 = the L = f²−1 non-DC DCT filters, b1 = 0; q = soft-threshold of the PLF grid at 1/14;
w2 = 0.125 × the same filters rotated by 180°, b2 = 0; V = 0.008. ``init="random"`` draws w1
and w2 from N(0, 0.1²) (the authors' commented-out alternative), with w2's deviation scaled by
sqrt(8 / L) so that c2 keeps the magnitude of the L = 8 network for wide layers.
``share_weights=True`` uses one Z module (CNN blocks, PLFs, η) for every stage (Table X);
ρ and V stay per stage.
"""

from __future__ import annotations

import torch
from torch import nn

from ifrnet.numerics import block_kernel
from ifrnet.numerics.dispatch import use_kernel
from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.layers import (
    FeatureRefinement,
    PiecewiseLinear,
    conv2d_same,
    dct_filters,
    from_parts,
    network_mask,
    to_parts,
)


class CNNBlock(nn.Module):
    """One inversion block: c2 = w2 ∗ PLF(w1 ∗ u + b1) + b2, then u ← η1·u + η2·x − c2."""

    def __init__(
        self,
        filters: int,
        filter_size: int,
        init: str,
        plf_points: int,
        eta1: float,
        eta2: float,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        shape = (filters, 1, filter_size, filter_size)
        if init == "dct":
            if filters != filter_size**2 - 1:
                raise ValueError(
                    f"init 'dct' gives {filter_size**2 - 1} filters of size "
                    f"{filter_size}; use init 'random' for filters={filters}"
                )
            w1 = dct_filters(filter_size)
            w2 = 0.125 * torch.flip(w1, dims=(-2, -1)).transpose(0, 1)
        elif init == "random":
            w1 = 0.1 * torch.randn(shape, generator=generator)
            scale = 0.1 * (8 / filters) ** 0.5
            w2 = scale * torch.randn((1, filters, filter_size, filter_size), generator=generator)
        else:
            raise ValueError(f"init must be 'dct' or 'random', got {init!r}")
        self.w1 = nn.Parameter(w1.contiguous())
        self.b1 = nn.Parameter(torch.zeros(filters))
        self.plf = PiecewiseLinear(filters, plf_points, threshold=1 / 14)
        self.w2 = nn.Parameter(w2.contiguous())
        self.b2 = nn.Parameter(torch.zeros(1))
        self.eta1 = nn.Parameter(torch.tensor(float(eta1)))
        self.eta2 = nn.Parameter(torch.tensor(float(eta2)))

    def forward(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """u, x real (B, 1, H, W) → updated u (B, 1, H, W)."""
        if use_kernel(u):  # CPU kernels: the block as one autograd node (the same values)
            return block_kernel.cnn_block(
                u, x, self.w1, self.b1, self.plf.q, self.w2, self.b2, self.eta1, self.eta2
            )
        c1 = conv2d_same(u, self.w1, self.b1)
        c2 = conv2d_same(self.plf(c1), self.w2, self.b2)
        return self.eta1 * u + self.eta2 * x - c2


class DenoisingModule(nn.Module):
    """Z module: K CNN blocks starting from u = x (Eq. (10))."""

    def __init__(self, blocks: int, **block_options) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(CNNBlock(**block_options) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x real (B, 1, H, W) → u (B, 1, H, W)."""
        u = x
        for block in self.blocks:
            u = block(u, x)
        return u


class IFRNet(nn.Module):
    """IFR-Net; see the module docstring for the equations and initial values.

    Called as ``net(kspace, mask)`` with kspace complex (B, H, W) (zeros where unsampled) and
    mask real (H, W) or (B, H, W); returns the image complex (B, H, W) (imaginary part zero for
    real data). It is a :class:`ifrnet.methods.method.StagedNetwork`: ``forward_stages`` gives the N
    stage outputs, ``descriptor_maps`` the N descriptor maps T⁽ⁿ⁾, each real (B, H, W)
    (complex data: the real part's map).
    """

    def __init__(
        self,
        stages: int = 9,
        blocks: int = 2,
        filters: int = 8,
        filter_size: int = 3,
        init: str = "dct",
        share_weights: bool = False,
        descriptor_input: str = "x",
        descriptor_grad: str = "v",
        real: bool = True,
        plf_points: int = 101,
        rho: float = 0.02,
        eta1: float = 0.99,
        eta2: float = 0.01,
        v: float = 0.008,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("stages", stages),
            ("blocks", blocks),
            ("filters", filters),
            ("filter_size", filter_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd, got {filter_size}")
        self.real = real
        generator = torch.Generator().manual_seed(seed)
        block_options = dict(
            filters=filters,
            filter_size=filter_size,
            init=init,
            plf_points=plf_points,
            eta1=eta1,
            eta2=eta2,
            generator=generator,
        )
        n_z = 1 if share_weights else stages
        self.z = nn.ModuleList(DenoisingModule(blocks, **block_options) for _ in range(n_z))
        self.r = nn.ModuleList(
            FeatureRefinement(v, descriptor_input, descriptor_grad) for _ in range(stages)
        )
        self.rho = nn.Parameter(torch.full((stages + 1,), float(rho)))
        self.stages = stages

    def _x_parts(
        self, x_t: torch.Tensor | None, y: torch.Tensor, op: ForwardModel, n: int
    ) -> torch.Tensor:
        """X step on real parts: x_t real (P, 1, H, W) or None (zeros) → real (P, 1, H, W)."""
        if self.real:  # real data: one node, no complex images in between
            return op.data_consistency_real(x_t, y, self.rho[n])
        x_t = torch.zeros_like(y) if x_t is None else from_parts(x_t[:, 0], real=False)
        return to_parts(op.data_consistency(x_t, y, self.rho[n]), real=False).unsqueeze(1)

    def _complex(self, parts: torch.Tensor) -> torch.Tensor:
        """Real parts (P, 1, H, W) → complex (B, H, W) (imaginary part zero for real data)."""
        return from_parts(parts[:, 0], self.real)

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """kspace complex (B, H, W), mask (H, W) or (B, H, W) → image complex (B, H, W)."""
        return self._unrolled(kspace, mask)[0]

    def forward_stages(self, kspace: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The N stage outputs (the X step after stage n, n = 1..N; the last is the output)."""
        _, _, stages = self._unrolled(kspace, mask, return_stages=True)
        return stages

    def descriptor_maps(self, kspace: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The N maps T⁽ⁿ⁾, each real (B, H, W), detached."""
        return self._unrolled(kspace, mask, return_maps=True)[1]

    def _unrolled(
        self,
        kspace: torch.Tensor,
        mask: torch.Tensor,
        return_maps: bool = False,
        return_stages: bool = False,
    ) -> tuple[torch.Tensor, list, list]:
        """(output, maps T⁽ⁿ⁾ if asked, stage outputs if asked): the N stages and final X."""
        op = ForwardModel(network_mask(kspace, mask))
        x_t = None  # real parts (P, 1, H, W) between stages; None: zeros
        maps, stages = [], []
        for n in range(self.stages):
            x_parts = self._x_parts(x_t, kspace, op, n)
            if return_stages and n > 0:
                stages.append(self._complex(x_parts))
            u = self.z[0 if len(self.z) == 1 else n](x_parts)
            x_t, t = self.r[n](x_parts, u)
            if return_maps:
                maps.append(t[: kspace.shape[0], 0].detach())
        out = self._complex(self._x_parts(x_t, kspace, op, self.stages))
        return out, maps, (stages + [out] if return_stages else [])


def ifrnet_variant_name(
    stages: int = 9,
    blocks: int = 2,
    filters: int = 8,
    init: str = "dct",
    share_weights: bool = False,
    descriptor_input: str = "x",
    filter_size: int = 3,
) -> str:
    """Model name such as ``ifrnet-s9-k2-l8-dct``; non-default options add suffixes."""
    name = f"ifrnet-s{stages}-k{blocks}-l{filters}-{init}"
    if filter_size != 3:
        name += f"-f{filter_size}"
    if share_weights:
        name += "-shared"
    if descriptor_input != "x":
        name += f"-desc_{descriptor_input}"
    return name

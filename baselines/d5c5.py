"""D5-C5: Schlemper et al.'s deep cascade of CNNs (IEEE TMI 2018), docs/methods.md §5.

Written from the paper and the architecture of `js3611/Deep-MRI-Reconstruction` (Theano
``build_d5_c5``; no code used): 5 cascades, each a CNN of 5 convolutions —
4 × [conv 3×3, 64 filters, ReLU] and a conv 3×3 back to 2 channels without a non-linearity —
added to its input (residual), followed by noiseless data consistency in k-space,

    k ← (1 − M) ⊙ F x + y,        x ← F⁻¹ k,

with IFR-Net's centred orthonormal FFT
(:meth:`ifrnet.numerics.forward_model.ForwardModel.replace_sampled`, the ρ → 0 limit of
IFR-Net's X step). The complex image enters as 2 channels (real,
imaginary). Convolutions start He-normal with zero biases (Lasagne's HeNormal/Constant(0)).
Trained with Adam lr 1e-3 and an MSE loss (the config's ``train`` section). Real-valued data
take the real part of the output.
"""

from __future__ import annotations

import torch
from torch import nn

from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.layers import keep_real, network_mask


class Cascade(nn.Module):
    """One CNN of ``depth`` convolutions (``filters`` wide, ReLU) with a residual connection."""

    def __init__(self, depth: int = 5, filters: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 2
        for _ in range(depth - 1):
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU()]
            channels = filters
        layers.append(nn.Conv2d(channels, 2, 3, padding=1))
        self.net = nn.Sequential(*layers)
        for module in self.net:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex (B, H, W) → complex (B, H, W)."""
        channels = torch.stack([x.real, x.imag], dim=1)
        out = channels + self.net(channels)
        return torch.complex(out[:, 0], out[:, 1])


class D5C5(nn.Module):
    """``cascades`` × (CNN of ``depth`` convolutions + data consistency); D5-C5 by default."""

    def __init__(
        self, cascades: int = 5, depth: int = 5, filters: int = 64, real: bool = True
    ) -> None:
        super().__init__()
        if cascades < 1 or depth < 2 or filters < 1:
            raise ValueError(
                f"D5C5 needs cascades ≥ 1, depth ≥ 2, filters ≥ 1; got "
                f"{cascades}, {depth}, {filters}"
            )
        self.cascades = nn.ModuleList(Cascade(depth, filters) for _ in range(cascades))
        self.real = real

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """kspace complex (B, H, W), mask (H, W) or (B, H, W) → image complex (B, H, W)."""
        op = ForwardModel(network_mask(kspace, mask))
        x = op.A_dagger(kspace)
        for cascade in self.cascades:
            x = op.replace_sampled(cascade(x), kspace)
        return keep_real(x) if self.real else x

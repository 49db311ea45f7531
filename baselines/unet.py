"""The fastMRI U-Net baseline (Zbontar et al. 2018; `facebookresearch/fastMRI`), docs/methods.md §5.

Written from the published architecture (no fastMRI code or package is used):

- ``ConvBlock``: 2 × [conv 3×3 (no bias) → InstanceNorm → LeakyReLU(0.2) → Dropout2d];
- encoder: ConvBlock(1 → c), then 3 × [avg-pool 2 → ConvBlock(c → 2c)], bottleneck after the
  4th pool: ConvBlock(8c → 16c);
- decoder: 4 × [transpose conv 2×2 stride 2 (no bias) → InstanceNorm → LeakyReLU(0.2),
  concatenate the skip, ConvBlock(2c' → c')], the last followed by a 1×1 conv (with bias).
  When a skip is one pixel larger (odd sizes), the upsampled map is reflect-padded to match.

With c = 32 (``chans``) and 4 pools the network has 7,756,097 parameters, the fastMRI count.
:class:`UNetRecon` is the method: input the zero-filled magnitude, instance-normalised
(mean/std) and clamped to ±6; output de-normalised with the same mean/std. Trained with an L1
loss on magnitudes, RMSprop lr 1e-3 and ×0.1 step decay (the config's ``train`` section).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.layers import from_parts, network_mask


class ConvBlock(nn.Module):
    """Two 3×3 convolutions, each followed by instance norm, LeakyReLU(0.2) and dropout."""

    def __init__(self, in_chans: int, out_chans: int, drop_prob: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                nn.Conv2d(c_in, out_chans, 3, padding=1, bias=False),
                nn.InstanceNorm2d(out_chans),
                nn.LeakyReLU(0.2),
                nn.Dropout2d(drop_prob),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) → (B, out, H, W)."""
        return self.layers(x)


class UpBlock(nn.Module):
    """Transpose convolution 2×2 stride 2 (no bias) → instance norm → LeakyReLU(0.2)."""

    def __init__(self, in_chans: int, out_chans: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, 2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) → (B, out, 2H, 2W)."""
        return self.layers(x)


class UNet(nn.Module):
    """U-Net with ``pools`` pooling levels and ``chans`` channels at the first level."""

    def __init__(
        self,
        in_chans: int = 1,
        out_chans: int = 1,
        chans: int = 32,
        pools: int = 4,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.down = nn.ModuleList([ConvBlock(in_chans, chans, drop_prob)])
        ch = chans
        for _ in range(pools - 1):
            self.down.append(ConvBlock(ch, ch * 2, drop_prob))
            ch *= 2
        self.bottom = ConvBlock(ch, ch * 2, drop_prob)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for _ in range(pools - 1):
            self.up.append(UpBlock(ch * 2, ch))
            self.up_conv.append(ConvBlock(ch * 2, ch, drop_prob))
            ch //= 2
        self.up.append(UpBlock(ch * 2, ch))
        self.up_conv.append(
            nn.Sequential(ConvBlock(ch * 2, ch, drop_prob), nn.Conv2d(ch, out_chans, 1))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) → (B, out, H, W) for any H, W ≥ 2^pools."""
        skips = []
        out = x
        for block in self.down:
            out = block(out)
            skips.append(out)
            out = F.avg_pool2d(out, 2)
        out = self.bottom(out)
        for up, conv in zip(self.up, self.up_conv, strict=True):
            skip = skips.pop()
            out = up(out)
            pad_w, pad_h = skip.shape[-1] - out.shape[-1], skip.shape[-2] - out.shape[-2]
            if pad_w or pad_h:
                out = F.pad(out, (0, pad_w, 0, pad_h), mode="reflect")
            out = conv(torch.cat([out, skip], dim=1))
        return out


class UNetRecon(nn.Module):
    """Zero-filled magnitude → U-Net → magnitude image (returned as complex with zero phase)."""

    def __init__(
        self, chans: int = 32, pools: int = 4, drop_prob: float = 0.0, real: bool = True
    ) -> None:
        super().__init__()
        self.unet = UNet(1, 1, chans, pools, drop_prob)
        self.real = real  # unused: the input is a magnitude and the output real either way

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """kspace complex (B, H, W), mask (checked, otherwise unused: zeros mark unsampled) →
        image (B, H, W)."""
        magnitude = ForwardModel(network_mask(kspace, mask)).A_dagger(kspace).abs()
        mean = magnitude.mean(dim=(-2, -1), keepdim=True)
        std = magnitude.std(dim=(-2, -1), keepdim=True).clamp_min(1e-11)
        normalised = ((magnitude - mean) / std).clamp(-6, 6)
        out = self.unet(normalised.unsqueeze(1))[:, 0] * std + mean
        return from_parts(out, real=True)

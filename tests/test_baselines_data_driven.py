"""D5-C5 and the fastMRI U-Net: data consistency, parameter count, shapes, overfitting."""

import numpy as np
import pytest
import torch

from baselines.d5c5 import D5C5
from baselines.unet import UNet, UNetRecon
from ifrnet.methods.training import LOSSES
from ifrnet.numerics.fourier import fft2c
from ifrnet.numerics.masks import fastmri, random2d
from tests.fitting import fit


def phantoms(n: int, size: int, seed: int, complex_images: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        c = torch.rand(2, generator=gen) * 0.4 - 0.2
        img = (((xx - c[0]) ** 2 + (yy - c[1]) ** 2) < 0.4).float() * 0.8
        img = img + 0.2 * ((xx + c[1]).abs() < 0.15).float()
        if complex_images:
            img = img * torch.exp(1j * (0.5 * xx + c[0]))
        out.append(img.to(torch.complex64))
    return torch.stack(out)


def test_d5c5_is_exactly_data_consistent():
    x = phantoms(2, 32, 0, complex_images=True)
    mask = torch.from_numpy(random2d((32, 32), 0.25, seed=1).astype(np.float32))
    y = fft2c(x) * mask
    out = D5C5(real=False)(y, mask)
    k = fft2c(out)
    sampled = mask.bool()
    torch.testing.assert_close(k[:, sampled], y[:, sampled], atol=1e-5, rtol=0)
    assert float((k[:, ~sampled] - y[:, ~sampled]).detach().abs().max()) > 1e-3  # rest changed


def test_d5c5_parameter_count_and_real_output():
    net = D5C5()
    # 5 cascades × (2→64, 3 × 64→64, 64→2 convolutions of 3×3 with biases)
    per_cascade = (2 * 64 * 9 + 64) + 3 * (64 * 64 * 9 + 64) + (64 * 2 * 9 + 2)
    assert sum(p.numel() for p in net.parameters()) == 5 * per_cascade
    y = fft2c(phantoms(1, 16, 1, complex_images=False))
    out = net(y, torch.ones(16, 16))
    assert float(out.detach().imag.abs().max()) == 0.0


def test_unet_has_the_fastmri_parameter_count():
    assert sum(p.numel() for p in UNet(1, 1, chans=32, pools=4).parameters()) == 7_756_097


@pytest.mark.parametrize("shape", [(64, 64), (48, 80), (33, 47), (50, 71)])
def test_unet_output_shape_equals_input_shape(shape):
    net = UNet(1, 1, chans=4, pools=4)
    x = torch.randn(2, 1, *shape)
    assert net(x).shape == x.shape


def test_unet_recon_outputs_a_magnitude_image():
    x = phantoms(2, 32, 2, complex_images=True)
    mask = torch.from_numpy(fastmri((32, 32), 4, seed=0).astype(np.float32))
    out = UNetRecon(chans=4, pools=2)(fft2c(x) * mask, mask)
    assert out.shape == x.shape and float(out.detach().imag.abs().max()) == 0.0


def overfit(
    net: torch.nn.Module, loss_name: str, complex_images: bool, steps: int, lr: float
) -> tuple[float, float]:
    torch.manual_seed(0)
    x = phantoms(2, 32, 3, complex_images)
    mask = torch.from_numpy(random2d((32, 32), 0.3, seed=2).astype(np.float32))
    y = fft2c(x) * mask
    return fit(net, y, mask, x, LOSSES[loss_name], steps, lr)


def test_d5c5_overfits_two_images():
    torch.manual_seed(0)
    initial, final = overfit(D5C5(cascades=2, filters=16, real=False), "mse", True, 150, 1e-3)
    assert final < initial / 10, (initial, final)


def test_unet_overfits_two_images():
    torch.manual_seed(0)
    initial, final = overfit(UNetRecon(chans=8, pools=2), "l1_magnitude", False, 150, 3e-3)
    assert final < initial / 5, (initial, final)

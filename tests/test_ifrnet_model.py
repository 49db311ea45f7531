"""IFR-Net: shapes, initial values, weight sharing, gradients, maps and an overfitting run."""

import pytest
import torch
from torch.func import functional_call

from ifrnet.methods.ifrnet import IFRNet, ifrnet_variant_name
from ifrnet.methods.training import relative_l2
from ifrnet.numerics.fourier import fft2c
from ifrnet.numerics.layers import dct_filters
from tests.fitting import fit


def measurements(n=2, size=16, seed=0, dtype=torch.complex64, complex_images=False):
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    images = []
    for i in range(n):
        r = 0.5 + 0.2 * torch.rand(1, generator=gen)
        img = ((xx**2 + yy**2) < r**2).float() * (0.5 + 0.5 * torch.rand(1, generator=gen))
        img = img + 0.3 * ((xx - 0.2 * i).abs() < 0.1).float()
        images.append(img)
    x = torch.stack(images).to(dtype)
    if complex_images:
        x = x * torch.exp(1j * (xx + yy)).to(dtype)
    mask = (torch.rand(size, size, generator=gen) < 0.35).float()
    mask[size // 2 - 2 : size // 2 + 2, size // 2 - 2 : size // 2 + 2] = 1
    return fft2c(x) * mask, mask, x


def test_shapes_dtypes_and_real_output():
    y, mask, x = measurements()
    net = IFRNet(stages=3, blocks=2)
    out = net(y, mask)
    assert out.shape == x.shape and out.dtype == torch.complex64
    assert float(out.detach().imag.abs().max()) == 0.0
    out_c = IFRNet(stages=2, blocks=1, real=False)(*measurements(complex_images=True)[:2])
    assert out_c.dtype == torch.complex64 and float(out_c.detach().imag.abs().max()) > 0
    out_m, maps = net(y, mask), net.descriptor_maps(y, mask)
    assert len(maps) == 3 and maps[0].shape == x.shape
    assert all(float(m.min()) >= 0 and float(m.max()) <= 1 for m in maps)
    torch.testing.assert_close(out_m, out)


def test_initial_values_follow_the_authors_code():
    net = IFRNet(stages=2, blocks=2)
    block = net.z[0].blocks[1]
    torch.testing.assert_close(block.w1.data, dct_filters(3))
    torch.testing.assert_close(block.w2.data[0, 3], 0.125 * dct_filters(3)[3, 0].flip(0, 1))
    assert float(block.eta1.detach()) == pytest.approx(0.99)
    assert float(block.eta2.detach()) == pytest.approx(0.01)
    assert torch.all(net.rho == 0.02) and len(net.rho) == 3
    assert float(net.r[1].v.detach()) == pytest.approx(0.008)
    q = block.plf.q.detach()
    assert float(q[0, 50]) == 0.0 and float(q[0, 100]) == pytest.approx(1 - 1 / 14)


def test_random_init_is_seeded_and_required_for_wide_layers():
    a, b = (
        IFRNet(stages=1, filters=16, init="random", seed=3),
        IFRNet(stages=1, filters=16, init="random", seed=3),
    )
    c = IFRNet(stages=1, filters=16, init="random", seed=4)
    assert torch.equal(a.z[0].blocks[0].w1, b.z[0].blocks[0].w1)
    assert not torch.equal(a.z[0].blocks[0].w1, c.z[0].blocks[0].w1)
    with pytest.raises(ValueError, match="init 'random'"):
        IFRNet(filters=16, init="dct")
    with pytest.raises(ValueError, match="stages"):
        IFRNet(stages=0)


def test_share_weights_shares_the_cnn():
    shared = IFRNet(stages=5, blocks=2, share_weights=True)
    separate = IFRNet(stages=5, blocks=2)
    assert len(shared.z) == 1 and len(separate.z) == 5
    n_shared = sum(p.numel() for p in shared.parameters())
    n_sep = sum(p.numel() for p in separate.parameters())
    per_z = sum(p.numel() for p in separate.z[0].parameters())
    assert n_sep - n_shared == 4 * per_z
    y, mask, x = measurements()
    relative_l2(shared(y, mask), x).backward()
    assert shared.z[0].blocks[0].w1.grad is not None  # one tensor, used by all 5 stages


@pytest.mark.slow
def test_gradcheck_float64_tiny_network():
    # random k-space: piecewise-constant images put T exactly at its clamp (T = 0 where all
    # local variances vanish), a kink that finite differences cannot handle
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(1, 8, 8, dtype=torch.complex128, generator=gen)
    mask = (torch.rand(8, 8, generator=gen) < 0.4).float()
    net = IFRNet(stages=2, blocks=1, descriptor_grad="full").double()
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in net.parameters())
    y_real = torch.view_as_real(y).clone().requires_grad_()

    def f(yr, *ps):
        out = functional_call(
            net, dict(zip(names, ps, strict=True)), (torch.view_as_complex(yr), mask.double())
        )
        return out.real

    assert torch.autograd.gradcheck(f, (y_real, *params), eps=1e-6, atol=1e-5)


def test_overfits_two_tiny_images():
    torch.manual_seed(0)
    y, mask, x = measurements(n=2, size=32)
    initial, final = fit(IFRNet(stages=2, blocks=1), y, mask, x, relative_l2, 300, 3e-3)
    assert final < initial / 10, (initial, final)


def test_variant_names():
    assert ifrnet_variant_name() == "ifrnet-s9-k2-l8-dct"
    assert ifrnet_variant_name(stages=5, share_weights=True) == "ifrnet-s5-k2-l8-dct-shared"
    assert ifrnet_variant_name(filters=64, init="random") == "ifrnet-s9-k2-l64-random"

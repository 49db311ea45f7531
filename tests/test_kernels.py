"""CPU kernels (ifrnet.numerics.conv_kernel, moments_kernel, block_kernel) against float64
references and the composed torch path."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ifrnet.numerics import moments_kernel
from ifrnet.numerics.dispatch import reference_only, use_kernel
from ifrnet.numerics.layers import conv2d_same, feature_descriptor


def correlate_reference(x: np.ndarray, w: np.ndarray, circular: bool) -> np.ndarray:
    """'same' correlation by explicit loops over taps in float64 (np.roll for circular)."""
    batch, channels, h, wd = x.shape
    out_ch, _, size, _ = w.shape
    p = size // 2
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="wrap" if circular else "constant")
    out = np.zeros((batch, out_ch, h, wd))
    for o in range(out_ch):
        for c in range(channels):
            for a in range(size):
                for b in range(size):
                    out[:, o] += w[o, c, a, b] * padded[:, c, a : a + h, b : b + wd]
    return out


@pytest.mark.parametrize("circular", [False, True])
@pytest.mark.parametrize("shape", [(2, 1, 8, 3, 3), (1, 8, 1, 3, 3), (2, 3, 4, 5, 5)])
def test_conv2d_same_kernel_matches_reference_and_autograd(shape, circular):
    batch, in_ch, out_ch, size, _ = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, in_ch, 11, 9))
    w = rng.standard_normal((out_ch, in_ch, size, size))
    b = rng.standard_normal(out_ch)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    assert use_kernel(xt)
    out = conv2d_same(xt, wt, bt, circular=circular)
    np.testing.assert_allclose(
        out.detach().numpy(),
        correlate_reference(x, w, circular) + b[None, :, None, None],
        rtol=1e-12,
        atol=1e-12,
    )
    # gradients against PyTorch's own convolution (float64) of the explicitly padded input
    g = torch.tensor(rng.standard_normal(out.shape))
    grads = torch.autograd.grad((out * g).sum(), (xt, wt, bt))
    p = size // 2
    padded = F.pad(xt, (p,) * 4, mode="circular" if circular else "constant")
    expected = torch.autograd.grad((F.conv2d(padded, wt, bt) * g).sum(), (xt, wt, bt))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_conv2d_same_kernel_and_library_path_agree_in_float32():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((1, 1, 64, 48)), dtype=torch.float32)
    w = torch.tensor(rng.standard_normal((8, 1, 3, 3)), dtype=torch.float32)
    fast = conv2d_same(x, w)
    with reference_only():
        slow = conv2d_same(x, w)  # oneDNN: the path of other devices
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_box_moments_match_float64_reference():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 1, 13, 10))
    b = rng.standard_normal((2, 1, 13, 10))
    cov, var = moments_kernel.box_moments(torch.tensor(a), torch.tensor(b), 5)

    def box(v: np.ndarray) -> np.ndarray:  # 5×5 zero-padded window mean, by loops
        padded = np.pad(v, ((0, 0), (0, 0), (2, 2), (2, 2)))
        return sum(padded[..., i : i + 13, j : j + 10] for i in range(5) for j in range(5)) / 25

    mu_a, mu_b = box(a), box(b)
    np.testing.assert_allclose(cov.numpy(), box(a * b) - mu_a * mu_b, atol=1e-12)
    np.testing.assert_allclose(var.numpy(), box(a * a) - mu_a**2 + box(b * b) - mu_b**2, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [3, 5, 7])
@pytest.mark.parametrize("shape", [(2, 1, 45, 37), (1, 1, 3, 2), (3, 1, 9, 64)])
def test_box_moments_bit_identical_to_ordered_float64_sums(shape, size, dtype):
    """The kernel's window sums add in a fixed order (taps left to right, then rows top to
    bottom, each onto 0.0, in float64): the same sums by numpy, in that order, are equal bit for
    bit, for blocks of rows split among jobs and windows wider than the image."""
    rng = np.random.default_rng(11)
    a = (rng.standard_normal(shape) * (rng.random(shape) < 0.7)).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    cov, var = moments_kernel.box_moments(torch.tensor(a), torch.tensor(b), size)
    h, w, r = shape[2], shape[3], size // 2

    def box(v: np.ndarray) -> np.ndarray:
        padded = np.pad(v[:, 0], ((0, 0), (r, r), (r, r)))
        rows = np.zeros(padded[:, :, :w].shape)
        for k in range(size):
            rows = rows + padded[:, :, k : k + w]
        total = np.zeros(v[:, 0].shape)
        for k in range(size):
            total = total + rows[:, k : k + h]
        return total / float(size * size)

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = box(a64), box(b64)
    want_cov = box(a64 * b64) - mu_a * mu_b
    want_var = (box(a64 * a64) - mu_a * mu_a) + (box(b64 * b64) - mu_b * mu_b)
    np.testing.assert_array_equal(cov[:, 0].numpy(), want_cov.astype(dtype))
    np.testing.assert_array_equal(var[:, 0].numpy(), want_var.astype(dtype))


def test_descriptor_kernel_and_library_path_agree():
    """T from the moment kernel (detached input) equals T from the banded-matrix path (an input
    that requires grad takes that path), in float64 exactly and in float32 closely."""
    rng = np.random.default_rng(4)
    a = torch.tensor(rng.standard_normal((2, 1, 40, 33)))
    fast = feature_descriptor(a, 0.008)
    slow = feature_descriptor(a.clone().requires_grad_(True), 0.008)
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(
        feature_descriptor(a.float(), 0.008), fast.float(), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("network", ["ifrnet", "ifrnet-real", "admmnet"])
def test_whole_networks_equal_on_kernel_and_library_paths(network):
    """The path other devices (CUDA) take — torch ops only, :func:`reference_only` — gives the
    CPU kernels' output and gradients for a whole network (float64, perturbed weights, complex
    data; IFR-Net also real data, whose X and R steps are single autograd nodes)."""
    from baselines.admmnet import ADMMNet
    from ifrnet.methods.ifrnet import IFRNet

    torch.manual_seed(0)
    build = (
        (lambda: IFRNet(stages=2, blocks=2, real=network == "ifrnet-real"))
        if network.startswith("ifrnet")
        else (lambda: ADMMNet(stages=2, real=False))
    )
    net = build().double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    image, mask = random_problem((1, 24, 20), real=network == "ifrnet-real")
    fast = output_and_gradients(net, image, mask)
    with reference_only():
        slow = output_and_gradients(net, image, mask)
    assert_all_close(fast, slow, rtol=1e-9, atol=1e-12, grad_rtol=1e-8, grad_atol=1e-10)


def random_problem(shape: tuple, real: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A random image complex128 (B, H, W) (imaginary part zero if ``real``) and a random mask
    (H, W) with about half the samples, from the global generator."""
    image = torch.randn(shape, dtype=torch.complex128)
    if real:
        image = image.real.to(torch.complex128)
    return image, (torch.rand(shape[1:]) < 0.5).double()


def assert_all_close(fast: tuple, slow: tuple, rtol, atol, grad_rtol, grad_atol) -> None:
    """Two results of :func:`output_and_gradients` agree: outputs to (rtol, atol), each
    gradient to (grad_rtol, grad_atol)."""
    torch.testing.assert_close(fast[0], slow[0], rtol=rtol, atol=atol)
    for got, want in zip(fast[1], slow[1], strict=True):
        torch.testing.assert_close(got, want, rtol=grad_rtol, atol=grad_atol)


def output_and_gradients(net, image: torch.Tensor, mask: torch.Tensor) -> tuple:
    """net's output from image's k-space under mask, and the gradients of its squared error
    with respect to each of net's parameters."""
    from ifrnet.numerics.fourier import fft2c

    out = net(fft2c(image) * mask, mask)
    return out, torch.autograd.grad((out - image).abs().pow(2).sum(), net.parameters())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("filters", "size", "init", "shape"),
    [
        (8, 3, "dct", (2, 1, 23, 17)),
        # wide layers, 5×5 filters, three row jobs (the last one short): halos between jobs
        (24, 5, "random", (2, 1, 2 * 32 + 7, 11)),
        (3, 3, "random", (1, 1, 32, 5)),  # one job exactly; rows narrower than the filter
    ],
)
def test_fused_cnn_block_equals_composed_ops(dtype, filters, size, init, shape):
    """The CPU block node (ifrnet.numerics.block_kernel) gives the composed path's output and
    gradients (convolutions, PLF and the η combination as separate autograd nodes: the CUDA
    path), with and without autograd."""
    from ifrnet.methods.ifrnet import CNNBlock
    from ifrnet.numerics import block_kernel

    assert block_kernel.ROWS == 32  # the shapes above are chosen for this blocking
    torch.manual_seed(0)
    block = CNNBlock(
        filters=filters,
        filter_size=size,
        init=init,
        plf_points=101,
        eta1=0.99,
        eta2=0.01,
        generator=None,
    ).to(dtype)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.05 * torch.randn_like(p))
    u = torch.randn(shape, dtype=dtype, requires_grad=True)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    g = torch.randn(shape, dtype=dtype)
    inputs = (u, x, *block.parameters())

    def run():
        with torch.no_grad():
            inference = block(u, x)
        out = block(u, x)
        return out, inference, torch.autograd.grad((out * g).sum(), inputs)

    assert use_kernel(u)
    fast, fast_inference, fast_grads = run()
    with reference_only():
        slow, slow_inference, slow_grads = run()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast, slow, **tol)
    torch.testing.assert_close(fast_inference, slow, **tol)
    torch.testing.assert_close(slow_inference, slow, rtol=0, atol=0)
    for got, want in zip(fast_grads, slow_grads, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_refinement_kernel_equals_torch_path(dtype):
    """The one-pass CPU R step (moments_kernel.refine) = the torch ops of other devices."""
    from ifrnet.numerics.layers import FeatureRefinement

    rng = np.random.default_rng(7)
    x = torch.tensor(rng.random((2, 1, 30, 27)), dtype=dtype, requires_grad=True)
    u = torch.tensor(rng.random((2, 1, 30, 27)), dtype=dtype, requires_grad=True)
    module = FeatureRefinement(v=0.008).to(dtype)
    g = torch.tensor(rng.standard_normal((2, 1, 30, 27)), dtype=dtype)

    def run():
        out, t = module(x, u)
        return (out, t, *torch.autograd.grad((out * g).sum(), (x, u, module.v)))

    fast = run()
    with reference_only():
        slow = run()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    for got, want in zip(fast, slow, strict=True):
        torch.testing.assert_close(got, want, **tol)

"""VN (variational network): RBF activations, the filter adjoint pair, one step against a
float64 NumPy step, identities of the untrained network, overfitting."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d, correlate2d

from baselines import vn
from baselines.vn import VN, RBFActivation, conv, conv_adjoint, project_filters
from ifrnet.methods.training import LOSSES
from ifrnet.numerics.dispatch import reference_only, use_kernel
from ifrnet.numerics.fourier import fft2c, ifft2c
from ifrnet.numerics.masks import random2d
from tests.fitting import fit
from tests.test_baselines_data_driven import phantoms
from tests.test_kernels import assert_all_close, output_and_gradients, random_problem


def rbf_numpy(z: np.ndarray, weights: np.ndarray, vmax: float) -> np.ndarray:
    """Σ_j w_cj exp(−(z − μ_j)²/(2σ²)) summed directly over all centres; z (B, C, H, W)."""
    centres = np.linspace(-vmax, vmax, weights.shape[1])
    sigma = centres[1] - centres[0]
    gauss = np.exp(-((z[..., None] - centres) ** 2) / (2 * sigma**2))
    return np.einsum("bchwj,cj->bchw", gauss, weights)


def fft2c_numpy(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))


def ifft2c_numpy(k: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k), norm="ortho"))


@pytest.mark.parametrize(("n_weights", "vmax"), [(31, 1.0), (7, 0.3)])
def test_rbf_activation_equals_a_direct_sum_of_gaussians(n_weights, vmax):
    rng = np.random.default_rng(0)
    act = RBFActivation(3, n_weights, vmax).double()
    weights = rng.standard_normal((3, n_weights))
    act.weight.data = torch.from_numpy(weights)
    z = rng.standard_normal((2, 3, 6, 5)) * vmax
    z[0, 0, 0, :3] = [3 * vmax, -5 * vmax, 40.0]  # beyond the centres, and far beyond
    got = act(torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(got, rbf_numpy(z, weights, vmax), rtol=0, atol=1e-7)


def test_rbf_activation_gradients_match_finite_differences():
    torch.manual_seed(0)
    act = RBFActivation(2, 31, 1.0).double()
    act.weight.data = torch.randn(2, 31, dtype=torch.float64)
    z = (torch.randn(1, 2, 4, 3, dtype=torch.float64) * 0.8).requires_grad_()
    assert torch.autograd.gradcheck(lambda z, w: act(z), (z, act.weight))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rbf_kernel_equals_the_torch_ops(dtype):
    """The CPU kernels (ifrnet.numerics.rbf_kernel) give the torch ops' values and gradients
    (the path of other devices): pixels in reach, at the ends and out of reach of the centres,
    planes split into several jobs, several channels and images."""
    from ifrnet.numerics import rbf_kernel

    torch.manual_seed(1)
    act = RBFActivation(3, 31, 1.0).to(dtype)
    act.weight.data = torch.randn(3, 31, dtype=dtype)
    shape = (2, 3, 41, rbf_kernel.CHUNK // 40 + 7)  # two jobs a plane, the second short
    z = (torch.randn(shape, dtype=dtype) * 0.9).requires_grad_()
    with torch.no_grad():  # beyond the centres by up to and past REACH spacings, and far out
        z[0, 0, 0, :6] = torch.tensor([1.2, -1.3, 1.0 + 6.4 / 15, -1.0 - 6.6 / 15, 5.0, -40.0])
    g = torch.randn(shape, dtype=dtype)

    def run():
        out = act(z)
        return (out, *torch.autograd.grad((out * g).sum(), (z, act.weight)))

    assert use_kernel(z)
    fast = run()
    with reference_only():
        slow = run()
    # float32: both sides round differently (z's gradient near 90 where sums of terms of either
    # sign cancel; the weights' gradient summed over 27k pixels, here in float64): to 1e-5 of
    # each tensor's largest value
    scale = 1e-12 if dtype == torch.float64 else 1e-5
    for got, want in zip(fast, slow, strict=True):
        assert got.dtype == want.dtype
        atol = scale * float(want.detach().abs().max())
        torch.testing.assert_close(got, want, rtol=scale, atol=atol)


@pytest.mark.parametrize("real", [False, True])
def test_vn_on_the_kernels_equals_vn_on_torch_ops(real):
    """A whole VN (float64): output and every parameter's gradient on the CPU kernels and
    convolution nodes equal those of the torch ops (conv2d, conv_transpose2d: the CUDA path)."""
    torch.manual_seed(2)
    net = VN(steps=2, filters=4, filter_size=5, real=real).double()
    with torch.no_grad():
        for act in net.activations:
            act.weight.add_(0.05 * torch.randn_like(act.weight))
    image, mask = random_problem((2, 20, 18), real)
    fast = output_and_gradients(net, image, mask)
    with reference_only():
        slow = output_and_gradients(net, image, mask)
    assert_all_close(fast, slow, rtol=1e-10, atol=1e-12, grad_rtol=1e-9, grad_atol=1e-12)


def test_rbf_activation_starts_linear_near_zero():
    act = RBFActivation(1, 31, 1.0, init_scale=0.04).double()
    z = torch.linspace(-0.5, 0.5, 11, dtype=torch.float64).view(1, 1, 1, -1)
    out = act(z).detach().numpy().ravel()
    # Poisson summation: Σ_j μ_j exp(−(z − μ_j)²/(2σ²)) = √(2π) σ/Δ · z (+ O(e^{−2π²σ²/Δ²}))
    # away from the ends of the interval; σ = Δ
    np.testing.assert_allclose(
        out, 0.04 * np.sqrt(2 * np.pi) * z.numpy().ravel(), rtol=1e-6, atol=1e-12
    )


def test_filter_pair_is_an_adjoint_pair():
    gen = torch.Generator().manual_seed(1)
    k = project_filters(torch.randn(5, 2, 7, 7, generator=gen, dtype=torch.float64))
    x = torch.randn(3, 2, 13, 10, generator=gen, dtype=torch.float64)
    z = torch.randn(3, 5, 13, 10, generator=gen, dtype=torch.float64)
    lhs = float((conv(x, k) * z).sum())
    rhs = float((x * conv_adjoint(z, k)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("channels", [1, 2])
def test_cpu_convolution_nodes_equal_conv2d_and_conv_transpose2d(channels):
    """K and Kᵀ on the CPU nodes (depthwise adjoint, swapped-axes filter gradients): values
    and the gradients of input and filters equal F.conv2d's and F.conv_transpose2d's."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, channels, 17, 12, generator=gen, dtype=torch.float64, requires_grad=True)
    z = torch.randn(2, 5, 17, 12, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.randn(5, channels, 7, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    pairs = ((vn._ConvCPU, x, lambda a, w: F.conv2d(a, w, padding=3)),)
    pairs += ((vn._ConvAdjointCPU, z, lambda a, w: F.conv_transpose2d(a, w, padding=3)),)
    for node, inp, reference in pairs:
        got, want = node.apply(inp, k), reference(inp, k)
        g = torch.randn(got.shape, generator=gen, dtype=torch.float64)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        for a, b in zip(
            torch.autograd.grad(got, (inp, k), g),
            torch.autograd.grad(want, (inp, k), g),
            strict=True,
        ):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_projected_filters_are_zero_mean_and_in_the_unit_ball():
    gen = torch.Generator().manual_seed(2)
    raw = torch.randn(6, 2, 5, 5, generator=gen, dtype=torch.float64)
    raw[0] *= 1e-3  # already inside the ball: only centred, not scaled
    k = project_filters(raw)
    np.testing.assert_allclose(k.mean(dim=(-2, -1)).numpy(), 0, atol=1e-15)
    norms = k.flatten(1).norm(dim=1).numpy()
    np.testing.assert_allclose(norms[1:], 1, rtol=1e-12)
    centred = raw[0] - raw[0].mean(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(k[0], centred)


def numpy_step(
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    filters: np.ndarray,
    weights: np.ndarray,
    vmax: float,
    lam: float,
    real: bool,
) -> np.ndarray:
    """One VN gradient step in float64 NumPy, written from the formula: filters (N, C, f, f)
    already projected, weights (N, N_w); x, y (H, W) complex."""
    parts = [x.real] if real else [x.real, x.imag]
    n_filters = filters.shape[0]
    responses = np.stack(
        [
            sum(correlate2d(p, filters[i, c], mode="same") for c, p in enumerate(parts))
            for i in range(n_filters)
        ]
    )
    phi = rbf_numpy(responses[None], weights, vmax)[0]
    back = [
        sum(convolve2d(phi[i], filters[i, c], mode="same") for i in range(n_filters))
        for c in range(len(parts))
    ]
    reg = back[0] + 0j if real else back[0] + 1j * back[1]
    data = ifft2c_numpy(mask * (mask * fft2c_numpy(x) - y))
    out = x - reg / n_filters - lam * data
    return out.real + 0j if real else out


@pytest.mark.parametrize("real", [False, True])
def test_one_untrained_step_equals_a_numpy_step(real):
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    net = VN(steps=1, filters=3, filter_size=5, rbf_weights=9, vmax=0.5, real=real).double()
    net.activations[0].weight.data = torch.from_numpy(rng.standard_normal((3, 9)) * 0.1)
    net.lam.data.fill_(0.7)
    image = rng.random((12, 10)) + (0 if real else 1j * rng.random((12, 10)))
    mask = random2d((12, 10), 0.4, seed=4).astype(np.float64)
    y = fft2c_numpy(image) * mask
    x0 = ifft2c_numpy(y) + 0.05 * rng.standard_normal((12, 10))  # not data-consistent
    got = net.step(
        torch.from_numpy(x0.real[None] + 0j if real else x0[None]),
        torch.from_numpy(y[None]),
        torch.from_numpy(mask),
        0,
    )
    filters = project_filters(net.filters[0]).detach().numpy()
    want = numpy_step(
        x0.real + 0j if real else x0,
        y,
        mask,
        filters,
        net.activations[0].weight.detach().numpy(),
        0.5,
        0.7,
        real,
    )
    np.testing.assert_allclose(got.detach().numpy()[0], want, rtol=0, atol=1e-9)


def test_vn_with_zero_activations_returns_the_zero_filled_image():
    # φ ≡ 0 and λ = 1: each step replaces the sampled k-space of x by y, which x₀ = Fᴴy has
    x = phantoms(2, 32, 0, complex_images=True)
    mask = torch.from_numpy(random2d((32, 32), 0.3, seed=1).astype(np.float32))
    y = fft2c(x) * mask
    out = VN(steps=3, filters=4, filter_size=5, init_scale=0.0, real=False)(y, mask)
    torch.testing.assert_close(out, ifft2c(y), atol=1e-5, rtol=0)


def test_vn_parameter_count_real_output_and_argument_checks():
    net = VN()
    # 10 steps × (24 filters of 1 × 11 × 11 + 24 × 31 RBF weights + λ) for real data
    assert sum(p.numel() for p in net.parameters()) == 10 * (24 * 121 + 24 * 31 + 1)
    assert sum(p.numel() for p in VN(real=False).parameters()) == 10 * (24 * 2 * 121 + 24 * 31 + 1)
    y = fft2c(phantoms(1, 16, 1, complex_images=False))
    out = VN(steps=2, filters=4, filter_size=3)(y, torch.ones(16, 16))
    assert out.shape == (1, 16, 16) and float(out.detach().imag.abs().max()) == 0.0
    with pytest.raises(ValueError, match="odd"):
        VN(filter_size=4)
    with pytest.raises(ValueError, match="steps"):
        VN(steps=0)
    with pytest.raises(ValueError, match="complex"):
        VN(steps=1)(y.real, torch.ones(16, 16))


def test_vn_overfits_two_images():
    torch.manual_seed(0)
    x = phantoms(2, 32, 3, complex_images=True)
    mask = torch.from_numpy(random2d((32, 32), 0.3, seed=2).astype(np.float32))
    y = fft2c(x) * mask
    net = VN(steps=4, filters=8, filter_size=5, real=False)
    initial, final = fit(net, y, mask, x, LOSSES["mse"], 30, 1e-2)
    assert final < initial / 5, (initial, final)

"""X step, DCT filters, convolution and feature descriptor against independent references."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from ifrnet.numerics.layers import (
    FeatureRefinement,
    band_matrix,
    conv2d_same,
    data_consistency,
    dct_filters,
    feature_descriptor,
    separable_filter,
)


def np_fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))


def np_ifft2c(k):
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k), norm="ortho"))


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    x_gt = rng.standard_normal((2, 12, 10)) + 1j * rng.standard_normal((2, 12, 10))
    mask = (rng.random((12, 10)) < 0.4).astype(float)
    y = np_fft2c(x_gt) * mask
    x_t = rng.standard_normal((2, 12, 10)) + 1j * rng.standard_normal((2, 12, 10))
    return x_gt, mask, y, x_t


def test_x_step_matches_numpy_closed_form(problem):
    x_gt, mask, y, x_t = problem
    rho = 0.37
    # closed form of argmin_x ‖M F x − y‖² + ρ‖x − x_t‖², solved per k-space sample
    expected = np_ifft2c((y + rho * np_fft2c(x_t)) / (mask + rho))
    got = data_consistency(
        torch.from_numpy(x_t),
        torch.from_numpy(y),
        torch.from_numpy(mask),
        torch.tensor(rho, dtype=torch.float64),
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_x_step_limits(problem):
    x_gt, mask, y, _ = problem
    ones = np.ones_like(mask)
    full = np_fft2c(x_gt)
    got = data_consistency(
        torch.from_numpy(x_gt), torch.from_numpy(full), torch.from_numpy(ones), 0.02
    )
    np.testing.assert_allclose(got.numpy(), x_gt, atol=1e-12)
    small = data_consistency(
        torch.zeros(2, 12, 10, dtype=torch.complex128),
        torch.from_numpy(y),
        torch.from_numpy(mask),
        1e-12,
    )
    np.testing.assert_allclose(small.numpy(), np_ifft2c(y), atol=1e-9)
    zero = data_consistency(
        torch.zeros(2, 12, 10, dtype=torch.complex128),
        torch.from_numpy(y),
        torch.from_numpy(mask),
        0.0,
    )
    assert torch.isfinite(zero.real).all()  # 0/0 guarded as in the authors' code


def test_dct_filters_are_the_non_dc_orthonormal_basis():
    w = dct_filters(3).double().reshape(8, 9).numpy()
    # independent DCT-II matrix
    n = np.arange(3)
    d = np.array(
        [
            [np.sqrt((1 if k == 0 else 2) / 3) * np.cos(np.pi * (2 * j + 1) * k / 6) for j in n]
            for k in n
        ]
    )
    basis = np.stack([np.outer(d[a], d[b]).ravel() for a in n for b in n])
    full = np.vstack([np.full(9, 1 / 3), w])  # DC filter + ours
    np.testing.assert_allclose(full @ full.T, np.eye(9), atol=1e-6)
    np.testing.assert_allclose(w.sum(axis=1), 0, atol=1e-6)
    # every filter is one of the separable DCT products (up to orientation)
    for f in w:
        assert np.min(np.abs(basis - f).max(axis=1)) < 1e-6


@pytest.mark.parametrize(("cin", "cout"), [(1, 8), (8, 1), (3, 2)])
def test_conv2d_same_matches_torch_and_gradcheck(cin, cout):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, cin, 9, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(cout, cin, 3, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, generator=gen, requires_grad=True)
    ref = torch.nn.functional.conv2d(x, w, b, padding=1)
    torch.testing.assert_close(conv2d_same(x, w, b), ref)
    assert torch.autograd.gradcheck(conv2d_same, (x, w, b))


@pytest.mark.parametrize(("shape", "taps"), [((2, 1, 30, 20), 7), ((2, 1, 150, 131), 51)])
def test_separable_filter_matches_scipy(shape, taps):
    """Values (scipy), and gradients (the full band matrices' product); the second shape runs
    the products over blocks of rows and columns (two each)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape)
    k = torch.from_numpy(rng.random(taps))
    at = torch.from_numpy(a).requires_grad_()
    got = separable_filter(at, k)
    kernel2d = np.outer(k.numpy(), k.numpy())
    for i in range(2):
        np.testing.assert_allclose(
            got[i, 0].detach().numpy(),
            ndimage.correlate(a[i, 0], kernel2d, mode="constant"),
            atol=1e-12,
        )
    g = torch.from_numpy(rng.standard_normal(shape))
    full = band_matrix(shape[-2], k) @ at @ band_matrix(shape[-1], k).T
    want = torch.autograd.grad(full, at, g)[0]
    torch.testing.assert_close(torch.autograd.grad(got, at, g)[0], want, rtol=1e-12, atol=1e-12)


def descriptor_reference(a: np.ndarray, v: float) -> np.ndarray:
    """float64 SciPy version of `texture_map.m` (fspecial Gaussian 51/50, 5×5 box, 'same')."""
    x = np.arange(51) - 25
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 50.0**2))
    g /= g.sum()
    b = ndimage.correlate(a, g, mode="constant")
    box = np.ones((5, 5)) / 25

    def f(z):
        return ndimage.correlate(z, box, mode="constant")

    mu_a, mu_b = f(a), f(b)
    top = 2 * (f(a * b) - mu_a * mu_b) + abs(v)
    bottom = f(a * a) - mu_a**2 + f(b * b) - mu_b**2 + abs(v)
    return 1 - np.abs(top / bottom)


def test_descriptor_matches_scipy_reference_and_range():
    rng = np.random.default_rng(2)
    a = ndimage.gaussian_filter(rng.random((40, 36)), 1.0)
    t = feature_descriptor(torch.from_numpy(a)[None, None], 0.008)[0, 0].numpy()
    np.testing.assert_allclose(t, np.clip(descriptor_reference(a, 0.008), 0, 1), atol=1e-9)
    for seed in range(5):
        noise = torch.from_numpy(np.random.default_rng(seed).standard_normal((2, 1, 32, 32)))
        t = feature_descriptor(noise.float(), torch.tensor(-0.01))
        assert float(t.min()) >= 0 and float(t.max()) <= 1


def test_descriptor_is_zero_inside_a_constant_image():
    a = torch.full((1, 1, 64, 64), 0.7, dtype=torch.float64)
    t = feature_descriptor(a, 0.008)[0, 0]
    # the 51×51 blur of a constant is constant ≥ 25 pixels from the edge, and the 5×5
    # statistics need 2 more: there σ_a = σ_b = σ_ab = 0 and T = 1 − |V|/|V| = 0
    assert float(t[27:37, 27:37].abs().max()) < 1e-9
    assert float(t.max()) > 0.01  # near the border the blur is not constant


def test_feature_refinement_blends_x_and_u():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.random((1, 1, 16, 16)))
    u = torch.from_numpy(rng.random((1, 1, 16, 16)))
    module = FeatureRefinement(v=0.008).double()
    x_t, t = module(x, u)
    torch.testing.assert_close(x_t, u + t * (x - u))
    _, t_u = FeatureRefinement(v=0.008, descriptor_input="u").double()(x, u)
    assert not torch.allclose(t, t_u)
    with pytest.raises(ValueError, match="descriptor_input"):
        FeatureRefinement(descriptor_input="z")


def test_replace_sampled_is_the_noiseless_limit(problem):
    from ifrnet.numerics.layers import replace_sampled

    x_gt, mask, y, x_t = problem
    got = replace_sampled(torch.from_numpy(x_t), torch.from_numpy(y), torch.from_numpy(mask))
    k = np_fft2c(got.numpy())
    np.testing.assert_allclose(k[:, mask == 1], y[:, mask == 1], atol=1e-12)
    np.testing.assert_allclose(k[:, mask == 0], np_fft2c(x_t)[:, mask == 0], atol=1e-12)
    tiny = data_consistency(
        torch.from_numpy(x_t), torch.from_numpy(y), torch.from_numpy(mask), 1e-9
    )
    np.testing.assert_allclose(tiny.numpy(), got.numpy(), atol=1e-6)


def test_parts_round_trip_and_keep_real():
    from ifrnet.numerics.layers import from_parts, keep_real, to_parts

    x = torch.randn(3, 4, 5, dtype=torch.complex64)
    parts = to_parts(x, complex_data=True)
    assert parts.shape == (6, 4, 5) and torch.equal(parts[3:], x.imag)
    torch.testing.assert_close(from_parts(parts, complex_data=True), x)
    torch.testing.assert_close(from_parts(to_parts(x, complex_data=False), False), keep_real(x))
    assert float(keep_real(x).imag.abs().max()) == 0.0


@pytest.mark.parametrize("start", ["zeros", "image"])
@pytest.mark.parametrize("rho", [0.37, 0.0])
def test_real_x_step_node_equals_composed_ops_and_gradcheck(problem, start, rho):
    """real_data_consistency (one autograd node) = Re data_consistency, values and gradients
    (gradcheck in float64), ρ = 0 included (the guarded 0/0 denominators)."""
    from ifrnet.numerics.layers import from_parts, real_data_consistency

    _, mask, y, _ = problem
    rng = np.random.default_rng(5)
    x_t = (
        None
        if start == "zeros"
        else torch.tensor(rng.standard_normal((2, 1, 12, 10)), requires_grad=True)
    )
    rho_t = torch.tensor(rho, dtype=torch.float64, requires_grad=True)
    y_t, mask_t = torch.from_numpy(y), torch.from_numpy(mask)
    got = real_data_consistency(x_t, y_t, mask_t, rho_t)
    x_c = torch.zeros_like(y_t) if x_t is None else from_parts(x_t[:, 0], False)
    want = data_consistency(x_c, y_t, mask_t, rho_t).real.unsqueeze(1)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g = torch.tensor(rng.standard_normal(got.shape))
    inputs = (rho_t,) if x_t is None else (x_t, rho_t)
    for a, b in zip(
        torch.autograd.grad((got * g).sum(), inputs),
        torch.autograd.grad((want * g).sum(), inputs),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    if rho != 0:  # (at ρ = 0 the guard makes the function non-differentiable in ρ)
        torch.autograd.gradcheck(
            lambda *a: real_data_consistency(None if x_t is None else a[0], y_t, mask_t, a[-1]),
            inputs,
        )


def _x_step_case(shape, dtype, start, rho, batch_mask):
    """Inputs of the real X step: mask zero on ~60 % (so M + ρ = 0 there for ρ = 0), y =
    fft2c(image) there scaled by 1e-3 (not 0, so that the 1e-6 replacement shows), x_t real
    (B, 1, H, W) or None."""
    rng = np.random.default_rng(9)
    b, h, w = shape
    mask = (rng.random(shape if batch_mask else (h, w)) < 0.4).astype(float)
    image = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    y = torch.tensor(np_fft2c(image) * np.where(mask > 0, 1.0, 1e-3)).to(
        torch.complex64 if dtype == torch.float32 else torch.complex128
    )
    x_t = None if start == "zeros" else torch.tensor(rng.standard_normal((b, 1, h, w)), dtype=dtype)
    return x_t, y, torch.tensor(mask, dtype=dtype), torch.tensor(rho, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("start", ["zeros", "image"])
@pytest.mark.parametrize("rho", [0.37, 0.0])
@pytest.mark.parametrize("shape,batch_mask", [((2, 16, 12), False), ((3, 10, 14), True)])
def test_real_x_step_kernel_equals_torch_path(monkeypatch, shape, batch_mask, rho, start, dtype):
    """The CPU kernel X step (dc_kernel: half-spectrum FFTs, one fused pass) = the composed torch
    ops of other devices (_RealDataConsistency) and Re data_consistency in float64: values and
    gradients to x_t and ρ, ρ = 0 (M + ρ = 0 replaced by 1e-6) and x_t = None included."""
    from ifrnet.numerics import dc_kernel
    from ifrnet.numerics.layers import from_parts, real_data_consistency

    x_t, y, mask, rho_t = _x_step_case(shape, dtype, start, rho, batch_mask)
    assert dc_kernel.available(x_t, y, mask, rho_t)
    g = torch.tensor(
        np.random.default_rng(10).standard_normal((shape[0], 1, *shape[1:])), dtype=dtype
    )

    def run(path):
        xx = None if x_t is None else x_t.clone().requires_grad_()
        rr = rho_t.clone().requires_grad_()
        if path == "reference":  # complex composed ops in float64
            x_c = torch.zeros_like(y) if xx is None else from_parts(xx[:, 0], False)
            out = data_consistency(
                x_c.to(torch.complex128), y.to(torch.complex128), mask.double(), rr.double()
            ).real.unsqueeze(1)
        else:
            monkeypatch.setattr(dc_kernel, "available", lambda *a: path == "kernel")
            out = real_data_consistency(xx, y, mask, rr)
            kernel_node = out.grad_fn._forward_cls is dc_kernel.RealDataConsistency
            assert kernel_node == (path == "kernel")
        inputs = (rr,) if xx is None else (xx, rr)
        return (out, *torch.autograd.grad((out * g.to(out.dtype)).sum(), inputs))

    kernel, torch_path, reference = run("kernel"), run("torch"), run("reference")
    for got, want, ref in zip(kernel, torch_path, reference, strict=True):
        assert got.dtype == want.dtype == dtype
        if dtype == torch.float64:
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
        else:  # float32 rounding, relative to the values' scale
            scale = float(ref.detach().abs().max())
            torch.testing.assert_close(got.double(), want.double(), rtol=1e-5, atol=2e-6 * scale)
            torch.testing.assert_close(got.double(), ref.double(), rtol=1e-5, atol=2e-6 * scale)


@pytest.mark.parametrize("start", ["zeros", "image"])
def test_real_x_step_kernel_gradcheck(start):
    from ifrnet.numerics import dc_kernel
    from ifrnet.numerics.layers import real_data_consistency

    x_t, y, mask, rho_t = _x_step_case((2, 10, 8), torch.float64, start, 0.37, False)
    assert dc_kernel.available(x_t, y, mask, rho_t)
    inputs = (
        (rho_t.requires_grad_(),) if x_t is None else (x_t.requires_grad_(), rho_t.requires_grad_())
    )
    out = real_data_consistency(x_t, y, mask, rho_t)
    assert out.grad_fn._forward_cls is dc_kernel.RealDataConsistency
    torch.autograd.gradcheck(
        lambda *a: real_data_consistency(None if x_t is None else a[0], y, mask, a[-1]), inputs
    )


def test_real_x_step_kernel_only_where_it_applies():
    """Odd sizes, float16 masks, CUDA-less other dtypes and batched ρ take the torch ops."""
    from ifrnet.numerics import dc_kernel

    x_t, y, mask, rho = _x_step_case((2, 10, 8), torch.float32, "image", 0.37, False)
    assert dc_kernel.available(x_t, y, mask, rho) and dc_kernel.available(None, y, mask, rho)
    assert not dc_kernel.available(x_t[..., :7], y[..., :7], mask[..., :7], rho)  # odd W
    assert not dc_kernel.available(x_t, y, mask.double(), rho)  # mask in another dtype
    assert not dc_kernel.available(x_t.half(), y, mask, rho)
    assert not dc_kernel.available(x_t, y, mask, rho.reshape(1))
    assert not dc_kernel.available(x_t, y, mask[None].expand(3, -1, -1), rho)  # B ≠ 2


@pytest.mark.parametrize("descriptor_input", ["x", "u"])
@pytest.mark.parametrize("v", [0.008, -0.3])
def test_refinement_node_equals_composed_ops_and_gradcheck(descriptor_input, v):
    """FeatureRefinement's one-node R step (T a constant map, gradient to V) = the composed
    ops through feature_descriptor, values and gradients, and passes gradcheck."""
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.random((2, 1, 12, 10)), requires_grad=True)
    u = torch.tensor(rng.random((2, 1, 12, 10)), requires_grad=True)
    u.data[1, 0, 4:9, 3:8] = x.data[1, 0, 4:9, 3:8]  # flat patches: clamps and zero slopes
    module = FeatureRefinement(v=v, descriptor_input=descriptor_input).double()
    x_t, t = module(x, u)
    a = (x if descriptor_input == "x" else u).detach()
    t_ref = feature_descriptor(a, module.v, module.kernel.double())
    want = u + t_ref * (x - u)
    torch.testing.assert_close(t, t_ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x_t, want, rtol=1e-12, atol=1e-12)
    g = torch.tensor(rng.standard_normal(x_t.shape))
    inputs = (x, u, module.v)
    for got, exp in zip(
        torch.autograd.grad((x_t * g).sum(), inputs),
        torch.autograd.grad((want * g).sum(), inputs),
        strict=True,
    ):
        torch.testing.assert_close(got, exp, rtol=1e-9, atol=1e-12)
    # T is a constant map of its input image by design: gradcheck V and the other image
    if descriptor_input == "x":
        torch.autograd.gradcheck(lambda uu, vv: _refine(module, x.detach(), uu, vv), (u, module.v))
    else:
        torch.autograd.gradcheck(lambda xx, vv: _refine(module, xx, u.detach(), vv), (x, module.v))


def _refine(module, x, u, v):
    from ifrnet.numerics.layers import _Refine

    return _Refine.apply(x, u, v, module.kernel, module.descriptor_input == "x")[0]

"""DCT filters, convolution and feature descriptor against independent references (the X step:
tests/test_forward_model.py)."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from ifrnet.numerics.layers import (
    FeatureRefinement,
    band_matrix,
    conv2d_same,
    dct_filters,
    feature_descriptor,
    separable_filter,
)


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


def test_parts_round_trip_and_keep_real():
    from ifrnet.numerics.layers import from_parts, keep_real, to_parts

    x = torch.randn(3, 4, 5, dtype=torch.complex64)
    parts = to_parts(x, real=False)
    assert parts.shape == (6, 4, 5) and torch.equal(parts[3:], x.imag)
    torch.testing.assert_close(from_parts(parts, real=False), x)
    torch.testing.assert_close(from_parts(to_parts(x, real=True), True), keep_real(x))
    assert float(keep_real(x).imag.abs().max()) == 0.0


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

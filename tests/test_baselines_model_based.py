"""IFR-CS and ADMM-Net against closed forms, zero-filled reconstruction and their own claims."""

import numpy as np
import pytest
import torch

from baselines.admmnet import ADMMNet, admm_x_step, filter_response
from baselines.ifrcs import IFRCS, dct_shrink, frame_analysis, frame_synthesis
from ifrnet.bench.data import embedded
from ifrnet.methods.training import relative_l2
from ifrnet.numerics.fourier import fft2c, ifft2c
from ifrnet.numerics.layers import dct_filters
from ifrnet.numerics.masks import radial
from ifrnet.numerics.measure import measure
from ifrnet.numerics.metrics import evaluate
from tests.fitting import fit


@pytest.fixture(scope="module")
def brain():
    """Four 128×128 slices of the embedded data, 20 % radial measurements with noise."""
    images, _ = embedded.embedded_images(128, {"train": 0, "val": 0, "test": 4}, seed=0)
    x = images["test"].astype(np.complex64)
    mask = radial((128, 128), 0.2)
    return x, mask, measure(x, mask, 0.02, seed=0, split="test")


def mean_psnr(recon, truth):
    return float(np.mean([evaluate(r, t)["psnr"] for r, t in zip(recon, truth, strict=True)]))


def test_dct_frame_is_tight_and_synthesis_is_the_adjoint():
    frame = dct_filters(include_dc=True, dtype=torch.float64)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((2, 1, 9, 11)))
    c = torch.from_numpy(rng.standard_normal((2, 9, 9, 11)))
    lhs = float((frame_analysis(x, frame) * c).sum())
    rhs = float((x * frame_synthesis(c, frame)).sum())
    assert abs(lhs - rhs) < 1e-10 * max(abs(lhs), 1)
    torch.testing.assert_close(frame_synthesis(frame_analysis(x, frame), frame), 9 * x)
    torch.testing.assert_close(dct_shrink(x, 0.0, frame), x)


def test_ifrcs_objective_decreases_and_beats_zero_filled(brain):
    x, mask, y = brain
    method = IFRCS(real=True, lam=0.01, rho=0.5, v=0.01, max_iter=40, tol=0, track_objective=True)
    recon = method(y, mask)
    history = np.array(method.history)  # (iterations, B)
    assert np.all(history[-1] < 0.5 * history[0])
    assert np.all(np.diff(history[5:], axis=0) <= 1e-3 * history[5:-1])  # monotone once settled
    zero_filled = ifft2c(y).real
    assert mean_psnr(recon, x) > mean_psnr(zero_filled, x) + 3.0


def test_ifrcs_stops_at_tolerance_and_checks_arguments(brain):
    _, mask, y = brain
    method = IFRCS(real=True, lam=0.01, rho=0.5, max_iter=200, tol=1e-3)
    method(y[:1], mask)
    assert method.iterations < 200
    with pytest.raises(ValueError, match="rho"):
        IFRCS(rho=0)


@pytest.mark.parametrize("tol", [0.0, 3e-3])  # 3e-3: converges between the stops
def test_ifrcs_stops_from_one_run_equal_separate_runs(brain, tol):
    _, mask, y = brain
    stops = [1, 4, 30]
    many = IFRCS(real=True, lam=0.01, rho=0.5, max_iter=30, tol=tol).stops(y[:2], mask, stops)
    for k in stops:
        single = IFRCS(real=True, lam=0.01, rho=0.5, max_iter=k, tol=tol)
        np.testing.assert_array_equal(many[k], single(y[:2], mask))
    converged = IFRCS(real=True, lam=0.01, rho=0.5, max_iter=30, tol=3e-3)
    converged(y[:2], mask)
    assert tol == 0 or 4 < converged.iterations < 30  # the case the parameter is meant for
    with pytest.raises(ValueError, match="stops"):
        IFRCS(max_iter=5).stops(y[:1], mask, [6])
    with pytest.raises(ValueError, match="mask shape"):
        IFRCS(max_iter=5).stops(y[:1], mask[1:], [5])


def circular_conv(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Independent circular convolution by shifts: Σ_ij h[i, j] x[r − (i − p), c − (j − p)]."""
    p = h.shape[0] // 2
    out = np.zeros_like(x)
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            out += h[i, j] * np.roll(x, (i - p, j - p), axis=(-2, -1))
    return out


def circular_corr(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Adjoint of circular_conv."""
    p = h.shape[0] // 2
    out = np.zeros_like(x)
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            out += h[i, j] * np.roll(x, (-(i - p), -(j - p)), axis=(-2, -1))
    return out


def test_admm_x_step_solves_its_normal_equations():
    rng = np.random.default_rng(1)
    h, w, n_filters = 12, 10, 3
    filters = rng.standard_normal((n_filters, 3, 3))
    rho = np.array([0.3, 0.7, 1.1])
    mask = (rng.random((h, w)) < 0.5).astype(float)
    y = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(rng.standard_normal((h, w))), norm="ortho"))
    y = y * mask
    zb = rng.standard_normal((1, n_filters, h, w))
    x = admm_x_step(
        torch.from_numpy(y)[None],
        torch.from_numpy(mask),
        filter_response(torch.from_numpy(filters), (h, w)),
        torch.from_numpy(rho),
        torch.from_numpy(zb).to(torch.complex128),
    )[0].numpy()

    # (Fᴴ M F + Σ ρ_l H_lᵀ H_l) x = Fᴴ M y + Σ ρ_l H_lᵀ (z_l − β_l), with H_l x = h_l ⊛ x
    def fwd(v):
        return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(v), norm="ortho"))

    def inv(k):
        return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k), norm="ortho"))

    lhs = inv(mask * fwd(x)) + sum(
        rho[k] * circular_corr(circular_conv(x, filters[k]), filters[k]) for k in range(n_filters)
    )
    rhs = inv(mask * y) + sum(
        rho[k] * circular_corr(zb[0, k], filters[k]) for k in range(n_filters)
    )
    np.testing.assert_allclose(lhs, rhs, atol=1e-10)


def test_filter_response_is_circular_convolution():
    rng = np.random.default_rng(2)
    filters = rng.standard_normal((2, 3, 3))
    x = rng.standard_normal((7, 8))  # odd height: the roll path; even width
    for shape_x in (x, x[:6]):
        response = filter_response(torch.from_numpy(filters), shape_x.shape).numpy()
        got = ifft2c(response * fft2c(shape_x)[None]).real
        for k in range(2):
            np.testing.assert_allclose(got[k], circular_conv(shape_x, filters[k]), atol=1e-12)


def test_untrained_admmnet_improves_on_zero_filled(brain):
    x, mask, y = brain
    with torch.no_grad():
        recon = ADMMNet(stages=8)(torch.from_numpy(y), torch.from_numpy(mask.astype(np.float32)))
    assert mean_psnr(recon.numpy(), x) > mean_psnr(ifft2c(y).real, x) + 1.0


@pytest.mark.slow
def test_admmnet_overfits_two_images(brain):
    x, mask, _ = brain
    kspace = torch.from_numpy(measure(x[:2], mask, 0.0, seed=0, split="test"))  # noise-free
    target = torch.from_numpy(x[:2])
    m = torch.from_numpy(mask.astype(np.float32))
    initial, final = fit(ADMMNet(stages=3), kspace, m, target, relative_l2, 100, 1e-2)
    # 3 stages cannot fit 20 % radial data exactly; halving the error shows it learns
    assert final < initial / 2, (initial, final)


def test_admmnet_complex_and_argument_checks():
    y = torch.randn(2, 16, 16, dtype=torch.complex64)
    out = ADMMNet(stages=2, real=False)(y, torch.ones(16, 16))
    assert out.shape == (2, 16, 16) and float(out.detach().imag.abs().max()) > 0
    with pytest.raises(ValueError, match="filters"):
        ADMMNet(filters=16)


def test_ifrcs_wavelet_denoiser(brain):
    x, mask, y = brain
    frame_free = IFRCS(real=True, lam=0.0, rho=0.5, max_iter=3, denoiser="wavelet")
    dct = IFRCS(real=True, lam=0.0, rho=0.5, max_iter=3, denoiser="dct")
    # λ = 0: both shrinkages are the identity, so both runs coincide
    np.testing.assert_allclose(frame_free(y[:1], mask), dct(y[:1], mask), atol=1e-5)
    recon = IFRCS(real=True, lam=0.01, rho=0.5, max_iter=30, denoiser="wavelet")(y[:2], mask)
    assert mean_psnr(recon, x[:2]) > mean_psnr(ifft2c(y[:2]).real, x[:2]) + 3.0
    with pytest.raises(ValueError, match="denoiser"):
        IFRCS(denoiser="tv")


def test_admmnet_picks_image_space_on_the_cpu_only():
    """Unforced, ADMM-Net convolves in image space on the CPU and in k-space elsewhere."""
    net = ADMMNet(stages=1)
    assert not net.uses_spectral(torch.device("cpu"))
    assert net.uses_spectral(torch.device("cuda"))
    assert ADMMNet(stages=1, spectral=False).uses_spectral(torch.device("cuda")) is False
    assert ADMMNet(stages=1, spectral=True).uses_spectral(torch.device("cpu")) is True


@pytest.mark.parametrize(
    ("shape", "real"),
    [((2, 32, 32), True), ((2, 33, 30), True), ((1, 32, 32), False), ((1, 4, 4), True)],
)
def test_admmnet_image_space_equals_k_space_form(shape, real):
    """The image-space convolutions with three FFTs per stage compute the same network as
    every filter through k-space (``spectral=True``): outputs and all parameter gradients in
    float64, with perturbed (non-DCT) weights; odd sizes and the tiny-image fallback too."""
    torch.manual_seed(0)
    fast = ADMMNet(stages=3, real=real).double()
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.05 * torch.randn_like(p))
    spectral = ADMMNet(stages=3, real=real, spectral=True).double()
    spectral.load_state_dict(fast.state_dict())
    image = torch.randn(*shape, dtype=torch.complex128)
    if real:
        image = image.real.to(torch.complex128)
    mask = (torch.rand(shape[1:]) < 0.5).double()
    mask[shape[1] // 2, shape[2] // 2] = 1
    kspace = fft2c(image) * mask
    outputs, grads = [], []
    for net in (fast, spectral):
        out = net(kspace, mask)
        outputs.append(out)
        grads.append(torch.autograd.grad((out - image).abs().pow(2).mean(), net.parameters()))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-10, atol=1e-12)
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)

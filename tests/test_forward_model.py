"""The contract of the forward model (:class:`ifrnet.numerics.forward_model.ForwardModel`),
parametrised over every implementation, as tests/test_contract.py is over every method.

Implementations: NumPy arrays; torch CPU tensors on the default paths (the CPU kernels where
:func:`ifrnet.numerics.dispatch.use_kernel` allows); torch CPU tensors on the reference torch
ops (:func:`ifrnet.numerics.dispatch.reference_only`); torch CUDA tensors where a GPU is
present. Each is checked in float64 with random complex (and real) inputs, several shapes (odd
and even sizes) and both mask layouts, (H, W) and (B, H, W), against independent references:
A against an explicit centred DFT matrix, Aᴴ by adjointness ⟨Ax, y⟩ = ⟨x, Aᴴy⟩, A⁺ by
A A⁺ y = y, every solve by its normal equations; dtypes and shapes; real images; and the fast
path of the X step for real images (dc_kernel) against its reference ops.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from ifrnet.numerics import dc_kernel
from ifrnet.numerics.dispatch import reference_only, use_kernel
from ifrnet.numerics.forward_model import ForwardModel


@dataclass(frozen=True)
class Implementation:
    """How a ForwardModel is run: on numpy arrays, or on torch tensors of ``device`` with the
    fast paths on or (``reference``) off."""

    name: str
    device: str | None = None  # None: numpy
    reference: bool = False

    def __call__(self, a: np.ndarray):
        """A numpy array as this implementation's array."""
        return a if self.device is None else torch.from_numpy(a).to(self.device)

    def scalar(self, value: float):
        """ρ as this implementation takes it: a float, or a 0-dim float64 tensor (learned ρ)."""
        if self.device is None:
            return value
        return torch.tensor(value, dtype=torch.float64, device=self.device)

    def context(self):
        return reference_only() if self.reference else contextlib.nullcontext()


def numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
IMPLEMENTATIONS = [
    pytest.param(Implementation("numpy"), id="numpy"),
    pytest.param(Implementation("torch", "cpu"), id="torch"),
    pytest.param(Implementation("torch-reference", "cpu", reference=True), id="torch-reference"),
    pytest.param(Implementation("cuda", "cuda"), id="cuda", marks=CUDA),
]
TENSORS = [p for p in IMPLEMENTATIONS if p.values[0].device is not None]
# (B, H, W): even sizes (the checkerboard FFT, the X step's kernel), odd, mixed
SHAPES = pytest.mark.parametrize("shape", [(2, 8, 6), (1, 7, 5), (3, 6, 9)], ids=str)
MASKS = pytest.mark.parametrize("batched", [False, True], ids=["mask-HW", "mask-BHW"])


def random_case(shape, batched: bool, seed: int = 0):
    """(x, y, mask): complex128 image and k-space (B, H, W), a float64 0/1 mask with about
    40 % ones, (H, W) or (B, H, W)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    y = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    mask = (rng.random(shape if batched else shape[1:]) < 0.4).astype(np.float64)
    return x, y, mask


def centred_dft(n: int) -> np.ndarray:
    """Orthonormal DFT matrix with indices centred at n // 2 (independent of np.fft)."""
    idx = np.arange(n) - n // 2
    return np.exp(-2j * np.pi * np.outer(idx, idx) / n) / np.sqrt(n)


def dft(x: np.ndarray) -> np.ndarray:
    """F x by the matrices: (…, H, W)."""
    return centred_dft(x.shape[-2]) @ x @ centred_dft(x.shape[-1]).T


def idft(k: np.ndarray) -> np.ndarray:
    """Fᴴ k by the matrices."""
    return centred_dft(k.shape[-2]).conj().T @ k @ centred_dft(k.shape[-1]).conj()


def assert_close(got, want, rtol=1e-12) -> None:
    want = np.asarray(want)
    np.testing.assert_allclose(numpy(got), want, rtol=0, atol=rtol * np.abs(want).max())


# ---------------------------------------------------------------------------------------------
# A, Aᴴ, A⁺


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SHAPES
@MASKS
def test_a_is_the_masked_centred_dft(impl, shape, batched):
    x, _, mask = random_case(shape, batched)
    with impl.context():
        got = ForwardModel(impl(mask)).A(impl(x))
    assert_close(got, mask * dft(x))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SHAPES
@MASKS
def test_adjoint_satisfies_the_inner_product_identity(impl, shape, batched):
    """⟨A x, y⟩ = ⟨x, Aᴴ y⟩ for complex images, and Re⟨A x, y⟩ = ⟨x, Re Aᴴ y⟩ for real ones
    (A's adjoint on real images keeps the real part)."""
    x, y, mask = random_case(shape, batched)
    with impl.context():
        op = ForwardModel(impl(mask))
        ax, aty = numpy(op.A(impl(x))), numpy(op.A_adjoint(impl(y)))
        ax_real = numpy(op.A(impl(x.real.copy())))
    scale = np.linalg.norm(x) * np.linalg.norm(y)
    assert abs(np.vdot(ax, y) - np.vdot(x, aty)) < 1e-12 * scale
    assert abs(np.vdot(ax_real, y).real - np.vdot(x.real, aty.real)) < 1e-12 * scale
    assert_close(aty, idft(mask * y))  # and it is Fᴴ M


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SHAPES
@MASKS
def test_dagger_inverts_a_on_measured_kspace(impl, shape, batched):
    """A A⁺ y = y and A⁺ y = Aᴴ y for measured k-space (zero off the mask)."""
    _, y, mask = random_case(shape, batched)
    measured = mask * y
    with impl.context():
        op = ForwardModel(impl(mask))
        zero_filled = op.A_dagger(impl(measured))
        again = op.A(zero_filled)
        adjoint = op.A_adjoint(impl(measured))
    assert_close(again, measured)
    assert_close(zero_filled, numpy(adjoint))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_noise_is_added_in_kspace_before_the_mask(impl):
    x, noise, mask = random_case((2, 8, 6), batched=False, seed=3)
    with impl.context():
        got = ForwardModel(impl(mask)).A(impl(x), impl(noise))
    assert_close(got, mask * (dft(x) + noise))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_shapes_dtypes_and_mask_errors(impl):
    """Each result has its input's shape and is complex; torch keeps the precision (complex64
    stays complex64); a mask of another size is refused."""
    x, y, mask = random_case((2, 8, 6), batched=False)
    single = impl(x.astype(np.complex64))
    with impl.context():
        op = ForwardModel(impl(mask.astype(np.float32)))
        results = [
            op.A(single),
            op.A(impl(x.real.astype(np.float32).copy())),
            op.A_adjoint(impl(y.astype(np.complex64))),
            op.A_dagger(impl(y.astype(np.complex64))),
            op.data_consistency(single, impl(y.astype(np.complex64)), 0.1),
            op.replace_sampled(single, impl(y.astype(np.complex64))),
        ]
        with pytest.raises(ValueError, match="mask shape"):
            ForwardModel(impl(mask[:4])).A(single)
    for result in results:
        assert tuple(result.shape) == x.shape
        if impl.device is None:
            assert np.iscomplexobj(result)
        else:
            assert result.dtype == torch.complex64


# ---------------------------------------------------------------------------------------------
# The solves


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SHAPES
@MASKS
@pytest.mark.parametrize("rho", [0.37, 1e-3])
def test_data_consistency_solves_its_normal_equations(impl, shape, batched, rho):
    """x = (AᴴA + ρI)⁻¹(Aᴴy + ρ x_t): (AᴴA + ρI) x = Aᴴ y + ρ x_t, with A, Aᴴ by the DFT
    matrices."""
    x_t, y, mask = random_case(shape, batched)
    y = mask * y
    with impl.context():
        x = numpy(ForwardModel(impl(mask)).data_consistency(impl(x_t), impl(y), impl.scalar(rho)))
    lhs = idft(mask * dft(x)) + rho * x
    assert_close(lhs, idft(mask * y) + rho * x_t, rtol=1e-11)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_data_consistency_at_rho_zero_is_finite_and_keeps_the_samples(impl):
    """ρ = 0: M + ρ = 0 off the mask is replaced by 1e-6 (the authors' guard): finite, and
    the sampled k-space equals y."""
    x_t, y, mask = random_case((2, 8, 6), batched=False)
    with impl.context():
        x = numpy(ForwardModel(impl(mask)).data_consistency(impl(x_t), impl(mask * y), 0.0))
    assert np.isfinite(x).all()
    assert_close(mask * dft(x), mask * y, rtol=1e-11)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SHAPES
def test_solve_with_a_kspace_diagonal_regulariser(impl, shape):
    """x = (AᴴA + FᴴWF)⁻¹(Aᴴy + Fᴴr): (AᴴA + FᴴWF) x = Aᴴy + Fᴴr (ADMM-Net's X step)."""
    _, y, mask = random_case(shape, batched=False)
    rng = np.random.default_rng(4)
    w = rng.random(shape[1:]) + 0.1
    r = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    y = mask * y
    with impl.context():
        op = ForwardModel(impl(mask))
        x = numpy(op.solve(impl(y), impl(r), impl(w)))
        x0 = numpy(op.solve(impl(y), None, impl(w)))
    assert_close(idft(mask * dft(x)) + idft(w * dft(x)), idft(mask * y) + idft(r), rtol=1e-11)
    assert_close(idft(mask * dft(x0)) + idft(w * dft(x0)), idft(mask * y), rtol=1e-11)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@MASKS
def test_replace_sampled_is_the_noiseless_limit(impl, batched):
    x_t, y, mask = random_case((2, 8, 6), batched)
    y = mask * y
    with impl.context():
        op = ForwardModel(impl(mask))
        got = numpy(op.replace_sampled(impl(x_t), impl(y)))
        tiny = numpy(op.data_consistency(impl(x_t), impl(y), 1e-9))
    assert_close(dft(got), mask * y + (1 - mask) * dft(x_t), rtol=1e-11)
    np.testing.assert_allclose(tiny, got, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Real images: the X step on real tensors (IFR-Net), its CPU kernel and its reference ops


def real_case(shape, dtype, start, batched, seed=9):
    """Inputs of the real X step: x_t real (B, 1, H, W) or None, y = M ⊙ F(image) + 1e-3·F(image)
    off the mask (nonzero there, so that the 1e-6 guard shows at ρ = 0), mask, as tensors."""
    rng = np.random.default_rng(seed)
    b, h, w = shape
    mask = (rng.random(shape if batched else (h, w)) < 0.4).astype(float)
    image = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    y = torch.tensor(dft(image) * np.where(mask > 0, 1.0, 1e-3))
    y = y.to(torch.complex64 if dtype == torch.float32 else torch.complex128)
    x_t = None if start == "zeros" else torch.tensor(rng.standard_normal((b, 1, h, w)), dtype=dtype)
    return x_t, y, torch.tensor(mask, dtype=dtype)


def real_x_step(impl, x_t, y, mask, rho, g):
    """(x, ∂⟨g, x⟩/∂x_t, ∂⟨g, x⟩/∂ρ) of the real X step on ``impl``, as CPU tensors."""
    dev = impl.device
    xx = None if x_t is None else x_t.to(dev).requires_grad_()
    rr = rho.to(dev).requires_grad_()
    with impl.context():
        out = ForwardModel(mask.to(dev)).data_consistency_real(xx, y.to(dev), rr)
        inputs = (rr,) if xx is None else (xx, rr)
        grads = torch.autograd.grad((out * g.to(dev, out.dtype)).sum(), inputs)
    return [t.detach().cpu() for t in (out, *grads)]


def real_x_step_reference(x_t, y, mask, rho, g):
    """The same from the complex X step in float64 (Re of (AᴴA + ρI)⁻¹(Aᴴy + ρ x_t))."""
    impl = Implementation("torch-reference", "cpu", reference=True)
    xx = None if x_t is None else x_t.double().requires_grad_()
    rr = rho.double().requires_grad_()
    x_c = torch.zeros_like(y, dtype=torch.complex128) if xx is None else xx[:, 0] + 0j
    with impl.context():
        out = ForwardModel(mask.double()).data_consistency(x_c, y.to(torch.complex128), rr)
    out = out.real.unsqueeze(1)
    inputs = (rr,) if xx is None else (xx, rr)
    return [out.detach(), *torch.autograd.grad((out * g.double()).sum(), inputs)]


@pytest.mark.parametrize("impl", TENSORS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("start", ["zeros", "image"])
@pytest.mark.parametrize("rho", [0.37, 0.0])
@pytest.mark.parametrize("shape,batched", [((2, 16, 12), False), ((3, 10, 14), True)])
def test_real_x_step_is_the_real_part_of_the_solve(impl, shape, batched, rho, start, dtype):
    """data_consistency_real = Re data_consistency (float64 complex ops), values and gradients
    to x_t and ρ, ρ = 0 (the guarded denominators) and x_t = None included; on the CPU's
    default path the kernel node is the one that ran (this is the kernel = reference check)."""
    x_t, y, mask = real_case(shape, dtype, start, batched)
    rho_t = torch.tensor(rho, dtype=dtype)
    g = torch.tensor(np.random.default_rng(10).standard_normal((shape[0], 1, *shape[1:])))
    got = real_x_step(impl, x_t, y, mask, rho_t, g)
    want = real_x_step_reference(x_t, y, mask, rho_t, g)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == dtype
        if dtype == torch.float64:
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        else:  # float32 rounding, relative to the values' scale
            scale = float(b.abs().max())
            torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=2e-6 * scale)
    with impl.context():
        node = ForwardModel(mask.to(impl.device)).data_consistency_real(
            None if x_t is None else x_t.to(impl.device).requires_grad_(),
            y.to(impl.device),
            rho_t.to(impl.device).requires_grad_(),
        )
    on_kernel = node.grad_fn._forward_cls is dc_kernel.RealDataConsistency
    assert on_kernel == (impl.device == "cpu" and not impl.reference)


@pytest.mark.parametrize("impl", TENSORS)
@pytest.mark.parametrize("start", ["zeros", "image"])
def test_real_x_step_gradcheck(impl, start):
    x_t, y, mask = real_case((2, 10, 8), torch.float64, start, False)
    rho = torch.tensor(0.37, dtype=torch.float64, device=impl.device, requires_grad=True)
    y, mask = y.to(impl.device), mask.to(impl.device)
    inputs = (rho,) if x_t is None else (x_t.to(impl.device).requires_grad_(), rho)
    op = ForwardModel(mask)
    with impl.context():
        torch.autograd.gradcheck(
            lambda *a: op.data_consistency_real(None if x_t is None else a[0], y, a[-1]), inputs
        )


def test_real_x_step_on_a_point_symmetric_mask_solves_the_real_problem():
    """With a point-symmetric mask, Re of the complex solve is the real least-squares solution:
    Re(AᴴA) x + ρ x = Re(Aᴴ y) + ρ x_t."""
    x_t, y, _ = real_case((2, 8, 6), torch.float64, "image", False)
    rng = np.random.default_rng(2)
    half = rng.random((8, 6)) < 0.4
    # centred grid: the mirror of (m, n) is (−m, −n) mod (H, W) around (H/2, W/2)
    mirror = np.roll(half[::-1, ::-1], (1, 1), axis=(0, 1))
    mask = (half | mirror).astype(np.float64)
    assert (np.roll(mask[::-1, ::-1], (1, 1), axis=(0, 1)) == mask).all()
    y = y * torch.from_numpy(mask)
    rho = 0.2
    rho_t = torch.tensor(rho, dtype=torch.float64)
    x = ForwardModel(torch.from_numpy(mask)).data_consistency_real(x_t, y, rho_t)
    x, xt, yn = x[:, 0].numpy(), x_t[:, 0].numpy(), y.numpy()
    lhs = idft(mask * dft(x)).real + rho * x
    assert_close(lhs, idft(mask * yn).real + rho * xt, rtol=1e-11)


def test_real_x_step_kernel_only_where_it_applies():
    """Odd sizes, masks in another dtype, float16, batched ρ and a mask batch that is neither
    1 nor B take the torch ops (dc_kernel.fits, with use_kernel's devices and dtypes)."""
    x_t, y, mask = real_case((2, 10, 8), torch.float32, "image", False)
    rho = torch.tensor(0.37)

    def fast(x_t, y, mask, rho):
        return use_kernel(y, mask, x_t, rho, fits=dc_kernel.fits(x_t, y, mask, rho))

    assert fast(x_t, y, mask, rho) and fast(None, y, mask, rho)
    assert not fast(x_t[..., :7], y[..., :7], mask[..., :7], rho)  # odd W
    assert not fast(x_t, y, mask.double(), rho)  # mask in another dtype
    assert not fast(x_t.half(), y, mask, rho)
    assert not fast(x_t, y, mask, rho.reshape(1))
    assert not fast(x_t, y, mask[None].expand(3, -1, -1), rho)  # B ≠ 2
    with reference_only():
        assert not fast(x_t, y, mask, rho)

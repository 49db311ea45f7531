"""PLF: kernel and torch paths against a float64 NumPy reference and finite differences."""

import contextlib

import numpy as np
import pytest
import torch

from ifrnet.numerics.dispatch import REFERENCE_ONLY_ENV, reference_only
from ifrnet.numerics.plf import PiecewiseLinear, plf, soft_threshold


def on(kernel: bool):
    """The CPU kernel's path (the default here) or the reference torch ops'."""
    return contextlib.nullcontext() if kernel else reference_only()


def plf_reference(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Independent float64 reference: np.interp inside, slope-1 lines outside."""
    points = np.linspace(-1, 1, q.shape[1])
    y = np.empty_like(x)
    for c in range(q.shape[0]):
        xc = x[:, c]
        inside = np.interp(xc, points, q[c])
        y[:, c] = np.where(xc <= -1, xc + 1 + q[c, 0], np.where(xc >= 1, xc - 1 + q[c, -1], inside))
    return y


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.6, 1.6, (2, 3, 5, 7))
    x[0, 0, 0, :5] = [-1.0, 1.0, 0.0, -0.98, 0.5]  # on control points and the ends
    q = rng.standard_normal((3, 101)) * 0.3
    return x, q


@pytest.mark.parametrize("kernel", [True, False])
def test_values_match_reference(data, kernel):
    x, q = data
    with on(kernel):
        y = plf(torch.from_numpy(x), torch.from_numpy(q))
        y32 = plf(torch.from_numpy(x).float(), torch.from_numpy(q).float())
    np.testing.assert_allclose(y.numpy(), plf_reference(x, q), atol=1e-12)
    np.testing.assert_allclose(y32.numpy(), plf_reference(x, q), atol=1e-5)


@pytest.mark.parametrize("kernel", [pytest.param(True, marks=pytest.mark.slow), False])
def test_gradients_match_finite_differences(data, kernel):
    x, q = data
    x = x + 1e-3  # keep finite differences away from the kinks at control points
    xt = torch.from_numpy(x).requires_grad_()
    qt = torch.from_numpy(q).requires_grad_()
    with on(kernel):
        assert torch.autograd.gradcheck(plf, (xt, qt), eps=1e-6, atol=1e-6)


def test_kernel_and_torch_gradients_agree(data):
    x, q = data
    grads = []
    for kernel in (True, False):
        xt = torch.from_numpy(x).requires_grad_()
        qt = torch.from_numpy(q).requires_grad_()
        with on(kernel):
            (plf(xt, qt) * torch.linspace(0, 1, xt.numel()).view_as(xt)).sum().backward()
        grads.append((xt.grad, qt.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_module_initialises_to_soft_threshold():
    module = PiecewiseLinear(4, 101, threshold=1 / 14)
    grid = torch.linspace(-1, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(
        module.q[2].double(), soft_threshold(grid, 1 / 14), atol=1e-7, rtol=0
    )
    x = torch.tensor([-2.0, -0.05, 0.5, 3.0]).view(1, 1, 2, 2).repeat(1, 4, 1, 1)
    y = module(x)
    expected = torch.tensor([-2.0 + 1 / 14, 0.0, 0.5 - 1 / 14, 3.0 - 1 / 14])
    torch.testing.assert_close(y[0, 0].flatten(), expected, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="PLF expects"):
        module(torch.zeros(1, 3, 2, 2))


@pytest.mark.parametrize("kernel", [True, False])
def test_nan_input_gives_nan_output_and_leaves_q_gradient_alone(data, kernel):
    """A NaN pixel must never become an index (an index out of range would write out of bounds
    and corrupt the heap): it gives NaN there, finite values elsewhere, and no q gradient."""
    x, q = data
    xt = torch.tensor(x, requires_grad=True)
    qt = torch.tensor(q, requires_grad=True)
    bad = xt.detach().clone()
    bad[1, 2, 3, 4] = float("nan")
    bad.requires_grad_(True)
    with on(kernel):
        for _ in range(20):  # repeated: an out-of-bounds write would show as a crash or garbage
            out = plf(bad, qt)
            grad_x, grad_q = torch.autograd.grad(out.sum(), (bad, qt))
        clean = plf(xt, qt)
        clean_gx, _ = torch.autograd.grad(clean.sum(), (xt, qt))
        single = xt.detach()[1:2, 2:3, 3:4, 4:5].clone().requires_grad_(True)
        q_one = torch.zeros_like(qt)[2:3].requires_grad_(True)
        (_, contribution) = torch.autograd.grad(plf(single, q_one).sum(), (single, q_one))
        _, clean_gq = torch.autograd.grad(plf(xt, qt).sum(), (xt, qt))
    assert torch.isnan(out[1, 2, 3, 4]) and torch.isnan(grad_x[1, 2, 3, 4])
    keep = ~torch.isnan(bad)
    torch.testing.assert_close(out[keep], clean[keep])
    torch.testing.assert_close(grad_x[keep], clean_gx[keep])
    # q's gradient: the clean one minus the NaN pixel's (finite) contribution
    expected = clean_gq.clone()
    expected[2] -= contribution[0]
    assert torch.isfinite(grad_q).all()
    torch.testing.assert_close(grad_q, expected)


def test_kernels_keep_torchs_thread_count():
    """A process set to one thread keeps one thread after its first CPU kernel: starting
    numba's OpenMP pool (here of two threads) resets the OpenMP thread count torch reads, and
    the kernels put torch's back (a fresh process: the pool starts once per process)."""
    import os
    import subprocess
    import sys

    script = (
        "import torch\n"
        "torch.set_num_threads(1)\n"
        "from ifrnet.numerics.plf import plf\n"
        "plf(torch.zeros(1, 2, 8, 8), torch.zeros(2, 5))\n"  # a CPU float32 tensor: the kernel
        "plf(torch.zeros(1, 2, 8, 8), torch.zeros(2, 5))\n"
        "print(torch.get_num_threads())\n"
    )
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    env.pop("OMP_NUM_THREADS", None)
    env.pop(REFERENCE_ONLY_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["1"]

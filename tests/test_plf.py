"""PLF: kernel and torch paths against a float64 NumPy reference and finite differences."""

import numpy as np
import pytest
import torch

from ifrnet.plf import PiecewiseLinear, plf, soft_threshold


def plf_reference(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Independent float64 reference: np.interp inside, slope-1 lines outside."""
    points = np.linspace(-1, 1, q.shape[1])
    y = np.empty_like(x)
    for c in range(q.shape[0]):
        xc = x[:, c]
        inside = np.interp(xc, points, q[c])
        y[:, c] = np.where(xc <= -1, xc + 1 + q[c, 0], np.where(xc >= 1, xc - 1 + q[c, -1],
                                                                inside))
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
    y = plf(torch.from_numpy(x), torch.from_numpy(q), use_kernel=kernel)
    np.testing.assert_allclose(y.numpy(), plf_reference(x, q), atol=1e-12)
    y32 = plf(torch.from_numpy(x).float(), torch.from_numpy(q).float(), use_kernel=kernel)
    np.testing.assert_allclose(y32.numpy(), plf_reference(x, q), atol=1e-5)


@pytest.mark.parametrize("kernel", [pytest.param(True, marks=pytest.mark.slow), False])
def test_gradients_match_finite_differences(data, kernel):
    x, q = data
    x = x + 1e-3  # keep finite differences away from the kinks at control points
    xt = torch.from_numpy(x).requires_grad_()
    qt = torch.from_numpy(q).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: plf(a, b, use_kernel=kernel), (xt, qt),
                                    eps=1e-6, atol=1e-6)


def test_kernel_and_torch_gradients_agree(data):
    x, q = data
    grads = []
    for kernel in (True, False):
        xt = torch.from_numpy(x).requires_grad_()
        qt = torch.from_numpy(q).requires_grad_()
        (plf(xt, qt, use_kernel=kernel) * torch.linspace(0, 1, xt.numel()).view_as(xt)).sum()\
            .backward()
        grads.append((xt.grad, qt.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_module_initialises_to_soft_threshold():
    module = PiecewiseLinear(4, 101, threshold=1 / 14)
    grid = torch.linspace(-1, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(module.q[2].double(), soft_threshold(grid, 1 / 14), atol=1e-7,
                               rtol=0)
    x = torch.tensor([-2.0, -0.05, 0.5, 3.0]).view(1, 1, 2, 2).repeat(1, 4, 1, 1)
    y = module(x)
    expected = torch.tensor([-2.0 + 1 / 14, 0.0, 0.5 - 1 / 14, 3.0 - 1 / 14])
    torch.testing.assert_close(y[0, 0].flatten(), expected, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="PLF expects"):
        module(torch.zeros(1, 3, 2, 2))

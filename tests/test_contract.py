"""The contract of every registered method (``ifrnet.methods.registry.METHODS``), parametrized over
the registry so that a newly registered method is covered without editing this file.

For each method, on a small generated real-valued and complex-valued case: the output's shape
and dtype, a real-valued result for real data, determinism (same input and seed, same output),
and a clear ValueError for bad input (wrong rank, real instead of complex k-space, a mask of
another shape). Methods are called as the workflow calls them (:mod:`ifrnet.methods.method`:
model-based classes directly, networks behind :class:`ifrnet.methods.learned.LearnedMethod`);
networks are also called directly, as training calls them (``net(kspace, mask)`` on tensors).

Known defects are marked ``xfail(strict=True)`` with the defect as the reason: a fix turns the
case into an unexpected pass, which fails, so that the mark is removed with the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ifrnet.methods.learned import LearnedMethod, build_network
from ifrnet.methods.method import Method
from ifrnet.methods.registry import METHODS, resolve
from ifrnet.numerics.fourier import fft2c

SIZE, BATCH, SEED = 32, 2, 0

#: Small constructor parameters that keep each method fast at 32×32. A method missing here is
#: built with its defaults: still covered, only slower.
SMALL: dict[str, dict] = {
    "ifrcs": {"max_iter": 5, "tol": 0.0},
    "pano": {"outer": 1, "inner": 2, "window": 3},
    "fdlcp": {"outer": 1, "inner": 2},
    "ifrnet": {"stages": 2, "blocks": 1},
    "admmnet": {"stages": 2},
    "d5c5": {"cascades": 1, "depth": 2, "filters": 4},
    "vn": {"steps": 2, "filters": 4, "filter_size": 5},
    "unet": {"chans": 4, "pools": 2},
}

#: Methods allowed to return a complex image for real-valued data (``ifrnet.methods.method`` says a
#: method "may" keep the real part; every registered method does keep it).
MAY_RETURN_COMPLEX_FOR_REAL: frozenset[str] = frozenset()

#: (check, method) → a known defect that makes the case fail, run as a strict xfail so that a
#: fix shows up; empty: every registered method passes every check.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def is_network(name: str) -> bool:
    cls = resolve(name)
    return isinstance(cls, type) and issubclass(cls, torch.nn.Module)


NAMES = sorted(METHODS)
NETWORKS = [name for name in NAMES if is_network(name)]


def over(names: list[str], check: str) -> list:
    """``names`` as pytest params, each known defect of ``check`` marked xfail (strict)."""
    return [
        pytest.param(
            name, id=name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[(check, name)])
        )
        if (check, name) in KNOWN_DEFECTS
        else pytest.param(name, id=name)
        for name in names
    ]


def network(name: str, real: bool, seed: int = SEED) -> torch.nn.Module:
    """An untrained network of the registry, its initial weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return build_network(name, SMALL.get(name, {}), real=real).eval()


def method(name: str, real: bool, seed: int = SEED) -> Method:
    """The method as the workflow builds it (``ifrnet.bench.pipeline.build_method``): a network
    behind ``LearnedMethod``, any other class as ``cls(real=..., **params)``."""
    if is_network(name):
        return LearnedMethod(network(name, real, seed), real=real)
    np.random.seed(seed)  # noqa: NPY002 (a method that used the global generator would be seeded)
    torch.manual_seed(seed)
    return resolve(name)(real=real, **SMALL.get(name, {}))


def case(real: bool) -> tuple[np.ndarray, np.ndarray]:
    """Noisy k-space complex64 (B, H, W) of disc phantoms, real or with a smooth phase, and a
    40 % random mask with a fully sampled centre."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[-1 : 1 : SIZE * 1j, -1 : 1 : SIZE * 1j]
    images = np.stack([(xx**2 + yy**2 < r**2) + 0.2 * xx for r in (0.5, 0.7)][:BATCH])
    if not real:
        images = images * np.exp(1j * np.pi * (0.5 * xx + 0.3 * yy))
    mask = rng.random((SIZE, SIZE)) < 0.4
    mask[SIZE // 2 - 3 : SIZE // 2 + 3, SIZE // 2 - 3 : SIZE // 2 + 3] = True
    noise = 0.01 * (rng.standard_normal(images.shape) + 1j * rng.standard_normal(images.shape))
    kspace = ((fft2c(images.astype(np.complex64)) + noise) * mask).astype(np.complex64)
    return kspace, mask


KINDS = pytest.mark.parametrize("real", [True, False], ids=["real", "complex"])


def _refuses(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# Through the Method interface (what the workflow's reconstruct step calls)


@KINDS
@pytest.mark.parametrize("name", over(NAMES, "method output"))
def test_output_shape_dtype_and_real_values(name, real):
    kspace, mask = case(real)
    out = method(name, real)(kspace, mask)
    assert out.shape == kspace.shape and out.dtype == np.complex64
    assert np.isfinite(out).all()
    if real and name not in MAY_RETURN_COMPLEX_FOR_REAL:
        assert not np.any(out.imag), f"{name}: real-valued data gave a complex image"


@KINDS
@pytest.mark.parametrize("name", over(NAMES, "method determinism"))
def test_same_input_and_seed_give_the_same_output(name, real):
    kspace, mask = case(real)
    first = method(name, real)(kspace.copy(), mask.copy())
    again = method(name, real)(kspace.copy(), mask.copy())
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("name", over(NAMES, "method wrong rank"))
def test_kspace_of_the_wrong_rank_is_refused(name):
    kspace, mask = case(real=False)
    _refuses(lambda: method(name, False)(kspace[0], mask), r"\(B, H, W\)")
    _refuses(lambda: method(name, False)(kspace[None], mask), r"\(B, H, W\)")


@pytest.mark.parametrize("name", over(NAMES, "method real kspace"))
def test_real_kspace_is_refused(name):
    kspace, mask = case(real=True)
    _refuses(lambda: method(name, True)(kspace.real.copy(), mask), "complex")


@pytest.mark.parametrize("name", over(NAMES, "method mask shape"))
def test_a_mask_of_another_shape_is_refused(name):
    kspace, mask = case(real=False)
    _refuses(lambda: method(name, False)(kspace, mask[:, :-1]), "mask")
    _refuses(lambda: method(name, False)(kspace, mask[: SIZE // 2, : SIZE // 2]), "mask")


# ---------------------------------------------------------------------------------------------
# Networks called directly (as in training): net(kspace, mask) on tensors


def tensors(real: bool) -> tuple[torch.Tensor, torch.Tensor]:
    kspace, mask = case(real)
    return torch.from_numpy(kspace), torch.from_numpy(mask.astype(np.float32))


@KINDS
@pytest.mark.parametrize("name", over(NETWORKS, "network output"))
def test_network_output_shape_dtype_and_real_values(name, real):
    kspace, mask = tensors(real)
    with torch.no_grad():
        out = network(name, real)(kspace, mask)
        batched = network(name, real)(kspace, mask.expand(BATCH, SIZE, SIZE))
    assert out.shape == kspace.shape and out.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(out)).all()
    torch.testing.assert_close(batched, out)  # mask (H, W) or (B, H, W): the same
    if real and name not in MAY_RETURN_COMPLEX_FOR_REAL:
        assert not out.imag.any(), f"{name}: real=True gave a complex image"


@KINDS
@pytest.mark.parametrize("name", over(NETWORKS, "network determinism"))
def test_network_same_seed_same_weights_and_output(name, real):
    kspace, mask = tensors(real)
    with torch.no_grad():
        first, again = (network(name, real)(kspace, mask) for _ in range(2))
    assert torch.equal(first, again)


@pytest.mark.parametrize("name", over(NETWORKS, "network wrong rank"))
def test_network_refuses_kspace_of_the_wrong_rank(name):
    kspace, mask = tensors(real=False)
    net = network(name, False)
    _refuses(lambda: net(kspace[0], mask), "kspace")
    _refuses(lambda: net(kspace[None], mask), "kspace")


@pytest.mark.parametrize("name", over(NETWORKS, "network real kspace"))
def test_network_refuses_real_kspace(name):
    kspace, mask = tensors(real=True)
    _refuses(lambda: network(name, True)(kspace.real.contiguous(), mask), "complex")


@pytest.mark.parametrize("name", over(NETWORKS, "network mask shape"))
def test_network_refuses_a_mask_of_another_shape(name):
    kspace, mask = tensors(real=False)
    _refuses(lambda: network(name, False)(kspace, mask[:, :-1]), "mask")

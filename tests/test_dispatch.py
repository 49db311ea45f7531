"""One switch between the CPU kernels and the reference torch ops (ifrnet.numerics.dispatch):
the rule, the global "reference only" setting (context manager and environment variable), and
that every kernel runs by default and none under the setting, forward and backward alike.

Kernel launches are seen through :func:`ifrnet.numerics.dispatch.sync_threads`, which every
kernel calls before it starts numba code; the kernels are found in the source (every function
that calls it), so a new kernel is covered without editing this file.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ifrnet.numerics import dispatch
from ifrnet.numerics.dispatch import REFERENCE_ONLY_ENV, reference_only, use_kernel

NUMERICS = Path(dispatch.__file__).parent


def kernel_launchers() -> set[tuple[str, str]]:
    """(module, function) of every function in ifrnet.numerics that launches a kernel (calls
    sync_threads; a kernel that imports the name instead of calling dispatch.sync_threads is
    found here but escapes the spy, and fails the test that every kernel runs)."""
    found = set()
    for path in NUMERICS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef) or node.name == "sync_threads":
                continue
            for call in ast.walk(node):  # dispatch.sync_threads(), or a bare sync_threads()
                if isinstance(call, ast.Call) and "sync_threads" in (
                    getattr(call.func, "attr", None),
                    getattr(call.func, "id", None),
                ):
                    found.add((f"ifrnet.numerics.{path.stem}", node.name))
    return found


@pytest.fixture
def launches(monkeypatch) -> list[tuple[str, str]]:
    """The (module, function) of each kernel launch while the test runs."""
    for path in NUMERICS.glob("*.py"):  # names imported from dispatch are bound before the spy
        importlib.import_module(f"ifrnet.numerics.{path.stem}")
    seen: list[tuple[str, str]] = []
    real = dispatch.sync_threads

    def spy() -> None:
        caller = sys._getframe(1)
        seen.append((caller.f_globals["__name__"], caller.f_code.co_name))
        real()

    monkeypatch.setattr(dispatch, "sync_threads", spy)
    return seen


def workload() -> list[Callable[[], object]]:
    """Small float32 CPU cases that between them reach every operation with a fast path:
    IFR-Net on real data (CNN block, real X step, R step), ADMM-Net (correlations, PLF), VN (RBF
    activation) and IFR-CS (descriptor moments), each forward + backward and without grad."""
    from baselines.admmnet import ADMMNet
    from baselines.ifrcs import IFRCS
    from baselines.vn import VN
    from ifrnet.numerics.fourier import fft2c

    torch.manual_seed(0)
    image = torch.rand(1, 16, 16).to(torch.complex64)
    mask = (torch.rand(16, 16) < 0.4).float()
    kspace = fft2c(image) * mask
    nets = [
        _ifrnet(),
        ADMMNet(stages=1),
        VN(steps=1, filters=2, filter_size=3),
    ]

    def train(net):
        return lambda: (net(kspace, mask) - image).abs().pow(2).sum().backward()

    def infer(net):
        def run():
            with torch.no_grad():
                net(kspace, mask)

        return run

    ifrcs = IFRCS(real=True, max_iter=2, tol=0.0)
    return [
        *map(train, nets),
        *map(infer, nets),
        lambda: ifrcs(kspace.numpy(), mask.numpy().astype(bool)),
    ]


def _ifrnet():
    from ifrnet.methods.ifrnet import IFRNet

    return IFRNet(stages=1, blocks=1)


def test_the_rule():
    x = torch.zeros(2, 3)
    assert all(use_kernel(x.to(t)) for t in (torch.float32, torch.float64))
    assert all(use_kernel(x.to(t)) for t in (torch.complex64, torch.complex128))
    assert not any(use_kernel(x.to(t)) for t in (torch.float16, torch.bfloat16, torch.int64))
    assert use_kernel(x, None, x.double()) and not use_kernel(x, x.half())
    assert not use_kernel(x, fits=False)
    assert not use_kernel(torch.zeros(2, 3, device="meta"))  # any device but the CPU
    with reference_only():
        assert not use_kernel(x)
        with reference_only():
            assert not use_kernel(x)
        assert not use_kernel(x)  # an inner block leaves the outer one's setting
    assert use_kernel(x)


@pytest.mark.parametrize(("value", "on"), [("1", False), ("0", True), ("", True)])
def test_the_environment_variable(value, on):
    code = "import torch, ifrnet.numerics.dispatch as d; print(d.use_kernel(torch.ones(1)))"
    env = dict(os.environ, **{REFERENCE_ONLY_ENV: value})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == [str(on)], out.stderr


def test_every_kernel_runs_by_default(launches):
    expected = kernel_launchers()
    assert len(expected) >= 12  # plf, conv, block, moments, dc, rbf: forward and backward
    for run in workload():
        run()
    assert set(launches) == expected


def test_no_kernel_runs_under_reference_only(launches):
    cases = workload()
    with reference_only():
        for run in cases:
            run()
    assert launches == []


@pytest.mark.parametrize("forward_reference", [True, False])
def test_the_backward_takes_the_forwards_path(launches, forward_reference):
    """The switch is read once, in the forward pass: leaving (or entering) reference-only
    between forward and backward does not change the path of the backward."""
    from baselines.admmnet import ADMMNet
    from baselines.vn import VN
    from ifrnet.numerics.fourier import fft2c

    torch.manual_seed(1)
    image = torch.rand(1, 16, 16).to(torch.complex64)
    mask = (torch.rand(16, 16) < 0.4).float()
    for net in (_ifrnet(), ADMMNet(stages=1), VN(steps=1, filters=2, filter_size=3)):
        with reference_only() if forward_reference else contextlib.nullcontext():
            loss = (net(fft2c(image) * mask, mask) - image).abs().pow(2).sum()
        forward = len(launches)
        with contextlib.nullcontext() if forward_reference else reference_only():
            loss.backward()
        backward = launches[forward:]
        assert (backward == []) == forward_reference, type(net).__name__


def autograd_nodes(t: torch.Tensor) -> set[str]:
    """Names of the autograd nodes t's value came from."""
    names, todo, seen = set(), [t.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        todo += [n for n, _ in node.next_functions]
    return names


def test_vn_convolution_nodes_follow_the_switch():
    """VN's CPU convolution nodes (torch ops in another order, no numba) obey the same rule."""
    from baselines.vn import VN

    torch.manual_seed(2)
    net = VN(steps=1, filters=2, filter_size=3)
    kspace = torch.randn(1, 8, 8, dtype=torch.complex64)
    mask = torch.ones(8, 8)
    fast = autograd_nodes(net(kspace, mask))
    with reference_only():
        slow = autograd_nodes(net(kspace, mask))
    cpu_nodes = {"_ConvCPUBackward", "_ConvAdjointCPUBackward"}
    assert cpu_nodes <= fast and not cpu_nodes & slow
    assert "ConvolutionBackward0" in slow

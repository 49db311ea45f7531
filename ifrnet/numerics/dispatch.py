"""Which implementation of an operation runs: its CPU kernel or its reference torch ops.

Some operations have a fast CPU implementation beside the composed torch ops that define them
(the reference, and the path of every other device, CUDA included):

    operation                       decided in                          fast path
    PLF                             plf.plf                             plf (numba)
    'same' correlation              layers.conv2d_same                  conv_kernel
    descriptor moments, R step      layers.feature_descriptor, _Refine  moments_kernel
    IFR-Net CNN block               methods.ifrnet.CNNBlock             block_kernel
    X step for real images          dc_kernel.real_data_consistency     dc_kernel
    VN's RBF activation             baselines.vn.RBFActivation          rbf_kernel
    VN's convolutions K, Kᵀ         baselines.vn.conv, conv_adjoint     torch ops in a CPU order

The rule, the same for each: the fast path runs if and only if

1. fast paths are on: numba imports, and "reference only" is off (:func:`reference_only`, or
   the environment variable ``IFRNET_REFERENCE_ONLY=1`` read at import);
2. the operation's tensors are CPU tensors of float32 or float64 (k-space: complex64 or
   complex128);
3. the operation's own condition holds (even image sizes for the X step, an input that needs
   no gradient for the moments: named where the operation decides).

:func:`use_kernel` applies it once per call of the operation, in its forward pass; the
backward pass takes the same path as the forward (never asks again).

Fast-math policy. The kernels of long sums and table lookups (PLF, correlations, the CNN
block, RBF) compile with :data:`FASTMATH`: LLVM may reorder sums (vectorised reductions), fuse
multiply-adds and use approximate reciprocals and functions, so they agree with the reference
to rounding; never with ``nnan``/``ninf``, so that a NaN input gives NaN, as in the torch ops,
and never becomes an index. The kernels that follow their reference step by step compile
without fast-math: the moments (float64 sums in a fixed order, equal to the reference's bit for
bit), the R step and the X step (elementwise formulas with guarded tiny or zero denominators).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba comes with sigpy
    numba = None

__all__ = [
    "FASTMATH",
    "REFERENCE_ONLY_ENV",
    "grad_wanted",
    "numba",
    "reference_only",
    "sync_threads",
    "use_kernel",
]

#: LLVM fast-math flags of the kernels that may use them (see the module docstring); a set, the
#: form numba takes
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
REFERENCE_ONLY_ENV = "IFRNET_REFERENCE_ONLY"
_PRECISIONS = frozenset({torch.float32, torch.float64, torch.complex64, torch.complex128})

_reference_only = os.environ.get(REFERENCE_ONLY_ENV, "0") not in ("", "0")


@contextlib.contextmanager
def reference_only() -> Iterator[None]:
    """Run the reference torch ops only inside the ``with`` block (restored after it)."""
    global _reference_only
    before, _reference_only = _reference_only, True
    try:
        yield
    finally:
        _reference_only = before


def use_kernel(*tensors: torch.Tensor | None, fits: bool = True) -> bool:
    """The rule of the module docstring: fast paths on, every given tensor (None skipped) on
    the CPU in float32/64 or complex64/128, and ``fits``, the operation's own condition."""
    if _reference_only or numba is None or not fits:
        return False
    return all(t is None or (t.device.type == "cpu" and t.dtype in _PRECISIONS) for t in tensors)


def grad_wanted(t: torch.Tensor) -> bool:
    """Whether autograd will record an operation on t (so a node must keep what its backward
    needs)."""
    return torch.is_grad_enabled() and t.requires_grad


def sync_threads() -> None:
    """Let numba's parallel loops use as many threads as torch (within numba's pool); every
    kernel calls it before it launches numba code.

    Starting numba's OpenMP pool (at the first call in a process) sets the OpenMP thread
    count that torch reads to the pool's size (all cores, unless NUMBA_NUM_THREADS): torch's
    own setting is put back, else a process told to use one thread would use all cores."""
    threads = torch.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)

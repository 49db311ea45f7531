"""The one driver of iterative reconstruction algorithms (IFR-CS, PANO, FDLCP).

An algorithm is an object that does one iteration per :meth:`Algorithm.step` and shows its
current estimate as ``iterate``; it holds no loop, no iteration count and no progress output.
:class:`Driver` owns those (SigPy's Alg/App split): it steps an algorithm until

- ``max_iter`` steps are done, or
- with a tolerance ``tol``, every image's iterate has stopped changing:
  ‖xₙ − xₙ₋₁‖ ≤ tol · ‖xₙ‖ per image (from step 2 on; an image is the last two axes),

and reports progress (:class:`ifrnet.util.progress.Progress`, one line for all the runs of a
driver, e.g. one per image). A callback ``on_step(n, algorithm)`` sees every iterate n = 1, 2, …,
the last one included: methods use it to keep earlier iterates
(:meth:`ifrnet.methods.method.Method.reconstruct_stops`) or a diagnostic such as the objective.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from ifrnet.util.progress import Progress


class Algorithm(Protocol):
    """One run of an iterative algorithm: ``step()`` does one iteration, after which
    ``iterate`` is the new estimate (a tensor or array, images on its last two axes). A step
    replaces ``iterate`` rather than writing into it, so the driver may keep the previous one."""

    iterate: Any

    def step(self) -> None:
        """One iteration."""
        ...


StepCallback = Callable[[int, Any], object]
Images = torch.Tensor | np.ndarray


def unchanged(x: Images, previous: Images, tol: float) -> bool:
    """Whether ‖x − previous‖ ≤ tol · ‖x‖ for every image (the last two axes) of x."""
    x, previous = torch.as_tensor(x), torch.as_tensor(previous)
    change = (x - previous).abs().flatten(-2).norm(dim=-1)
    return bool((change <= tol * x.abs().flatten(-2).norm(dim=-1)).all())


class Driver:
    """Runs algorithms (:meth:`run`, one after another) under one progress line of ``total``
    steps named ``desc``; use as a context manager."""

    def __init__(self, desc: str, total: int) -> None:
        self.progress = Progress(total, desc, unit=" iterations")

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.close()

    def run(
        self,
        algorithm: Algorithm,
        max_iter: int,
        *,
        tol: float | None = None,
        on_step: StepCallback | None = None,
    ) -> int:
        """Step ``algorithm`` until ``max_iter`` steps or, with ``tol``, until its iterate stops
        changing (:func:`unchanged`); ``on_step(n, algorithm)`` after each step n. Returns the
        number of steps done."""
        previous = None
        for n in range(1, max_iter + 1):
            algorithm.step()
            current = algorithm.iterate
            if on_step is not None:
                on_step(n, algorithm)
            if tol is not None and previous is not None and unchanged(current, previous, tol):
                return n
            previous = current
            self.progress.update(1)
        return max_iter


def run(
    algorithm: Algorithm,
    max_iter: int,
    desc: str,
    *,
    tol: float | None = None,
    on_step: StepCallback | None = None,
) -> int:
    """:meth:`Driver.run` for a single algorithm, with its own progress line."""
    with Driver(desc, max_iter) as driver:
        return driver.run(algorithm, max_iter, tol=tol, on_step=on_step)

"""The driver of iterative algorithms: step count, the stopping rule, callbacks, progress."""

import numpy as np
import pytest
import torch

from ifrnet.methods.iterative import Driver, run, unchanged


class Halving:
    """x ← a·x + (1 − a) per image, from x = 0: each image (2, 3) constant, rates ``a`` (B,)."""

    def __init__(self, rates: list[float]) -> None:
        self.rates = torch.tensor(rates, dtype=torch.float64)[:, None, None]
        self.iterate = torch.zeros(len(rates), 2, 3, dtype=torch.float64)
        self.steps = 0

    def step(self) -> None:
        self.iterate = self.rates * self.iterate + (1 - self.rates)
        self.steps += 1


def first_unchanged_step(rates: list[float], tol: float) -> int:
    """The step n ≥ 2 at which |xₙ − xₙ₋₁| ≤ tol·|xₙ| holds for every rate, in float64 scalars
    (each image is constant, so its norm ratio is the scalar one)."""
    x = np.zeros(len(rates))
    for n in range(1, 10_000):
        new = np.array(rates) * x + (1 - np.array(rates))
        if n >= 2 and np.all(np.abs(new - x) <= tol * np.abs(new)):
            return n
        x = new
    raise AssertionError("no convergence")


def test_runs_max_iter_steps_without_a_tolerance_and_calls_back_after_each():
    algorithm, seen = Halving([0.0]), []  # a = 0: x = 1 from step 1 on, never changes again
    done = run(algorithm, 7, "test", on_step=lambda n, a: seen.append((n, a.steps)))
    assert done == 7 and algorithm.steps == 7
    assert seen == [(n, n) for n in range(1, 8)]


@pytest.mark.parametrize("rates", [[0.5], [0.5, 0.8], [0.8, 0.5]])
def test_stops_when_every_image_is_unchanged(rates):
    tol = 1e-3
    expected = first_unchanged_step(rates, tol)
    algorithm, seen = Halving(rates), []
    done = run(algorithm, 100, "test", tol=tol, on_step=lambda n, a: seen.append(n))
    assert done == expected == algorithm.steps
    assert seen == list(range(1, expected + 1))  # the converged iterate is seen too


def test_max_iter_comes_first_when_smaller():
    assert run(Halving([0.5]), 3, "test", tol=1e-12) == 3


def test_tolerance_zero_stops_only_on_an_exact_fixed_point():
    assert run(Halving([0.0]), 10, "test", tol=0.0) == 2
    assert run(Halving([0.5]), 10, "test", tol=0.0) == 10


def test_unchanged_is_per_image_on_the_last_two_axes():
    x = np.ones((2, 3, 4))
    previous = x.copy()
    previous[1, 0, 0] = 1.5  # image 1 changed by 0.5, its norm is √12
    assert not unchanged(x, previous, 0.5 / np.sqrt(12) - 1e-9)
    assert unchanged(x, previous, 0.5 / np.sqrt(12) + 1e-9)
    assert unchanged(x[0], previous[0], 0.0)  # one (H, W) image


@pytest.fixture
def slow_clock(monkeypatch):
    """Every clock reading 10 s after the last, so that the progress prints every step."""
    monkeypatch.delenv("IFRNET_PROGRESS", raising=False)
    times = iter(np.arange(0.0, 1e6, 10.0))
    monkeypatch.setattr("ifrnet.util.progress.CLOCK", lambda: next(times))


def test_one_progress_line_over_several_runs(slow_clock, capsys):
    with Driver("Halving", 6) as driver:
        for _ in range(2):
            driver.run(Halving([0.5]), 3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("Halving: 1/6 iterations (17 %)")
    assert lines[-1].startswith("Halving: 6/6 iterations done")


def test_a_converged_run_reports_stopping_early(slow_clock, capsys):
    done = run(Halving([0.5]), 100, "Halving", tol=1e-3)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"Halving: {done - 1}/100 iterations stopped early")

"""Progress output: whole lines with an ETA in logs, a redrawn line on a terminal, silence for
quick work, and the long-running pieces that use it."""

import io
import re

import numpy as np
import pytest

from baselines.ifrcs import IFRCS
from ifrnet.util.progress import Progress, format_duration


class Clock:
    """A settable clock (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_duration():
    assert format_duration(0) == "0:00:00"
    assert format_duration(3725.4) == "1:02:05"
    assert format_duration(float("inf")) == "?"


def test_log_lines_every_ten_percent_with_eta(monkeypatch):
    monkeypatch.delenv("IFRNET_PROGRESS", raising=False)
    stream, clock = io.StringIO(), Clock()
    with Progress(100, "IFR-CS", unit=" iterations", stream=stream, clock=clock) as bar:
        for _ in range(100):
            clock.now += 1.0  # one second per iteration
            bar.update(1)
    text = stream.getvalue()
    assert "\r" not in text and "\033" not in text and text.endswith("\n")
    lines = text.splitlines()
    # min_s = 5 s holds back 0-4 %; then one line per 10 % (10, 20, ... 100 %), then "done"
    assert lines[0] == ("IFR-CS: 10/100 iterations (10 %) elapsed 0:00:10, ETA 0:01:30")
    assert lines[8] == "IFR-CS: 90/100 iterations (90 %) elapsed 0:01:30, ETA 0:00:10"
    assert lines[-1] == "IFR-CS: 100/100 iterations done in 0:01:40"
    assert len(lines) == 11
    assert all(
        re.fullmatch(
            r"IFR-CS: \d+/100 iterations (\(\d+ %\) elapsed [\d:]+, ETA [\d:]+"
            r"|done in [\d:]+)",
            line,
        )
        for line in lines
    )


def test_quick_work_prints_nothing_and_slow_work_prints_every_max_s():
    stream, clock = io.StringIO(), Clock()
    with Progress(1000, "PANO", stream=stream, clock=clock) as bar:
        for _ in range(1000):
            clock.now += 0.001
            bar.update(1)
    assert stream.getvalue() == ""
    stream, clock = io.StringIO(), Clock()
    with Progress(1000, "FDLCP", stream=stream, clock=clock, max_s=60) as bar:
        clock.now += 61  # one slow step: 0.1 %, no new 10 % step, but a minute has passed
        bar.update(1, note="loss 0.5")
    assert stream.getvalue().splitlines() == [
        "FDLCP: 1/1000 (0 %) elapsed 0:01:01, ETA 16:55:39, loss 0.5",
        "FDLCP: 1/1000 stopped early after 0:01:01",
    ]


def test_resumed_work_estimates_from_the_rate_since_resume():
    stream, clock = io.StringIO(), Clock()
    bar = Progress(100, "training", stream=stream, clock=clock, initial=50)
    for _ in range(10):
        clock.now += 2.0
        bar.update(1)
    assert bar.line(clock.now).endswith("(60 %) elapsed 0:00:20, ETA 0:01:20")


def test_terminal_redraws_one_line_and_write_keeps_it_intact():
    stream, clock = Terminal(), Clock()
    with Progress(4, "training", stream=stream, clock=clock) as bar:
        for _ in range(4):
            clock.now += 1.0
            bar.update(1)
        bar.write("epoch 1/1: val loss 0.1")
    text = stream.getvalue()
    assert text.count("\r\033[K") >= 4 and "ETA" in text
    assert "\r\033[Kepoch 1/1: val loss 0.1\n" in text and text.endswith("\n")


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("IFRNET_PROGRESS", "0")
    stream, clock = io.StringIO(), Clock()
    with Progress(10, "x", stream=stream, clock=clock, min_s=0) as bar:
        clock.now += 100
        bar.update(10)
    assert stream.getvalue() == ""


def test_iterative_reconstruction_reports_progress(monkeypatch, capsys):
    times = iter(np.arange(0.0, 1e4, 10.0))  # every clock reading: 10 s later
    monkeypatch.setattr("ifrnet.util.progress.CLOCK", lambda: next(times))
    rng = np.random.default_rng(0)
    kspace = rng.standard_normal((1, 16, 16)) + 1j * rng.standard_normal((1, 16, 16))
    mask = rng.random((16, 16)) < 0.4
    IFRCS(real=True, max_iter=20, tol=0.0)(kspace.astype(np.complex64) * mask, mask)
    err = capsys.readouterr().err
    assert "IFR-CS: 2/20 iterations (10 %)" in err and "IFR-CS: 20/20 iterations done" in err


@pytest.mark.parametrize("method", ["pano", "fdlcp"])
def test_patch_methods_report_progress(method, monkeypatch, capsys):
    from ifrnet.methods.registry import resolve

    times = iter(np.arange(0.0, 1e6, 10.0))
    monkeypatch.setattr("ifrnet.util.progress.CLOCK", lambda: next(times))
    rng = np.random.default_rng(0)
    kspace = (rng.standard_normal((1, 32, 32)) + 0j).astype(np.complex64)
    resolve(method)(real=True, outer=1, inner=3)(kspace, np.ones((32, 32), bool))
    assert f"{method.upper()}: 3/3 iterations done" in capsys.readouterr().err

"""benchmarks/device_check.py's captured = eager check, on the CPU: the comparison flags every
kind of mismatch, and the script exits 1 when the replayed step is made to differ."""

import importlib.util
from pathlib import Path

import pytest
import torch

from ifrnet.methods import capture

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "device_check.py"


@pytest.fixture(scope="module")
def device_check():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run() -> dict[str, torch.Tensor]:
    return {
        "loss": torch.tensor([0.5, 0.4]),
        "weight w": torch.tensor([1.0, -2.0, 3.0]),
        "grad w": torch.tensor([4.0, 0.0, -1.0]),
        "grad b": torch.tensor([1e-9]),  # rounding noise: judged against the largest gradient
    }


def test_compare_passes_equal_runs_and_flags_each_mismatch(device_check):
    worst, mismatches = device_check.compare(_run(), _run(), rtol=1e-4)
    assert (worst, mismatches) == (0.0, [])
    noisy = _run()
    noisy["grad b"] = torch.tensor([2e-9])  # 1e-9 of a largest gradient of 4: agrees
    assert device_check.compare(_run(), noisy, rtol=1e-4)[1] == []
    cases = {
        "weight w": (torch.tensor([1.0, -2.0, 3.001]), "weight w: differs by 3.3e-04"),
        "grad w": (torch.tensor([4.0, 0.0, -1.01]), "grad w: differs by 2.5e-03"),
        "loss": (torch.tensor([0.5, float("nan")]), "loss: non-finite"),
    }
    for key, (value, message) in cases.items():
        bad = _run()
        bad[key] = value
        worst, mismatches = device_check.compare(_run(), bad, rtol=1e-4)
        assert len(mismatches) == 1 and mismatches[0].startswith(message), mismatches
    bad = _run()
    bad["weight w"] = torch.zeros(2)
    assert device_check.compare(_run(), bad, 1e-4)[1] == ["weight w: shape (2,), eager (3,)"]
    del bad["weight w"]
    assert device_check.compare(_run(), bad, 1e-4)[1] == ["weight w: only in the eager run"]


class Drifting(capture.PythonGraph):
    """A 'graph' whose replays are off by 1e-3: what a wrongly captured step would do."""

    def replay(self):
        return tuple(out.mul_(1.001) for out in super().replay())


ARGS = ["--device", "cpu", "--capture-only", "--size", "32", "--networks", "ifrnet"]


def test_device_check_exits_0_when_captured_equals_eager(device_check, capsys):
    with pytest.raises(SystemExit) as exit_:
        device_check.main(ARGS)
    assert exit_.value.code == 0
    assert "all checks passed" in capsys.readouterr().out


def test_device_check_exits_1_on_a_captured_mismatch(device_check, capsys, monkeypatch):
    monkeypatch.setattr(capture, "PythonGraph", Drifting)
    with pytest.raises(SystemExit) as exit_:
        device_check.main(ARGS)
    out = capsys.readouterr().out
    assert exit_.value.code == 1, out
    assert "ifrnet captured ≠ eager: loss: differs by 1.0e-03" in out
    assert "ifrnet captured ≠ eager: output: differs by" in out
    assert "failed: ifrnet" in out

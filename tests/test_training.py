"""The shared trainer: losses, settings, overfitting, bitwise resume, checkpoints, inference."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ifrnet.methods.ifrnet import IFRNet
from ifrnet.methods.training import (
    LOSSES,
    TensorTriples,
    TrainSettings,
    epochs_without_improvement,
    infer,
    load_checkpoint,
    load_weights,
    train,
)
from ifrnet.numerics.fourier import fft2c

ROOT = Path(__file__).resolve().parent.parent


def dataset(n: int, seed: int, size: int = 16) -> TensorTriples:
    gen = torch.Generator().manual_seed(seed)
    images = torch.nn.functional.avg_pool2d(torch.rand(n, 1, size, size, generator=gen), 3, 1, 1)
    images = images[:, 0].to(torch.complex64)
    mask = (torch.rand(size, size, generator=gen) < 0.4).float()
    return TensorTriples(fft2c(images) * mask, mask, images)


def tiny_model() -> IFRNet:
    return IFRNet(stages=1, blocks=1)


SETTINGS = dict(
    epochs=3, lr=1e-2, optimizer="adam", batch_size=2, checkpoint_every=2, progress=False
)


def test_losses_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))
    b = rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))
    rel = np.mean([np.linalg.norm(a[i] - b[i]) / np.linalg.norm(b[i]) for i in range(3)])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert np.isclose(float(LOSSES["relative_l2"](ta, tb)), rel)
    assert np.isclose(float(LOSSES["mse"](ta, tb)), np.mean(np.abs(a - b) ** 2))
    assert np.isclose(float(LOSSES["l1"](ta, tb)), np.mean(np.abs(a - b)))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 1, "lr": 0.1, "lerning_rate": 1}, "unknown key"),
        ({"epochs": -2, "lr": 0.1}, "epochs"),
        ({"epochs": 1, "lr": 0.1, "optimizer": "lbfgs"}, "optimizer"),
        ({"epochs": 1, "lr": 0.0}, "lr"),
        ({"epochs": 1}, "missing"),
        ({"epochs": 1, "lr": 0.1, "loss": "ssim"}, "loss"),
        ({"epochs": 1, "lr": 0.1, "patience": 0}, "patience"),
        ({"epochs": 1, "lr": 0.1, "min_delta": 1.5}, "min_delta"),
    ],
)
def test_settings_validation(values, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings.from_dict(values)


def test_overfits_two_images(tmp_path):
    data = dataset(2, seed=1)
    settings = TrainSettings.from_dict(
        {**SETTINGS, "epochs": 150, "lr": 1e-2, "checkpoint_every": 1000}
    )
    model = IFRNet(stages=2, blocks=1)
    with torch.no_grad():
        initial = float(
            LOSSES["relative_l2"](model(data.kspace, data.mask.expand(2, 16, 16)), data.target)
        )
    result = train(model, data, data, settings, tmp_path)
    assert result.best_val < initial / 10, (initial, result.best_val)
    log = (tmp_path / "train_log.csv").read_text().splitlines()
    assert log[0] == "epoch,iteration,split,loss,lr,elapsed_s"
    assert sum(",train," in line for line in log) == 150
    assert sum(",val," in line for line in log) == 150


class Interrupt(Exception):
    pass


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def _losses(path: Path) -> list[str]:
    return [",".join(line.split(",")[:4]) for line in path.read_text().splitlines()]


def test_resume_after_interruption_is_bitwise_identical(tmp_path):
    train_set, val_set = dataset(5, seed=2), dataset(2, seed=3)
    settings = TrainSettings.from_dict(SETTINGS)
    train(tiny_model(), train_set, val_set, settings, tmp_path / "straight")

    def stop_at_5(step: int) -> None:
        if step == 5:  # mid-epoch 2 (3 steps per epoch); last checkpoint at step 4
            raise Interrupt

    with pytest.raises(Interrupt):
        train(
            tiny_model(), train_set, val_set, settings, tmp_path / "resumed", on_iteration=stop_at_5
        )
    assert not (tmp_path / "resumed" / "model.pt").exists()
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 4
    train(tiny_model(), train_set, val_set, settings, tmp_path / "resumed")
    a, b = _weights(tmp_path / "straight" / "model.pt"), _weights(tmp_path / "resumed" / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(tmp_path / "straight" / "train_log.csv") == _losses(
        tmp_path / "resumed" / "train_log.csv"
    )
    leftovers = [p for p in (tmp_path / "resumed").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


KILL_SCRIPT = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from test_training import dataset, tiny_model, SETTINGS
    from ifrnet.methods.training import TrainSettings, train
    settings = TrainSettings.from_dict({{**SETTINGS, "checkpoint_every": 1}})
    train(tiny_model(), dataset(5, seed=2), dataset(2, seed=3), settings, sys.argv[1],
          on_iteration=lambda step: time.sleep(0.3))
""")


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests")))
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    last = out / "checkpoints" / "last.pt"
    try:
        while time.time() < deadline:
            if last.exists() and load_checkpoint(last)["step"] >= 4:
                break
            time.sleep(0.05)
        else:
            pytest.fail("training subprocess wrote no checkpoint in time")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "model.pt").exists()
    settings = TrainSettings.from_dict(SETTINGS)
    train(tiny_model(), dataset(5, seed=2), dataset(2, seed=3), settings, tmp_path / "straight")
    train(
        tiny_model(),
        dataset(5, seed=2),
        dataset(2, seed=3),
        TrainSettings.from_dict({**SETTINGS, "checkpoint_every": 1}),
        out,
    )
    a, b = _weights(tmp_path / "straight" / "model.pt"), _weights(out / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _interrupted(
    out: Path, data: TensorTriples, settings: TrainSettings, metadata: dict | None = None
) -> None:
    """Train until the checkpoint after iteration 2, then stop as if killed."""

    def stop(step: int) -> None:
        if step == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(tiny_model(), data, data, settings, out, metadata=metadata, on_iteration=stop)
    assert (out / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize(
    ("old_settings", "old_metadata", "new_metadata"),
    [
        ({"lr": 0.5}, None, None),  # the config's training settings changed
        ({}, {"inputs_sha256": {"train": "old"}}, {"inputs_sha256": {"train": "new"}}),  # data
    ],
)
def test_checkpoint_of_another_run_is_discarded(
    tmp_path, old_settings, old_metadata, new_metadata, capsys
):
    data = dataset(5, seed=4)
    settings = TrainSettings.from_dict(SETTINGS)
    _interrupted(
        tmp_path / "run", data, TrainSettings.from_dict({**SETTINGS, **old_settings}), old_metadata
    )
    train(tiny_model(), data, data, settings, tmp_path / "run", metadata=new_metadata)
    assert "training from scratch" in capsys.readouterr().err
    train(tiny_model(), data, data, settings, tmp_path / "fresh", metadata=new_metadata)
    a, b = _weights(tmp_path / "fresh" / "model.pt"), _weights(tmp_path / "run" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_finished_run_leaves_nothing_to_resume(tmp_path):
    data = dataset(3, seed=4)
    train(tiny_model(), data, data, TrainSettings.from_dict(SETTINGS), tmp_path)
    assert (tmp_path / "model.pt").exists() and not (tmp_path / "checkpoints").exists()


def test_two_fresh_runs_are_identical(tmp_path):
    data = dataset(4, seed=5)
    settings = TrainSettings.from_dict(SETTINGS)
    train(tiny_model(), data, data, settings, tmp_path / "a")
    train(tiny_model(), data, data, settings, tmp_path / "b")
    a, b = _weights(tmp_path / "a" / "model.pt"), _weights(tmp_path / "b" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


class Payload:
    """An arbitrary object: weights-only loading must refuse to unpickle it."""


def test_load_checkpoint_rejects_unsafe_and_broken_files(tmp_path):
    torch.save({"model": {}, "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")
    data = dataset(2, seed=6)
    train(tiny_model(), data, data, TrainSettings.from_dict({**SETTINGS, "epochs": 1}), tmp_path)
    blob = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="trunc.pt"):
        load_checkpoint(tmp_path / "trunc.pt")
    with pytest.raises(ValueError, match="model.pt.*shape|lacks"):
        load_weights(IFRNet(stages=2, blocks=1), tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match="none.pt"):
        load_checkpoint(tmp_path / "none.pt")


def test_infer_batches_and_shapes():
    data = dataset(5, seed=7)
    calls = []
    model = tiny_model()
    original = model.forward

    def counting(kspace, mask):
        calls.append(len(kspace))
        return original(kspace, mask)

    model.forward = counting
    images, seconds = infer(model, data.kspace.numpy(), data.mask.numpy(), batch_size=2)
    assert images.shape == (5, 16, 16) and images.dtype == np.complex64
    assert calls == [2, 2, 1] and seconds > 0
    with torch.no_grad():
        direct = original(data.kspace, data.mask.expand(5, 16, 16)).numpy()
    np.testing.assert_allclose(images, direct, atol=1e-6)


@pytest.mark.parametrize(
    ("losses", "min_delta", "expected"),
    [
        ([], 0.0, 0),
        ([1.0], 0.0, 0),
        ([1.0, 0.9, 0.95, 0.91], 0.0, 2),
        ([1.0, 0.9, 0.95, 0.89], 0.0, 0),
        ([1.0, 0.9, 0.899, 0.898], 0.01, 2),  # 0.1 % steps do not count at min_delta 1 %
        ([1.0, 0.9, 0.899, 0.89], 0.01, 0),  # 0.89 < 0.9 × 0.99 = 0.891 does
    ],
)
def test_epochs_without_improvement(losses, min_delta, expected):
    assert epochs_without_improvement(losses, min_delta) == expected


def test_early_stopping_ends_training_and_keeps_the_best_epoch(tmp_path):
    """With lr 0 the validation loss never improves after epoch 1: patience 2 stops after
    epoch 3 of 10, and model.pt holds epoch 1's weights."""
    data = dataset(2, seed=2)
    settings = TrainSettings.from_dict(
        {**SETTINGS, "epochs": 10, "lr": 1e-12, "patience": 2, "min_delta": 0.01}
    )
    result = train(tiny_model(), data, data, settings, tmp_path)
    log = (tmp_path / "train_log.csv").read_text().splitlines()
    assert sum(",val," in line for line in log) == 3
    assert result.best_epoch == 1
    assert load_checkpoint(tmp_path / "model.pt")["best_epoch"] == 1

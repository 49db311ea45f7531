"""One trainer for every learned method: seeded, resumable, logged, atomic.

``train(model, train_set, val_set, settings, out_dir)`` runs mini-batch training with the
optimiser, schedule and loss named in :class:`TrainSettings` and writes into ``out_dir``:

- ``checkpoints/last.pt`` — written atomically every ``checkpoint_every`` iterations and at the
  end of every epoch: model, optimiser and scheduler state, position (epoch, step in epoch),
  the best weights so far, the log rows, the settings and the caller's ``metadata``. If it
  exists when ``train`` starts and was written by the same run (same settings and metadata:
  callers put the model and checksums of its inputs there), training resumes from it;
  a checkpoint of any other run is removed and training starts over. The data order of epoch
  e is a permutation drawn from a generator seeded by (seed, e), so a resumed run makes exactly
  the updates of an uninterrupted one (bitwise equal weights on CPU). ``checkpoints/`` is
  deliberately not a Snakemake output: Snakemake deletes a failed job's outputs, and the
  checkpoints must survive for the rerun. A finished run removes
  ``checkpoints/`` (a stale finished state must never be "resumed" into a new run).
  A SIGTERM (what a cluster sends before it pre-empts or requeues a job) received inside
  :func:`stop_on_signals` ends training after the current iteration: ``last.pt`` is written at
  that position and :class:`Stopped` raised, so a rerun resumes exactly there.
- ``checkpoints/best.pt`` — the weights with the lowest validation loss so far.
- ``model.pt`` — at the end: the best weights plus the caller's ``metadata`` (what the model is),
  ``train_log.csv`` — one ``train`` row per iteration and one ``val`` row per epoch
  (columns epoch, iteration, split, loss, lr, elapsed_s).

Data sets yield ``(kspace, mask, target)``: complex64 (H, W), float32 (H, W), complex64 (H, W);
the model is called as ``model(kspace (B, H, W), mask (B, H, W))`` and returns complex (B, H, W).
Checkpoints load with ``torch.load(..., weights_only=True)`` only.

On CUDA the training step (forward, loss, backward, clipping, optimiser) and the validation
forward replay CUDA graphs (:mod:`ifrnet.methods.capture`: the same values without the cost of
launching hundreds of small kernels from the host); ``IFRNET_CUDA_GRAPHS=0`` in the environment
runs them eagerly. Either way the loss is checked after the update: a non-finite loss stops the
run before anything of that step is saved.

Remaining nondeterminism: none known on CPU. On CUDA, cuFFT and atomics-based kernels
(e.g. index_add_) may differ in the last bits between runs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ifrnet.methods import capture
from ifrnet.methods.defaults import INFERENCE_BATCH
from ifrnet.util.io import DamagedFile, atomic_path
from ifrnet.util.progress import Progress

PathLike = str | os.PathLike[str]

# ---------------------------------------------------------------------------------------------
# Losses (prediction and target complex (B, H, W); each returns a scalar tensor)


def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖x̂ − x‖₂ / ‖x‖₂ (paper Eq. (12), the authors' `rnnloss.m`)."""
    diff = (pred - target).abs().pow(2).flatten(1).sum(1).sqrt()
    norm = target.abs().pow(2).flatten(1).sum(1).sqrt().clamp_min(1e-12)
    return (diff / norm).mean()


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared modulus of the error."""
    return (pred - target).abs().pow(2).mean()


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean modulus of the error."""
    return (pred - target).abs().mean()


def l1_magnitude(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of magnitudes (for methods that output magnitude images)."""
    return (pred.abs() - target.abs()).abs().mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "relative_l2": relative_l2,
    "mse": mse,
    "l1": l1,
    "l1_magnitude": l1_magnitude,
}

OPTIMIZERS = ("sgd", "adam", "rmsprop")
SCHEDULES = ("constant", "step")


@dataclass(frozen=True)
class TrainSettings:
    """Training hyper-parameters (the ``train`` section of a model's config entry).

    Optimiser ``sgd`` (with ``momentum``), ``adam`` or ``rmsprop``; schedule ``constant`` or
    ``step`` (×``gamma`` every ``step_size`` epochs); loss one of ``LOSSES``. Early stopping:
    with ``patience`` set, training ends after ``patience`` epochs in a row without a validation
    loss below (1 − ``min_delta``) × the best so far (``epochs`` stays the maximum). ``seed``,
    ``device``, ``threads`` and ``progress`` are run settings the workflow fills in.
    """

    epochs: int
    lr: float
    optimizer: str = "adam"
    batch_size: int = 1
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    step_size: int = 1
    gamma: float = 0.1
    loss: str = "relative_l2"
    checkpoint_every: int = 100
    grad_clip: float | None = None
    patience: int | None = None
    min_delta: float = 0.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True

    RUN_FIELDS = ("device", "threads", "progress")  # may change between a run and its resume

    def __post_init__(self) -> None:
        checks = [
            (isinstance(self.epochs, int) and self.epochs >= 1, "epochs must be an integer ≥ 1"),
            (
                isinstance(self.batch_size, int) and self.batch_size >= 1,
                "batch_size must be an integer ≥ 1",
            ),
            (self.lr > 0, "lr must be > 0"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.loss in LOSSES, f"loss must be one of {sorted(LOSSES)}"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay must be ≥ 0"),
            (isinstance(self.step_size, int) and self.step_size >= 1, "step_size must be ≥ 1"),
            (0 < self.gamma <= 1, "gamma must be in (0, 1]"),
            (
                isinstance(self.checkpoint_every, int) and self.checkpoint_every >= 1,
                "checkpoint_every must be an integer ≥ 1",
            ),
            (self.grad_clip is None or self.grad_clip > 0, "grad_clip must be > 0"),
            (
                self.patience is None or (isinstance(self.patience, int) and self.patience >= 1),
                "patience must be an integer ≥ 1",
            ),
            (0 <= self.min_delta < 1, "min_delta must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"training settings: {message}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainSettings:
        """Build from a config dict; unknown keys are errors naming the key."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"training settings: unknown key(s) {unknown}; known: {sorted(known)}")
        missing = [k for k in ("epochs", "lr") if k not in values]
        if missing:
            raise ValueError(f"training settings: missing {missing}")
        return cls(**values)

    def identity(self) -> dict[str, Any]:
        """The fields that define the training run (all but device/threads/progress)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUN_FIELDS}


class TensorTriples(Dataset):
    """(kspace, mask, target) triples from tensors (N, H, W); mask (H, W) shared or (N, H, W)."""

    def __init__(self, kspace: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> None:
        if kspace.shape != target.shape or kspace.dim() != 3:
            raise ValueError(
                f"kspace {tuple(kspace.shape)} and target {tuple(target.shape)} "
                "must both be (N, H, W)"
            )
        if mask.shape not in (kspace.shape[1:], kspace.shape):
            raise ValueError(f"mask {tuple(mask.shape)} must be (H, W) or (N, H, W)")
        self.kspace, self.mask, self.target = kspace, mask.float(), target

    def __len__(self) -> int:
        return len(self.kspace)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = self.mask if self.mask.dim() == 2 else self.mask[i]
        return self.kspace[i], mask, self.target[i]


def _batch(dataset: Dataset, indices: Sequence[int], device: str) -> tuple[torch.Tensor, ...]:
    items = [dataset[int(i)] for i in indices]
    return tuple(torch.stack([item[k] for item in items]).to(device) for k in range(3))


def _optimizer(
    model: torch.nn.Module, s: TrainSettings, capturable: bool = False
) -> torch.optim.Optimizer:
    """The optimiser of ``s``; ``capturable``: its step may run inside a CUDA graph (same
    values; Adam and RMSprop then keep their step counts on the device, so only on CUDA)."""
    params = model.parameters()
    capturable = capturable and torch.device(s.device).type == "cuda"
    if s.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay, foreach=True
        )
    if s.optimizer == "adam":  # one fused kernel for all parameters where torch has one
        fused = torch.device(s.device).type in ("cpu", "cuda")
        return torch.optim.Adam(
            params,
            lr=s.lr,
            weight_decay=s.weight_decay,
            fused=fused,
            foreach=None if fused else True,
            capturable=capturable,
        )
    return torch.optim.RMSprop(
        params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay, capturable=capturable
    )


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict, capturable: bool) -> None:
    """Load a checkpoint's optimiser state, keeping this run's ``capturable`` (the state of an
    eager run resumes in a captured one and back; torch would take the saved flag)."""
    groups = [
        {**g, "capturable": capturable} if "capturable" in g else g for g in saved["param_groups"]
    ]
    optimizer.load_state_dict({**saved, "param_groups": groups})


def _scheduler(opt: torch.optim.Optimizer, s: TrainSettings) -> torch.optim.lr_scheduler.StepLR:
    gamma = s.gamma if s.schedule == "step" else 1.0
    return torch.optim.lr_scheduler.StepLR(opt, step_size=s.step_size, gamma=gamma)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The data order of one epoch: a permutation of n seeded by (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


@torch.no_grad()
def evaluate_loss(
    model: torch.nn.Module,
    dataset: Dataset,
    settings: TrainSettings,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """Mean loss over a data set (eval mode, batches of ``batch_size``); ``batch_loss(kspace,
    mask, target)`` computes a batch's loss in place of the loss of ``model(kspace, mask)`` (the
    trainer's captured forward)."""
    model.eval()
    loss_fn = LOSSES[settings.loss]
    if batch_loss is None:
        batch_loss = lambda k, m, t: loss_fn(model(k, m), t)  # noqa: E731
    total, count = 0.0, 0
    for start in range(0, len(dataset), settings.batch_size):
        idx = range(start, min(start + settings.batch_size, len(dataset)))
        kspace, mask, target = _batch(dataset, idx, settings.device)
        total += float(batch_loss(kspace, mask, target)) * len(idx)
        count += len(idx)
    model.train()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(state: dict[str, Any], path: PathLike) -> None:
    """``torch.save`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a clear ValueError names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DamagedFile(path, f"{path}: not a valid weights-only checkpoint ({first})") from err
    if not isinstance(state, dict) or "model" not in state:
        raise DamagedFile(path, f"{path}: not an ifrnet checkpoint (no 'model' entry)")
    return state


def check_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor], path: PathLike) -> None:
    """Raise ValueError naming the file and the first key whose name or shape differs."""
    own = model.state_dict()
    for key in sorted(set(own) | set(weights)):
        if key not in weights:
            raise ValueError(f"{path}: checkpoint lacks parameter {key!r} of this model")
        if key not in own:
            raise ValueError(f"{path}: checkpoint has parameter {key!r} this model lacks")
        if tuple(own[key].shape) != tuple(weights[key].shape):
            raise ValueError(
                f"{path}: parameter {key!r} has shape {tuple(weights[key].shape)}, "
                f"the model expects {tuple(own[key].shape)}"
            )


def load_weights(model: torch.nn.Module, path: PathLike) -> dict[str, Any]:
    """Load ``model.pt`` (or a checkpoint) into ``model`` after checking names and shapes."""
    state = load_checkpoint(path)
    check_weights(model, state["model"], path)
    model.load_state_dict(state["model"])
    return state


# ---------------------------------------------------------------------------------------------
# Stopping on a signal


class Stopped(RuntimeError):
    """Training stopped on a signal after writing its resumable checkpoint."""

    def __init__(self, signum: int, checkpoint: Path, step: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} after iteration {step}; wrote {checkpoint}: rerun to resume"
        )
        self.signum = signum


@contextmanager
def stop_on_signals(signums: Sequence[int] = (signal.SIGTERM,)) -> Iterator[list[int]]:
    """While open, the signals ``signums`` do not kill the process: each is appended to the
    yielded list, which :func:`train` (its ``stop`` argument) checks after every iteration.
    Outside the main thread, where Python cannot catch signals, nothing changes."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in signums}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# ---------------------------------------------------------------------------------------------
# Training loop


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    best_val: float
    best_epoch: int
    iterations: int
    seconds: float
    model_path: Path


def _state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _write_log(rows: list[dict[str, Any]], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer,
        fieldnames=["epoch", "iteration", "split", "loss", "lr", "elapsed_s"],
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _resume_state(
    ckpt_dir: Path, model: torch.nn.Module, settings: TrainSettings, metadata: dict[str, Any]
) -> dict | None:
    """The state of ``ckpt_dir/last.pt`` if it belongs to this very run (same settings, same
    metadata, i.e. model and inputs, and weights that fit); otherwise the stale checkpoints of
    an earlier run are removed (with a notice) and None returned: training starts over."""
    path = ckpt_dir / "last.pt"
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path)
    except DamagedFile as err:  # nothing to resume from: start over, as for another run's
        print(f"{err}; discarding {ckpt_dir} and training from scratch", file=sys.stderr)
        shutil.rmtree(ckpt_dir)
        return None
    differs = []
    if state.get("settings") != settings.identity():
        differs.append("training settings")
    if state.get("metadata") != metadata:
        differs.append("model or inputs")
    if not differs:
        try:
            check_weights(model, state["model"], path)
        except ValueError:
            differs = ["architecture"]
    if not differs:
        return state
    print(
        f"{path}: written by a run with other {' and '.join(differs)}; discarding "
        f"{ckpt_dir} and training from scratch",
        file=sys.stderr,
    )
    shutil.rmtree(ckpt_dir)
    return None


def epochs_without_improvement(val_losses: Sequence[float], min_delta: float = 0.0) -> int:
    """Epochs since the last improvement: a validation loss below (1 − min_delta) × the loss of
    the previous improvement (the first epoch is one)."""
    best, since = math.inf, 0
    for loss in val_losses:
        if loss < best * (1 - min_delta):
            best, since = loss, 0
        else:
            since += 1
    return since


def training_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    grad_clip: float | None,
    graphs: bool,
    graph: Callable[[], capture.Graph] | None = None,
) -> tuple[capture.CapturedStep, capture.CapturedStep]:
    """(training step, validation loss), both called with (kspace, mask, target) and returning
    the batch's loss; with ``graphs`` they replay graphs (``graph``, default CUDA graphs, see
    :mod:`ifrnet.methods.capture`) keyed by what a graph bakes in: the module's mode and the
    learning rates. The trainer's own; ``benchmarks/device_check.py`` compares both paths."""

    def update(kspace: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Forward, loss, backward, clipping, optimiser step; returns the loss."""
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(kspace, mask), target)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        return loss.detach()

    train_step = capture.CapturedStep(
        update,
        enabled=graphs,
        key=lambda: (model.training, *(g["lr"] for g in optimizer.param_groups)),
        graph=graph,
        name="training step",
    )
    val_loss = capture.CapturedStep(
        lambda k, m, t: loss_fn(model(k, m), t),
        enabled=graphs,
        key=lambda: model.training,
        graph=graph,
        name="validation forward",
    )
    return train_step, val_loss


class _Trainer:
    """One training run's state and its named steps (see :func:`train`, which drives them)."""

    def __init__(
        self,
        model: torch.nn.Module,
        train_set: Dataset,
        val_set: Dataset,
        settings: TrainSettings,
        out: Path,
        metadata: dict[str, Any],
        on_iteration: Callable[[int], None] | None,
        stop: Sequence[int],
    ) -> None:
        if len(train_set) == 0 or len(val_set) == 0:
            raise ValueError("training needs at least one training and one validation image")
        self.model, self.train_set, self.val_set, self.settings = (
            model,
            train_set,
            val_set,
            settings,
        )
        self.out, self.ckpt_dir, self.metadata = out, out / "checkpoints", dict(metadata)
        self.on_iteration, self.stop = on_iteration, stop
        if settings.threads:
            torch.set_num_threads(settings.threads)
        torch.manual_seed(settings.seed)
        model.to(settings.device).train()
        graphs = capture.graphs_enabled(settings.device)  # CUDA: steps replay as CUDA graphs
        self.optimizer = _optimizer(model, settings, capturable=graphs)
        self.scheduler = _scheduler(self.optimizer, settings)
        self.start_epoch, self.start_step, self.step = 0, 0, 0
        self.rows: list[dict[str, Any]] = []
        self.best_val, self.best_epoch, self.best_model = math.inf, -1, _state_copy(model)
        self._resume()
        self.steps_per_epoch = math.ceil(len(train_set) / settings.batch_size)
        self.train_step, self.val_loss = training_steps(
            model, self.optimizer, LOSSES[settings.loss], settings.grad_clip, graphs
        )
        self.bar = Progress(
            settings.epochs * self.steps_per_epoch,
            "training",
            unit=" it",
            initial=self.step,
            enabled=settings.progress,
        )
        self.tic = time.perf_counter()

    def _resume(self) -> None:
        """Continue from ``checkpoints/last.pt`` if it belongs to this very run."""
        state = _resume_state(self.ckpt_dir, self.model, self.settings, self.metadata)
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        capturable = bool(self.optimizer.defaults.get("capturable"))
        _load_optimizer(self.optimizer, state["optimizer"], capturable)
        self.scheduler.load_state_dict(state["scheduler"])
        self.start_epoch, self.start_step = state["epoch"], state["step_in_epoch"]
        self.step, self.rows = state["step"], list(state["log"])
        self.best_val, self.best_epoch, self.best_model = (
            state["best_val"],
            state["best_epoch"],
            state["best"],
        )
        print(
            f"resuming from {self.ckpt_dir / 'last.pt'} at epoch {self.start_epoch + 1}, "
            f"iteration {self.step}",
            file=sys.stderr,
        )

    def log(self, epoch: int, split: str, loss: float) -> None:
        """One row of ``train_log.csv`` (columns epoch, iteration, split, loss, lr, elapsed_s)."""
        self.rows.append(
            {
                "epoch": epoch + 1,
                "iteration": self.step,
                "split": split,
                "loss": loss,
                "lr": self.optimizer.param_groups[0]["lr"],
                "elapsed_s": round(time.perf_counter() - self.tic, 3),
            }
        )

    def checkpoint(self, epoch: int, step_in_epoch: int) -> None:
        """Write ``last.pt``: everything a rerun resumes from at this position."""
        save_checkpoint(
            {
                "model": _state_copy(self.model),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "epoch": epoch,
                "step_in_epoch": step_in_epoch,
                "step": self.step,
                "best_val": self.best_val,
                "best_epoch": self.best_epoch,
                "best": self.best_model,
                "log": self.rows,
                "settings": self.settings.identity(),
                "metadata": self.metadata,
            },
            self.ckpt_dir / "last.pt",
        )

    def train_epoch(self, epoch: int) -> None:
        """The updates of one epoch (from the resumed position in the first), in the epoch's
        seeded order: update, log, progress, periodic checkpoint, the caller's hook, and a
        checkpoint and :class:`Stopped` once a stop signal has arrived."""
        s = self.settings
        order = epoch_order(len(self.train_set), s.seed, epoch)
        first = self.start_step if epoch == self.start_epoch else 0
        for i in range(first, self.steps_per_epoch):
            idx = order[i * s.batch_size : (i + 1) * s.batch_size].tolist()
            loss = float(self.train_step(*_batch(self.train_set, idx, s.device)))
            if not math.isfinite(loss):  # the update is made; the run stops before it is saved
                raise FloatingPointError(
                    f"training loss became {loss} at iteration {self.step + 1}; lower lr or set "
                    "grad_clip"
                )
            self.step += 1
            self.log(epoch, "train", loss)
            self.bar.update(1, note=f"epoch {epoch + 1}, loss {loss:.4f}")
            if self.step % s.checkpoint_every == 0 and i + 1 < self.steps_per_epoch:
                self.checkpoint(epoch, i + 1)
            if self.on_iteration is not None:
                self.on_iteration(self.step)
            if self.stop:
                self.checkpoint(epoch, i + 1)
                raise Stopped(self.stop[0], self.ckpt_dir / "last.pt", self.step)

    def validate(self, epoch: int) -> bool:
        """End of an epoch: validation loss, best weights, learning-rate schedule, checkpoint;
        True when early stopping ends the run."""
        s = self.settings
        val = evaluate_loss(self.model, self.val_set, s, self.val_loss)
        self.log(epoch, "val", val)
        if val < self.best_val:
            self.best_val, self.best_epoch = val, epoch + 1
            self.best_model = _state_copy(self.model)
            save_checkpoint(
                {"model": self.best_model, "epoch": epoch + 1, "val": val},
                self.ckpt_dir / "best.pt",
            )
        self.scheduler.step()
        self.checkpoint(epoch + 1, 0)
        self.bar.write(
            f"epoch {epoch + 1}/{s.epochs}: val loss {val:.5f} (best {self.best_val:.5f})"
        )
        stale = epochs_without_improvement(
            [r["loss"] for r in self.rows if r["split"] == "val"], s.min_delta
        )
        if s.patience is None or stale < s.patience:
            return False
        self.bar.write(
            f"early stop after epoch {epoch + 1}: no validation improvement of "
            f"{s.min_delta:g} (relative) for {stale} epochs; keeping epoch {self.best_epoch}"
        )
        return True

    def finish(self) -> TrainResult:
        """Write ``model.pt`` (the best weights) and ``train_log.csv``; remove the checkpoints."""
        self.bar.close()
        model_path = self.out / "model.pt"
        save_checkpoint(
            {
                "model": self.best_model,
                "metadata": self.metadata,
                "best_val": self.best_val,
                "best_epoch": self.best_epoch,
                "settings": self.settings.identity(),
            },
            model_path,
        )
        _write_log(self.rows, self.out / "train_log.csv")
        shutil.rmtree(self.ckpt_dir, ignore_errors=True)  # finished: nothing left to resume
        seconds = time.perf_counter() - self.tic
        return TrainResult(self.best_val, self.best_epoch, self.step, seconds, model_path)


def train(
    model: torch.nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    settings: TrainSettings,
    out_dir: PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    on_iteration: Callable[[int], None] | None = None,
    stop: Sequence[int] = (),
) -> TrainResult:
    """Train ``model`` (see the module docstring); ``on_iteration(global_step)`` is called
    after each update and its checkpoint (tests use it to interrupt training). Once ``stop``
    (the list :func:`stop_on_signals` fills) holds a signal, training writes ``last.pt`` at its
    position and raises :class:`Stopped`."""
    trainer = _Trainer(
        model, train_set, val_set, settings, Path(out_dir), metadata or {}, on_iteration, stop
    )
    for epoch in range(trainer.start_epoch, settings.epochs):
        trainer.train_epoch(epoch)
        if trainer.validate(epoch):
            break
    return trainer.finish()


# ---------------------------------------------------------------------------------------------
# Inference


@torch.no_grad()
def infer(
    model: torch.nn.Module,
    kspace: np.ndarray,
    mask: np.ndarray,
    batch_size: int = INFERENCE_BATCH,
    device: str = "cpu",
    call: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[np.ndarray, float]:
    """The one batched no-grad forward: run k-space (N, H, W) with mask (H, W) through the
    network in batches (eval mode, on ``device``); return the outputs stacked over N — the
    images complex64 (N, H, W), or what ``call(model, kspace (B, H, W), mask (B, H, W)) ->
    tensor (B, ...)`` returns in place of ``model(kspace, mask)`` (stage outputs, T maps) — and
    the mean seconds per image of the calls (the first call includes one-off costs such as
    loading compiled kernels; callers that report speed warm up first)."""
    model.to(device).eval()
    mask_t = torch.as_tensor(np.asarray(mask, dtype=np.float32), device=device)
    parts = []
    seconds = 0.0
    for start in range(0, len(kspace), batch_size):
        batch = torch.as_tensor(kspace[start : start + batch_size], device=device)
        masks = mask_t.expand(len(batch), *mask_t.shape)
        tic = time.perf_counter()
        result = model(batch, masks) if call is None else call(model, batch, masks)
        if result.is_cuda:
            torch.cuda.synchronize()
        seconds += time.perf_counter() - tic
        parts.append(result.cpu().numpy())
    if not parts:
        return np.empty(kspace.shape, dtype=np.complex64), 0.0
    out = np.concatenate(parts)
    return out.astype(np.complex64, copy=False) if call is None else out, seconds / len(kspace)

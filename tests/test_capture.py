"""Captured steps (ifrnet.methods.capture) on the CPU: the switch, warm-up, capture and replay
bookkeeping (with PythonGraph standing in for a CUDA graph), the shape guard, the fallback, the
trainer's captured path against its eager path, and the networks' CUDA path free of host
synchronisation (run on the meta device, where such operations fail or show)."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from baselines.admmnet import ADMMNet
from baselines.d5c5 import D5C5
from baselines.unet import UNetRecon
from baselines.vn import VN
from ifrnet.methods import capture
from ifrnet.methods.capture import CapturedStep, PythonGraph
from ifrnet.methods.ifrnet import IFRNet
from ifrnet.methods.learned import LearnedMethod
from ifrnet.methods.training import (
    TrainSettings,
    _load_optimizer,
    load_checkpoint,
    relative_l2,
    train,
)
from tests.test_training import dataset


@pytest.mark.parametrize(
    ("device", "env", "expected"),
    [
        ("cpu", None, False),
        ("cuda", None, True),
        ("cuda:1", "1", True),
        ("cuda", "0", False),
        ("cuda", " Off ", False),
        ("cuda", "false", False),
        ("cpu", "1", False),
    ],
)
def test_graphs_enabled_switch(monkeypatch, device, env, expected):
    if env is None:
        monkeypatch.delenv(capture.ENV, raising=False)
    else:
        monkeypatch.setenv(capture.ENV, env)
    assert capture.graphs_enabled(device) is expected


class Accumulator:
    """A step with state, like a training update: total += x; returns 2·total and x + 1."""

    def __init__(self) -> None:
        self.total = torch.zeros(3)
        self.runs = 0

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.runs += 1
        self.total += x.sum(0)
        return 2 * self.total, x + 1


def _inputs(n: int, rows: int = 2) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(n)
    return [torch.randn(rows, 3, generator=gen) for _ in range(n)]


def _step(fn, **options) -> CapturedStep:
    return CapturedStep(fn, enabled=True, graph=PythonGraph, **options)


def test_disabled_step_is_the_function():
    fn = Accumulator()
    step = CapturedStep(fn, enabled=False)
    for x in _inputs(4):
        step(x)
    assert step.calls == {"eager": 4, "capture": 0, "replay": 0}
    assert step.calls_to_capture == 1


def test_warm_up_capture_and_replay_give_the_eager_values():
    eager, captured = Accumulator(), Accumulator()
    step = _step(captured, warmup=2)
    for x in _inputs(6):
        want = eager(x)
        got = step(x)
        assert all(torch.equal(a, b) for a, b in zip(want, got, strict=True))
    assert torch.equal(eager.total, captured.total)
    # two warm-up calls, the third captures (running nothing) and replays, then replays
    assert step.calls == {"eager": 2, "capture": 1, "replay": 4}
    assert captured.runs == eager.runs == 6
    assert step.calls_to_capture == 3


def test_replayed_outputs_survive_the_next_replay():
    step = _step(lambda x: x * 2, warmup=1)
    xs = _inputs(4)
    outs = [step(x) for x in xs]
    assert step.calls["replay"] == 3
    for x, out in zip(xs, outs, strict=True):
        assert torch.equal(out, x * 2)


def test_other_shapes_run_eagerly_until_they_have_their_own_graph():
    eager, captured = Accumulator(), Accumulator()
    step = _step(captured, warmup=2, max_graphs=2)
    big, small, odd = _inputs(8, rows=2), _inputs(8, rows=1), _inputs(4, rows=3)

    def check(x):
        assert all(torch.equal(a, b) for a, b in zip(eager(x), step(x), strict=True))

    for x in [big[0], big[1], big[2], small[0], big[3], small[1], big[4]]:
        check(x)  # the smaller last batch of an epoch now and then: eager, the graph stays
    assert step.calls == {"eager": 4, "capture": 1, "replay": 3}
    for x in [small[2], big[5], small[3]]:  # its third call captures a second graph
        check(x)
    assert step.calls == {"eager": 4, "capture": 2, "replay": 6}
    for x in odd[:3]:  # a third shape: its graph replaces the least recently used (big)
        check(x)
    check(small[4])
    assert step.calls == {"eager": 6, "capture": 3, "replay": 8}
    check(big[6])
    assert step.calls == {"eager": 7, "capture": 3, "replay": 8}
    assert torch.equal(eager.total, captured.total)


def test_a_changed_key_recaptures():
    lr = [0.1]
    step = _step(lambda x: x * lr[0], warmup=1, key=lambda: lr[0])
    xs = _inputs(6)
    for x in xs[:3]:
        assert torch.equal(step(x), x * 0.1)
    lr[0] = 0.01  # a graph would still scale by 0.1: the key sends it back through capture
    for x in xs[3:]:
        assert torch.equal(step(x), x * 0.01)
    assert step.calls == {"eager": 2, "capture": 2, "replay": 4}


def test_grad_mode_is_part_of_the_signature():
    step = _step(lambda x: x * 2, warmup=1)
    x = torch.ones(2)
    with torch.no_grad():
        step(x), step(x)
    assert step.calls["capture"] == 1
    step(x)  # grad mode on: another signature
    assert step.calls["eager"] == 2


class BrokenGraph(PythonGraph):
    def capture(self, fn, inputs):
        raise RuntimeError("operation not permitted when stream is capturing\nmore")


def test_a_failed_capture_falls_back_to_eager(capsys):
    fn = Accumulator()
    step = CapturedStep(fn, enabled=True, graph=BrokenGraph, warmup=1, name="demo step")
    eager = Accumulator()
    for x in _inputs(5):
        assert all(torch.equal(a, b) for a, b in zip(eager(x), step(x), strict=True))
    assert step.calls == {"eager": 5, "capture": 0, "replay": 0}
    assert step.failed == "RuntimeError: operation not permitted when stream is capturing"
    assert step.calls_to_capture == 1
    err = capsys.readouterr().err
    assert err.count("demo step: cannot capture a CUDA graph") == 1


def test_warmup_must_be_positive():
    with pytest.raises(ValueError, match="warmup and max_graphs"):
        CapturedStep(lambda x: x, enabled=True, warmup=0)


# ---------------------------------------------------------------------------------------------
# The trainer


class CountingGraph(PythonGraph):
    replays = 0

    def replay(self):
        CountingGraph.replays += 1
        return super().replay()


@pytest.mark.parametrize(
    ("make", "extra"),
    [
        (lambda: IFRNet(stages=2, blocks=1), {"optimizer": "adam", "grad_clip": 1.0}),
        (lambda: ADMMNet(stages=2), {"optimizer": "rmsprop", "loss": "mse"}),
        (lambda: VN(steps=2, filters=4, filter_size=5), {"optimizer": "sgd", "momentum": 0.9}),
    ],
)
def test_trainer_replaying_graphs_equals_the_eager_trainer(tmp_path, monkeypatch, make, extra):
    """The trainer's captured path (PythonGraph on the CPU) makes bitwise the eager updates,
    through the smaller last batch of each epoch, a learning-rate step (a new graph) and
    validation, and writes the same model and log."""
    settings = TrainSettings(
        epochs=3,
        lr=1e-3,
        batch_size=2,
        schedule="step",
        step_size=2,
        gamma=0.5,
        checkpoint_every=2,
        progress=False,
        **extra,
    )
    train_set, val_set = dataset(7, seed=1), dataset(5, seed=2)
    torch.manual_seed(0)
    train(make(), train_set, val_set, settings, tmp_path / "eager")
    monkeypatch.setattr(capture, "graphs_enabled", lambda device: True)
    monkeypatch.setattr(capture, "DEFAULT_GRAPH", CountingGraph)
    CountingGraph.replays = 0
    torch.manual_seed(0)
    train(make(), train_set, val_set, settings, tmp_path / "captured")
    # per epoch, training: 3 full batches and 1 single image (a new learning rate after epoch
    # 2); validation: 2 full batches and 1 single image. Replays by epoch:
    assert CountingGraph.replays == (1 + 3 + 1) + (0 + 2 + 3)
    a = load_checkpoint(tmp_path / "eager" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "captured" / "model.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [(tmp_path / d / "train_log.csv").read_text().splitlines() for d in ("eager", "captured")]
    assert [r.rsplit(",", 1)[0] for r in log[0]] == [r.rsplit(",", 1)[0] for r in log[1]]


def test_resumed_optimiser_keeps_this_runs_capturable_flag():
    net = torch.nn.Linear(2, 2)
    saved = torch.optim.Adam(net.parameters(), lr=0.1, capturable=True).state_dict()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    _load_optimizer(optimizer, saved, capturable=False)
    assert optimizer.param_groups[0]["capturable"] is False
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    _load_optimizer(sgd, sgd.state_dict(), capturable=True)  # SGD has no such flag
    assert "capturable" not in sgd.param_groups[0]


def test_learned_method_captures_its_forward_in_the_warm_up(monkeypatch):
    """Where the forward replays graphs, warm_up runs the first batch until its graph exists,
    and reconstructions equal the eager method's."""
    data = dataset(5, seed=3)
    kspace, mask = data.kspace.numpy(), data.mask.numpy()
    torch.manual_seed(0)
    net = IFRNet(stages=2, blocks=1)
    eager = LearnedMethod(net, real=True, batch_size=2)
    assert eager.forward.calls_to_capture == 1
    want = eager(kspace, mask)
    monkeypatch.setattr(capture, "graphs_enabled", lambda device: True)
    monkeypatch.setattr(capture, "DEFAULT_GRAPH", PythonGraph)
    method = LearnedMethod(net, real=True, batch_size=2)
    method.warm_up(kspace, mask)
    assert method.forward.calls == {"eager": 2, "capture": 1, "replay": 1}
    assert (method(kspace, mask) == want).all()
    assert method.forward.calls["replay"] == 1 + 2  # the last, single image: eager


# ---------------------------------------------------------------------------------------------
# The networks' CUDA path (torch ops; the numba kernels are CPU-only) must not synchronise

HOST_SYNC_OPS = ("_local_scalar_dense", "nonzero", "bincount", "unique", "masked_select", "item")


class HostWatch(TorchDispatchMode):
    """Records operations that read device data back to the host or copy host data to the
    device: inside a CUDA graph capture the first kind fails and the second is not replayed."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.__name__ if hasattr(func, "__name__") else str(func)
        if any(op in str(func) for op in HOST_SYNC_OPS):
            self.found.append(f"host synchronisation {func}")
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if "_to_copy" in str(func) and tensors and tensors[0].device.type == "cpu":
            target = kwargs.get("device")
            if target is not None and torch.device(target).type != "cpu":
                self.found.append(f"host-to-device copy {func}")
        if "copy_" in name and len(tensors) == 2 and tensors[1].device.type == "cpu":
            if tensors[0].device.type != "cpu":
                self.found.append(f"host-to-device copy {func}")
        return func(*args, **kwargs)


NETWORKS = {
    "ifrnet": lambda: IFRNet(stages=2, blocks=1),
    "ifrnet-complex": lambda: IFRNet(stages=2, blocks=1, real=False),
    "ifrnet-full-grad": lambda: IFRNet(stages=1, blocks=1, descriptor_grad="full"),
    "admmnet": lambda: ADMMNet(stages=2),
    "vn": lambda: VN(steps=2, filters=4, filter_size=5),
    "vn-complex": lambda: VN(steps=2, filters=4, filter_size=5, real=False),
    "d5c5": lambda: D5C5(),
    "unet": lambda: UNetRecon(),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_cuda_path_of_a_training_step_never_waits_for_the_host(name):
    """Forward, loss and backward on the meta device take the networks' non-CPU code (the one
    CUDA runs); after a first call (caches filled, as in the warm-up) a second one must neither
    read tensor values on the host (.item(), .tolist(), bincount, nonzero: they fail on meta
    too) nor copy host tensors to the device."""
    net = NETWORKS[name]().to("meta")
    kspace = torch.empty(2, 32, 32, dtype=torch.complex64, device="meta")
    mask = torch.empty(2, 32, 32, device="meta")
    relative_l2(net(kspace, mask), kspace).backward()  # warm-up
    watch = HostWatch()
    with watch:
        relative_l2(net(kspace, mask), kspace).backward()
        with torch.no_grad():
            net.eval()(kspace, mask)
    assert watch.found == []

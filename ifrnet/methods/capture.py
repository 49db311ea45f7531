"""Replay a fixed-shape step (a training update, an inference forward) as a CUDA graph.

At batch 1 an unrolled network's training step on a GPU is hundreds of small kernels, and the
host takes longer to launch them than the GPU to run them. A CUDA graph records the kernels of
one call once and replays them with a single launch. :class:`CapturedStep` wraps a function of
tensors, e.g. the trainer's ``step(kspace, mask, target) -> loss`` (forward, loss, backward,
clipping, optimiser step), and returns what the function would, with the same values:

    step = CapturedStep(fn, enabled=graphs_enabled(device))
    loss = step(kspace, mask, target)

- Each call has a *signature*: the shapes, dtypes, devices and ``requires_grad`` of its inputs,
  torch's grad mode and the caller's ``key()`` (e.g. the learning rates, which the optimiser's
  kernels take as constants, or the module's train/eval mode).
- The first ``warmup`` calls with a new signature run ``fn`` eagerly (on CUDA on a side stream,
  as torch's CUDA graph recipe asks: lazy initialisations such as cuFFT plans and the optimiser
  state happen there, outside any graph). The next call with that signature copies its inputs
  into static tensors, captures ``fn`` on them into a graph and replays it; later calls with the
  signature copy their inputs into the static tensors and replay. Capturing runs nothing, so
  every call updates the state exactly once, as the eager function does.
- Shape guard: a call whose signature has no graph runs eagerly, and the ``warmup + 1``-th
  call of a signature captures one for it. Up to ``max_graphs`` graphs are kept, the least
  recently used dropped first: e.g. an epoch's full batches and its smaller last batch each
  have one, and a learning rate changed by the scheduler makes new ones.
- Fallback: with ``enabled=False`` (the CPU; ``IFRNET_CUDA_GRAPHS=0``) every call is
  ``fn(*inputs)``. A capture that fails (an operation that waits for the host, such as
  ``.item()``) is reported once on stderr and the step runs eagerly from then on.

What ``fn`` may do inside a graph: device work on its arguments and on long-lived tensors
(parameters, gradients it sets to None first, optimiser state created during the warm-up),
whose memory the graph keeps using; no host synchronisation and no Python decisions on tensor
values (those run once, at capture). Outputs are returned as fresh tensors (clones of the
graph's, which the next replay overwrites).

The graph itself is a small object (``capture(fn, inputs)``, ``replay() -> outputs``):
:class:`CudaGraph` on CUDA; :class:`PythonGraph` replays the Python callable instead, so that
the bookkeeping runs (and is tested) on the CPU, and ``benchmarks/device_check.py --device
cpu`` exercises its captured-vs-eager comparison without a GPU.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Protocol

import torch

#: Environment variable: "0" (or false/no/off) runs every step eagerly, the reference path.
ENV = "IFRNET_CUDA_GRAPHS"


def graphs_enabled(device: str | torch.device) -> bool:
    """Whether steps on ``device`` run as CUDA graphs: on CUDA devices unless the environment
    sets ``IFRNET_CUDA_GRAPHS`` to 0, false, no or off."""
    off = os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off")
    return torch.device(device).type == "cuda" and not off


Outputs = tuple[torch.Tensor, ...]


class Graph(Protocol):
    """What :class:`CapturedStep` needs of a graph."""

    def capture(self, fn: Callable[..., object], inputs: Outputs) -> None: ...

    def replay(self) -> Outputs: ...


def _as_tuple(result: object) -> Outputs:
    return tuple(result) if isinstance(result, tuple | list) else (result,)  # type: ignore[arg-type]


class CudaGraph:
    """A ``torch.cuda.CUDAGraph`` (its own memory pool) holding one call of ``fn``."""

    def __init__(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        self.outputs: Outputs = ()

    def capture(self, fn: Callable[..., object], inputs: Outputs) -> None:
        with torch.cuda.graph(self.graph):
            self.outputs = _as_tuple(fn(*inputs))

    def replay(self) -> Outputs:
        self.graph.replay()
        return self.outputs


class PythonGraph:
    """Stand-in for a CUDA graph on any device: ``capture`` records ``fn`` and its static inputs
    without running it (a CUDA capture runs nothing either); ``replay`` calls ``fn`` on them and
    writes the results into the same output tensors every time (as a graph overwrites its own).
    """

    def __init__(self) -> None:
        self.fn: Callable[..., object] | None = None
        self.inputs: Outputs = ()
        self.outputs: Outputs = ()

    def capture(self, fn: Callable[..., object], inputs: Outputs) -> None:
        self.fn, self.inputs = fn, inputs

    def replay(self) -> Outputs:
        assert self.fn is not None, "replay before capture"
        results = [r.detach() for r in _as_tuple(self.fn(*self.inputs))]
        if not self.outputs:
            self.outputs = tuple(r.clone() for r in results)
        else:
            for out, r in zip(self.outputs, results, strict=True):
                out.copy_(r)
        return self.outputs


#: The graph a :class:`CapturedStep` makes unless told otherwise (tests set PythonGraph here to
#: run the trainer's captured path on the CPU).
DEFAULT_GRAPH: Callable[[], Graph] = CudaGraph


@contextlib.contextmanager
def _side_stream(device: torch.device) -> Iterator[None]:
    """Run the block on a fresh CUDA stream ordered after and before the current one (a no-op
    off CUDA)."""
    if device.type != "cuda":
        yield
        return
    current = torch.cuda.current_stream(device)
    side = torch.cuda.Stream(device)
    side.wait_stream(current)
    with torch.cuda.stream(side):
        yield
    current.wait_stream(side)


class CapturedStep:
    """``fn(*tensors) -> tensor or tuple of tensors`` run as a replayed graph where it can be
    (see the module docstring); ``calls`` counts how each call ran: eager, capture, replay."""

    def __init__(
        self,
        fn: Callable[..., object],
        *,
        enabled: bool,
        key: Callable[[], Hashable] = lambda: None,
        warmup: int = 2,
        max_graphs: int = 2,
        graph: Callable[[], Graph] | None = None,
        name: str = "step",
    ) -> None:
        if warmup < 1 or max_graphs < 1:  # the optimiser's state must exist before a capture
            raise ValueError(f"warmup and max_graphs must be ≥ 1, got {warmup}, {max_graphs}")
        self.fn, self.enabled, self.key, self.warmup = fn, enabled, key, warmup
        self.max_graphs, self.make_graph, self.name = max_graphs, graph, name
        self.calls = {"eager": 0, "capture": 0, "replay": 0}
        self.failed: str | None = None
        # signature → (graph, static inputs), least recently used first
        self._graphs: OrderedDict[Hashable, tuple[Graph, Outputs]] = OrderedDict()
        self._eager_calls: dict[Hashable, int] = {}  # per signature without a graph
        self._single = True  # fn returns one tensor (not a tuple)

    @property
    def calls_to_capture(self) -> int:
        """Calls with one signature until its graph replays (1 when every call is eager)."""
        return self.warmup + 1 if self.enabled and self.failed is None else 1

    def signature(self, inputs: Outputs) -> Hashable:
        """What a graph is valid for: the inputs' layout, grad mode and ``key()``."""
        layout = tuple((tuple(t.shape), t.dtype, t.device, t.requires_grad) for t in inputs)
        return layout, torch.is_grad_enabled(), self.key()

    def __call__(self, *inputs: torch.Tensor) -> object:
        if not self.enabled or self.failed is not None:
            return self._eager(inputs, side_stream=False)
        signature = self.signature(inputs)
        if signature in self._graphs:
            return self._replay(signature, inputs)
        seen = self._eager_calls.get(signature, 0)
        if seen < self.warmup:
            self._eager_calls[signature] = seen + 1
            return self._eager(inputs, side_stream=True)
        if not self._capture(signature, inputs):
            return self._eager(inputs, side_stream=False)
        return self._replay(signature, inputs)

    def _eager(self, inputs: Outputs, side_stream: bool) -> object:
        self.calls["eager"] += 1
        if not side_stream:
            return self.fn(*inputs)
        device = inputs[0].device if inputs else torch.device("cpu")
        with _side_stream(device):
            result = self.fn(*inputs)
        if device.type == "cuda":  # made on the side stream, used on the current one
            for t in _as_tuple(result):
                t.record_stream(torch.cuda.current_stream(device))
        return result

    def _capture(self, signature: Hashable, inputs: Outputs) -> bool:
        """Capture ``fn`` on static copies of ``inputs`` (dropping the least recently used
        graph first if there are ``max_graphs``); False, and eager from now on, if the graph
        cannot be made."""
        while len(self._graphs) >= self.max_graphs:
            self._graphs.popitem(last=False)
        static = tuple(t.detach().clone().requires_grad_(t.requires_grad) for t in inputs)
        graph = (self.make_graph or DEFAULT_GRAPH)()
        try:
            graph.capture(self._tupled, static)
        except Exception as err:  # an operation that cannot be captured (host synchronisation)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            self.failed = f"{type(err).__name__}: {first}"
            self._graphs.clear()
            print(
                f"{self.name}: cannot capture a CUDA graph ({self.failed}); running eagerly",
                file=sys.stderr,
            )
            return False
        self.calls["capture"] += 1
        self._eager_calls.pop(signature, None)
        self._graphs[signature] = (graph, static)
        return True

    def _replay(self, signature: Hashable, inputs: Outputs) -> object:
        graph, static = self._graphs[signature]
        self._graphs.move_to_end(signature)
        for buffer, x in zip(static, inputs, strict=True):
            buffer.copy_(x)
        outputs = graph.replay()
        self.calls["replay"] += 1
        fresh = tuple(o.clone() for o in outputs)
        return fresh[0] if self._single else fresh

    def _tupled(self, *inputs: torch.Tensor) -> Outputs:
        """``fn`` with its result as a tuple (graphs keep tuples; callers get fn's form)."""
        result = self.fn(*inputs)
        self._single = not isinstance(result, tuple | list)
        return _as_tuple(result)

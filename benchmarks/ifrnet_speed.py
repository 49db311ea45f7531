"""Training and inference speed of IFR-Net and ADMM-Net on the CPU: this tree against an earlier
commit (default: the code before the kernels of issue 17), measured in one run.

Each side runs in its own worker process: the reference imports ``ifrnet`` and ``baselines``
from ``git archive REF`` (exactly the old code), ours from this checkout. The workers build the
same networks (deterministic initial weights), report the output for one fixed input (compared
first) and then time rounds of training steps (forward + backward + Adam, batch 1) and inference
steps (no grad, batch 1) on the same synthetic data: smooth random 256² images, a 30 %
lab-style radial mask. Rounds alternate between the two workers so that drifts of the machine's
speed affect both alike; the first round (JIT compilation, allocators) is not counted.

    python benchmarks/ifrnet_speed.py [--reference 3700967] [--threads 2] [--rounds 5]
                                      [--device cuda] [--reference-dir DIR]
                                      [--networks IFR-Net,ADMM-Net,VN] [--filters 8,64,128]

``--filters`` times Table III's IFR-Nets (N = 7, K = 2, random initial weights) at each width L
in place of the default IFR-Net (N = 9, K = 2, L = 8, DCT); ``--networks`` picks the networks
(VN: 10 steps of 24 filters 11×11, as baselines.vn builds it by default).

``--reference ops`` compares this tree's CPU kernels with its own reference torch ops (the
reference worker runs with IFRNET_REFERENCE_ONLY=1: :mod:`ifrnet.numerics.dispatch`), no git
needed.

``--capture`` compares this tree with itself instead: the eager steps against the same steps
replayed as CUDA graphs (:class:`ifrnet.methods.capture.CapturedStep`: the training step with a
capturable Adam, and the inference forward), no git needed:

    python benchmarks/ifrnet_speed.py --device cuda --capture --networks IFR-Net,ADMM-Net,VN

Off CUDA the "captured" side replays the Python steps (PythonGraph): a dry run of the
benchmark, ratios near 1.

On a GPU (``--device cuda``) both sides run the composed torch ops (the numba kernels are for
the CPU); a machine without the git history takes the old tree from ``--reference-dir`` (a
directory holding its ``ifrnet`` and ``baselines``, e.g. made by ``git archive 3700967 ifrnet
baselines | tar -x -C DIR`` where the history is).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ("IFR-Net", "ADMM-Net", "VN")
#: the constructor options of each network as the benchmark builds it by default
DEFAULTS = {
    "IFR-Net": {"stages": 9, "blocks": 2, "filters": 8},
    "ADMM-Net": {"stages": 15},
    "VN": {},
}


#: Where each name lived: the layered tree first, then older trees (before the layer folders).
MODULES = {
    "fft2c": ("ifrnet.numerics.fourier", "ifrnet.fourier"),
    "make_mask": ("ifrnet.numerics.masks", "ifrnet.masks"),
    "IFRNet": ("ifrnet.methods.ifrnet", "ifrnet.models.ifrnet"),
    "ADMMNet": ("baselines.admmnet",),
    "VN": ("baselines.vn",),
}
CLASSES = {"IFR-Net": "IFRNet", "ADMM-Net": "ADMMNet", "VN": "VN"}


def _only_pythonpath() -> None:
    """Drop import hooks of an editable install: they would serve a module the exported tree
    lacks (e.g. ``ifrnet.numerics`` for an older commit) from this checkout instead."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]


def _load(name: str) -> object:
    """``name`` from the first of its modules that the tree on PYTHONPATH has."""
    import importlib

    source = Path(os.environ["PYTHONPATH"])
    for module in MODULES[name]:
        if (source / (module.replace(".", "/") + ".py")).exists():
            return getattr(importlib.import_module(module), name)
    raise ImportError(f"{name}: none of {MODULES[name]} in {source}")


def worker(
    network: str,
    options: dict,
    threads: int,
    size: int,
    fused: bool,
    device: str,
    clock=time.perf_counter,
    captured: bool = False,
) -> None:
    """Serve commands on stdin: ``check PATH`` (save the output for a fixed input),
    ``time STEPS`` (print train and infer seconds as JSON), ``quit``; ``captured``: the steps
    replay graphs (CUDA graphs on CUDA)."""
    _only_pythonpath()
    import numpy as np
    import torch
    import torch.nn.functional as F

    fft2c, make_mask = _load("fft2c"), _load("make_mask")
    torch.set_num_threads(threads)
    torch.manual_seed(0)  # VN draws its initial filters from the global generator
    net = _load(CLASSES[network])(**options)
    gen = torch.Generator().manual_seed(0)
    images = F.avg_pool2d(torch.rand(4, 1, size, size, generator=gen), 9, 1, 4)[:, 0]
    images = images.to(torch.complex64)
    mask = torch.from_numpy(make_mask("labradial", (size, size), rate=0.3).array).float()
    kspace = fft2c(images) * mask
    net, images, mask, kspace = (t.to(device) for t in (net, images, mask, kspace))

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    optimizer = torch.optim.Adam(
        net.parameters(), lr=1e-4, fused=fused or None, **({"capturable": True} if captured else {})
    )

    def train_step(k: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad()
        loss = (net(k, mask) - target).abs().pow(2).mean()
        loss.backward()
        optimizer.step()
        return loss.detach()

    def forward(k: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(k, mask)

    if captured:
        from ifrnet.methods.capture import CapturedStep, PythonGraph

        graph = None if device.startswith("cuda") else PythonGraph
        train_step = CapturedStep(train_step, enabled=True, graph=graph)
        forward = CapturedStep(forward, enabled=True, graph=graph)
    step = 0
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "check":  # (captured: the third call replays the graph)
            for _ in range(3 if captured else 1):
                out = forward(kspace[:1])
            np.save(argument, out.cpu().numpy())
            print("{}", flush=True)
        elif command == "time":
            seconds = []
            for train in (True, False):
                sync()
                tic = clock()
                for _ in range(int(argument)):
                    i = step % len(images)
                    step += 1
                    if train:
                        train_step(kspace[i : i + 1], images[i : i + 1])
                    else:
                        forward(kspace[i : i + 1])
                sync()
                seconds.append(clock() - tic)
            print(json.dumps(seconds), flush=True)
        else:
            return


class Worker:
    """A worker process importing the packages from ``source`` (a directory)."""

    def __init__(
        self,
        source: Path,
        network: str,
        options: dict,
        args: argparse.Namespace,
        fused: bool,
        captured: bool = False,
        reference_only: bool = False,
    ):
        env = dict(os.environ, PYTHONPATH=str(source))
        env["IFRNET_REFERENCE_ONLY"] = "1" if reference_only else "0"
        if source != ROOT:  # numba's cache of the exported code goes with it
            env["NUMBA_CACHE_DIR"] = str(source / ".numba")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            network,
            "--options",
            json.dumps(options),
            "--threads",
            str(args.threads),
            "--size",
            str(args.size),
            "--device",
            args.device,
            "--clock",
            args.clock,
        ]
        if fused:
            command.append("--fused")
        if captured:
            command.append("--captured")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=source
        )

    def ask(self, line: str) -> object:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"benchmark worker died (exit {self.process.wait()})")
        return json.loads(reply)

    def close(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait()


def _runs(networks: str, filters: str | None) -> list[tuple[str, str, dict]]:
    """(label, network, constructor options) of each network to time, in order."""
    runs = []
    for network in networks.split(","):
        if network not in NETWORKS:
            raise SystemExit(f"unknown network {network!r}; choose from {', '.join(NETWORKS)}")
        if network == "IFR-Net" and filters:
            for width in (int(f) for f in filters.split(",")):
                options = {"stages": 7, "blocks": 2, "filters": width, "init": "random"}
                runs.append((f"IFR-Net N=7 K=2 L={width} random", network, options))
            continue
        options = DEFAULTS[network]
        label = {"IFR-Net": "N=9 K=2 L=8", "ADMM-Net": "15 stages", "VN": "10 steps"}[network]
        runs.append((f"{network} {label}", network, options))
    return runs


def export(reference: str, destination: Path) -> None:
    """Extract the ``ifrnet`` and ``baselines`` packages of commit ``reference``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", reference, "ifrnet", "baselines"],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        raise SystemExit(
            f"cannot export {reference!r} with git archive (a clone with history "
            f"is needed): {archive.stderr.decode().strip()}"
        )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference",
        default="3700967",
        help="commit to compare against (default: before issue 17's kernels), or 'ops': this "
        "tree's torch ops",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="steps per round and mode")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N]")
    parser.add_argument(
        "--reference-dir", type=Path, help="the old tree, already exported (instead of git)"
    )
    parser.add_argument(
        "--networks", default="IFR-Net,ADMM-Net", help=f"comma-separated, of {', '.join(NETWORKS)}"
    )
    parser.add_argument(
        "--filters",
        help="comma-separated widths L: Table III's IFR-Nets (N=7, K=2, random init) instead",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: each worker's CPU time (a loaded machine; with --threads 1), not wall time",
    )
    parser.add_argument(
        "--capture", action="store_true", help="eager vs captured steps of this tree (no git)"
    )
    parser.add_argument("--worker", choices=NETWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--fused", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--captured", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device != "cpu" and args.clock == "cpu":
        raise SystemExit("--clock cpu measures the CPU; it needs --device cpu")
    if args.worker:
        options = json.loads(args.options)
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        worker(
            args.worker,
            options,
            args.threads,
            args.size,
            args.fused,
            args.device,
            clock,
            args.captured,
        )
        return
    runs = _runs(args.networks, args.filters)
    import numpy as np

    reference = "this tree, eager" if args.capture else args.reference
    ops = args.reference == "ops" and not args.capture
    reference = "this tree's torch ops (IFRNET_REFERENCE_ONLY=1)" if ops else reference
    print(
        f"{args.size}×{args.size}, {args.device}, {args.threads} threads, {args.rounds} rounds × "
        f"{args.steps} steps, batch 1; images/s; reference = {reference}"
        + ("; CPU time of each worker, not wall time" if args.clock == "cpu" else "")
    )
    print(f"{'':32}{'train':>9}{'infer':>9}{'train ms':>10}{'infer ms':>10}  (per step)")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "reference"
        if args.capture or ops:
            pass
        elif args.reference_dir:
            old = args.reference_dir.resolve()
        else:
            export(args.reference, old)
        for label, network, options in runs:
            if args.capture:  # ours against ours, the steps replayed as graphs
                workers = {
                    "eager": Worker(ROOT, network, options, args, fused=True),
                    "captured": Worker(ROOT, network, options, args, fused=True, captured=True),
                }
            elif ops:  # ours against ours, the kernels against the torch ops
                workers = {
                    "torch ops": Worker(ROOT, network, options, args, True, reference_only=True),
                    "kernels": Worker(ROOT, network, options, args, fused=True),
                }
            else:  # each side's trainer: the reference ran a per-parameter Adam, ours fused
                workers = {
                    "before": Worker(old, network, options, args, fused=False),
                    "ours": Worker(ROOT, network, options, args, fused=True),
                }
            base, new = workers
            outputs = {}
            for name, w in workers.items():
                w.ask(f"check {tmp}/{name}.npy")
                outputs[name] = np.load(f"{tmp}/{name}.npy", allow_pickle=False)
            error = np.abs(outputs[new] - outputs[base]).max() / np.abs(outputs[base]).max()
            seconds = {name: [0.0, 0.0] for name in workers}
            for r in range(args.rounds + 1):
                for name, w in workers.items():
                    train, infer = w.ask(f"time {args.steps}")
                    if r:
                        seconds[name][0] += train
                        seconds[name][1] += infer
            for w in workers.values():
                w.close()
            rates = {
                name: [args.rounds * args.steps / s for s in pair] for name, pair in seconds.items()
            }
            print(label)
            for name in workers:
                train, infer = rates[name]
                per_step = f"{1e3 / train:10.1f}{1e3 / infer:10.1f}"
                print(f"{'  ' + name:32}{train:9.2f}{infer:9.2f}{per_step}")
            ratio = [rates[new][k] / rates[base][k] for k in (0, 1)]
            print(
                f"{'  ratio':32}{ratio[0]:8.2f}×{ratio[1]:8.2f}×   "
                f"(max |{new} − {base}| / max |{base}| = {error:.1e})"
            )


if __name__ == "__main__":
    main()

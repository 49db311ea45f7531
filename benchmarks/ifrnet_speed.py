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
NETWORKS = ("IFR-Net", "ADMM-Net")


#: Where each name lived: the layered tree first, then older trees (before the layer folders).
MODULES = {
    "fft2c": ("ifrnet.numerics.fourier", "ifrnet.fourier"),
    "make_mask": ("ifrnet.numerics.masks", "ifrnet.masks"),
    "IFRNet": ("ifrnet.methods.ifrnet", "ifrnet.models.ifrnet"),
    "ADMMNet": ("baselines.admmnet",),
}


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


def worker(network: str, threads: int, size: int, fused: bool, device: str) -> None:
    """Serve commands on stdin: ``check PATH`` (save the output for a fixed input),
    ``time STEPS`` (print train and infer seconds as JSON), ``quit``."""
    _only_pythonpath()
    import numpy as np
    import torch
    import torch.nn.functional as F

    fft2c, make_mask = _load("fft2c"), _load("make_mask")
    torch.set_num_threads(threads)
    if network == "IFR-Net":
        net = _load("IFRNet")(stages=9, blocks=2, filters=8)
    else:
        net = _load("ADMMNet")(stages=15)
    gen = torch.Generator().manual_seed(0)
    images = F.avg_pool2d(torch.rand(4, 1, size, size, generator=gen), 9, 1, 4)[:, 0]
    images = images.to(torch.complex64)
    mask = torch.from_numpy(make_mask("labradial", (size, size), rate=0.3).array).float()
    kspace = fft2c(images) * mask
    net, images, mask, kspace = (t.to(device) for t in (net, images, mask, kspace))

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=fused or None)
    step = 0
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "check":
            with torch.no_grad():
                np.save(argument, net(kspace[:1], mask).cpu().numpy())
            print("{}", flush=True)
        elif command == "time":
            seconds = []
            for train in (True, False):
                sync()
                tic = time.perf_counter()
                for _ in range(int(argument)):
                    i = step % len(images)
                    step += 1
                    if train:
                        optimizer.zero_grad()
                        out = net(kspace[i : i + 1], mask)
                        (out - images[i : i + 1]).abs().pow(2).mean().backward()
                        optimizer.step()
                    else:
                        with torch.no_grad():
                            net(kspace[i : i + 1], mask)
                sync()
                seconds.append(time.perf_counter() - tic)
            print(json.dumps(seconds), flush=True)
        else:
            return


class Worker:
    """A worker process importing the packages from ``source`` (a directory)."""

    def __init__(self, source: Path, network: str, args: argparse.Namespace, fused: bool):
        env = dict(os.environ, PYTHONPATH=str(source))
        if source != ROOT:  # numba's cache of the exported code goes with it
            env["NUMBA_CACHE_DIR"] = str(source / ".numba")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            network,
            "--threads",
            str(args.threads),
            "--size",
            str(args.size),
            "--device",
            args.device,
        ]
        if fused:
            command.append("--fused")
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
        help="commit to compare against (default: before issue 17's kernels)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="steps per round and mode")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N]")
    parser.add_argument(
        "--reference-dir", type=Path, help="the old tree, already exported (instead of git)"
    )
    parser.add_argument("--worker", choices=NETWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--fused", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.size, args.fused, args.device)
        return
    import numpy as np

    print(
        f"{args.size}×{args.size}, {args.device}, {args.threads} threads, {args.rounds} rounds × "
        f"{args.steps} steps, batch 1; images/s; reference = {args.reference}"
    )
    print(f"{'':24}{'train':>9}{'infer':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "reference"
        if args.reference_dir:
            old = args.reference_dir.resolve()
        else:
            export(args.reference, old)
        for network in NETWORKS:
            # each side's trainer: the reference ran a per-parameter Adam, ours the fused one
            workers = {
                "before": Worker(old, network, args, fused=False),
                "ours": Worker(ROOT, network, args, fused=True),
            }
            outputs = {}
            for name, w in workers.items():
                w.ask(f"check {tmp}/{name}.npy")
                outputs[name] = np.load(f"{tmp}/{name}.npy", allow_pickle=False)
            error = (
                np.abs(outputs["ours"] - outputs["before"]).max() / np.abs(outputs["before"]).max()
            )
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
            label = "N=9 K=2 L=8" if network == "IFR-Net" else "15 stages"
            print(f"{network} {label}")
            for name in workers:
                print(f"{'  ' + name:24}{rates[name][0]:9.2f}{rates[name][1]:9.2f}")
            ratio = [rates["ours"][k] / rates["before"][k] for k in (0, 1)]
            print(
                f"{'  ratio':24}{ratio[0]:8.2f}×{ratio[1]:8.2f}×   "
                f"(max |ours − before| / max |before| = {error:.1e})"
            )


if __name__ == "__main__":
    main()

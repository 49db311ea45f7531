"""Aggregate training speed of k concurrent IFR-Net trainings on one device (k jobs per GPU).

For each k in ``--jobs``, k processes each train the nominal IFR-Net (N=9, K=2, L=8) with the
trainer's step (:func:`ifrnet.methods.training.training_steps`: Adam, relative ℓ2, batch 1,
SIZE² synthetic images, the loss read back every step as the trainer does), on CUDA replayed
as CUDA graphs unless ``--eager``. Each process has one CPU thread, warms up (the graph is
captured), waits for the others, then counts steps for ``--seconds``; the table gives the sum
of the processes' images/s (aggregate) and the slowest one's. The workflow's ``gpu_slots``
(trainings per GPU, profiles/*/config.yaml) is the k after which the aggregate stops growing.

    python benchmarks/gpu_share.py --device cuda [--jobs 1,2,4,8] [--seconds 10] [--eager]

Exits 1 if a training job fails.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time


def train_job(device: str, size: int, seconds: float, eager: bool, start, results) -> None:
    """One training process: warm up, wait at ``start`` (a barrier), count steps."""
    import torch

    from ifrnet.methods import capture
    from ifrnet.methods.ifrnet import IFRNet
    from ifrnet.methods.training import TrainSettings, _optimizer, relative_l2, training_steps
    from ifrnet.numerics.fourier import fft2c

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    images = torch.nn.functional.avg_pool2d(torch.rand(4, 1, size, size, generator=gen), 9, 1, 4)
    images = images[:, 0].to(torch.complex64).to(device)
    mask = (torch.rand(1, size, size, generator=gen) < 0.3).float().to(device)
    kspace = fft2c(images) * mask
    net = IFRNet(stages=9, blocks=2, filters=8).to(device).train()
    graphs = capture.graphs_enabled(device) and not eager
    optimizer = _optimizer(net, TrainSettings(epochs=1, lr=1e-4, device=device), graphs)
    step, _ = training_steps(net, optimizer, relative_l2, None, graphs)

    def one(i: int) -> float:
        j = i % len(images)
        return float(step(kspace[j : j + 1], mask, images[j : j + 1]))

    for i in range(4):  # warm-up: two eager calls, the capture, a replay
        one(i)
    start.wait()
    count, tic = 0, time.perf_counter()
    while time.perf_counter() - tic < seconds:
        one(count)
        count += 1
    results.put(count / (time.perf_counter() - tic))


def measure(k: int, args: argparse.Namespace) -> list[float]:
    """Images/s of each of k concurrent training processes."""
    ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
    start, results = ctx.Barrier(k), ctx.Queue()
    jobs = [
        ctx.Process(
            target=train_job,
            args=(args.device, args.size, args.seconds, args.eager, start, results),
        )
        for _ in range(k)
    ]
    for job in jobs:
        job.start()
    rates = [results.get(timeout=args.seconds + 300) for _ in jobs]
    for job in jobs:
        job.join()
    if any(job.exitcode for job in jobs):
        raise RuntimeError(f"a training process failed (exit codes {[j.exitcode for j in jobs]})")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--jobs", default="1,2,4,8", help="values of k, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per k")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--eager", action="store_true", help="no CUDA graphs")
    args = parser.parse_args()
    mode = "eager" if args.eager or not args.device.startswith("cuda") else "CUDA graphs"
    print(
        f"IFR-Net N=9 K=2 L=8 training, batch 1, {args.size}², {args.device} ({mode}), "
        f"{args.seconds:g} s per k, one CPU thread per job; images/s"
    )
    print(f"{'k':>3}{'aggregate':>11}{'per job':>9}{'slowest':>9}{'vs first k':>12}")
    first = None
    try:
        for k in (int(v) for v in args.jobs.split(",")):
            rates = measure(k, args)
            total = sum(rates)
            first = first or total
            print(
                f"{k:3d}{total:11.1f}{total / k:9.1f}{min(rates):9.1f}{total / first:11.2f}×",
                flush=True,
            )
    except RuntimeError as err:
        print(err)
        sys.exit(1)


if __name__ == "__main__":
    main()

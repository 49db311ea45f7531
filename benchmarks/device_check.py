"""Every registered network on one device (e.g. a CUDA GPU): trains, agrees with the CPU, speed.

For each learned method (IFR-Net nominal, ADMM-Net 15 stages, D5-C5, U-Net and any other
registered ``torch.nn.Module``) at SIZE×SIZE with a 20 % lab-style radial mask on smooth
synthetic images:

1. the shared trainer (:func:`ifrnet.methods.training.train`) runs one short epoch on ``--device``
   (checkpoints, validation, ``model.pt``): the training smoke test;
2. the trained weights give the same images on ``--device`` as on the CPU (the CPU runs the
   numba PLF kernel, other devices the torch path): max |device − CPU| / max |CPU|;
3. training images/s (forward + backward + Adam step, batch 1) and inference images/s (batch 4)
   on ``--device``, measured in this run.

    python benchmarks/device_check.py --device cuda [--size 256] [--steps 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from ifrnet.methods.learned import build_network
from ifrnet.methods.registry import METHODS, resolve
from ifrnet.methods.training import TensorTriples, TrainSettings, infer, relative_l2, train
from ifrnet.numerics.masks import make_mask
from ifrnet.numerics.measure import measure

NETWORKS = {
    "ifrnet": {"stages": 9, "blocks": 2, "filters": 8},
    "admmnet": {"stages": 15},
    "d5c5": {},
    "unet": {},
}


def smooth_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n real images (n, size, size) in [0, 1]: random sums of Gaussian blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    out = np.zeros((n, size, size), np.float32)
    for i in range(n):
        for _ in range(12):
            cy, cx, w = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.02, 0.15)]
            out[i] += rng.uniform(0.2, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / w**2)
        out[i] /= out[i].max()
    return out


def networks() -> dict[str, dict]:
    """Registered trainable networks with their benchmark parameters."""
    found = {}
    for name in METHODS:
        try:
            cls = resolve(name)
        except ValueError as err:  # an iterative method whose dependency is absent here
            print(f"skipped {name}: {err}")
            continue
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
            found[name] = NETWORKS.get(name, {})
    return found


def speed(
    net: torch.nn.Module,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    steps: int,
    device: str,
) -> tuple[float, float]:
    """(training, inference) images/s on ``device``."""

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    k, m, t = kspace.to(device), mask.to(device), target.to(device)
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            sync()
            tic = time.perf_counter()
        opt.zero_grad()
        relative_l2(net(k[i % len(k)][None], m).real, t[i % len(t)][None]).backward()
        opt.step()
    sync()
    train_rate = steps / (time.perf_counter() - tic)
    net.eval()
    with torch.no_grad():
        net(k[:4], m)
        sync()
        tic = time.perf_counter()
        for _ in range(steps):
            net(k[:4], m)
        sync()
    return train_rate, 4 * steps / (time.perf_counter() - tic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mask = make_mask("labradial", (args.size, args.size), rate=0.2).array
    images = smooth_images(8, args.size)
    kspace = measure(images, mask, 0.0, 0, "train")
    triples = TensorTriples(
        torch.from_numpy(kspace),
        torch.from_numpy(mask.astype(np.float32)),
        torch.from_numpy(images),
    )
    print(
        f"device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
        + f", torch {torch.__version__}, {args.size}×{args.size}, {args.steps} steps"
    )
    print(f"{'network':10}{'trainer':>9}{'|dev−cpu|':>12}{'train img/s':>13}{'infer img/s':>13}")
    for name, params in networks().items():
        torch.manual_seed(0)
        net = build_network(name, params, complex_data=False)
        settings = TrainSettings(
            epochs=1, lr=1e-4, device=args.device, progress=False, checkpoint_every=4
        )
        with tempfile.TemporaryDirectory() as out:
            result = train(net, triples, triples, settings, out)
        status = "ok" if np.isfinite(result.best_val) else "nan"
        on_device, _ = infer(net, kspace[:2], mask, 2, args.device)
        on_cpu, _ = infer(net, kspace[:2], mask, 2, "cpu")
        diff = np.abs(on_device - on_cpu).max() / np.abs(on_cpu).max()
        train_rate, infer_rate = speed(
            net, triples.kspace, triples.mask, triples.target, args.steps, args.device
        )
        print(f"{name:10}{status:>9}{diff:12.1e}{train_rate:13.2f}{infer_rate:13.2f}")


if __name__ == "__main__":
    main()

"""Training and inference speed of IFR-Net and ADMM-Net on the CPU: ours against the code before
the kernels of issue 17, measured in one run.

The reference is the previous implementation, still in the tree as the library-call path (the
path for non-CPU devices): oneDNN convolutions with GEMM weight gradients, the descriptor's box
statistics as banded matrix products, ADMM-Net's convolutions and X step through k-space
(``spectral=True``) and a per-parameter Adam. Ours: the numba convolution and moment kernels
(:mod:`ifrnet.conv_kernel`, :mod:`ifrnet.moments_kernel`), ADMM-Net's image-space convolutions
with three FFTs per stage, and a multi-tensor (foreach) Adam. Both networks of a pair hold the
same weights; their outputs are compared first. Rounds alternate between reference and ours so
that drifts of the machine's speed affect both alike. Data: smooth random 256² images, a 30 %
lab-style radial mask; training step = forward + backward + Adam, batch 1; inference batch 1.

    python benchmarks/ifrnet_speed.py [--threads 2] [--rounds 5] [--steps 4] [--size 256]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from baselines.admmnet import ADMMNet
from ifrnet import conv_kernel, moments_kernel
from ifrnet.fourier import fft2c
from ifrnet.masks import make_mask
from ifrnet.models.ifrnet import IFRNet


@contextlib.contextmanager
def kernels(enabled: bool):
    """Switch the CPU kernels on or off for the duration of the block."""
    before = conv_kernel.ENABLED, moments_kernel.ENABLED
    conv_kernel.ENABLED = moments_kernel.ENABLED = enabled
    try:
        yield
    finally:
        conv_kernel.ENABLED, moments_kernel.ENABLED = before


def synthetic(size: int, count: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images complex (count, size, size), k-space, mask (size, size)) of smooth images."""
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(count, 1, size, size, generator=gen)
    images = F.avg_pool2d(noise, 9, 1, 4)[:, 0].to(torch.complex64)
    mask = torch.from_numpy(make_mask("labradial", (size, size), rate=0.3).array).float()
    return images, fft2c(images) * mask, mask


def pair(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(reference, ours) with the same weights."""
    if name == "IFR-Net":
        reference, ours = IFRNet(stages=9, blocks=2, filters=8), IFRNet(stages=9, blocks=2,
                                                                        filters=8)
    else:
        reference, ours = ADMMNet(stages=15, spectral=True), ADMMNet(stages=15)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def measure(nets: dict[str, torch.nn.Module], data, rounds: int, steps: int) -> dict:
    """Images/s (train, infer) per entry of ``nets``, rounds interleaved."""
    images, kspace, mask = data
    optimizers = {key: torch.optim.Adam(net.parameters(), lr=1e-4, foreach=(key == "ours"))
                  for key, net in nets.items()}
    seconds = {key: [0.0, 0.0] for key in nets}

    def train_step(key: str, i: int) -> None:
        optimizers[key].zero_grad()
        out = nets[key](kspace[i : i + 1], mask)
        (out - images[i : i + 1]).abs().pow(2).mean().backward()
        optimizers[key].step()

    def infer_step(key: str, i: int) -> None:
        with torch.no_grad():
            nets[key](kspace[i : i + 1], mask)

    for r in range(rounds + 1):  # round 0 warms up (JIT compilation, allocator) and is not counted
        for key in nets:
            with kernels(key == "ours"):
                for slot, step in enumerate((train_step, infer_step)):
                    tic = time.perf_counter()
                    for i in range(steps):
                        step(key, i % len(images))
                    if r:
                        seconds[key][slot] += time.perf_counter() - tic
    return {key: (rounds * steps / s[0], rounds * steps / s[1]) for key, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="steps per round and mode")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthetic(args.size)
    print(f"{args.size}×{args.size}, {args.threads} threads, {args.rounds} rounds × "
          f"{args.steps} steps, batch 1; images/s")
    print(f"{'':22}{'train':>9}{'infer':>9}")
    for name in ("IFR-Net", "ADMM-Net"):
        reference, ours = pair(name)
        with torch.no_grad():
            with kernels(False):
                expected = reference(data[1][:1], data[2])
            got = ours(data[1][:1], data[2])
        error = float((got - expected).abs().max() / expected.abs().max())
        rates = measure({"reference": reference, "ours": ours}, data, args.rounds, args.steps)
        (ref_train, ref_infer), (our_train, our_infer) = rates["reference"], rates["ours"]
        label = "N=9 K=2 L=8" if name == "IFR-Net" else "15 stages"
        print(f"{name + ' ' + label:22}")
        print(f"{'  before (reference)':22}{ref_train:9.2f}{ref_infer:9.2f}")
        print(f"{'  ours':22}{our_train:9.2f}{our_infer:9.2f}")
        print(f"{'  ratio':22}{our_train / ref_train:8.2f}×{our_infer / ref_infer:8.2f}×"
              f"   (max |ours − before| / max |before| = {error:.1e})")


if __name__ == "__main__":
    main()

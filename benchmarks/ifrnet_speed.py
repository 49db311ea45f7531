"""IFR-Net speed at 256×256 (N = 9, K = 2, L = 8): ours against a deliberately naive version.

Both networks have identical parameters and compute the same function (checked below); the naive
one uses the textbook pieces — a PLF by gather whose backward is autograd's scatter, PyTorch's
default convolution backward, and the descriptor T with a full 2-D 51×51 convolution and 5×5
average pooling. Prints training images/s (forward + backward + SGD step, batch 1) and inference
images/s (no grad) for both, measured in this run, and their ratios.

    python benchmarks/ifrnet_speed.py [--threads 2] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ifrnet import layers
from ifrnet.models import ifrnet as model_module
from ifrnet.models.ifrnet import IFRNet


def naive_plf(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """PLF by clamping and gathering; autograd scatters the gradient of q over all pixels."""
    channels, points = q.shape
    inv = (points - 1) / 2.0
    xc = x.clamp(-1.0, 1.0)
    t = (xc + 1.0) * inv
    idx = t.floor().clamp(0, points - 2).long()
    frac = t - idx
    ch = torch.arange(channels, device=x.device).view(1, channels, 1, 1).expand_as(idx)
    return q[ch, idx] * (1 - frac) + q[ch, idx + 1] * frac + (x - xc)


def naive_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PyTorch's convolution with its default backward."""
    return F.conv2d(x, w, b, padding=w.shape[-1] // 2)


def naive_descriptor(a: torch.Tensor, v: torch.Tensor, kernel: torch.Tensor | None = None):
    """T with a 2-D 51×51 Gaussian convolution and 5×5 average pooling (zero padding)."""
    g = layers.gaussian_1d().to(a.dtype)
    b = F.conv2d(a, torch.outer(g, g)[None, None], padding=25)
    box = F.avg_pool2d(torch.cat([a, b, a * a, b * b, a * b], 1), 5, 1, 2, count_include_pad=True)
    mu_a, mu_b, aa, bb, ab = box.unbind(1)
    c = v.abs()
    t = 1 - ((2 * (ab - mu_a * mu_b) + c) / ((aa - mu_a**2) + (bb - mu_b**2) + c)).abs()
    return t.clamp(0, 1).unsqueeze(1)


class NaivePLF(torch.nn.Module):
    def __init__(self, q: torch.nn.Parameter) -> None:
        super().__init__()
        self.q = q

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return naive_plf(x, self.q)


def make_naive(net: IFRNet) -> None:
    """Swap the fast pieces of ``net`` for the naive ones, in place (same parameters)."""
    for z in net.z:
        for block in z.blocks:
            block.plf = NaivePLF(block.plf.q)


def naive_mode(enabled: bool) -> None:
    """Route the module-level helpers to the naive versions (or back)."""
    model_module.conv2d_same = naive_conv if enabled else layers.conv2d_same
    layers.feature_descriptor = naive_descriptor if enabled else _fast_descriptor


_fast_descriptor = layers.feature_descriptor


def timed_pair(fast: IFRNet, naive: IFRNet, y: torch.Tensor, mask: torch.Tensor,
               repeats: int) -> dict[str, tuple[float, float]]:
    """Images/s (training, inference) of both networks, their runs interleaved one by one so
    that drifts of the machine's speed affect both alike."""
    optimizers = {id(net): torch.optim.SGD(net.parameters(), lr=1e-5, momentum=0.95)
                  for net in (fast, naive)}

    def train_step(net: IFRNet, i: int) -> None:
        optimizer = optimizers[id(net)]
        optimizer.zero_grad()
        (net(y[i : i + 1], mask) - y[i : i + 1]).abs().pow(2).mean().backward()
        optimizer.step()

    def infer_step(net: IFRNet, i: int) -> None:
        with torch.no_grad():
            net(y[i : i + 1], mask)

    seconds = {name: [0.0, 0.0] for name in ("fast", "naive")}
    for i in range(repeats + 1):  # the first round warms up and is not counted
        for name, net in (("fast", fast), ("naive", naive)):
            naive_mode(name == "naive")
            for slot, step in enumerate((train_step, infer_step)):
                tic = time.perf_counter()
                step(net, i % len(y))
                if i:
                    seconds[name][slot] += time.perf_counter() - tic
    naive_mode(False)
    return {name: (repeats / s[0], repeats / s[1]) for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(4, args.size, args.size, dtype=torch.complex64, generator=gen)
    mask = (torch.rand(args.size, args.size, generator=gen) < 0.4).float()

    fast = IFRNet(stages=9, blocks=2, filters=8)
    naive = IFRNet(stages=9, blocks=2, filters=8)
    make_naive(naive)
    with torch.no_grad():
        reference = fast(y[:1], mask)
        naive_mode(True)
        check = naive(y[:1], mask)
        naive_mode(False)
    print(f"max |ours − naive| on one image: {float((reference - check).abs().max()):.2e}")

    rates = timed_pair(fast, naive, y, mask, args.repeats)
    (fast_train, fast_infer), (naive_train, naive_infer) = rates["fast"], rates["naive"]
    print(f"IFR-Net N=9 K=2 L=8, {args.size}×{args.size}, {args.threads} threads, "
          f"{args.repeats} repeats")
    print(f"{'':12}{'train img/s':>14}{'infer img/s':>14}")
    print(f"{'naive':12}{naive_train:14.2f}{naive_infer:14.2f}")
    print(f"{'ifrnet':12}{fast_train:14.2f}{fast_infer:14.2f}")
    print(f"{'ratio':12}{fast_train / naive_train:13.1f}×{fast_infer / naive_infer:13.1f}×")


if __name__ == "__main__":
    main()

"""Every registered network on one device (e.g. a CUDA GPU): trains, agrees with the CPU, speed.

For each learned method (IFR-Net nominal, ADMM-Net 15 stages, D5-C5, U-Net and any other
registered ``torch.nn.Module``) at SIZE×SIZE with a 20 % lab-style radial mask on smooth
synthetic images:

1. the shared trainer (:func:`ifrnet.methods.training.train`) runs one short epoch on ``--device``
   (checkpoints, validation, ``model.pt``): the training smoke test;
2. the trained weights give the same images on ``--device`` as on the CPU (the CPU runs the
   numba kernels, other devices the composed torch ops): max |device − CPU| / max |CPU|;
3. in float64, one forward and backward pass from those weights on real and on complex data
   gives the same output and parameter gradients on both (max |device − CPU| relative to the
   output's and to the largest gradient's magnitude; must stay below ``--tolerance``): the two
   paths checked against each other on the device itself (the tests do it on the CPU only);
4. training images/s (forward + backward + Adam step, batch 1, eager) and inference images/s
   (batch 4) on ``--device``, measured in this run;
5. captured = eager: from the same weights, the trainer's training step
   (:func:`ifrnet.methods.training.training_steps`, batch 1, Adam) runs ``--capture-steps`` times
   eagerly and as a replayed CUDA graph (two warm-up calls, the capture, replays), and the
   inference forward likewise; every loss, the forward's output, every parameter gradient of
   the last step and every updated weight must agree within ``--rtol`` (max |captured − eager|
   relative to max |eager|; gradients relative to the network's largest gradient entry; a
   non-finite value never agrees). On the CPU the "graph" replays the Python step
   (:class:`ifrnet.methods.capture.PythonGraph`): a self-test of this comparison.

    python benchmarks/device_check.py --device cuda [--size 256] [--steps 20]
    python benchmarks/device_check.py --device cuda --capture-only [--networks ifrnet,vn]

Exits 1 when a training gives a non-finite loss, a float64 check exceeds the tolerance or the
captured step differs from the eager one.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time

import numpy as np
import torch

from ifrnet.methods import capture
from ifrnet.methods.learned import build_network
from ifrnet.methods.registry import METHODS, resolve
from ifrnet.methods.training import (
    TensorTriples,
    TrainSettings,
    _optimizer,
    infer,
    relative_l2,
    train,
    training_steps,
)
from ifrnet.numerics.forward_model import ForwardModel
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


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max |b|."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def float64_difference(
    net: torch.nn.Module, images: np.ndarray, mask: np.ndarray, device: str, real: bool
) -> float:
    """Largest difference device vs CPU of one float64 forward/backward pass (two images;
    complex data: a phase ramp added): of the output relative to max |output|, and of every
    parameter gradient relative to the largest gradient entry of the network (a gradient that
    is zero in exact arithmetic, e.g. D5-C5's last biases, is rounding noise on both sides)."""
    target = torch.from_numpy(images[:2]).to(torch.complex128)
    if not real:
        ramp = torch.linspace(0, 1.5, images.shape[-1], dtype=torch.float64)
        target = target * torch.exp(1j * ramp)
    m = torch.from_numpy(mask.astype(np.float64))
    kspace = ForwardModel(m).A(target)
    results = []
    for where in ("cpu", device):
        copy_ = copy.deepcopy(net).double().to(where).train()
        out = copy_(kspace.to(where), m.to(where))
        relative_l2(out, target.to(where)).backward()
        grads = [p.grad.cpu() for p in copy_.parameters() if p.grad is not None]
        results.append((out.detach().cpu(), grads))
    (out_cpu, grads_cpu), (out_dev, grads_dev) = results
    if len(grads_cpu) != len(grads_dev):
        return float("inf")
    scale = max(g.abs().max().item() for g in grads_cpu)
    errors = [(d - c).abs().max().item() / scale for c, d in zip(grads_cpu, grads_dev, strict=True)]
    return max([_relative(out_dev, out_cpu), *errors])


def compare(
    eager: dict[str, torch.Tensor], captured: dict[str, torch.Tensor], rtol: float
) -> tuple[float, list[str]]:
    """(largest relative difference, mismatches) between two runs' tensors by name: max |a − b|
    over max |eager| (names starting with ``grad``: over the largest eager gradient entry); a
    mismatch is a missing name, another shape, a non-finite value or a difference > ``rtol``."""
    grads = [t.abs().max() for k, t in eager.items() if k.startswith("grad") and t.numel()]
    grad_scale = float(max(grads)) if grads else 0.0
    worst, mismatches = 0.0, []
    for key in sorted(set(eager) | set(captured)):
        if key not in eager or key not in captured:
            mismatches.append(f"{key}: only in the {'eager' if key in eager else 'captured'} run")
            continue
        a, b = captured[key].detach().double().cpu(), eager[key].detach().double().cpu()
        if a.shape != b.shape:
            mismatches.append(f"{key}: shape {tuple(a.shape)}, eager {tuple(b.shape)}")
            continue
        if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
            mismatches.append(f"{key}: non-finite values")
            continue
        if not a.numel():
            continue
        scale = grad_scale if key.startswith("grad") else float(b.abs().max())
        error = float((a - b).abs().max()) / max(scale, 1e-30)
        worst = max(worst, error)
        if error > rtol:
            mismatches.append(f"{key}: differs by {error:.1e} of its scale (> {rtol:.0e})")
    return worst, mismatches


def captured_vs_eager(
    net: torch.nn.Module,
    triples: TensorTriples,
    device: str,
    steps: int,
    rtol: float,
) -> tuple[float, list[str]]:
    """Run the trainer's step ``steps`` times (batch 1, Adam, relative ℓ2) and then the inference
    forward on copies of ``net``, eagerly and replaying graphs (CUDA graphs on CUDA, PythonGraph
    elsewhere), and :func:`compare` the losses, output, last gradients and updated weights."""
    graph = None if torch.device(device).type == "cuda" else capture.PythonGraph
    settings = TrainSettings(epochs=1, lr=1e-4, device=device)
    k, m, t = (x.to(device) for x in (triples.kspace, triples.mask, triples.target))
    runs = {}
    # deterministic cuDNN: Adam turns a gradient that is rounding noise (zero in exact
    # arithmetic) into lr-sized steps, so noise that differed between the runs would show
    cudnn = torch.backends.cudnn
    flags = dict(enabled=cudnn.enabled, benchmark=False, deterministic=True)
    for captured in (False, True):
        copy_ = copy.deepcopy(net).to(device).train()
        optimizer = _optimizer(copy_, settings, capturable=captured)
        step, _ = training_steps(copy_, optimizer, relative_l2, None, captured, graph)
        forward = capture.CapturedStep(copy_, enabled=captured, graph=graph, name="forward")
        with cudnn.flags(**flags, allow_tf32=cudnn.allow_tf32):
            losses = [step(k[i : i + 1], m[None], t[i : i + 1]) for i in range(steps)]
            copy_.eval()
            with torch.no_grad():
                outputs = [forward(k[i : i + 2], m.expand(2, *m.shape)) for i in range(steps)]
        run = {"loss": torch.stack(losses), "output": torch.view_as_real(outputs[-1])}
        for name, p in copy_.named_parameters():
            run[f"weight {name}"] = p
            if p.grad is not None:
                run[f"grad {name}"] = p.grad
        runs[captured] = run
    return compare(runs[False], runs[True], rtol)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-9, help="float64 check")
    parser.add_argument("--capture-steps", type=int, default=5, help="captured = eager check")
    parser.add_argument("--rtol", type=float, default=1e-4, help="captured = eager check")
    parser.add_argument("--capture-only", action="store_true", help="only captured = eager")
    parser.add_argument("--networks", help="comma-separated registry names (default: all)")
    args = parser.parse_args(argv)
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
    print(
        f"{'network':10}{'trainer':>9}{'|dev−cpu|':>12}{'f64 real':>10}{'f64 cplx':>10}"
        f"{'train img/s':>13}{'infer img/s':>13}{'|capt−eager|':>14}"
    )
    failed, found = [], networks()
    chosen = args.networks.split(",") if args.networks else list(found)
    for name in chosen:
        params = found.get(name, NETWORKS.get(name, {}))
        torch.manual_seed(0)
        net = build_network(name, params, real=True)
        captured_error, mismatches = captured_vs_eager(
            net, triples, args.device, args.capture_steps, args.rtol
        )
        for line in mismatches:
            print(f"  {name} captured ≠ eager: {line}")
        if args.capture_only:
            print(f"{name:10}{'':>67}{captured_error:14.1e}", flush=True)
            if mismatches:
                failed.append(name)
            continue
        settings = TrainSettings(
            epochs=1, lr=1e-4, device=args.device, progress=False, checkpoint_every=4
        )
        with tempfile.TemporaryDirectory() as out:
            result = train(net, triples, triples, settings, out)
        status = "ok" if np.isfinite(result.best_val) else "nan"
        on_device, _ = infer(net, kspace[:2], mask, 2, args.device)
        on_cpu, _ = infer(net, kspace[:2], mask, 2, "cpu")
        diff = np.abs(on_device - on_cpu).max() / np.abs(on_cpu).max()
        f64 = []
        for real in (True, False):
            torch.manual_seed(0)
            fresh = build_network(name, params, real=real)
            if real:
                fresh.load_state_dict(net.state_dict())  # the trained weights
            f64.append(float64_difference(fresh, images, mask, args.device, real))
        if status != "ok" or max(f64) > args.tolerance or mismatches:
            failed.append(name)
        train_rate, infer_rate = speed(
            net, triples.kspace, triples.mask, triples.target, args.steps, args.device
        )
        print(
            f"{name:10}{status:>9}{diff:12.1e}{f64[0]:10.1e}{f64[1]:10.1e}"
            f"{train_rate:13.2f}{infer_rate:13.2f}{captured_error:14.1e}",
            flush=True,
        )
    print(f"failed: {', '.join(failed)}" if failed else "all checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""IFR-Net against IFR-CS, the iterative method it unrolls: seconds per image and PSNR on the
same test images, measured in one run.

Uses the default study's outputs for one experiment (trained IFR-Net, tuned IFR-CS constants):

    python benchmarks/ifrcs_vs_ifrnet.py [--dataset brain-real] [--mask radial-r0.20]
                                         [--threads 2] [--repeats 3]
                                         [--config config/config.yaml]

(with ``--config config/brain.yaml`` after that study, on the real brain images).

IFR-CS is timed as the study runs it (tuned constants and number of iterations) and run to
convergence (relative change < 1e-6, at most 2000 iterations). Both methods get the whole test
split as one batch after one warm-up call; times are medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ifrnet.bench import paths  # noqa: E402
from ifrnet.bench.artefacts import mask_file  # noqa: E402
from ifrnet.bench.config import load_config  # noqa: E402
from ifrnet.bench.pipeline import build_method  # noqa: E402
from ifrnet.bench.tuning import read_tuned  # noqa: E402
from ifrnet.methods.registry import resolve  # noqa: E402
from ifrnet.numerics.measure import measured_split  # noqa: E402
from ifrnet.numerics.metrics import evaluate  # noqa: E402

NOMINAL = "ifrnet-s9-k2-l8-dct"


def timed(method, kspace: np.ndarray, mask: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """Median seconds per image over ``repeats`` calls on the batch, and the last output."""
    method.warm_up(kspace, mask)
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = method(kspace, mask)
        times.append((time.perf_counter() - start) / len(kspace))
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="brain-real")
    parser.add_argument("--mask", default="radial-r0.20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "config" / "config.yaml",
        help="the study's config (validated like the workflow's)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config, ROOT / "config" / "schema.yaml")
    split = measured_split(
        ROOT / paths.prepared(args.dataset, "test"),
        ROOT / mask_file(config, args.dataset, args.mask),
    )
    images, mask, kspace, real = split.images, split.mask.array, split.kspace, split.real
    checkpoint = ROOT / paths.checkpoint(args.dataset, args.mask, NOMINAL)
    tuned = ROOT / paths.tuning(args.dataset, args.mask, "ifrcs")
    ifrcs_spec = config["models"]["ifrcs"]
    converged = {**ifrcs_spec["params"], **read_tuned(tuned), "max_iter": 2000, "tol": 1e-6}
    methods = {
        "IFR-Net": build_method(
            config["models"][NOMINAL], real, checkpoint=checkpoint, batch_size=len(images)
        ),
        "IFR-CS (study settings)": build_method(ifrcs_spec, real, tuned=tuned),
        "IFR-CS (to convergence)": resolve(ifrcs_spec["method"])(real=real, **converged),
    }
    rows = {}
    for name, method in methods.items():
        seconds, out = timed(method, kspace, mask, args.repeats if name == "IFR-Net" else 1)
        psnr = float(np.mean([evaluate(r, t)["psnr"] for r, t in zip(out, images, strict=True)]))
        iters = getattr(method, "iterations", None)
        rows[name] = (seconds, psnr, iters)
        print(
            f"{name:26s} {seconds * 1000:9.1f} ms/image  PSNR {psnr:6.2f} dB"
            + (f"  ({iters} iterations)" if iters else ""),
            flush=True,
        )
    fast = rows["IFR-Net"][0]
    for name in ("IFR-CS (study settings)", "IFR-CS (to convergence)"):
        seconds, psnr, _ = rows[name]
        print(
            f"IFR-Net is {seconds / fast:6.1f}× faster than {name}, "
            f"{rows['IFR-Net'][1] - psnr:+.2f} dB"
        )


if __name__ == "__main__":
    main()

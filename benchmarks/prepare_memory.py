"""Peak memory and time of data preparation as the data set grows: does preparing stream?

Builds synthetic data sets at 1× and 10× the paper's fastMRI knee set (``config/paper.yaml``:
400 train, 20 val, 50 test slices, 8 per volume: 60 volumes at 1×, 590 at 10×) in two
layouts — a fastMRI folder (``singlecoil_train/``, ``singlecoil_val/`` of single-coil HDF5
volumes) and a ``folder`` source folder (one ``.npy`` stack of 8 slices per volume) — and runs
``ifrnet prepare`` on each in a fresh process, reporting its peak resident memory (``ru_maxrss``
of that process) and wall time. The number of slices and volumes is the paper's times the scale;
each slice is smaller than fastMRI's (k-space 192×160, cropped to 128, instead of 640×368 and
320) so that the 10× set is 1.6 GB on disk, not 9 GB. Streaming preparation keeps its peak
memory flat as the scale grows and its time linear in it (a straight-line fit is printed:
process start-up plus a cost per slice).

    python benchmarks/prepare_memory.py                 # 1×, 2×, 5×, 10×, both layouts
    python benchmarks/prepare_memory.py --code DIR      # the same for another tree (git archive)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAPER = {"n_train": 400, "n_val": 20, "n_test": 50}  # config/paper.yaml, knee-complex
PER_VOLUME = 8
KSPACE = (192, 160)
CROP = 128


def fastmri_folder(root: Path, scale: int) -> dict:
    """A fastMRI layout holding ``scale`` times the paper's slices; returns its data-set entry."""
    counts = {key: value * scale for key, value in PAPER.items()}
    parts = {
        "singlecoil_train": counts["n_train"] + counts["n_val"],
        "singlecoil_val": counts["n_test"],
    }
    rng = np.random.default_rng(0)
    for part, slices in parts.items():
        (root / part).mkdir(parents=True)
        for v in range(math.ceil(slices / PER_VOLUME)):
            shape = (PER_VOLUME, *KSPACE)
            kspace = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
                np.complex64
            )
            with h5py.File(root / part / f"file{v:04d}.h5", "w") as f:
                f.create_dataset("kspace", data=kspace)
                f.create_dataset("reconstruction_esc", shape=(PER_VOLUME, CROP, CROP), dtype="f4")
                f.attrs["max"] = 1.0
    return {
        "source": "fastmri",
        "dir": str(root),
        "kind": "complex",
        "size": CROP,
        "crop": CROP,
        "per_volume": PER_VOLUME,
        "noise_sigma": 0.0,
        **counts,
    }


def slice_folder(root: Path, scale: int) -> dict:
    """A ``folder`` source of ``scale`` times the paper's slices, 8 per file (real images)."""
    counts = {key: value * scale for key, value in PAPER.items()}
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for v in range(math.ceil(sum(counts.values()) / PER_VOLUME) + 1):
        side = CROP + 16
        np.save(root / f"vol{v:04d}.npy", rng.random((PER_VOLUME, side, side)) + 0.01)
    return {
        "source": "folder",
        "dir": str(root),
        "kind": "complex",
        "size": CROP,
        "noise_sigma": 0.0,
        **counts,
    }


def measure(spec: dict, out: Path, code: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``ifrnet prepare`` for ``spec`` run from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "ifrnet.bench.cli", "prepare", "--dataset", "big"]
    argv += ["--spec", json.dumps(spec), "--out-dir", str(out)]
    tic = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=code, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - tic
    if status != 0:
        raise SystemExit(f"prepare failed ({status}) for {spec['source']}")
    return usage.ru_maxrss / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--code", type=Path, default=ROOT, help="tree whose ifrnet runs")
    parser.add_argument("--work", type=Path, help="folder for the data (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        rows = []
        for name, build in (("fastmri", fastmri_folder), ("folder", slice_folder)):
            for scale in args.scales:
                data = Path(tmp) / f"{name}-{scale}"
                spec = build(data / "source", scale)
                rss, seconds = measure(spec, data / "prepared", args.code.resolve())
                size = sum(f.stat().st_size for f in (data / "prepared").iterdir()) / 1e6
                slices = sum(spec[k] for k in PAPER)
                rows.append((name, scale, slices, size, rss, seconds))
                print(
                    f"{name:8s} {scale:3d}×: {slices:5d} slices, prepared {size:7.1f} MB, "
                    f"peak RSS {rss:7.1f} MB, {seconds:6.1f} s",
                    flush=True,
                )
                subprocess.run(["rm", "-rf", str(data)], check=True)
        for name in ("fastmri", "folder"):
            mine = [r for r in rows if r[0] == name]
            first, last = mine[0], mine[-1]
            slices, seconds = np.array([r[2] for r in mine]), np.array([r[5] for r in mine])
            slope, start = np.polyfit(slices, seconds, 1)
            worst = np.abs(seconds - (start + slope * slices)).max() / seconds.max()
            print(
                f"{name}: {last[1] // first[1]}× the slices → peak RSS ×{last[4] / first[4]:.2f}, "
                f"time ×{last[5] / first[5]:.2f}; time ≈ {start:.1f} s + {1e3 * slope:.2f} ms "
                f"per slice (largest misfit {100 * worst:.0f} % of the longest run)"
            )


if __name__ == "__main__":
    main()

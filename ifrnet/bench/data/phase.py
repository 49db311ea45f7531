"""Smooth synthetic phase for complex-valued experiments on magnitude-only sources."""

from __future__ import annotations

import numpy as np

SPAN = 1.8 * np.pi  # peak-to-peak phase range, radians


def smooth_phase(shape: tuple[int, int], seed: int, max_frequency: int = 2) -> np.ndarray:
    """A seeded smooth phase map, float32 (H, W) in radians, zero mean, spanning 1.8π.

    A sum of a linear ramp and 2-D cosines with spatial frequencies up to ``max_frequency``
    cycles per field of view, random amplitudes and offsets, rescaled to a peak-to-peak range
    of ``SPAN`` (1.8π). Such slowly varying phase mimics B0/receive-coil phase in real acquisitions.
    """
    rng = np.random.default_rng(seed)
    rows = np.linspace(-0.5, 0.5, shape[0], dtype=np.float64)[:, None]
    cols = np.linspace(-0.5, 0.5, shape[1], dtype=np.float64)[None, :]
    phase = rng.normal() * rows + rng.normal() * cols
    for fy in range(max_frequency + 1):
        for fx in range(max_frequency + 1):
            if fx == fy == 0:
                continue
            amp = rng.normal() / (1.0 + fx + fy)
            offset = rng.uniform(0, 2 * np.pi)
            phase = phase + amp * np.cos(2 * np.pi * (fy * rows + fx * cols) + offset)
    phase = phase - phase.mean()
    span = phase.max() - phase.min()
    return (phase * (SPAN / span)).astype(np.float32)

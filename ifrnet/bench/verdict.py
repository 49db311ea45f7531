"""Whether one measured difference supports a claim: the verdict rule of the claims table.

A claim of the paper ("IFR-Net is better than IFR-CS in PSNR") is checked as one or more
comparisons of two sides, *better* and *worse*, on one metric, each measured on the same test
images by one or more runs (training seeds): arrays ``better`` (seeds_b, images) and ``worse``
(seeds_w, images). Orientation: the difference Δ is better − worse for a metric where higher is
better (PSNR, SSIM) and worse − better where lower is (HFEN), so Δ > 0 always means "as the
paper says".

Δ is the mean over all runs and images of one side minus that of the other. Its standard error
adds the two sources of noise the study can see:

* test images: the per-image differences d_i (each side averaged over its seeds first),
  s²(d) / n;
* training seeds: with independent trainings (two models), s²(per-seed means of better) / k_b +
  s²(per-seed means of worse) / k_w; with the same trainings on both sides (stage outputs of one
  network, ``paired_seeds``), s²(per-seed differences) / k.

A side with one seed contributes no seed term: its training noise is unknown, not zero, which
the claims table says. (The image term already holds part of the seed noise, so the sum is on
the conservative side.) With one image and one seed there is no noise estimate at all: the
interval is unbounded (within noise). The 95 % confidence interval is Δ ± t · SE with t the
0.975 quantile of Student's t at the Welch–Satterthwaite degrees of freedom of the terms (each
term's own: n − 1, k − 1). Verdict: **holds** when the interval lies above 0,
**contradicted** when it lies below 0, **within noise** when it contains 0. The paper's own
difference is reported beside it, with whether it lies inside our interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

HOLDS, CONTRADICTED, WITHIN_NOISE, NOT_RUN = "holds", "contradicted", "within noise", "not run"
LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    """One comparison measured: Δ (oriented: > 0 as claimed), its standard error, degrees of
    freedom, 95 % interval and verdict; the numbers of images and of seeds on each side."""

    diff: float
    se: float
    dof: float
    low: float
    high: float
    verdict: str
    images: int
    seeds_better: int
    seeds_worse: int

    @property
    def t(self) -> float:
        """Δ / SE: how many standard errors Δ lies from 0 (±inf for SE = 0 and Δ ≠ 0)."""
        if self.se > 0:
            return self.diff / self.se
        return 0.0 if self.diff == 0 else math.copysign(math.inf, self.diff)


def _var(values: np.ndarray) -> float:
    """Sample variance (ddof = 1); 0 for fewer than two values."""
    return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0


def difference(
    better: np.ndarray,
    worse: np.ndarray,
    higher_is_better: bool,
    paired_seeds: bool = False,
    level: float = LEVEL,
) -> Difference:
    """Measure "``better`` beats ``worse``" on one metric: arrays (seeds, images) of the two
    sides on the same images (columns paired); ``paired_seeds``: row s of both sides comes from
    the same training run (then both have the same number of rows)."""
    better = np.atleast_2d(np.asarray(better, float))
    worse = np.atleast_2d(np.asarray(worse, float))
    if better.shape[1] != worse.shape[1] or better.shape[1] == 0:
        raise ValueError(
            f"the two sides must hold the same test images, got {better.shape} and {worse.shape}"
        )
    if paired_seeds and better.shape != worse.shape:
        raise ValueError(f"paired runs need equal shapes, got {better.shape} and {worse.shape}")
    sign = 1.0 if higher_is_better else -1.0
    images = better.shape[1]
    per_image = sign * (better.mean(axis=0) - worse.mean(axis=0))
    diff = float(per_image.mean())
    terms = [(_var(per_image) / images, images - 1)]
    if paired_seeds:
        per_seed = sign * (better.mean(axis=1) - worse.mean(axis=1))
        terms.append((_var(per_seed) / len(per_seed), len(per_seed) - 1))
    else:
        for side in (better, worse):
            terms.append((_var(side.mean(axis=1)) / len(side), len(side) - 1))
    terms = [(v, dof) for v, dof in terms if dof > 0]
    variance = sum(v for v, _ in terms)
    se = math.sqrt(variance) if terms else math.inf  # one image, one seed: no noise estimate
    if not terms:
        dof, half = math.nan, math.inf
    elif se > 0:
        dof = variance**2 / sum(v**2 / d for v, d in terms if v > 0)
        half = float(student_t.ppf(0.5 + level / 2, dof)) * se
    else:
        dof, half = math.inf, 0.0
    low, high = diff - half, diff + half
    if low > 0:
        verdict = HOLDS
    elif high < 0:
        verdict = CONTRADICTED
    else:
        verdict = WITHIN_NOISE
    return Difference(diff, se, dof, low, high, verdict, images, len(better), len(worse))


def claim_verdict(verdicts: list[str]) -> str:
    """A claim's verdict from its comparisons' (those not run excluded): not run if none ran,
    contradicted if any is, holds if all hold, else within noise."""
    ran = [v for v in verdicts if v != NOT_RUN]
    if not ran:
        return NOT_RUN
    if CONTRADICTED in ran:
        return CONTRADICTED
    return HOLDS if all(v == HOLDS for v in ran) else WITHIN_NOISE

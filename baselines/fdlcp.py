"""FDLCP, fast dictionary learning on classified patches (Zhan et al., IEEE TBME 63(9), 2016),
on SigPy.

No public code exists; this follows the paper's model. P×P patches on a grid (circular
boundaries) are classified by their geometric direction: the orientation of the patch's
structure tensor (gradients of the magnitude image) quantised into ``directions`` classes over
[0, π), plus a *smooth* class 0 for patches whose gradient energy is below ``smooth_level``
times the mean over patches. Each class learns an orthogonal dictionary D_c (P² × P²), starting
from the 2-D DCT, by alternating sparse coding (keep the ``keep`` largest coefficients of each
patch) and the Procrustes update D_c = U Vᵀ from the SVD U Σ Vᵀ of Σ p aᵀ. With coefficients
Ψx = {D_cᵀ w ⊙ p} the operator is a Parseval frame (:mod:`baselines.patches`), and the
reconstruction solves min ½‖M ⊙ F x − y‖² + λ‖Ψx‖₁ by ADMM with a closed-form k-space x-update;
classes and dictionaries are re-learned from the iterate before each outer round.

Constants (ours; Zhan et al. use 8×8 patches, a handful of directions plus a smooth class and
orthogonal dictionaries updated by SVD):
    patch = 8, stride = 4        patch side and grid spacing (pixels)
    directions = 8               orientation classes over [0, π)
    smooth_level = 0.1           smooth class: gradient energy < 0.1 × mean energy
    keep = 8, learn_iter = 5     sparse-coding support per patch; alternations per learning
    outer = 4, inner = 15        learning rounds; ADMM iterations per round
λ (``lam``) and ρ (``rho``) are tuned on the validation split (config ``tune``).
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from baselines.patches import PatchADMM, PatchFrame, patch_indices, reference_corners


def dct_dictionary(size: int) -> np.ndarray:
    """Orthonormal 2-D DCT-II dictionary (size², size²); columns are atoms."""
    basis = dct(np.eye(size), norm="ortho", axis=0).T  # columns: 1-D DCT atoms
    return np.kron(basis, basis)


def classify_patches(
    guide: np.ndarray, index: np.ndarray, directions: int, smooth_level: float
) -> np.ndarray:
    """Class per patch (G,): 0 smooth, 1..directions by structure-tensor orientation.

    guide (H, W) real; index (G, P²) flat pixel indices of the patches.
    """
    gy = (np.roll(guide, -1, 0) - np.roll(guide, 1, 0)).ravel() / 2
    gx = (np.roll(guide, -1, 1) - np.roll(guide, 1, 1)).ravel() / 2
    jxx, jyy, jxy = ((a * b)[index].sum(1) for a, b in ((gx, gx), (gy, gy), (gx, gy)))
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy) % np.pi
    classes = 1 + np.minimum((angle / np.pi * directions).astype(int), directions - 1)
    energy = jxx + jyy
    classes[energy < smooth_level * energy.mean()] = 0
    return classes


def learn_orthogonal_dictionary(
    samples: np.ndarray, init: np.ndarray, keep: int, iterations: int
) -> np.ndarray:
    """Orthogonal D (n, n) minimising ‖P − D A‖ with ``keep``-sparse columns of A.

    samples (N, n) real, one patch per row; alternates hard sparse coding A = top_k(Dᵀ p) and
    the Procrustes update D = U Vᵀ (U Σ Vᵀ = P Aᵀ).
    """
    d = init
    for _ in range(iterations):
        codes = samples @ d
        cutoff = -np.partition(-np.abs(codes), keep - 1, axis=1)[:, keep - 1 : keep]
        codes[np.abs(codes) < cutoff] = 0.0
        u, _, vt = np.linalg.svd(samples.T @ codes)
        d = u @ vt
    return d


def fdlcp_frame(
    guide: np.ndarray,
    size: int = 8,
    stride: int = 4,
    directions: int = 8,
    smooth_level: float = 0.1,
    keep: int = 8,
    learn_iter: int = 5,
) -> PatchFrame:
    """The FDLCP operator for a guide image (H, W): classify patches, learn one orthogonal
    dictionary per class, analyse each patch with its class's dictionary."""
    index = patch_indices(reference_corners(guide.shape, stride), guide.shape, size)
    classes = classify_patches(np.abs(guide), index, directions, smooth_level)
    patches = guide.ravel()[index]
    init = dct_dictionary(size)
    dictionaries = {}
    for c in np.unique(classes):
        own = patches[classes == c]
        samples = np.concatenate([own.real, own.imag]) if np.iscomplexobj(own) else own
        learned = (
            learn_orthogonal_dictionary(samples, init, keep, learn_iter)
            if len(own) >= size * size
            else init
        )
        dictionaries[c] = learned.astype(np.float32)

    def apply(p: np.ndarray, transpose: bool) -> np.ndarray:
        out = np.empty_like(p)
        for c, d in dictionaries.items():
            sel = classes == c
            out[sel] = p[sel] @ (d.T if transpose else d)
        return out

    return PatchFrame(
        guide.shape, index[:, None], lambda p: apply(p, False), lambda c: apply(c, True)
    )


class FDLCP(PatchADMM):
    """FDLCP reconstruction with λ (``lam``), ρ (``rho``) and the constants of the module
    docstring."""

    def __init__(
        self,
        real: bool = False,
        lam: float = 0.01,
        rho: float = 0.5,
        outer: int = 4,
        inner: int = 15,
        patch: int = 8,
        stride: int = 4,
        directions: int = 8,
        smooth_level: float = 0.1,
        keep: int = 8,
        learn_iter: int = 5,
        device: str = "cpu",
    ) -> None:
        super().__init__(real, lam, rho, outer, inner)
        if not 1 <= stride <= patch or directions < 1 or not 1 <= keep <= patch * patch:
            raise ValueError(
                f"FDLCP needs 1 ≤ stride ≤ patch, directions ≥ 1 and "
                f"1 ≤ keep ≤ patch²; got stride={stride}, patch={patch}, "
                f"directions={directions}, keep={keep}"
            )
        self.settings = dict(
            size=patch,
            stride=stride,
            directions=directions,
            smooth_level=smooth_level,
            keep=keep,
            learn_iter=learn_iter,
        )

    def frame(self, guide: np.ndarray) -> PatchFrame:
        """Ψ for a guide image (H, W)."""
        return fdlcp_frame(guide, **self.settings)

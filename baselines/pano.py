"""PANO, the patch-based nonlocal operator (Qu et al., Med. Image Anal. 18(6), 2014), on SigPy.

No public code exists; this follows the paper's model. For each reference patch, the ``group``
most similar patches of a guide image (squared Euclidean distance of magnitudes, searched in a
window of ±``window`` pixels, circular boundaries) are stacked in order of distance, and an
orthonormal Haar transform along the stack sparsifies the group (similar patches → small
detail coefficients). The resulting operator Ψ is a Parseval frame (:mod:`baselines.patches`),
and the reconstruction solves min ½‖M ⊙ F x − y‖² + λ‖Ψx‖₁ by ADMM with a closed-form k-space
x-update. The guide is first the zero-filled image, then the current iterate before each outer
round (re-matching).

Constants (ours; Qu et al. use 8×8 patches, groups of 8 and a Haar transform, and re-match on
the improving image):
    patch  = 8    patch side P (pixels)
    stride = 4    spacing of the reference patches (each pixel is in ≥ 4 reference patches)
    window = 10   search window ±10 pixels around the reference (21×21 candidates)
    group  = 8    patches per group Q (a power of two for the Haar transform)
    outer  = 4    rounds of matching;  inner = 15 ADMM iterations per round
λ (``lam``) and ρ (``rho``) are tuned on the validation split (config ``tune``).
"""

from __future__ import annotations

import numpy as np

from baselines.patches import PatchADMM, PatchFrame, patch_indices, reference_corners


def haar_matrix(n: int) -> np.ndarray:
    """Orthonormal Haar transform (n, n), n a power of two; row 0 is the (scaled) mean."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"Haar transform needs a power-of-two length, got {n}")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.vstack([np.kron(h, [1.0, 1.0]), np.kron(np.eye(h.shape[0]), [1.0, -1.0])])
        h /= np.sqrt(2.0)
    return h


def _grid_box_sums(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """Σ of values (n, H, W) over the size×size circular boxes whose top-left corners form the
    grid rows × cols → (n, len(rows) · len(cols)), by cumulative sums along each axis."""
    n, h, w = values.shape
    wrapped = np.concatenate([values, values[:, : size - 1]], axis=1)
    wrapped = np.concatenate([wrapped, wrapped[:, :, : size - 1]], axis=2)
    cum = np.zeros((n, h + size, w + size - 1))
    np.cumsum(wrapped, axis=1, out=cum[:, 1:])
    row_sums = cum[:, rows + size] - cum[:, rows]  # (n, R, W + size − 1)
    cum = np.zeros((n, len(rows), w + size))
    np.cumsum(row_sums, axis=2, out=cum[:, :, 1:])
    return (cum[:, :, cols + size] - cum[:, :, cols]).reshape(n, -1)


def block_match(guide: np.ndarray, size: int, stride: int, window: int, group: int) -> np.ndarray:
    """Top-left corners (G, Q, 2) of the ``group`` patches nearest to each reference patch of
    ``guide`` (H, W) real, nearest first; the reference itself is always first."""
    shape = guide.shape
    rows, cols = np.arange(0, shape[0], stride), np.arange(0, shape[1], stride)
    refs = reference_corners(shape, stride)
    span = np.arange(-window, window + 1)
    offsets = np.stack(np.meshgrid(span, span, indexing="ij"), -1).reshape(-1, 2)
    if group > len(offsets):
        raise ValueError(f"group {group} exceeds the {len(offsets)} candidates of window {window}")
    dist = np.empty((len(offsets), len(refs)))
    for start in range(0, len(offsets), 64):
        chunk = offsets[start : start + 64]
        shifted = np.stack([np.roll(guide, (-dy, -dx), axis=(0, 1)) for dy, dx in chunk])
        dist[start : start + 64] = _grid_box_sums((shifted - guide) ** 2, rows, cols, size)
    dist[len(offsets) // 2] = -1.0  # offset (0, 0): the reference patch leads its group
    nearest = np.argpartition(dist, group - 1, axis=0)[:group]
    order = np.argsort(np.take_along_axis(dist, nearest, 0), axis=0, kind="stable")
    chosen = offsets[np.take_along_axis(nearest, order, 0)]  # (Q, G, 2)
    return (refs[None] + chosen).transpose(1, 0, 2) % np.array(shape)


def pano_frame(
    guide: np.ndarray, size: int = 8, stride: int = 4, window: int = 10, group: int = 8
) -> PatchFrame:
    """The PANO operator for a guide image (H, W): block matching + Haar along each group."""
    haar = haar_matrix(group).astype(np.float32)
    corners = block_match(np.abs(guide), size, stride, window, group)
    index = patch_indices(corners, guide.shape, size)
    return PatchFrame(guide.shape, index, lambda p: haar @ p, lambda c: haar.T @ c)


class PANO(PatchADMM):
    """PANO reconstruction with λ (``lam``), ρ (``rho``) and the constants of the module
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
        window: int = 10,
        group: int = 8,
        device: str = "cpu",
    ) -> None:
        super().__init__(real, lam, rho, outer, inner)
        haar_matrix(group)
        if not 1 <= stride <= patch:
            raise ValueError(f"PANO needs 1 ≤ stride ≤ patch, got stride={stride}, patch={patch}")
        self.patch, self.stride, self.window, self.group = patch, stride, window, group

    def frame(self, guide: np.ndarray) -> PatchFrame:
        """Ψ for a guide image (H, W)."""
        return pano_frame(guide, self.patch, self.stride, self.window, self.group)

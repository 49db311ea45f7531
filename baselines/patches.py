"""Patch frames and the ADMM solver shared by the patch-based baselines PANO and FDLCP.

A *patch frame* Ψ maps an image x (H, W) to coefficients (G, Q, P²): G groups of Q square
P×P patches (circular boundaries), each pixel first weighted by w = count^{-1/2}, where count
is how many patches cover it, then each group transformed by an orthogonal matrix (a Haar
transform along the group for PANO, a learned dictionary per class for FDLCP). Because the
group transforms are orthogonal, ΨᴴΨ = W Pᴴ P W = diag(w² · count) = I: a Parseval tight frame
(c = 1) as long as every pixel is covered, which the reference grid with stride ≤ P
guarantees. That makes the ADMM x-update of

    min_x ½‖M ⊙ F x − y‖² + λ‖Ψ x‖₁

closed form in k-space (docs/methods.md §5):

    x ← F⁻¹[(y + ρ F Ψᴴ(z − u)) / (M + ρ)],  z ← S_{λ/ρ}(Ψx + u),  u ← u + Ψx − z,

with S the complex soft-threshold (the prox of ‖·‖₁, as :func:`sigpy.thresh.soft_thresh`).
The frame depends on the current image (patch matching, classification, dictionaries), so it
is rebuilt from the iterate every ``inner`` iterations, and z, u restart from Ψx.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sigpy as sp

from ifrnet.methods.method import Method
from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.util.progress import Progress

GroupTransform = Callable[[np.ndarray], np.ndarray]


def reference_corners(shape: tuple[int, int], stride: int) -> np.ndarray:
    """Top-left corners (G, 2) of the reference patches: a grid with ``stride`` over the image."""
    rows, cols = np.meshgrid(
        np.arange(0, shape[0], stride), np.arange(0, shape[1], stride), indexing="ij"
    )
    return np.stack([rows.ravel(), cols.ravel()], axis=1)


def patch_indices(corners: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """Flat pixel indices (…, size²) of the size×size patches with top-left ``corners`` (…, 2),
    wrapping circularly."""
    offsets = np.arange(size)
    rows = (corners[..., 0, None, None] + offsets[:, None]) % shape[0]
    cols = (corners[..., 1, None, None] + offsets[None, :]) % shape[1]
    return (rows * shape[1] + cols).reshape(*corners.shape[:-1], size * size)


def soft_threshold(values: np.ndarray, threshold: float) -> np.ndarray:
    """Complex soft-threshold S_t(v) = v · max(|v| − t, 0) / |v| (the prox of t‖·‖₁)."""
    magnitude = np.abs(values)
    scale = np.maximum(magnitude - threshold, 0.0)
    np.divide(scale, magnitude, out=scale, where=magnitude > 0)
    return values * scale


def _scatter_add(values: np.ndarray, index: np.ndarray, length: int) -> np.ndarray:
    """Sum ``values`` into an array of ``length`` at ``index`` (both flat); complex allowed."""
    out = np.bincount(index, weights=values.real, minlength=length).astype(np.float32)
    if np.iscomplexobj(values):
        out = out + 1j * np.bincount(index, weights=values.imag, minlength=length).astype(
            np.float32
        )
    return out


class PatchFrame(sp.linop.Linop):
    """Ψ: image (H, W) → coefficients (G, Q, P²), a Parseval frame (see module docstring).

    ``index`` (G, Q, P²) holds flat pixel indices of each patch; ``forward``/``backward`` apply
    the orthogonal group transform and its inverse (transpose) to (G, Q, P²) arrays.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        index: np.ndarray,
        forward: GroupTransform,
        backward: GroupTransform,
        adjoint: bool = False,
    ) -> None:
        self.shape, self.index = tuple(shape), index
        self.forward, self.backward = forward, backward
        count = np.bincount(index.ravel(), minlength=shape[0] * shape[1])
        if (count == 0).any():
            raise ValueError("patch frame leaves pixels uncovered; use a stride ≤ the patch size")
        self.weight = (1.0 / np.sqrt(count)).reshape(shape).astype(np.float32)
        self.adjoint = adjoint
        coeff_shape = index.shape
        if adjoint:
            super().__init__(self.shape, coeff_shape)
        else:
            super().__init__(coeff_shape, self.shape)

    def _apply(self, input: np.ndarray) -> np.ndarray:
        if self.adjoint:
            patches = self.backward(input)
            n = self.shape[0] * self.shape[1]
            image = _scatter_add(patches.ravel(), self.index.ravel(), n).reshape(self.shape)
            return image * self.weight
        return self.forward((input * self.weight).ravel()[self.index])

    def _adjoint_linop(self) -> PatchFrame:
        return PatchFrame(
            self.shape, self.index, self.forward, self.backward, adjoint=not self.adjoint
        )


FrameBuilder = Callable[[np.ndarray], PatchFrame]


def objective(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray, coeffs: np.ndarray, lam: float
) -> float:
    """½‖M ⊙ F x − y‖² + λ‖Ψ x‖₁, given the coefficients Ψx."""
    residual = ForwardModel(mask).A(x) - y
    return float(0.5 * np.sum(np.abs(residual) ** 2) + lam * np.sum(np.abs(coeffs)))


def patch_admm(
    y: np.ndarray,
    mask: np.ndarray,
    build_frame: FrameBuilder,
    lam: float,
    rho: float,
    outer: int,
    inner: int,
    real: bool,
    history: list[float] | None = None,
    on_iteration: Callable[[], object] | None = None,
) -> np.ndarray:
    """ADMM for one image: y complex (H, W) sampled k-space, mask (H, W) {0,1}; returns x (H, W).

    The frame is built from the zero-filled image, then rebuilt from the iterate before each of
    the ``outer`` rounds of ``inner`` ADMM iterations. ``history`` (if given) receives the
    objective after every x-update; ``on_iteration`` (if given) is called after each iteration.
    """
    y = y.astype(np.complex64)
    m = mask.astype(np.float32)
    op = ForwardModel(m)
    x = op.A_dagger(y)
    x = x.real if real else x
    for _ in range(outer):
        frame = build_frame(x)
        z = frame(x)
        u = np.zeros_like(z)
        for _ in range(inner):
            x = op.data_consistency(frame.H(z - u), y, rho)
            if real:
                x = x.real
            coeffs = frame(x)
            z = soft_threshold(coeffs + u, lam / rho)
            u = u + coeffs - z
            if history is not None:
                history.append(objective(x, y, m, coeffs, lam))
            if on_iteration is not None:
                on_iteration()
    return x.astype(np.complex64)


class PatchADMM(Method):
    """A patch-frame method solved by :func:`patch_admm`: subclasses define :meth:`frame`.

    ``lam`` (λ), ``rho`` (ρ), ``outer`` rounds of ``inner`` ADMM iterations; ``history`` holds
    the objective after every x-update of the last call.
    """

    def __init__(self, real: bool, lam: float, rho: float, outer: int, inner: int) -> None:
        super().__init__(real=real)
        if lam < 0 or rho <= 0 or outer < 1 or inner < 1:
            raise ValueError(
                f"{type(self).__name__} needs lam ≥ 0, rho > 0, outer ≥ 1, "
                f"inner ≥ 1; got lam={lam}, rho={rho}, outer={outer}, "
                f"inner={inner}"
            )
        self.lam, self.rho, self.outer, self.inner = float(lam), float(rho), int(outer), int(inner)
        self.history: list[float] = []

    def frame(self, guide: np.ndarray) -> PatchFrame:
        """Ψ built from a guide image (H, W)."""
        raise NotImplementedError

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ADMM per image; kspace complex (B, H, W), mask (H, W)."""
        self.history = []
        with Progress(
            len(kspace) * self.outer * self.inner, type(self).__name__, unit=" iterations"
        ) as bar:
            return np.stack(
                [
                    patch_admm(
                        y,
                        mask,
                        self.frame,
                        self.lam,
                        self.rho,
                        self.outer,
                        self.inner,
                        self.real,
                        self.history,
                        bar.update,
                    )
                    for y in kspace
                ]
            )

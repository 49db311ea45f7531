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

from ifrnet.methods.iterative import Driver
from ifrnet.methods.method import Method
from ifrnet.numerics.forward_model import ForwardModel

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


class PatchADMMAlgorithm:
    """ADMM for one image, an :class:`ifrnet.methods.iterative.Algorithm`: one iteration per
    :meth:`step`, the iterate x (H, W) in ``iterate`` (real for real data, else complex).

    y complex (H, W) sampled k-space, mask (H, W) {0,1}. x starts as the zero-filled image; the
    frame is built from the iterate before steps 1, ``inner`` + 1, 2·``inner`` + 1, … (one
    round of ``inner`` iterations per frame), and z, u restart from Ψx.
    """

    def __init__(
        self,
        y: np.ndarray,
        mask: np.ndarray,
        build_frame: FrameBuilder,
        lam: float,
        rho: float,
        inner: int,
        real: bool,
    ) -> None:
        y = y.astype(np.complex64)
        self.y, self.m = y, mask.astype(np.float32)
        self.op = ForwardModel(self.m)
        x = self.op.A_dagger(y)
        self.iterate = x.real if real else x
        self.build_frame, self.inner, self.real = build_frame, inner, real
        self.lam, self.rho = lam, rho
        self.steps_in_round = 0  # the frame is rebuilt when this reaches 0 again
        self.coeffs = np.zeros(0)

    def step(self) -> None:
        """x ← F⁻¹[(y + ρ F Ψᴴ(z − u)) / (M + ρ)], z ← S_{λ/ρ}(Ψx + u), u ← u + Ψx − z."""
        y, rho = self.y, self.rho
        if self.steps_in_round == 0:
            self.frame = self.build_frame(self.iterate)
            self.z = self.frame(self.iterate)
            self.u = np.zeros_like(self.z)
        frame, z, u = self.frame, self.z, self.u
        x = self.op.data_consistency(frame.H(z - u), y, rho)
        if self.real:
            x = x.real
        coeffs = frame(x)
        z = soft_threshold(coeffs + u, self.lam / rho)
        u = u + coeffs - z
        self.iterate, self.coeffs, self.z, self.u = x, coeffs, z, u
        self.steps_in_round = (self.steps_in_round + 1) % self.inner

    def objective(self) -> float:
        """½‖M ⊙ F x − y‖² + λ‖Ψ x‖₁ of the iterate, with the Ψ of its x-update."""
        return objective(self.iterate, self.y, self.m, self.coeffs, self.lam)


class PatchADMM(Method):
    """A patch-frame method solved by :class:`PatchADMMAlgorithm` image by image: subclasses
    define :meth:`frame`.

    ``lam`` (λ), ``rho`` (ρ), ``outer`` rounds of ``inner`` ADMM iterations; ``history`` holds
    the objective after every x-update of the last call (image after image).
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

    def algorithm(self, y: np.ndarray, mask: np.ndarray) -> PatchADMMAlgorithm:
        """The ADMM run for one image: y complex (H, W), mask (H, W)."""
        return PatchADMMAlgorithm(y, mask, self.frame, self.lam, self.rho, self.inner, self.real)

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ADMM per image; kspace complex (B, H, W), mask (H, W)."""
        self.history = []
        steps = self.outer * self.inner
        images = []
        with Driver(type(self).__name__, len(kspace) * steps) as driver:
            for y in kspace:
                algorithm = self.algorithm(y, mask)
                driver.run(
                    algorithm, steps, on_step=lambda _, a: self.history.append(a.objective())
                )
                images.append(algorithm.iterate.astype(np.complex64))
        return np.stack(images)

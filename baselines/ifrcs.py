"""IFR-CS (Wang et al., Phys. Med. Biol. 2016), which IFR-Net unrolls; docs/methods.md §5.

Each iteration n = 1, 2, … runs the three steps of the paper's Fig. 1 / Eq. (3) with fixed
operators and hand-set (here: tuned) constants λ, ρ, V:

    X:  x⁽ⁿ⁾   = F⁻¹[(y + ρ F x_t⁽ⁿ⁻¹⁾) / (M + ρ)]             (Tikhonov / data consistency)
    Z:  u⁽ⁿ⁾   = Ψᵀ S_λ(Ψ x⁽ⁿ⁾) / 9   or   Wᴴ S_λ(W x⁽ⁿ⁾)         (sparsity-promoting denoising)
    R:  x_t⁽ⁿ⁾ = u⁽ⁿ⁾ + T(x⁽ⁿ⁾; V) ⊙ (x⁽ⁿ⁾ − u⁽ⁿ⁾)               (feature refinement)

until ‖x⁽ⁿ⁾ − x⁽ⁿ⁻¹⁾‖ ≤ ``tol`` · ‖x⁽ⁿ⁾‖ for every image or ``max_iter``; the result is the last
x. :class:`IFRCSAlgorithm` holds the steps, :class:`ifrnet.methods.iterative.Driver` the loop,
the stopping rule and the progress output. X and R are IFR-Net's own layers
(:mod:`ifrnet.numerics.layers`); T is the same descriptor. Ψ is the undecimated 3×3 DCT frame
with circular boundaries: the 9 orthonormal DCT basis filters, whose frame operator is
ΨᵀΨ = 9·I (a tight frame), so with λ = 0 the Z step is the identity. S_λ soft-thresholds the
8 non-DC channels and leaves the DC (local mean) channel alone. ``denoiser="wavelet"`` uses
instead SigPy's orthogonal Daubechies-4 wavelet transform W (``sigpy.linop.Wavelet``),
soft-thresholding all coefficients. Which of the two is used is a tuning choice like λ: list
both in the grid and the validation split decides.

No code of IFR-CS is public; this follows the abstract of the PMB paper and the structure that
IFR-Net unrolls. Its constants are chosen per data set and mask by a grid search on the
validation split (``ifrnet.bench.tuning``), the paper having tuned them by hand.

With ``track_objective=True`` the method records the objective
½‖M ⊙ F x − y‖² + λ‖Ψ_{non-DC} x‖₁ of each iterate in ``history`` (a diagnostic: feature
refinement is not a descent step for it; off by default: it adds an FFT and a frame
analysis to every iteration).

The iterates do not depend on ``max_iter``, so :meth:`IFRCS.reconstruct_stops` returns the
results for several ``max_iter`` values from one run; the tuner uses it to tune the number of
iterations (PSNR peaks before the objective converges) at the cost of the longest run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ifrnet.methods.iterative import run
from ifrnet.methods.method import Method
from ifrnet.numerics.forward_model import ForwardModel
from ifrnet.numerics.layers import (
    conv2d_same,
    dct_filters,
    feature_descriptor,
    from_parts,
    keep_real,
    to_parts,
)


def frame_analysis(x: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Ψx: circular correlation of x (B, 1, H, W) with each frame filter → (B, K, H, W)
    (:func:`conv2d_same`: the numba kernels on the CPU, F.conv2d elsewhere)."""
    return conv2d_same(x, frame, circular=True)


def frame_synthesis(c: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Ψᵀc, the adjoint of :func:`frame_analysis`: (B, K, H, W) → (B, 1, H, W)."""
    adjoint = frame.flip(-1, -2).transpose(0, 1).contiguous()  # (1, K, f, f)
    return conv2d_same(c, adjoint, circular=True)


def dct_shrink(x: torch.Tensor, lam: float, frame: torch.Tensor) -> torch.Tensor:
    """Z step: Ψᵀ S_λ(Ψx) / K with the DC channel kept; x real (B, 1, H, W). S_λ(c) =
    sign(c)·max(|c| − λ, 0), i.e. ``softshrink`` (the same values)."""
    coeffs = frame_analysis(x, frame)
    coeffs[:, 1:] = F.softshrink(coeffs[:, 1:], lam)
    return frame_synthesis(coeffs, frame) / frame.shape[0]


def wavelet_shrink(x: torch.Tensor, lam: float, wave_name: str = "db4") -> torch.Tensor:
    """Z step with SigPy's orthogonal wavelet W: Wᴴ S_λ(W x) per image; x real (B, 1, H, W)."""
    import sigpy as sp

    transform = sp.linop.Wavelet(tuple(x.shape[-2:]), wave_name=wave_name)
    images = x[:, 0].detach().cpu().numpy().astype(np.float64)
    out = np.stack([transform.H(sp.thresh.soft_thresh(lam, transform(img))).real for img in images])
    return torch.from_numpy(out).to(dtype=x.dtype, device=x.device).unsqueeze(1)


DENOISERS = ("dct", "wavelet")


class IFRCSAlgorithm:
    """One IFR-CS run on a batch, an :class:`ifrnet.methods.iterative.Algorithm`: step n does
    the X step and leaves x⁽ⁿ⁾, complex (B, H, W), in ``iterate``. Step 1 starts from
    x_t⁽⁰⁾ = 0; each later step first refines x⁽ⁿ⁻¹⁾ into x_t⁽ⁿ⁻¹⁾ (Z, R), so the iterate that is
    tested for convergence and returned is always an X step's output.

    kspace complex (B, H, W), mask (H, W); ``lam``, ``rho``, ``v``, ``denoiser`` and ``real`` as
    in :class:`IFRCS`.
    """

    def __init__(
        self,
        kspace: np.ndarray,
        mask: np.ndarray,
        lam: float,
        rho: float,
        v: float,
        denoiser: str,
        real: bool,
        device: str = "cpu",
    ) -> None:
        self.y = torch.as_tensor(kspace, device=device).to(torch.complex64)
        self.mask = torch.as_tensor(np.asarray(mask, dtype=np.float32), device=device)
        self.op = ForwardModel(self.mask)
        self.frame = dct_filters(include_dc=True).to(device)
        self.rho = torch.tensor(rho, device=device)
        self.lam, self.v, self.denoiser, self.real = lam, v, denoiser, real
        self.iterate: torch.Tensor | None = None

    def step(self) -> None:
        """x⁽ⁿ⁾ = X(x_t⁽ⁿ⁻¹⁾) (real part kept for real data)."""
        y, rho = self.y, self.rho
        x_t = torch.zeros_like(y) if self.iterate is None else self.refine(self.iterate)
        x = self.op.data_consistency(x_t, y, rho)
        self.iterate = keep_real(x) if self.real else x

    def refine(self, x: torch.Tensor) -> torch.Tensor:
        """Z then R: x⁽ⁿ⁾ complex (B, H, W) → x_t⁽ⁿ⁾ complex (B, H, W)."""
        parts = to_parts(x, self.real).unsqueeze(1)
        if self.denoiser == "dct":
            u = dct_shrink(parts, self.lam, self.frame)
        else:
            u = wavelet_shrink(parts, self.lam)
        t = feature_descriptor(parts, self.v)
        return from_parts((u + t * (parts - u))[:, 0], self.real)

    def objective(self) -> np.ndarray:
        """½‖M ⊙ F x − y‖² + λ‖Ψ_{non-DC} x‖₁ of the iterate, per image (B,)."""
        x, y, frame = self.iterate, self.y, self.frame
        fidelity = 0.5 * ((self.op.A(x) - y).abs() ** 2).flatten(1).sum(1)
        parts = to_parts(x, self.real).unsqueeze(1)
        coeffs = frame_analysis(parts, frame)[:, 1:].abs().flatten(1).sum(1)
        sparsity = coeffs if self.real else coeffs.view(2, -1).sum(0)
        return (fidelity + self.lam * sparsity).cpu().numpy()


class IFRCS(Method):
    """IFR-CS with λ (``lam``), ρ (``rho``), V (``v``), denoiser ``dct`` or ``wavelet``, stopping
    at ``tol`` or ``max_iter`` (:class:`ifrnet.methods.iterative.Driver`'s rule); after a call,
    ``iterations`` is the number of iterations run."""

    stop_param: ClassVar[str] = "max_iter"

    def __init__(
        self,
        real: bool = False,
        lam: float = 0.02,
        rho: float = 0.1,
        v: float = 0.01,
        max_iter: int = 100,
        tol: float = 1e-4,
        denoiser: str = "dct",
        device: str = "cpu",
        track_objective: bool = False,
    ) -> None:
        super().__init__(real=real)
        if lam < 0 or rho <= 0 or max_iter < 1 or tol < 0:
            raise ValueError(
                f"IFR-CS needs lam ≥ 0, rho > 0, max_iter ≥ 1, tol ≥ 0; got "
                f"lam={lam}, rho={rho}, max_iter={max_iter}, tol={tol}"
            )
        if denoiser not in DENOISERS:
            raise ValueError(f"IFR-CS denoiser must be one of {DENOISERS}, got {denoiser!r}")
        self.denoiser = denoiser
        self.lam, self.rho, self.v = float(lam), float(rho), float(v)
        self.max_iter, self.tol, self.device = int(max_iter), float(tol), device
        self.track_objective = track_objective
        self.history: list[np.ndarray] = []
        self.iterations = 0

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Iterate X → Z → R on a batch; kspace complex (B, H, W), mask (H, W)."""
        return self.reconstruct_stops(kspace, mask, [self.max_iter])[self.max_iter]

    @torch.no_grad()
    def reconstruct_stops(
        self, kspace: np.ndarray, mask: np.ndarray, stops: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """{k: the result with ``max_iter = k``} for each k in ``stops`` (k ≤ ``max_iter``),
        from one run of max(stops) iterations; images complex64 (B, H, W)."""
        if not stops or min(stops) < 1 or max(stops) > self.max_iter:
            raise ValueError(f"IFR-CS stops must lie in 1..max_iter={self.max_iter}, got {stops}")
        algorithm = IFRCSAlgorithm(
            kspace, mask, self.lam, self.rho, self.v, self.denoiser, self.real, self.device
        )
        wanted, results = set(stops), {}
        self.history = []

        def record(n: int, alg: IFRCSAlgorithm) -> None:
            if self.track_objective:
                self.history.append(alg.objective())
            if n in wanted:
                results[n] = alg.iterate.cpu().numpy().astype(np.complex64)

        self.iterations = run(algorithm, max(stops), "IFR-CS", tol=self.tol, on_step=record)
        # a run that converged before a stop k gives its last iterate for k
        final = algorithm.iterate.cpu().numpy().astype(np.complex64)
        return {k: results.get(k, final) for k in stops}

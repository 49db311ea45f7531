"""Centred orthonormal 2-D Fourier transforms (docs/methods.md §1); the forward model built on
them is :mod:`ifrnet.numerics.forward_model`.

Both act on the last two (spatial) dimensions; leading dimensions are batch dimensions. They
accept ``torch.Tensor`` or ``numpy.ndarray`` and return the same kind. k-space is centred: DC
at ``(H // 2, W // 2)``.

    fft2c(x)  = fftshift(fft2(ifftshift(x), norm="ortho"))
    ifft2c(k) = fftshift(ifft2(ifftshift(k), norm="ortho"))

For tensors with even H and W the shifts are done as a modulation: a circular shift by half the
size is, through the DFT, a multiplication by the checkerboard (−1)^(m+n), so
fft2c(x) = s · c ⊙ fft2(c ⊙ x) with c = (−1)^(m+n) and s = (−1)^(H/2 + W/2) (likewise for the
inverse). Two multiplications replace torch.roll's four copies, which dominate the cost of
small FFT-heavy networks on CPUs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

Array = TypeVar("Array", "torch.Tensor", np.ndarray)

_DIMS = (-2, -1)
_BOARDS: dict[tuple, Any] = {}


def is_tensor(x: Any) -> bool:
    """True for a torch tensor, without importing torch (slow) when nothing has imported it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _boards(h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(c, s·c) with c = (−1)^(m+n) as (H, W) real tensors on ``like``'s device (cached)."""
    import torch

    dtype = like.real.dtype if like.is_complex() else like.dtype
    key = (h, w, like.device, dtype)
    if key not in _BOARDS:
        rows = 1 - 2 * (torch.arange(h, device=like.device) % 2)
        cols = 1 - 2 * (torch.arange(w, device=like.device) % 2)
        sign = -1 if (h // 2 + w // 2) % 2 else 1
        board = (rows[:, None] * cols[None, :]).to(dtype)
        _BOARDS[key] = (board, sign * board)
    return _BOARDS[key]


def _torch_fft(x: torch.Tensor, inverse: bool) -> torch.Tensor:
    import torch

    transform = torch.fft.ifft2 if inverse else torch.fft.fft2
    h, w = x.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        board, signed_board = _boards(h, w, x)
        return transform(x * board, dim=_DIMS, norm="ortho") * signed_board
    x = torch.fft.ifftshift(x, dim=_DIMS)
    return torch.fft.fftshift(transform(x, dim=_DIMS, norm="ortho"), dim=_DIMS)


def _centred(x: Array, inverse: bool) -> Array:
    if is_tensor(x):
        return _torch_fft(x, inverse)
    transform = np.fft.ifft2 if inverse else np.fft.fft2
    x = np.fft.ifftshift(np.asarray(x), axes=_DIMS)
    return np.fft.fftshift(transform(x, axes=_DIMS, norm="ortho"), axes=_DIMS)


def fft2c(x: Array) -> Array:
    """Centred orthonormal 2-D FFT over the last two dimensions: image (…, H, W) -> k-space."""
    return _centred(x, inverse=False)


def ifft2c(k: Array) -> Array:
    """Centred orthonormal inverse 2-D FFT over the last two dimensions: k-space -> image."""
    return _centred(k, inverse=True)

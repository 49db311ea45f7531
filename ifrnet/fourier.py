"""Centred orthonormal 2-D Fourier transforms and the MRI forward model (METHODS §1).

All functions act on the last two (spatial) dimensions; leading dimensions are batch
dimensions. They accept complex ``torch.Tensor`` or ``numpy.ndarray`` and return the same kind.
Masks are centred (DC at ``(H // 2, W // 2)``), boolean or {0, 1} arrays of shape ``(H, W)``
that broadcast against the data.

    fft2c(x)  = fftshift(fft2(ifftshift(x), norm="ortho"))
    ifft2c(k) = fftshift(ifft2(ifftshift(k), norm="ortho"))
    y         = M ⊙ fft2c(x)          (undersample)
    x_zf      = ifft2c(y)             (zero_filled)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

Array = TypeVar("Array", "torch.Tensor", np.ndarray)

_DIMS = (-2, -1)


def _is_tensor(x: Any) -> bool:
    """True for a torch tensor, without importing torch (slow) when nothing has imported it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def fft2c(x: Array) -> Array:
    """Centred orthonormal 2-D FFT over the last two dimensions: image (…, H, W) -> k-space."""
    if _is_tensor(x):
        import torch

        x = torch.fft.ifftshift(x, dim=_DIMS)
        x = torch.fft.fft2(x, dim=_DIMS, norm="ortho")
        return torch.fft.fftshift(x, dim=_DIMS)
    x = np.fft.ifftshift(np.asarray(x), axes=_DIMS)
    x = np.fft.fft2(x, axes=_DIMS, norm="ortho")
    return np.fft.fftshift(x, axes=_DIMS)


def ifft2c(k: Array) -> Array:
    """Centred orthonormal inverse 2-D FFT over the last two dimensions: k-space -> image."""
    if _is_tensor(k):
        import torch

        k = torch.fft.ifftshift(k, dim=_DIMS)
        k = torch.fft.ifft2(k, dim=_DIMS, norm="ortho")
        return torch.fft.fftshift(k, dim=_DIMS)
    k = np.fft.ifftshift(np.asarray(k), axes=_DIMS)
    k = np.fft.ifft2(k, axes=_DIMS, norm="ortho")
    return np.fft.fftshift(k, axes=_DIMS)


def _check_mask(mask: Array, data: Array) -> None:
    if tuple(mask.shape[-2:]) != tuple(data.shape[-2:]):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match the data's spatial shape "
            f"{tuple(data.shape[-2:])}"
        )


def undersample(image: Array, mask: Array) -> Array:
    """Measurements ``y = M ⊙ fft2c(x)``; image (…, H, W), mask (H, W) -> k-space (…, H, W)."""
    _check_mask(mask, image)
    k = fft2c(image)
    if _is_tensor(k):
        return k * mask.to(device=k.device, dtype=k.real.dtype)
    return k * np.asarray(mask, dtype=k.real.dtype)


def zero_filled(kspace: Array) -> Array:
    """Zero-filled reconstruction ``ifft2c(y)`` of (…, H, W) k-space with zeros where unsampled."""
    return ifft2c(kspace)

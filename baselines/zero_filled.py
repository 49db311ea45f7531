"""Zero-filled reconstruction: the inverse FFT of the measured k-space (the reference floor)."""

from __future__ import annotations

import numpy as np

from ifrnet.methods.method import Method
from ifrnet.numerics.forward_model import ForwardModel


class ZeroFilled(Method):
    """``x = ifft2c(y)``; real-valued data keep the real part (as the authors' X layer does)."""

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image = ForwardModel(mask).A_dagger(kspace)
        return image.real.astype(np.complex64) if self.real else image.astype(np.complex64)

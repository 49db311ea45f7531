"""The one interface every reconstruction method implements.

A method is a class constructed as ``cls(real=<bool>, **params)`` — ``params`` come from the
model's config entry, ``real`` says whether the data set is real-valued (then the method may
return a real image: the paper's real-valued experiments keep the real part; networks take the
same flag, :mod:`ifrnet.methods.learned`) — with one call

    reconstruct(kspace, mask) -> image

on a batch: kspace complex64 (B, H, W) with zeros where unsampled, mask bool (H, W), centred;
image complex64 (B, H, W) on the scale of the ground truth. Learned methods are also
``torch.nn.Module``\\s trained by :mod:`ifrnet.methods.training`; iterative methods may add
``tune(val)``. Register a method in :mod:`ifrnet.methods.registry`, or name it in the config as
``"package.module:ClassName"`` to use your own without editing this package.

An unrolled network that can show its inside implements :class:`StagedNetwork` (IFR-Net does,
ADMM-Net does not): its stage outputs (paper Fig. 6) and feature-descriptor maps T (Fig. 12).
The registry's stage-outputs flag, ``save_maps`` and the ``stages``/``maps`` figures rest on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch


class Method:
    """Base class for non-trainable reconstruction methods (see the module docstring)."""

    trainable: ClassVar[bool] = False
    #: A parameter (e.g. ``max_iter``) whose smaller values give earlier iterates of the same
    #: run; such a method implements :meth:`reconstruct_stops`, and the tuner scores every value
    #: of it in a grid from one run (through :meth:`stops`, which checks like ``__call__``).
    stop_param: ClassVar[str | None] = None

    def __init__(self, real: bool = False) -> None:
        self.real = real

    def reconstruct(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Reconstruct images complex64 (B, H, W) from k-space (B, H, W) and mask (H, W)."""
        raise NotImplementedError

    def reconstruct_stops(
        self, kspace: np.ndarray, mask: np.ndarray, stops: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """{k: the reconstruction with ``stop_param = k``} for each k, from one run."""
        raise NotImplementedError(f"{type(self).__name__} has no stop parameter")

    def warm_up(self, kspace: np.ndarray, mask: np.ndarray) -> None:
        """Pay one-off costs (kernel loading, thread pools) before timed calls; default none."""

    def __call__(self, kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Check shapes, run :meth:`reconstruct`, check its output; errors name the method."""
        self._check_input(kspace, mask)
        return self._checked_output(self.reconstruct(kspace, mask), kspace.shape)

    def stops(
        self, kspace: np.ndarray, mask: np.ndarray, stops: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """:meth:`reconstruct_stops` with the checks of ``__call__`` on its input and outputs."""
        self._check_input(kspace, mask)
        return {
            k: self._checked_output(out, kspace.shape)
            for k, out in self.reconstruct_stops(kspace, mask, stops).items()
        }

    def _check_input(self, kspace: np.ndarray, mask: np.ndarray) -> None:
        if kspace.ndim != 3:
            raise ValueError(f"{type(self).__name__}: kspace must be (B, H, W), got {kspace.shape}")
        if not np.iscomplexobj(kspace):
            raise ValueError(f"{type(self).__name__}: kspace must be complex, got {kspace.dtype}")
        if mask.shape != kspace.shape[1:]:
            raise ValueError(
                f"{type(self).__name__}: mask shape {mask.shape} does not match k-space "
                f"{kspace.shape[1:]}"
            )

    def _checked_output(self, out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        out = np.asarray(out)
        if out.shape != shape:
            raise RuntimeError(
                f"{type(self).__name__}.reconstruct returned shape {out.shape}, expected {shape}"
            )
        return out.astype(np.complex64, copy=False)


@runtime_checkable
class StagedNetwork(Protocol):
    """A network of N unrolled stages that returns what each stage computes, called like the
    network itself: kspace complex (B, H, W) (zeros where unsampled), mask real (H, W) or
    (B, H, W). ``isinstance(net, StagedNetwork)`` / ``issubclass(cls, StagedNetwork)`` test it."""

    def forward_stages(self, kspace: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The N stage outputs, each complex (B, H, W); the last is the network's output."""
        ...

    def descriptor_maps(self, kspace: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The N feature-descriptor maps T⁽ⁿ⁾, each real (B, H, W)."""
        ...

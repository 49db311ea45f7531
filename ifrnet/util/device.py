"""Check a torch device setting once, before any work, with a one-line error naming it.

``cpu`` is always usable and costs no torch import; ``cuda`` and ``cuda:N`` need a CUDA build of
torch and a visible device N. Without this check torch fails deep inside the first job with
``AssertionError: Torch not compiled with CUDA enabled``.
"""

from __future__ import annotations

import re


def check_device(device: str, setting: str = "device") -> None:
    """ValueError ``"{setting} {device!r}: why"`` unless torch can use ``device`` here."""
    if device == "cpu":
        return
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise ValueError(f"{setting} {device!r}: expected cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        why = (
            "this torch is a CPU-only build"
            if torch.version.cuda is None
            else "no CUDA device is visible"
        )
        raise ValueError(
            f"{setting} {device!r}: {why} (torch {torch.__version__}); "
            "use cpu, or a machine and torch build with CUDA"
        )
    index, count = int(match.group(1) or 0), torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"{setting} {device!r}: only {count} CUDA device(s) visible")

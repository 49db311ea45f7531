"""Shared helper of the overfitting tests: a few optimiser steps on fixed data."""

from __future__ import annotations

from collections.abc import Callable

import torch


def fit(
    net: torch.nn.Module,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
) -> tuple[float, float]:
    """Adam on one batch for ``steps`` steps; returns (loss before, loss after the last step)."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    with torch.no_grad():
        initial = float(loss_fn(net(kspace, mask), target))
    loss = torch.tensor(initial)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(net(kspace, mask), target)
        loss.backward()
        optimizer.step()
    return initial, float(loss.detach())

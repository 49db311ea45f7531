"""The scale a study ran at, said above its numbers: data, training budget, training seeds.

Every table caption and the report open with it, so that a number is never read without the
scale it was measured at. A study on the embedded data (``source: embedded``: the MNI template
at laptop scale) says plainly that its numbers are not comparable with the paper's and where
the paper-scale results are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Where paper-scale results live in the repository (README section "Reference results").
REFERENCE = "reference/ (README, “Reference results”)"

LAPTOP_WARNING = (
    "Laptop scale (embedded template data, short training): these numbers are not comparable "
    f"with the paper's. Paper-scale results: {REFERENCE}."
)


def _range(values: list[int], unit: str) -> str:
    """``3 epochs``, ``1 epoch``, ``3–6 epochs`` (``unit`` plural, ``s`` dropped for one)."""
    low, high = min(values), max(values)
    if low == high:
        return f"{low} {unit.removesuffix('s') if low == 1 and unit.endswith('s') else unit}"
    return f"{low}–{high} {unit}"


def data_scale(name: str, entry: Mapping[str, Any]) -> str:
    """One data set's scale, e.g. ``brain-real: embedded, 28/4/8 train/val/test, 128×128``."""
    counts = f"{entry['n_train']}/{entry['n_val']}/{entry['n_test']} train/val/test"
    trained = f", models trained on {entry['train_on']}" if "train_on" in entry else ""
    return f"{name}: {entry['source']}, {counts}, {entry['size']}×{entry['size']}{trained}"


def training_scale(models: Mapping[str, Mapping[str, Any]]) -> str:
    """The training budget and seeds of the models trained here among ``models`` (shown
    entries: ``train`` and ``seeds``), e.g. ``training: 3–6 epochs; seeds: 1 per model``."""
    trained = {name: m for name, m in models.items() if "train" in m}
    if not trained:
        return "no model trained here"
    epochs = [int(m["train"]["epochs"]) for m in trained.values()]
    early = [m for m in trained.values() if "patience" in m["train"]]
    budget = (
        f"at most {_range(epochs, 'epochs')}, early stopping (patience "
        f"{_range([int(m['train']['patience']) for m in early], 'epochs')})"
        if early
        else _range(epochs, "epochs")
    )
    seeds = [len(m.get("seeds") or [0]) for m in trained.values()]
    return f"training: {budget}; training seeds: {_range(seeds, 'per model')}"


def is_laptop_scale(datasets: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether any of the data sets is the embedded laptop-scale stand-in."""
    return any(entry["source"] == "embedded" for entry in datasets.values())


def scale_statement(
    datasets: Mapping[str, Mapping[str, Any]], models: Mapping[str, Mapping[str, Any]]
) -> str:
    """``Scale: data …; training …; seeds ….`` plus, at laptop scale, the warning that the
    numbers are not comparable with the paper's and where the paper-scale results are."""
    data = "; ".join(data_scale(name, entry) for name, entry in datasets.items())
    text = f"Scale: {data}; {training_scale(models)}."
    return f"{text} {LAPTOP_WARNING}" if is_laptop_scale(datasets) else text

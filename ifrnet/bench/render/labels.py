"""Names readers see for models: in figures, table rows and captions (never config keys).

A model's label is its config entry's ``label``, else its method's name in the paper, else the
model's config key (a user's method without a label). Where several models of one table share
a label (IFR-Net with K = 2, 3, 4 blocks), :func:`unique_labels` adds the parameters that tell
them apart, with the paper's symbols (N stages, K blocks, L filters).
"""

from __future__ import annotations

from typing import Any

from ifrnet.methods.registry import label

SYMBOLS = {"stages": "N", "blocks": "K", "filters": "L", "cascades": "cascades"}


def display_name(config: dict[str, Any], model: str) -> str:
    """Label of a model: ``label`` of its config entry, else its method's paper name, else the
    model name (user methods)."""
    entry = config["models"][model]
    return entry.get("label") or label(entry["method"]) or model


def unique_labels(config: dict[str, Any], models: list[str]) -> dict[str, str]:
    """{model: label} for the models of one table, made distinct where labels collide by the
    parameters whose values differ among the colliding models, e.g. ``IFR-Net (K = 3)``; the
    config key is the last resort when the parameters do not tell them apart."""
    labels = {m: display_name(config, m) for m in models}
    for name in set(labels.values()):
        same = [m for m in models if labels[m] == name]
        if len(same) < 2:
            continue
        params = {m: config["models"][m].get("params", {}) for m in same}
        keys = sorted({k for p in params.values() for k in p})
        differing = [k for k in keys if len({repr(params[m].get(k)) for m in same}) > 1]
        for m in same:
            shown = [f"{SYMBOLS.get(k, k)} = {params[m][k]}" for k in differing if k in params[m]]
            labels[m] = f"{name} ({', '.join(shown)})" if shown else f"{name} ({m})"
    if len(set(labels.values())) < len(labels):  # parameters did not separate them
        labels = {
            m: f"{display_name(config, m)} ({m})"
            if list(labels.values()).count(labels[m]) > 1
            else labels[m]
            for m in models
        }
    return labels

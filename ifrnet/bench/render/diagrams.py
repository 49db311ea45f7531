"""Figs. 1–3: block diagrams drawn by code from the model definition.

Fig. 1 is the IFR-CS iteration (Z → R → X), Fig. 2 one stage of unfolded iterative shrinkage
beside a convolutional block, Fig. 3 IFR-Net: (a) the N stages of X/Z/R modules and (b) one of
the K CNN blocks (C1 → H → C2). Stage and block counts, filter numbers and sizes come from the
model's config entry (constructor defaults of :class:`ifrnet.methods.ifrnet.IFRNet` otherwise),
so the drawing follows the architecture.
"""

from __future__ import annotations

import inspect
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

COLOURS = {
    "X": "#cfe2f3",
    "Z": "#d9ead3",
    "R": "#fce5cd",
    "C": "#ead1dc",
    "H": "#fff2cc",
    "io": "#eeeeee",
}


def _box(
    ax: plt.Axes, x: float, y: float, text: str, colour: str, w: float = 1.3, h: float = 0.7
) -> tuple[float, float, float, float]:
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=colour, ec="black", lw=0.8
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8)
    return x, y, w, h


def _arrow(ax: plt.Axes, a: tuple, b: tuple, text: str = "", curve: float = 0.0) -> None:
    (xa, ya, wa, _), (xb, yb, wb, _) = a, b
    start, end = (xa + wa / 2, ya), (xb - wb / 2, yb)
    if curve:
        start, end = (xa, ya - a[3] / 2), (xb, yb - b[3] / 2)
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=10,
            lw=0.8,
            connectionstyle=f"arc3,rad={curve}",
        )
    )
    if text:
        ax.text(
            (start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", fontsize=7
        )


def _chain(ax: plt.Axes, y: float, boxes: list[tuple[float, str, str, float]]) -> list[tuple]:
    """Boxes (x, text, colour key, width) on one row at height y, joined left to right."""
    drawn = [_box(ax, x, y, text, COLOURS[colour], w=w) for x, text, colour, w in boxes]
    for a, b in zip(drawn, drawn[1:], strict=False):
        _arrow(ax, a, b)
    return drawn


def _canvas(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width * 1.6)
    ax.set_ylim(0, height * 1.6)
    ax.axis("off")
    return fig, ax


def model_settings(model_spec: dict[str, Any]) -> dict[str, Any]:
    """IFR-Net constructor arguments of a model entry, with the class defaults filled in."""
    from ifrnet.methods.ifrnet import IFRNet

    defaults = {name: p.default for name, p in inspect.signature(IFRNet).parameters.items()}
    return {**defaults, **model_spec.get("params", {})}


def ifrcs_diagram(settings: dict[str, Any]) -> plt.Figure:
    """Fig. 1: one IFR-CS iteration; the loop returns to Z until convergence."""
    fig, ax = _canvas(10, 2.4)
    y = 2.1
    k, z, r, x, o = _chain(
        ax,
        y,
        [
            (1.3, "zero-filled\nx⁽⁰⁾ = F⁻¹y", "io", 1.9),
            (4.4, "Z: denoising\nu = Ψᵀ S_λ(Ψx)", "Z", 2.5),
            (7.9, "R: feature refinement\nx_t = u + T ⊙ (x − u)", "R", 3.2),
            (11.7, "X: Tikhonov step\nF⁻¹[(y + ρFx_t)/(M + ρ)]", "X", 3.3),
            (14.7, "x⁽ⁿ⁾", "io", 1.0),
        ],
    )
    _arrow(ax, x, z, curve=-0.3)
    ax.text(8.05, 0.2, "next iteration (fixed λ, ρ, V) until convergence", ha="center", fontsize=8)
    ax.set_title("IFR-CS: fixed operators, iterated to convergence", fontsize=10)
    return fig


def unfolding_diagram(settings: dict[str, Any]) -> plt.Figure:
    """Fig. 2: unfolded iterative shrinkage (top) vs the CNN block replacing it (bottom)."""
    fig, ax = _canvas(8, 3.2)
    f = settings["filters"]
    s = settings["filter_size"]
    top, bottom = 3.6, 1.3
    _chain(
        ax,
        top,
        [
            (1.0, "x", "io", 0.7),
            (3.5, "Ψ: fixed\nsparsifying transform", "C", 2.7),
            (6.6, "S_λ:\nsoft-threshold", "H", 2.0),
            (9.3, "Ψᵀ", "C", 1.2),
            (11.3, "u", "io", 0.7),
        ],
    )
    _chain(
        ax,
        bottom,
        [
            (1.0, "x", "io", 0.7),
            (3.5, f"C1: {f} conv {s}×{s}\n(learned)", "C", 2.7),
            (6.6, "H: learned PLF\nper channel", "H", 2.0),
            (9.3, f"C2: 1 conv\n{s}×{s}", "C", 1.6),
            (11.3, "u", "io", 0.7),
        ],
    )
    ax.text(0.2, top + 0.75, "(a) iterative shrinkage, unfolded", fontsize=9)
    ax.text(0.2, bottom + 0.75, "(b) convolutional block", fontsize=9)
    return fig


def ifrnet_diagram(settings: dict[str, Any]) -> plt.Figure:
    """Fig. 3: (a) the N stages of IFR-Net (elided beyond 4 drawn) and (b) one of the K CNN
    blocks of a denoising module Z."""
    n, k, f, s = (settings[key] for key in ("stages", "blocks", "filters", "filter_size"))
    shown = list(range(1, n + 1)) if n <= 4 else [1, 2, None, n]
    fig, ax = _canvas(10, 3.6)
    y = 4.2
    prev = _box(ax, 0.8, y, "y, M", COLOURS["io"], w=0.9)
    xpos = 2.1
    for stage in shown:
        if stage is None:
            ax.text(xpos + 0.2, y, "…", fontsize=14, ha="center", va="center")
            xpos += 0.9
            continue
        xb = _box(ax, xpos, y, f"$X^{{({stage})}}$", COLOURS["X"], w=0.8)
        zb = _box(ax, xpos + 1.1, y, f"$Z^{{({stage})}}$", COLOURS["Z"], w=0.8)
        rb = _box(ax, xpos + 2.2, y, f"$R^{{({stage})}}$", COLOURS["R"], w=0.8)
        _arrow(ax, prev, xb)
        _arrow(ax, xb, zb)
        _arrow(ax, zb, rb)
        prev = rb
        xpos += 3.3
    last = _box(ax, xpos, y, f"$X^{{({n + 1})}}$", COLOURS["X"], w=0.9)
    _arrow(ax, prev, last)
    out = _box(ax, xpos + 1.4, y, "x̂", COLOURS["io"], w=0.7)
    _arrow(ax, last, out)
    weights = "shared" if settings.get("share_weights") else "separate"
    ax.text(
        0.2,
        y + 0.8,
        f"(a) IFR-Net: N = {n} stages ({weights} Z weights), each Z with K = {k} CNN blocks",
        fontsize=9,
    )
    yb = 1.4
    _chain(
        ax,
        yb,
        [
            (1.0, "u, x\n(block input)", "io", 1.5),
            (3.8, f"C1: {f} filters\n{s}×{s} on u", "C", 1.6),
            (6.4, "H: PLF\n(101 points)", "H", 1.4),
            (8.9, f"C2: {f}→1\n{s}×{s}", "C", 1.4),
            (11.8, "u ← η₁u + η₂x − C2", "io", 2.2),
        ],
    )
    ax.text(0.2, yb + 0.8, f"(b) one CNN block of Z (repeated K = {k} times)", fontsize=9)
    return fig


DIAGRAMS = {"ifrcs": ifrcs_diagram, "unfolding": unfolding_diagram, "ifrnet": ifrnet_diagram}


def diagram(view: dict[str, Any], inputs: list[Any]) -> plt.Figure:
    """The diagram named by the entry's ``diagram`` for its ``model`` (no input files)."""
    spec = view["entry"]
    if spec["diagram"] not in DIAGRAMS:
        raise ValueError(f"unknown diagram {spec['diagram']!r}; known: {sorted(DIAGRAMS)}")
    return DIAGRAMS[spec["diagram"]](model_settings(view["models"][spec["model"]]))

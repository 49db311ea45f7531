"""Result figures of the paper (Figs. 4–12) from the files the workflow wrote.

One draw function per figure kind of the config's ``figures`` section (registered in
:mod:`ifrnet.bench.render.kinds`); each takes the figure's view of the config (``view["entry"]`` its
own entry; the ``models``, ``datasets``, ``masks`` it names) and the files its kind lists, in
that order, and returns a matplotlib Figure. :func:`save_figure` writes it as
PNG and PDF atomically. Reconstruction figures show magnitudes on one grey scale per figure
(0 to the reference's maximum) and absolute errors on one shared colour scale, with a colour
bar, and a zoomed inset of one region in every panel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ifrnet.bench.data.prepared import read_split  # noqa: E402
from ifrnet.bench.pipeline import read_recon  # noqa: E402
from ifrnet.bench.render.labels import display_name  # noqa: E402
from ifrnet.numerics.masks import load_mask  # noqa: E402
from ifrnet.numerics.metrics import METRICS, PAPER_METRICS, evaluate  # noqa: E402
from ifrnet.util.io import atomic_path  # noqa: E402


def shown_image(spec: dict[str, Any], truth: np.ndarray) -> int:
    """Index of the test image a figure shows: ``image`` from the config, else the one with
    the most anatomy (largest mean magnitude) of truth (N, H, W)."""
    if "image" in spec:
        return int(spec["image"])
    return int(np.argmax(np.abs(truth).reshape(len(truth), -1).mean(axis=1)))


def _off(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


Files = list[Path]


def test_images(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Fig. 4: the first ``n`` test images of each data set (magnitude), one row per set;
    ``inputs``: the test split of each data set."""
    spec = view["entry"]
    n = spec.get("n", 5)
    rows = [read_split(path)[0][:n] for path in inputs]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(2 * cols, 2.1 * len(rows)), squeeze=False)
    for r, (dataset, images) in enumerate(zip(spec["datasets"], rows, strict=True)):
        for c in range(cols):
            ax = axes[r, c]
            _off(ax)
            if c < len(images):
                ax.imshow(np.abs(images[c]), cmap="gray", vmin=0)
                ax.set_title(f"{dataset} #{c + 1}", fontsize=8)
    return fig


def masks(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Fig. 5: sampling masks (k-space centre in the middle) with their sampled fraction and, for
    real-valued data, the fraction of k-space they determine (``Mask.statistics``); ``inputs``:
    the mask files."""
    spec = view["entry"]
    names = spec["masks"]
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.9), squeeze=False)
    for ax, name, path in zip(axes[0], names, inputs, strict=True):
        mask = load_mask(path)
        ax.imshow(mask.array, cmap="gray", interpolation="nearest")
        stats = mask.statistics
        title = f"{name}\n{100 * stats.sampled:.1f} % sampled"
        if view["datasets"][spec["dataset"]]["kind"] == "real":
            title += (
                f"\nreal data: {100 * stats.coverage:.1f} % determined,\n"
                f"{100 * stats.mirrored:.0f} % of samples mirrored"
            )
        ax.set_title(title, fontsize=8)
        _off(ax)
    return fig


def shown_label(view: dict[str, Any], model: str) -> str:
    """A model's label in a figure, with the training seed shown when it has several (a
    figure shows the first seed's run: :func:`ifrnet.bench.render.kinds.shown_run`)."""
    seeds = view["models"][model].get("seeds") or []
    name = display_name(view, model)
    return f"{name} (seed {seeds[0]})" if len(seeds) > 1 else name


def stages(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Fig. 6: PSNR, HFEN and SSIM of the stage outputs n = 1..N; ``inputs``: the stage metrics
    file of each run (training seed). One run: mean ± std over the test images. Several: each
    seed's mean over the images (thin), their mean (thick) and range across seeds (band)."""
    spec = view["entry"]
    labels = {key: METRICS[key].header for key in PAPER_METRICS}
    per_run = [pd.read_csv(path).groupby("stage") for path in inputs]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, metric in zip(axes, labels, strict=True):
        if len(per_run) == 1:
            stats = per_run[0][metric].agg(["mean", "std"])
            mean, low, high = (
                stats["mean"],
                stats["mean"] - stats["std"],
                stats["mean"] + stats["std"],
            )
        else:
            means = pd.concat([groups[metric].mean() for groups in per_run], axis=1)
            for column in means:
                ax.plot(means.index, means[column], lw=0.6, alpha=0.5, color="C0")
            mean, low, high = means.mean(axis=1), means.min(axis=1), means.max(axis=1)
        ax.plot(mean.index, mean, "o-", ms=3, color="C0")
        ax.fill_between(mean.index, low, high, alpha=0.2, color="C0")
        ax.set_xlabel("stage n")
        ax.set_ylabel(labels[metric])
        ax.set_xticks(mean.index)
        ax.grid(alpha=0.3)
    spread = (
        "mean ± std over the test images"
        if len(per_run) == 1
        else f"{len(per_run)} training seeds: each seed's mean, their mean and range"
    )
    fig.suptitle(
        f"{display_name(view, spec['model'])} stage outputs, {spec['mask']} ({spec['dataset']}); "
        f"{spread}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _inset_box(shape: tuple[int, int], spec: dict[str, Any]) -> tuple[int, int, int]:
    """(row, col, size) of the zoomed region: config ``inset`` [row, col, size] in fractions of
    the image, default a quarter-size box right of centre."""
    fr, fc, fs = spec.get("inset", [0.3, 0.5, 0.25])
    size = max(4, int(fs * min(shape)))
    return int(fr * shape[0]), int(fc * shape[1]), size


def _with_inset(ax: plt.Axes, image: np.ndarray, box: tuple[int, int, int], **show: Any) -> None:
    r, c, s = box
    ax.imshow(image, **show)
    ax.add_patch(Rectangle((c - 0.5, r - 0.5), s, s, fill=False, ec="yellow", lw=0.8))
    inset = ax.inset_axes([0.62, 0.0, 0.38, 0.38])
    inset.imshow(image[r : r + s, c : c + s], **show)
    for side in inset.spines.values():
        side.set_edgecolor("yellow")
    _off(inset)


def reconstructions(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Figs. 7–9, 11: per mask, a row of reconstructions (reference first) and a row of
    absolute error maps on one shared scale; PSNR/SSIM in each title; zoomed insets.
    ``inputs``: the test split, then the reconstruction of each (mask, model), masks outer."""
    spec = view["entry"]
    all_truth = read_split(inputs[0])[0]
    k = shown_image(spec, all_truth)
    truth = all_truth[k]
    reference = np.abs(truth)
    vmax = float(reference.max())
    models, masks_ = spec["models"], spec["masks"]
    keys = [(m, model) for m in masks_ for model in models]
    recons = {key: read_recon(path)[0][k] for key, path in zip(keys, inputs[1:], strict=True)}
    errors = {key: np.abs(np.abs(r) - reference) for key, r in recons.items()}
    err_max = float(np.percentile(np.concatenate([e.ravel() for e in errors.values()]), 99.5))
    err_max = max(err_max, 1e-6)
    cols = len(models) + 1
    fig, axes = plt.subplots(
        2 * len(masks_), cols, figsize=(2.3 * cols, 4.6 * len(masks_)), squeeze=False
    )
    box = _inset_box(reference.shape, spec)
    grey = dict(cmap="gray", vmin=0, vmax=vmax)
    error_image = None
    for i, m in enumerate(masks_):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        _with_inset(top[0], reference, box, **grey)
        top[0].set_title(f"Reference\n{m}", fontsize=8)
        _off(top[0])
        bottom[0].axis("off")
        bottom[0].text(0.5, 0.5, f"|error|\n{m}", ha="center", va="center", fontsize=8)
        for j, model in enumerate(models, 1):
            recon = recons[(m, model)]
            scores = evaluate(recon, truth)
            _with_inset(top[j], np.abs(recon), box, **grey)
            top[j].set_title(
                f"{shown_label(view, model)}\n{scores['psnr']:.2f} dB, SSIM {scores['ssim']:.3f}",
                fontsize=8,
            )
            _off(top[j])
            error_image = bottom[j].imshow(errors[(m, model)], cmap="inferno", vmin=0, vmax=err_max)
            _off(bottom[j])
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    bar = fig.add_axes((0.93, 0.1, 0.015, 0.8))
    fig.colorbar(error_image, cax=bar, label="|error| of magnitude (reference max = 1)")
    return fig


def loss_curves(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Fig. 10: training loss per iteration (and its running mean) and validation loss per
    epoch, against iterations; ``inputs``: the training log."""
    spec = view["entry"]
    (path,) = inputs
    log = pd.read_csv(path)
    train, val = log[log["split"] == "train"], log[log["split"] == "val"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(train["iteration"], train["loss"], lw=0.5, alpha=0.35, color="C0")
    window = max(1, len(train) // 20)
    ax.plot(
        train["iteration"],
        train["loss"].rolling(window, min_periods=1).mean(),
        color="C0",
        label=f"training (running mean of {window})",
    )
    ax.plot(val["iteration"], val["loss"], "o-", color="C1", label="validation (per epoch)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    loss_name = view["models"][spec["model"]].get("train", {}).get("loss", "relative_l2")
    ax.set_ylabel(f"loss ({loss_name})")
    ax.set_title(
        f"{shown_label(view, spec['model'])}, {spec['mask']} ({spec['dataset']})", fontsize=10
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def maps(view: dict[str, Any], inputs: Files) -> plt.Figure:
    """Fig. 12: the reference image and the feature-descriptor maps T of the saved stages, on
    one shared colour scale; ``inputs``: the test split and the reconstruction."""
    import h5py

    spec = view["entry"]
    data, path = inputs
    all_truth = read_split(data)[0]
    k = shown_image(spec, all_truth)
    truth = all_truth[k]
    with h5py.File(path, "r") as f:
        if "maps" not in f:
            raise ValueError(f"{path}: no T maps stored; set save_maps for {spec['model']}")
        stage_maps, saved = f["maps"][k], list(f.attrs["maps_stages"])
    fig, axes = plt.subplots(1, len(saved) + 1, figsize=(2.4 * (len(saved) + 1), 2.8))
    axes[0].imshow(np.abs(truth), cmap="gray", vmin=0)
    axes[0].set_title("Reference", fontsize=9)
    lo, hi = float(stage_maps.min()), float(stage_maps.max())
    shown = None
    for ax, stage, t in zip(axes[1:], saved, stage_maps, strict=True):
        shown = ax.imshow(t, cmap="viridis", vmin=lo, vmax=hi)
        ax.set_title(f"T at stage {stage}", fontsize=9)
    for ax in axes:
        _off(ax)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    fig.colorbar(shown, cax=fig.add_axes((0.93, 0.15, 0.015, 0.7)), label="T (unitless)")
    return fig


def save_figure(fig: plt.Figure, out_png: str | os.PathLike[str]) -> list[Path]:
    """Write ``fig`` as PNG (150 dpi) and as PDF beside it, atomically; close it."""
    png = Path(out_png)
    paths = [png, png.with_suffix(".pdf")]
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=path.suffix[1:], bbox_inches="tight")
    plt.close(fig)
    return paths

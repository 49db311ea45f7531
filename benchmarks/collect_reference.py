"""Collect a finished study's tables into a small reference folder (e.g. reference/brain-paper/).

Copies the tables (Markdown, CSV, LaTeX, provenance) and the PNG figures up to 500 kB (larger
ones, e.g. a grid of reconstructions, are listed and left out), and writes
``training.csv`` (per trained model and mask: epochs run, best epoch, final and best validation
loss, training wall minutes from Snakemake's benchmark files) and ``validation_curves.csv``
(the validation loss of every epoch). The rest of the study's outputs stay where they are.

    python benchmarks/collect_reference.py RESULTS_DIR OUT_DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from pathlib import Path

from ifrnet.util.io import write_text_atomic

MAX_FIGURE_BYTES = 500_000


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def training_rows(results: Path) -> tuple[list[dict], list[dict]]:
    """(one summary row per trained model, one row per epoch's validation loss)."""
    summary, curves = [], []
    for log in sorted(results.glob("models/*/*/*/seed-*/train_log.csv")):
        seed_dir = log.parent  # models/{dataset}/{mask}/{model}/seed-N
        model, mask, dataset = (
            seed_dir.parent.name,
            seed_dir.parents[1].name,
            seed_dir.parents[2].name,
        )
        seed = int(seed_dir.name.removeprefix("seed-"))
        val = [row for row in read_csv(log) if row["split"] == "val"]
        if not val:
            continue
        losses = [float(row["loss"]) for row in val]
        best = min(range(len(losses)), key=losses.__getitem__)
        bench = results / "benchmarks" / "train" / dataset / mask / model / f"{seed_dir.name}.tsv"
        minutes = (
            float(read_csv(bench, "\t")[0]["s"]) / 60
            if bench.exists()
            else float(val[-1]["elapsed_s"]) / 60
        )
        summary.append(
            {
                "dataset": dataset,
                "mask": mask,
                "model": model,
                "seed": seed,
                "epochs_run": len(val),
                "best_epoch": best + 1,
                "best_val_loss": f"{losses[best]:.6f}",
                "last_val_loss": f"{losses[-1]:.6f}",
                "minutes": f"{minutes:.1f}",
            }
        )
        curves += [
            {
                "dataset": dataset,
                "mask": mask,
                "model": model,
                "seed": seed,
                "epoch": row["epoch"],
                "val_loss": row["loss"],
                "lr": row["lr"],
            }
            for row in val
        ]
    return summary, curves


def write_rows(rows: list[dict], path: Path) -> None:
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the study's results/ directory")
    parser.add_argument("out", type=Path, help="reference folder to (re)write")
    args = parser.parse_args()
    if not (args.results / "tables").is_dir():
        raise SystemExit(f"{args.results}: no tables/ directory — is the study finished?")
    args.out.mkdir(parents=True, exist_ok=True)
    for source in sorted((args.results / "tables").glob("*")):
        if source.suffix in (".md", ".csv", ".tex", ".json") and not source.name.startswith("."):
            shutil.copyfile(source, args.out / source.name)
    for source in sorted((args.results / "figures").glob("*.png")):
        if source.stat().st_size <= MAX_FIGURE_BYTES:
            shutil.copyfile(source, args.out / source.name)
        else:
            print(f"left out {source.name} ({source.stat().st_size / 1e6:.1f} MB)")
    summary, curves = training_rows(args.results)
    write_rows(summary, args.out / "training.csv")
    write_rows(curves, args.out / "validation_curves.csv")
    print(f"{args.out}: {len(list(args.out.iterdir()))} files; {len(summary)} trained models")


if __name__ == "__main__":
    main()

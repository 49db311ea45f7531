"""Collect a finished study's tables into a small reference folder (e.g. reference/brain-paper/).

Copies the tables (Markdown, CSV, LaTeX, provenance) and the PNG figures up to 500 kB (larger
ones, e.g. a grid of reconstructions, are listed and left out), and writes
``training.csv`` (per trained model and mask: epochs run, best epoch, final and best validation
loss, training wall minutes from Snakemake's benchmark files) and ``validation_curves.csv``
(the validation loss of every epoch). Rows of models this run did not train are kept from the
folder's earlier files (a study run in parts). With ``--config``, the paper's claims are checked
on the tables and stages figures this run built (``claims.{csv,md}``; a claim of a table not
built is listed as not run). The rest of the study's outputs stay where they are.

    python benchmarks/collect_reference.py RESULTS_DIR OUT_DIR [--config CONFIG]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from pathlib import Path

from ifrnet.bench.artefacts import claim_files, claims_view
from ifrnet.bench.config import load_config
from ifrnet.bench.render.claims import build_claims
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


#: What identifies one trained model's rows (an older file without seeds: seed 0).
RUN_KEYS = ("dataset", "mask", "model", "seed")


def merged(rows: list[dict], path: Path) -> list[dict]:
    """``rows`` after the rows of ``path`` (if it exists) whose trained model ``rows`` lacks."""
    if not path.exists():
        return rows
    new = {tuple(str(row[k]) for k in RUN_KEYS) for row in rows}
    kept = [
        {**row, "seed": row.get("seed") or "0"}
        for row in read_csv(path)
        if tuple(row.get(k) or "0" for k in RUN_KEYS) not in new
    ]
    return [{k: row.get(k, "") for k in rows[0]} for row in kept] + rows if rows else kept


def write_rows(rows: list[dict], path: Path) -> None:
    rows = merged(rows, path)
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def built_claims(results: Path, config_path: Path, out: Path) -> list[Path]:
    """Check the paper's claims on the tables and stages figures of ``config_path`` whose
    per-run files all exist under ``results``; write ``out/claims.{csv,md}`` and provenance."""
    repo = Path(__file__).resolve().parents[1]
    config = load_config(config_path, repo / "config" / "schema.yaml")
    view = claims_view(config)

    def built(files: list[tuple]) -> bool:
        return bool(files) and all((results.parent / path).exists() for _, path in files)

    files = claim_files(view)
    view["tables"] = {
        name: table
        for name, table in view["tables"].items()
        if built([f for f in files if f[0][:2] == ("metrics", name)])
    }
    view["figures"] = {
        name: figure
        for name, figure in view["figures"].items()
        if built([f for f in files if f[0][:2] == ("stages", name)])
    }
    print(f"claims on {', '.join([*view['tables'], *view['figures']]) or 'nothing built'}")
    return build_claims(
        view,
        out / "claims.csv",
        claims=repo / "config" / "claims.yaml",
        published=repo / "config" / "published.yaml",
        inputs=[results.parent / path for _, path in claim_files(view)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the study's results/ directory")
    parser.add_argument("out", type=Path, help="reference folder to (re)write")
    parser.add_argument(
        "--config", type=Path, help="the study's config: check the claims on what it built"
    )
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
    if args.config is not None:
        built_claims(args.results, args.config, args.out)
    summary, curves = training_rows(args.results)
    write_rows(summary, args.out / "training.csv")
    write_rows(curves, args.out / "validation_curves.csv")
    print(f"{args.out}: {len(list(args.out.iterdir()))} files; {len(summary)} trained models")


if __name__ == "__main__":
    main()

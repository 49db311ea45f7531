"""Study-level benchmark: what every job of a finished workflow run cost, and how fast each
method is, from the files the run wrote (Snakemake ``benchmark:`` TSVs, train logs and the
timing attributes of the reconstruction files).

    python benchmarks/study.py [--results results] [--config config/config.yaml]
                               [--wall SECONDS] [--json out.json]

Prints, per rule, the number of jobs, summed wall and CPU time and the largest peak RSS; then
the five most expensive jobs, the critical path (the longest chain prepare → mask → train/tune
→ reconstruct → evaluate → table/figure through the config's experiments), the total wall time
(``--wall``, e.g. measured with ``time snakemake ...``), training images/s and inference
images/s of every learned method and seconds/image of every iterative method at the default
sizes, and the IFR-Net / IFR-CS inference speed ratio of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ifrnet.bench import paths  # noqa: E402
from ifrnet.bench.artefacts import experiments, model_runs, training_dataset  # noqa: E402
from ifrnet.bench.config import model_fitting  # noqa: E402

#: The rule that fits a model of each kind before it reconstructs (plain models fit nothing).
FIT_STEP = {"learned": "train", "tuned": "tune"}


def under(results: Path, path: str) -> Path:
    """A workflow path (:mod:`ifrnet.bench.paths`, under ``results/``) under the folder
    ``results``."""
    return results / Path(path).relative_to(paths.RESULTS)


def job_table(results: Path) -> pd.DataFrame:
    """One row per benchmarked job: rule, job id (path under the rule), wall s, CPU s, RSS MB."""
    rows = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rule, _ = paths.benchmark_job(tsv.relative_to(results / "benchmarks"))
        last = pd.read_csv(tsv, sep="\t").iloc[-1]
        rss = pd.to_numeric(last.get("max_rss"), errors="coerce")
        rows.append(
            {
                "rule": rule,
                "job": str(tsv.relative_to(results / "benchmarks"))[:-4],
                "wall_s": float(last["s"]),
                "cpu_s": float(last.get("cpu_time", np.nan)),
                "max_rss_mb": float(rss) if pd.notna(rss) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _wall(jobs: pd.DataFrame, job: str) -> float:
    hit = jobs.loc[jobs["job"] == job, "wall_s"]
    return float(hit.iloc[0]) if len(hit) else 0.0


def critical_path(jobs: pd.DataFrame, config: dict) -> tuple[float, list[str]]:
    """Longest dependency chain through the experiments (seconds, job names)."""
    best: tuple[float, list[str]] = (0.0, [])
    size = {d: s["size"] for d, s in config["datasets"].items()}
    for dataset, mask, model in experiments(config):
        source = training_dataset(config, dataset)
        entry = config["models"][model]
        step = None if "weights" in entry else FIT_STEP.get(model_fitting(entry))
        run = model_runs(config, model)[0]  # jobs of a model trained here name its seed
        fit = f"{step}/{source}/{mask}/{run if step == 'train' else model}" if step else None
        chain = [f"prepare_data/{source}", f"make_mask/{mask}-{size[dataset]}x{size[dataset]}"]
        chain += [f"prepare_data/{dataset}"] if dataset != source else []
        chain += [fit] if fit else []
        chain += [f"reconstruct/{dataset}/{mask}/{run}", f"evaluate/{dataset}/{mask}/{run}"]
        total = sum(_wall(jobs, j) for j in chain)
        if total > best[0]:
            best = (total, chain)
    render = jobs[jobs["rule"].isin(["table", "figure"])]["wall_s"]
    return best[0] + (float(render.max()) if len(render) else 0.0), best[1]


def method_speeds(results: Path, config: dict) -> pd.DataFrame:
    """Per model and experiment: inference s/image (recon files), training images/s."""
    rows = []
    for dataset, mask, model in experiments(config):
        run = model_runs(config, model)[0]  # the first training seed of a model trained here
        recon = under(results, paths.recon(dataset, mask, run))
        if not recon.exists():
            continue
        with h5py.File(recon, "r") as f:
            per_image = float(f.attrs["seconds_per_image"])
        entry = config["models"][model]
        row = {
            "model": model,
            "method": entry["method"],
            "dataset": dataset,
            "mask": mask,
            "infer_s_per_image": per_image,
            "train_img_per_s": np.nan,
        }
        source = training_dataset(config, dataset)
        log = under(results, paths.train_log(source, mask, run))
        if "train" in entry and log.exists():  # trained here (not published weights)
            train = pd.read_csv(log)
            steps = train[train["split"] == "train"]
            images = len(steps) * entry["train"].get("batch_size", 1)
            row["train_img_per_s"] = images / max(float(train["elapsed_s"].max()), 1e-9)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(results: Path, config: dict, wall: float | None) -> dict:
    """Everything the benchmark prints, as a dict (also written with --json)."""
    jobs = job_table(results)
    per_rule = jobs.groupby("rule").agg(
        jobs=("job", "size"),
        wall_s=("wall_s", "sum"),
        cpu_s=("cpu_s", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    path_s, path = critical_path(jobs, config)
    speeds = method_speeds(results, config)
    by_method = (
        speeds.groupby("method").agg(
            infer_s_per_image=("infer_s_per_image", "median"),
            train_img_per_s=("train_img_per_s", "median"),
        )
        if len(speeds)
        else pd.DataFrame()
    )
    ratio = None
    if {"ifrnet", "ifrcs"} <= set(by_method.index):
        pairs = speeds.pivot_table(
            index=["dataset", "mask"], columns="method", values="infer_s_per_image"
        )[["ifrcs", "ifrnet"]].dropna()
        ratio = float((pairs["ifrcs"] / pairs["ifrnet"]).median()) if len(pairs) else None
    return {
        "per_rule": per_rule.reset_index().to_dict("records"),
        "top5": jobs.nlargest(5, "wall_s").to_dict("records"),
        "sum_job_wall_s": float(jobs["wall_s"].sum()),
        "total_wall_s": wall,
        "critical_path_s": path_s,
        "critical_path": path,
        "max_rss_mb": float(jobs["max_rss_mb"].max()),
        "methods": by_method.reset_index().to_dict("records"),
        "ifrcs_over_ifrnet_inference": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--wall", type=float, help="measured wall time of the run, s")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    if not any((args.results / "benchmarks").rglob("*.tsv")):
        raise SystemExit(
            f"{args.results}: no benchmarks/*.tsv — is this a finished study's results/?"
        )
    s = summary(args.results, config, args.wall)
    pd.set_option("display.width", 160)
    print("Per rule (summed over jobs):")
    print(pd.DataFrame(s["per_rule"]).round(1).to_string(index=False))
    print("\nFive most expensive jobs:")
    print(pd.DataFrame(s["top5"]).round(1).to_string(index=False))
    print(
        f"\nSum of job wall times: {s['sum_job_wall_s']:.0f} s; largest peak RSS "
        f"{s['max_rss_mb']:.0f} MB"
    )
    if s["total_wall_s"]:
        print(f"Total wall time: {s['total_wall_s']:.0f} s ({s['total_wall_s'] / 60:.1f} min)")
    print(f"Critical path: {s['critical_path_s']:.0f} s via {' → '.join(s['critical_path'])}")
    print("\nPer method (median over experiments):")
    print(pd.DataFrame(s["methods"]).round(4).to_string(index=False))
    if s["ifrcs_over_ifrnet_inference"]:
        print(
            f"\nIFR-CS / IFR-Net inference time per image (same run, median over masks): "
            f"{s['ifrcs_over_ifrnet_inference']:.1f}×"
        )
    if args.json:
        args.json.write_text(json.dumps(s, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()

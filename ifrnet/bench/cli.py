"""The ``ifrnet`` command line: one subcommand per workflow step, each calling one library function.

Snakemake rules call these; users can too. Structured arguments (a config entry) are passed as
JSON strings. Errors in the user's input print one line ``ifrnet <command>: error: …`` naming
the file, option or key and exit with status 2; ``ifrnet --debug …`` (or ``IFRNET_DEBUG=1`` in
the environment, which reaches Snakemake's jobs too) shows the full traceback instead. Outputs
are written atomically, so a failed command leaves no partial file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ifrnet.bench.damaged import rebuild_hint
from ifrnet.methods.defaults import INFERENCE_BATCH
from ifrnet.util.io import DamagedFile


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err


def _shape(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"shape must look like 256x256, got {text!r}") from err
    return h, w


def _param(text: str) -> tuple[str, Any]:
    """``name=value`` → (name, value); the value as JSON (numbers, true/false) or else text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, e.g. lam=0.01, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected integers like 2,3,7,9, got {text!r}") from err


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# Thread-pool sizes read once when a library loads. Left at their defaults (all cores), two
# single-threaded jobs side by side keep idle OpenMP/numba workers spinning: 6× slower each.
THREAD_ENV = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _limit_thread_pools(threads: int | None) -> None:
    """Size every thread pool to ``threads`` before torch, numba or NumPy's BLAS load."""
    if threads:
        for name in THREAD_ENV:
            os.environ[name] = str(threads)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def cmd_prepare(args: argparse.Namespace) -> None:
    from ifrnet.bench.data.sources import prepare_dataset

    for path in prepare_dataset(args.dataset, args.spec, args.seed, args.out_dir):
        print(f"wrote {path}")


def cmd_download(args: argparse.Namespace) -> None:
    from ifrnet.bench.data.download import download

    print(f"wrote {download(args.url, args.out, args.sha256, progress=not args.no_progress)}")


def cmd_fetch_fastmri(args: argparse.Namespace) -> None:
    from ifrnet.bench.data.archive import fetch_volumes, manifest_path, read_url

    url = args.url or read_url({"env": args.url_env} if args.url_env else {"file": args.url_file})
    volumes = fetch_volumes(url, args.out_dir, args.volumes, progress=not args.no_progress)
    print(f"wrote {len(volumes)} volumes to {args.out_dir}; manifest {manifest_path(args.out_dir)}")


def cmd_mask(args: argparse.Namespace) -> None:
    from ifrnet.bench.config import SCHEMA_PATH, load_schema, validate_entry
    from ifrnet.numerics.masks import make_mask, save_mask, save_preview_png

    validate_entry(args.spec, "masks", load_schema(SCHEMA_PATH), "--spec")
    spec = dict(args.spec)
    kind = spec.pop("kind")
    mask = make_mask(kind, args.shape, seed=args.seed, **spec)
    save_mask(mask, args.out)
    if args.preview:
        save_preview_png(mask, args.preview)
    print(f"wrote {args.out}: {kind}, {mask.statistics.describe()}")


def cmd_recon_split(args: argparse.Namespace) -> None:
    from ifrnet.bench.pipeline import reconstruct_split

    _set_threads(args.threads)
    recon = reconstruct_split(
        args.data,
        args.mask,
        args.model,
        args.spec,
        args.out,
        batch_size=args.batch_size,
        checkpoint=args.checkpoint,
        device=args.device,
        tuned=args.tuned,
        maps=args.maps,
    )
    print(f"wrote {args.out}: {len(recon)} images")


def cmd_tune(args: argparse.Namespace) -> None:
    from ifrnet.bench.tuning import tune_method

    _set_threads(args.threads)
    result = tune_method(args.model, args.spec, args.val, args.mask, args.out)
    print(f"wrote {args.out}: best {result['best']} (PSNR {result['score']:.2f} dB)")


def cmd_train(args: argparse.Namespace) -> None:
    from ifrnet.methods.learned import train_model

    path = train_model(
        args.train,
        args.val,
        args.mask,
        args.model,
        args.spec,
        args.out_dir,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        progress=not args.no_progress,
    )
    print(f"wrote {path}")


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from ifrnet.bench.apply import model_spec, reconstruct_file
    from ifrnet.bench.config import SCHEMA_PATH, load_config

    _set_threads(args.threads)
    spec = None
    if args.method or args.model:
        config = load_config(args.config, SCHEMA_PATH) if args.model else None
        spec = model_spec(
            method=args.method,
            model=args.model,
            config=config,
            params=dict(args.param),
            tuned=args.tuned,
        )
        print(
            f"{args.model or args.method} ({spec['method']}): "
            + ", ".join(f"{k} = {v}" for k, v in sorted(spec["params"].items()))
        )
    elif args.param or args.tuned:
        raise ValueError("--param and --tuned go with --method or --model")
    elif args.checkpoint is None:
        raise ValueError("name what to run: --checkpoint, --model or --method")
    scores = reconstruct_file(
        args.checkpoint,
        args.input,
        args.mask,
        args.out,
        spec=spec,
        kind=args.kind,
        key=args.key,
        input_kind=args.input_kind,
        reference=args.reference,
        reference_key=args.reference_key,
        device=args.device,
        batch_size=args.batch_size,
    )
    print(f"wrote {args.out}")
    for i, score in enumerate(scores):
        print(
            f"image {i}: PSNR {score['psnr']:.2f} dB  SSIM {score['ssim']:.4f}  "
            f"HFEN {score['hfen']:.4f}"
        )


def cmd_convert_weights(args: argparse.Namespace) -> None:
    from ifrnet.methods.published import convert_published

    path = convert_published(args.method, args.input, args.out, args.model)
    print(f"wrote {path}: {args.method} from {args.input}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from ifrnet.bench.pipeline import evaluate_split

    table = evaluate_split(args.recon, args.data, args.out)
    print(f"wrote {args.out}: PSNR {table['psnr'].mean():.2f} dB, SSIM {table['ssim'].mean():.4f}")


def cmd_table(args: argparse.Namespace) -> None:
    from ifrnet.bench.render.build import build_table

    for path in build_table(
        args.view,
        args.name,
        args.out,
        metrics=args.metrics,
        masks=args.masks,
        data=args.data,
        tuned=args.tuned,
        published=args.published,
        device=args.run_device,
    ):
        print(f"wrote {path}")


def cmd_claims(args: argparse.Namespace) -> None:
    from ifrnet.bench.render.claims import build_claims

    for path in build_claims(
        args.view,
        args.out,
        claims=args.claims,
        published=args.published,
        inputs=args.inputs,
        device=args.run_device,
    ):
        print(f"wrote {path}")


def cmd_figure(args: argparse.Namespace) -> None:
    from ifrnet.bench.render.build import build_figure

    for path in build_figure(args.view, args.name, args.inputs, args.out, args.run_device):
        print(f"wrote {path}")


def cmd_stage_metrics(args: argparse.Namespace) -> None:
    from ifrnet.bench.pipeline import stage_metrics

    _set_threads(args.threads)
    table = stage_metrics(args.data, args.mask, args.checkpoint, args.out, args.device)
    last = table[table["stage"] == table["stage"].max()]
    print(f"wrote {args.out}: final stage PSNR {last['psnr'].mean():.2f} dB")


def cmd_report(args: argparse.Namespace) -> None:
    from ifrnet.bench.render.report import build_report

    config = args.config
    if config is not None and args.run_device:
        config = {**config, "device": args.run_device}
    out = build_report(
        args.tables,
        args.figures,
        args.captions,
        args.out,
        config=config,
        benchmarks=args.benchmarks,
        claims=(args.claims, args.claims_file) if args.claims else None,
    )
    print(f"wrote {out}")


def _add_experiment_args(p: argparse.ArgumentParser) -> None:
    """--mask, --model and --spec: the mask file and the model of one experiment."""
    p.add_argument("--mask", required=True, type=Path, help="mask .npz")
    p.add_argument("--model", required=True, help="model name (config key)")
    p.add_argument("--spec", required=True, type=_json, help="the model's config entry, JSON")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, ``ifrnet <command>: error: …`` like every other
    error (``ifrnet <command> --help`` shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    parser = _Parser(prog="ifrnet", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of any error (also {DEBUG_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a data set's train/val/test HDF5 files")
    p.add_argument("--dataset", required=True, help="data set name (config key)")
    p.add_argument("--spec", required=True, type=_json, help="the data set's config entry, JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True, type=Path)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("download", help="download a file, verify its SHA-256 (resumable)")
    p.add_argument("--url", required=True)
    p.add_argument("--sha256", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser(
        "fetch-fastmri", help="stream the first volumes of a fastMRI tar(.xz) archive URL"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--url-env", metavar="NAME", help="environment variable holding the archive's signed URL"
    )
    where.add_argument("--url-file", type=Path, help="file holding the archive's signed URL")
    where.add_argument("--url", help="the URL itself (it shows in your shell history)")
    p.add_argument(
        "--volumes", required=True, type=_positive_int, help="number of .h5 volumes to keep"
    )
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_fetch_fastmri)

    p = sub.add_parser("mask", help="generate a sampling mask (.npz + optional .png preview)")
    p.add_argument(
        "--spec",
        required=True,
        type=_json,
        help='mask config entry, e.g. {"kind": "radial", "rate": 0.2}',
    )
    p.add_argument("--shape", required=True, type=_shape, help="HxW, e.g. 256x256")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--preview", type=Path)
    p.set_defaults(func=cmd_mask)

    p = sub.add_parser("recon-split", help="reconstruct a prepared split with one model")
    p.add_argument("--data", required=True, type=Path, help="prepared split .h5")
    _add_experiment_args(p)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--batch-size", type=_positive_int, default=INFERENCE_BATCH)
    p.add_argument("--checkpoint", type=Path, help="model.pt of a learned model")
    p.add_argument("--tuned", type=Path, help="tuning result .json of a tuned method")
    p.add_argument("--maps", type=_int_list, help="stages whose T maps to store, e.g. 2,3,7,9")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int)
    p.set_defaults(func=cmd_recon_split)

    p = sub.add_parser("tune", help="grid-search an iterative method on a validation split")
    p.add_argument("--val", required=True, type=Path, help="prepared val split .h5")
    _add_experiment_args(p)
    p.add_argument("--out", required=True, type=Path, help="result .json")
    p.add_argument("--threads", type=_positive_int)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("train", help="train a learned model on a prepared data set")
    p.add_argument("--train", required=True, type=Path, help="prepared train split .h5")
    p.add_argument("--val", required=True, type=Path, help="prepared val split .h5")
    _add_experiment_args(p)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "convert-weights", help="convert the authors' published MATLAB network into model.pt"
    )
    p.add_argument(
        "--method",
        required=True,
        choices=["ifrnet", "admmnet"],
        help="ifrnet: IFR-Net-Code MatConvNet .mat; admmnet: Deep-ADMM-Net .mat",
    )
    p.add_argument("--input", required=True, type=Path, help="the authors' .mat file")
    p.add_argument("--model", default="published", help="model name stored in the metadata")
    p.add_argument("--out", required=True, type=Path, help="model.pt to write")
    p.set_defaults(func=cmd_convert_weights)

    p = sub.add_parser(
        "reconstruct",
        help="run any method on your own file: a trained "
        "checkpoint, a configured model or a registered method",
    )
    p.add_argument("--checkpoint", type=Path, help="model.pt of a learned model")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", help="model entry of --config, e.g. ifrcs")
    which.add_argument("--method", help="registered method (e.g. ifrcs) or package.module:Class")
    p.add_argument(
        "--config",
        type=Path,
        default=Path("config/config.yaml"),
        help="config holding --model (default config/config.yaml)",
    )
    p.add_argument("--tuned", type=Path, help="tuning result .json (results/tuning/...)")
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a constant of the method, e.g. lam=0.01 (repeatable; overrides the "
        "tuning result and the config)",
    )
    p.add_argument(
        "--kind",
        choices=["real", "complex"],
        help="data kind (default: from the checkpoint, else real for a real image)",
    )
    p.add_argument("--input", required=True, type=Path, help=".npy/.npz/.mat/.h5 image or k-space")
    p.add_argument("--key", help="variable name inside the input file, if it holds several")
    p.add_argument("--input-kind", choices=["image", "kspace"], default="image")
    p.add_argument("--mask", required=True, type=Path, help="mask file (.npz/.npy/.mat), (H, W)")
    p.add_argument("--out", required=True, type=Path, help="output .npy, .h5 or .mat")
    p.add_argument("--reference", type=Path, help="ground-truth image file for metrics")
    p.add_argument("--reference-key")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=INFERENCE_BATCH,
        help="images per batch (networks)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int)
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("evaluate", help="per-image metrics of a reconstruction file")
    p.add_argument("--recon", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="prepared split .h5 (ground truth)")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("table", help="render one table (CSV, Markdown, LaTeX) from its files")
    p.add_argument("--name", required=True, help="table name (config key)")
    p.add_argument(
        "--view",
        required=True,
        type=_json,
        help="the table's view of the config, JSON (ifrnet.bench.artefacts.table_view)",
    )
    p.add_argument(
        "--metrics",
        required=True,
        nargs="+",
        type=Path,
        help="per-image metrics CSV of each cell (masks outer, models inner)",
    )
    p.add_argument(
        "--masks",
        required=True,
        nargs="+",
        type=Path,
        help="mask file of each mask of the table, in its order",
    )
    p.add_argument(
        "--tuned",
        nargs="*",
        type=Path,
        default=[],
        help="tuning result of each cell of a tuned model, in cell order",
    )
    p.add_argument("--data", required=True, type=Path, help="prepared test split .h5")
    p.add_argument(
        "--published",
        type=Path,
        help="published-results file (config/published.yaml), if the table has a paper",
    )
    p.add_argument(
        "--run-device",
        default="cpu",
        help="device the timings were measured on (caption, provenance)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="table .csv (the .md, .tex and .prov.json go beside)",
    )
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("claims", help="check the paper's claims on a study (CSV, Markdown)")
    p.add_argument(
        "--view",
        required=True,
        type=_json,
        help="the claims' view of the config, JSON (ifrnet.bench.artefacts.claims_view)",
    )
    p.add_argument(
        "--inputs",
        nargs="*",
        type=Path,
        default=[],
        help="per-run metrics and stage metrics files (ifrnet.bench.artefacts.claim_files order)",
    )
    p.add_argument(
        "--claims", required=True, type=Path, help="the claims file (config/claims.yaml)"
    )
    p.add_argument(
        "--published", required=True, type=Path, help="published results (config/published.yaml)"
    )
    p.add_argument("--run-device", default="cpu", help="device of the run (provenance)")
    p.add_argument("--out", required=True, type=Path, help="claims .csv (the .md goes beside)")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("figure", help="draw one figure (PNG + PDF) from its files")
    p.add_argument("--name", required=True, help="figure name (config key)")
    p.add_argument(
        "--view",
        required=True,
        type=_json,
        help="the figure's view of the config, JSON (ifrnet.bench.artefacts.figure_view)",
    )
    p.add_argument(
        "--inputs",
        nargs="*",
        type=Path,
        default=[],
        help="the files its kind draws from, in the kind's order",
    )
    p.add_argument("--run-device", default="cpu", help="device of the run (provenance)")
    p.add_argument("--out", required=True, type=Path, help="output .png (the .pdf goes beside)")
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("stage-metrics", help="metrics of every stage output of a trained net")
    p.add_argument("--data", required=True, type=Path, help="prepared split .h5")
    p.add_argument("--mask", required=True, type=Path)
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int)
    p.set_defaults(func=cmd_stage_metrics)

    p = sub.add_parser("report", help="one HTML page with every table and figure")
    p.add_argument("--tables", nargs="*", type=Path, default=[], help="table CSVs")
    p.add_argument("--figures", nargs="*", type=Path, default=[], help="figure PNGs")
    p.add_argument("--claims", type=Path, help="claims CSV (results/tables/claims.csv)")
    p.add_argument(
        "--claims-file",
        type=Path,
        default=Path("config/claims.yaml"),
        help="the claims file the CSV was checked against (statements and quotes)",
    )
    p.add_argument("--captions", type=Path, default=Path("workflow/report"))
    p.add_argument("--config", type=_json, help="the whole config, JSON (titles, provenance)")
    p.add_argument("--run-device", help="device of the run (shown with the config)")
    p.add_argument("--benchmarks", type=Path, help="Snakemake benchmark folder (job times)")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_report)
    return parser


#: Environment variable that, set to anything but ``0`` or empty, acts like ``--debug``.
DEBUG_ENV = "IFRNET_DEBUG"


def debugging(args: argparse.Namespace) -> bool:
    """Whether errors show their traceback (``--debug`` or ``IFRNET_DEBUG=1``)."""
    return args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ifrnet`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    _limit_thread_pools(getattr(args, "threads", None))
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        if getattr(args, "device", None):
            from ifrnet.util.device import check_device

            check_device(args.device, "--device")
        func(args)
    except (ValueError, OSError, KeyError, RuntimeError) as err:
        if debugging(args):
            raise
        message = str(err) if not isinstance(err, KeyError) else f"missing key {err}"
        if isinstance(err, DamagedFile):
            message += rebuild_hint(err.path)
        print(f"ifrnet {args.command}: error: {one_line(message)}", file=sys.stderr)
        signum = getattr(err, "signum", None)  # stopped on a signal (training: SIGTERM)
        return 128 + signum if isinstance(signum, int) else 2
    return 0


def one_line(message: str) -> str:
    """A message on one line: a list of problems (``head:`` then ``  - item`` lines, as
    :class:`ifrnet.bench.config.ConfigError` has) as ``head: item; item``."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return lines[0] if lines else message
    items = [line.removeprefix("- ") for line in lines[1:]]
    return f"{lines[0]} {'; '.join(items)}"


if __name__ == "__main__":
    sys.exit(main())

"""The bad-input corpus: every fault a user can feed the pipeline, generated here, run through
the `ifrnet` command line. Each must exit non-zero with one error line naming the file (or
config key) and the fault, and leave no output file behind."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ifrnet.bench.cli import main
from ifrnet.methods.learned import build_network
from ifrnet.numerics.masks import make_mask, save_mask
from tests import fixtures
from tests.workflow_helpers import ROOT, snakemake, workflow_copy


@dataclass
class Case:
    """Builds its inputs in a directory; returns (argv, expected message parts, outputs)."""

    build: Callable[[Path], tuple[list[str], list[str], list[Path]]]


def _fastmri_prepare(tmp: Path, **overrides) -> tuple[list[str], list[str], list[Path]]:
    for sub in ("singlecoil_train", "singlecoil_val"):
        (tmp / sub).mkdir()
        fixtures.fastmri_file(tmp / sub / "ok.h5", slices=4)
    bad = tmp / "singlecoil_train" / "bad.h5"
    fixtures.fastmri_file(bad, **overrides)
    spec = {
        "source": "fastmri",
        "kind": "complex",
        "size": 16,
        "crop": 16,
        "dir": str(tmp),
        "n_train": 6,
        "n_val": 1,
        "n_test": 1,
        "noise_sigma": 0.0,
    }
    out = tmp / "out"
    argv = ["prepare", "--dataset", "knee", "--spec", json.dumps(spec), "--out-dir", str(out)]
    return argv, [str(bad)], [out / "train.h5", out / "val.h5", out / "test.h5"]


def fastmri_case(message: str, **overrides) -> Case:
    def build(tmp: Path):
        argv, names, outs = _fastmri_prepare(tmp, **overrides)
        return argv, names + [message], outs

    return Case(build)


def truncated_hdf5(tmp: Path):
    argv, names, outs = _fastmri_prepare(tmp)
    bad = Path(names[0])
    bad.write_bytes(bad.read_bytes()[:800])
    return argv, names + ["not a readable HDF5 file"], outs


def mat_without_key(tmp: Path):
    directory = tmp / "siat"
    directory.mkdir()
    for i in (1, 2, 3):
        fixtures.siat_slice(directory / f"lsq{i}.mat", seed=i, key="Img" if i != 2 else "X")
    spec = {
        "source": "siat",
        "kind": "real",
        "size": 256,
        "n_train": 1,
        "n_val": 1,
        "n_test": 1,
        "noise_sigma": 0.0,
        "dir": str(directory),
    }
    out = tmp / "out"
    argv = ["prepare", "--dataset", "b", "--spec", json.dumps(spec), "--out-dir", str(out)]
    return argv, ["lsq2.mat", "no variable 'Img'"], [out / "test.h5"]


def checksum_mismatch(tmp: Path):
    served = tmp / "served"
    served.mkdir()
    (served / "f.bin").write_bytes(b"x" * 5000)
    url, server = fixtures.serve(served)
    tmp.joinpath("server").write_text(url)  # shut down by the test below
    _SERVERS.append(server)
    out = tmp / "f.bin"
    argv = [
        "download",
        "--url",
        f"{url}/f.bin",
        "--sha256",
        "1" * 64,
        "--out",
        str(out),
        "--no-progress",
    ]
    return argv, [f"{url}/f.bin", "checksum mismatch", "1" * 64], [out, tmp / "f.bin.part"]


_SERVERS: list = []


def _split(tmp: Path, size: int = 16) -> Path:
    return fixtures.prepared_split(tmp / "test.h5", np.ones((1, size, size)))


def _recon_argv(tmp: Path, mask: Path) -> tuple[list[str], Path]:
    out = tmp / "recon.h5"
    return [
        "recon-split",
        "--data",
        str(_split(tmp)),
        "--mask",
        str(mask),
        "--model",
        "zf",
        "--spec",
        json.dumps({"method": "zero-filled"}),
        "--out",
        str(out),
    ], out


def mask_wrong_shape(tmp: Path):
    mask = tmp / "mask.npz"
    save_mask(make_mask("radial", (32, 32), rate=0.3), mask)
    argv, out = _recon_argv(tmp, mask)
    return argv, [str(mask), "(32, 32)", "(16, 16)"], [out]


def empty_mask(tmp: Path):
    mask = tmp / "empty.npy"
    np.save(mask, np.zeros((16, 16), bool))
    argv, out = _recon_argv(tmp, mask)
    return argv, [str(mask), "empty"], [out]


def rate_out_of_range(tmp: Path):
    out = tmp / "m.npz"
    return (
        [
            "mask",
            "--spec",
            '{"kind": "radial", "rate": 1.5}',
            "--shape",
            "32x32",
            "--out",
            str(out),
        ],
        ["rate", "1.5"],
        [out],
    )


def negative_size(tmp: Path):
    out = tmp / "m.npz"
    return (
        ["mask", "--spec", '{"kind": "radial", "rate": 0.5}', "--shape=-8x32", "--out", str(out)],
        ["shape", "-8"],
        [out],
    )


def _checkpoint_argv(tmp: Path, checkpoint: Path) -> tuple[list[str], Path]:
    image = tmp / "image.npy"
    np.save(image, np.ones((16, 16), np.float32))
    mask = tmp / "mask.npz"
    save_mask(make_mask("radial", (16, 16), rate=0.4), mask)
    out = tmp / "out.npy"
    return [
        "reconstruct",
        "--checkpoint",
        str(checkpoint),
        "--input",
        str(image),
        "--mask",
        str(mask),
        "--out",
        str(out),
    ], out


def _model_file(tmp: Path, stages: int, claimed_stages: int) -> Path:
    """A model.pt of an IFR-Net with ``stages`` whose metadata claims ``claimed_stages``."""
    net = build_network("ifrnet", {"stages": stages, "blocks": 1}, False)
    checkpoint = tmp / "model.pt"
    torch.save(
        {
            "model": net.state_dict(),
            "metadata": {"method": "ifrnet", "params": {"stages": claimed_stages, "blocks": 1}},
        },
        checkpoint,
    )
    return checkpoint


def other_architecture(tmp: Path):
    checkpoint = _model_file(tmp, stages=2, claimed_stages=3)
    argv, out = _checkpoint_argv(tmp, checkpoint)
    return argv, [str(checkpoint), "do not fit ifrnet"], [out]


class Payload:
    """An arbitrary object: unpickling it would run code (here it only records that it ran)."""

    def __reduce__(self):
        return (Path.touch, (Path("/tmp/ifrnet-pickle-ran"),))


def pickle_checkpoint(tmp: Path):
    checkpoint = tmp / "evil.pt"
    with open(checkpoint, "wb") as f:
        pickle.dump({"model": {}, "payload": Payload()}, f)
    argv, out = _checkpoint_argv(tmp, checkpoint)
    return argv, [str(checkpoint), "not a valid weights-only checkpoint"], [out]


def nan_image_input(tmp: Path):
    image = tmp / "nan.npy"
    np.save(image, np.full((16, 16), np.nan, np.float32))
    argv, out = _checkpoint_argv(tmp, _model_file(tmp, stages=1, claimed_stages=1))
    argv[argv.index("--input") + 1] = str(image)
    return argv, [str(image), "NaN"], [out]


def directory_as_input(tmp: Path):
    argv, out = _checkpoint_argv(tmp, _model_file(tmp, stages=1, claimed_stages=1))
    argv[argv.index("--input") + 1] = str(tmp)
    return argv, [str(tmp), "is a directory"], [out]


def device_not_available(tmp: Path):
    argv, out = _checkpoint_argv(tmp, _model_file(tmp, stages=1, claimed_stages=1))
    return argv + ["--device", "cuda:99"], ["--device 'cuda:99'"], [out]


CASES = {
    "truncated HDF5": Case(truncated_hdf5),
    "HDF5 without kspace": fastmri_case("missing dataset 'kspace'", kspace=None),
    "HDF5 without reconstruction_esc": fastmri_case(
        "missing dataset 'reconstruction_esc'", reconstruction_esc=None
    ),
    "HDF5 without attribute max": fastmri_case("missing attribute 'max'", attrs={}),
    "wrong dtype": fastmri_case("kspace must be complex", kspace=np.ones((3, 32, 24), np.float32)),
    "wrong rank": fastmri_case("kspace must be 3-D", kspace=np.ones((32, 24), np.complex64)),
    "NaN in k-space": fastmri_case("NaN or Inf", kspace=np.full((3, 32, 24), np.nan, np.complex64)),
    "Inf in k-space": fastmri_case("NaN or Inf", kspace=np.full((3, 32, 24), np.inf, np.complex64)),
    "all-zero slice": fastmri_case("are all zero", kspace=np.zeros((3, 32, 24), np.complex64)),
    ".mat without the key": Case(mat_without_key),
    "mask of the wrong shape": Case(mask_wrong_shape),
    "empty mask": Case(empty_mask),
    "rate outside (0, 1]": Case(rate_out_of_range),
    "negative size": Case(negative_size),
    "checksum mismatch": Case(checksum_mismatch),
    "checkpoint of another architecture": Case(other_architecture),
    "pickle checkpoint with arbitrary objects": Case(pickle_checkpoint),
    "NaN in a user's image": Case(nan_image_input),
    "a directory as --input": Case(directory_as_input),
    "a CUDA device this machine lacks": Case(device_not_available),
}


@pytest.mark.parametrize("option", ["--threads", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-2"])
def test_counts_below_one_are_rejected(tmp_path, capsys, option, value):
    argv, out = _recon_argv(tmp_path, tmp_path / "mask.npz")
    with pytest.raises(SystemExit) as exit_:
        main(argv + [option, value])
    assert exit_.value.code == 2
    assert f"argument {option}: must be at least 1, got {value}" in capsys.readouterr().err
    assert not out.exists()


def test_debug_shows_the_traceback_of_an_error(tmp_path, capsys, monkeypatch):
    argv, _, _ = directory_as_input(tmp_path)
    monkeypatch.delenv("IFRNET_DEBUG", raising=False)
    assert main(argv) == 2
    with pytest.raises(ValueError, match="is a directory"):
        main(["--debug", *argv])
    monkeypatch.setenv("IFRNET_DEBUG", "1")
    with pytest.raises(ValueError, match="is a directory"):
        main(argv)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly_and_writes_nothing(name, tmp_path, capsys):
    Path("/tmp/ifrnet-pickle-ran").unlink(missing_ok=True)
    argv, expected, outputs = CASES[name].build(tmp_path)
    try:
        status = main(argv)
    finally:
        while _SERVERS:
            _SERVERS.pop().shutdown()
    err = capsys.readouterr().err.strip()
    assert status != 0
    last = err.splitlines()[-1]
    assert last.startswith(f"ifrnet {argv[0]}: error: "), err
    for part in expected:
        assert part in last, f"{part!r} not in {last!r}"
    for path in outputs:
        assert not path.exists(), f"{path} left behind"
    assert not Path("/tmp/ifrnet-pickle-ran").exists(), "a pickle payload was executed"


def test_corpus_is_large_enough():
    assert len(CASES) >= 15


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(unknown_key=1), "unknown key unknown_key"),
        (lambda c: c["datasets"]["brain-real"].update(size=-8), "datasets.brain-real.size"),
        (lambda c: c.update(device="cuda:99"), "device 'cuda:99': "),
    ],
    ids=["unknown config key", "negative size in the config", "a CUDA device this machine lacks"],
)
def test_bad_config_fails_before_any_job(tmp_path, edit, message):
    work = workflow_copy(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    edit(config)
    (work / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "--cores", "1", "--configfile", "bad.yaml")
    assert result.returncode != 0 and message in result.stderr + result.stdout
    assert not (work / "data").exists()


@pytest.mark.slow
def test_planning_needs_no_device(tmp_path):
    """A dry run (e.g. on a cluster's login node without the GPU the jobs will get) plans."""
    work = workflow_copy(tmp_path)
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["device"] = "cuda:99"
    (work / "gpu.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "-n", "results/tables", "--cores", "1", "--configfile", "gpu.yaml")
    assert result.returncode == 0, result.stderr[-3000:]

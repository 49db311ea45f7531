"""Fuzzing (Hypothesis) of every reader a user reaches through the ``ifrnet`` command line:
``reconstruct``'s input and mask files (.npy, .npz, .mat v5 and v7.3, .h5) and checkpoints, the
``folder`` data source, ``mask --spec``/``--shape``, ``reconstruct --param``,
``convert-weights`` files and config YAML. Inputs are generated malformed — wrong ranks,
dtypes, NaN/Inf, empty arrays, huge declared shapes, pickles and object arrays, wrong keys,
truncated or garbage bytes, wrong types and values — and each must be refused the same way:
exit status non-zero, exactly one line on stderr that names the file (or option) at fault, no
traceback, no warning, no output file, and bounded memory (a file declaring 10¹² elements is
refused before anything is allocated).

Commands run in-process (``ifrnet.bench.cli.main``). The budget is fixed and derandomised (a
fixed seed), ``IFRNET_FUZZ_EXAMPLES`` cases per test (default 50: 400 cases, under a minute);
raise it for a large run, e.g. ``IFRNET_FUZZ_EXAMPLES=1300 pytest tests/test_fuzz.py -s``
(10,400 cases; ``-s`` prints the count per test).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import pickle
import string
import sys
import tempfile
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import scipy.io
import torch
import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from ifrnet.bench.cli import main
from ifrnet.methods.learned import build_network
from ifrnet.numerics.masks import make_mask, save_mask
from tests.test_published import fake_admmnet, fake_ifrnet, write_matconvnet, write_v73
from tests.workflow_helpers import ROOT

EXAMPLES = int(os.environ.get("IFRNET_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same cases on every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
MEMORY_BOUND = 64 << 20  # bytes traced while one case runs (the inputs are a few kB)
SIDE = 8  # images and masks are SIDE × SIDE
HUGE = (1_000_000, 1_000_000)  # 10¹² elements, declared in a few bytes
CASES: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz cases run: {dict(CASES)}; total {sum(CASES.values())}")


# ---------------------------------------------------------------------------------------------
# Running a command and checking how it refused


def run(argv: list[str]) -> tuple[Any, str, int, list[str]]:
    """(exit status, stderr, peak traced bytes, warnings) of ``ifrnet ARGV`` run in-process. An
    exception escaping ``main`` (a traceback for the user) propagates: Hypothesis reports it."""
    err = io.StringIO()
    tracemalloc.start()
    try:
        with (
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            try:
                status = main(argv)
            except SystemExit as exit_:
                status = exit_.code
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return status, err.getvalue(), peak, [str(w.message) for w in caught]


def assert_refused(test: str, argv: list[str], named: list[str], outputs: list[Path]) -> str:
    """Run ``argv``; check the invariant (module docstring); return the error line. ``named``:
    the file or option names of which the line must mention one."""
    CASES[test] += 1
    folders = {p.parent for p in outputs}
    before = {f: set(f.iterdir()) if f.is_dir() else set() for f in folders}
    status, err, peak, caught = run(argv)
    lines = err.strip().splitlines()
    assert status not in (0, None), f"accepted: {argv}"
    assert len(lines) == 1, f"stderr is not one line:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith(f"ifrnet {argv[0]}: error: "), lines[0]
    assert any(name in lines[0] for name in named), f"{lines[0]!r} names none of {named}"
    assert not caught, f"warnings printed: {caught}"
    for path in outputs:
        assert not path.exists(), f"{path} written"
    for folder in folders:
        after = set(folder.iterdir()) if folder.is_dir() else set()
        assert after == before[folder], f"left behind: {after - before[folder]}"
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB allocated"
    return lines[0]


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# ---------------------------------------------------------------------------------------------
# Malformed array files

FORMATS = ("npy", "npz", "mat5", "mat73", "h5")
SUFFIX = {"npy": ".npy", "npz": ".npz", "mat5": ".mat", "mat73": ".mat", "h5": ".h5"}
MAGIC = {
    "npy": b"\x93NUMPY",
    "npz": b"PK\x03\x04",
    "mat5": b"MATLAB 5.0 MAT-file",
    "mat73": b"\x89HDF\r\n\x1a\n",
    "h5": b"\x89HDF\r\n\x1a\n",
}
MAT73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"


def write_arrays(fmt: str, path: Path, arrays: dict[str, Any]) -> None:
    """Arrays (name → array) in one of FORMATS (a .npy holds the first only)."""
    if fmt == "npy":
        np.save(path, next(iter(arrays.values())), allow_pickle=True)
    elif fmt == "npz":
        np.savez(path, **arrays)
    elif fmt == "mat5":
        scipy.io.savemat(path, arrays)
    else:
        with h5py.File(path, "w", userblock_size=512 if fmt == "mat73" else 0) as f:
            for name, array in arrays.items():
                array = np.asarray(array)
                f.create_dataset(name, data=array.T if fmt == "mat73" else array)
        if fmt == "mat73":
            with open(path, "r+b") as f:
                f.write(MAT73_HEADER.ljust(128))


def huge_npy() -> bytes:
    """A .npy whose header declares 10¹² float64 (8 TB) followed by 16 bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": HUGE}
    )
    return np.lib.format.magic(1, 0) + buffer.getvalue()[8:] + bytes(16)


def write_huge(fmt: str, path: Path, name: str) -> None:
    """A file of format ``fmt`` declaring a 10¹² element array ``name``."""
    if fmt == "npy":
        path.write_bytes(huge_npy())
    elif fmt == "npz":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"{name}.npy", huge_npy())
    elif fmt == "mat5":
        buffer = io.BytesIO()
        scipy.io.savemat(buffer, {name: np.ones((SIDE, SIDE))})
        data = bytearray(buffer.getvalue())
        dims = 128 + 8 + 16 + 8  # header, matrix tag, array flags, dimensions tag
        assert np.frombuffer(data[dims : dims + 8], "<i4").tolist() == [SIDE, SIDE]
        data[dims : dims + 8] = np.array(HUGE, "<i4").tobytes()
        path.write_bytes(bytes(data))
    else:
        with h5py.File(path, "w", userblock_size=512 if fmt == "mat73" else 0) as f:
            f.create_dataset(name, shape=HUGE, dtype="f8", chunks=(1, 64))  # nothing stored


def _shape(rank: int) -> tuple[int, ...]:
    return tuple([2] * (rank - 2) + [SIDE, SIDE][: max(rank, 0)])[-rank:] if rank else ()


@st.composite
def bad_content(draw, role: str) -> tuple[str, Any]:
    """(fault, array) of an array that is wrong as an image or k-space (``role="image"``) or as
    a mask (``role="mask"``) of SIDE × SIDE."""
    faults = ["rank", "dtype", "nonfinite", "empty", "zeros", "objects", "mismatch"]
    if role == "mask":
        faults.append("values")
    if role == "folder":
        faults.remove("mismatch")
        faults.append("smaller")
    fault = draw(st.sampled_from(faults))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    valid = rng.random((SIDE, SIDE)) < 0.5 if role == "mask" else rng.random((SIDE, SIDE)) + 0.1
    if fault == "rank":
        ranks = [0, 1, 4] if role != "mask" else [0, 1, 3, 4]
        return fault, rng.random(_shape(draw(st.sampled_from(ranks)))) + 0.1
    if fault == "dtype":
        dtype = draw(st.sampled_from(["U3", "S3", "m8[s]", "M8[s]", "V8", "f4,i2"]))
        return fault, np.zeros((SIDE, SIDE), dtype=dtype)
    if fault == "nonfinite":
        array = valid.astype(draw(st.sampled_from(["f4", "f8", "c8", "c16"])))
        i, j = draw(st.integers(0, SIDE - 1)), draw(st.integers(0, SIDE - 1))
        array[i, j] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return fault, array
    if fault == "empty":
        return fault, np.zeros(draw(st.sampled_from([(0, SIDE, SIDE), (SIDE, 0), (0,)])))
    if fault == "zeros":
        return fault, np.zeros((SIDE, SIDE))
    if fault == "objects":
        array = np.empty((1, 2), dtype=object)
        array[0, 0], array[0, 1] = valid, "text"
        return fault, array
    if fault == "values":
        array = valid.astype(float)
        array[draw(st.integers(0, SIDE - 1)), 0] = draw(st.sampled_from([2.0, 0.5, -1.0]))
        return fault, array
    if fault == "smaller":
        return fault, rng.random((SIDE - 1, SIDE)) + 0.1
    other = draw(st.sampled_from([(SIDE + 1, SIDE), (SIDE, 2 * SIDE), (3, 5)]))
    return fault, rng.random(other) < 0.5 if role == "mask" else rng.random(other) + 0.1


@st.composite
def bad_file(draw, folder: Path, name: str, role: str, key: str) -> tuple[Path, list[str]]:
    """A malformed file in ``folder`` (its stem ``name``, its variable ``key``); returns it and
    extra command-line arguments (``--key``) the case needs."""
    fmt = draw(st.sampled_from(FORMATS))
    path = folder / (name + SUFFIX[fmt])
    kind = draw(st.sampled_from(["content", "content", "truncated", "garbage", "huge", "keys"]))
    extra: list[str] = []
    if kind == "content":
        _, array = draw(bad_content(role))
        try:
            write_arrays(fmt, path, {key: array})
        except (TypeError, ValueError, NotImplementedError):
            reject()  # this format cannot hold this array
    elif kind == "truncated":
        write_arrays(fmt, path, {key: np.ones((SIDE, SIDE))})
        data = path.read_bytes()
        path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])
    elif kind == "garbage":
        prefix = draw(st.sampled_from([b"", MAGIC[fmt]]))
        path.write_bytes(prefix + draw(st.binary(max_size=600)))
    elif kind == "huge":
        write_huge(fmt, path, key)
    else:  # variables: two and no key, the key missing, or none at all
        if fmt == "npy":
            reject()
        # (one variable of another name is no fault where no key is asked: masks, folders)
        layout = draw(st.sampled_from(["two", "none"] + (["missing"] if role == "image" else [])))
        arrays = {
            "two": {"a": np.ones((SIDE, SIDE)), "b": np.ones((SIDE, SIDE))},
            "missing": {"other": np.ones((SIDE, SIDE))},
            "none": {},
        }[layout]
        if layout == "missing" or role == "mask":
            extra = ["--key", key] if role == "image" else []
        if fmt == "mat5" and not arrays:
            path.write_bytes(MAT73_HEADER.replace(b"7.3", b"5.0").ljust(116) + bytes(12))
        else:
            write_arrays(fmt, path, arrays)
    return path, extra


def valid_mask(folder: Path) -> Path:
    path = folder / "ok-mask.npz"
    save_mask(make_mask("radial", (SIDE, SIDE), rate=0.4), path)
    return path


def valid_image(folder: Path) -> Path:
    path = folder / "ok-image.npy"
    np.save(path, np.random.default_rng(0).random((SIDE, SIDE)) + 0.1)
    return path


def reconstruct_argv(image: Path, mask: Path, out: Path, extra: list[str]) -> list[str]:
    return [
        "reconstruct",
        "--method",
        "zero-filled",
        "--input",
        str(image),
        "--mask",
        str(mask),
        "--out",
        str(out),
        *extra,
    ]


# ---------------------------------------------------------------------------------------------
# The properties


@FUZZ
@given(st.data())
def test_reconstruct_refuses_malformed_inputs(data):
    with scratch() as tmp:
        image, extra = data.draw(bad_file(tmp, "input", "image", "img"))
        mask = valid_mask(tmp)
        out = tmp / "out" / "recon.npy"
        argv = reconstruct_argv(image, mask, out, extra)
        assert_refused("reconstruct --input", argv, [str(image), str(mask)], [out])


@FUZZ
@given(st.data())
def test_reconstruct_refuses_malformed_masks(data):
    with scratch() as tmp:
        mask, _ = data.draw(bad_file(tmp, "mask", "mask", "mask"))
        out = tmp / "out" / "recon.h5"
        argv = reconstruct_argv(valid_image(tmp), mask, out, [])
        assert_refused("reconstruct --mask", argv, [str(mask)], [out])


@FUZZ
@given(st.data())
def test_folder_source_refuses_a_malformed_file(data):
    with scratch() as tmp:
        folder = tmp / "slices"
        folder.mkdir()
        for i in range(2):
            np.save(folder / f"good{i}.npy", np.random.default_rng(i).random((2, SIDE, SIDE)))
        bad, _ = data.draw(bad_file(folder, "bad", "folder", "img"))
        spec = {
            "source": "folder",
            "dir": str(folder),
            "kind": "real",
            "size": SIDE,
            "n_train": 1,
            "n_val": 1,
            "n_test": 1,
            "noise_sigma": 0.0,
            "split_by": "slice",
        }
        out = tmp / "prepared"
        argv = ["prepare", "--dataset", "mine", "--spec", json.dumps(spec), "--out-dir", str(out)]
        outputs = [out / f"{split}.h5" for split in ("train", "val", "test")]
        assert_refused("prepare (folder)", argv, [str(bad)], outputs)


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
BAD = {
    "rate": st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=1.0, exclude_min=True),
        st.sampled_from([float("nan"), float("inf")]),
        JSON_VALUES.filter(lambda v: not isinstance(v, int | float) or isinstance(v, bool)),
    ),
    "acceleration": st.one_of(
        st.integers(max_value=0),
        st.floats().filter(lambda v: not float(v).is_integer()),
        JSON_VALUES.filter(lambda v: not isinstance(v, int | float) or isinstance(v, bool)),
    ),
    "path": st.one_of(st.just(""), st.just("/nonexistent/mask.npz"), st.integers(), st.none()),
    "center_fraction": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.01)),
}
VALID_SPECS = [
    {"kind": "radial", "rate": 0.3},
    {"kind": "labradial", "rate": 0.2},
    {"kind": "random2d", "rate": 0.25},
    {"kind": "random1d", "rate": 0.25},
    {"kind": "fastmri", "acceleration": 4},
    {"kind": "fastmri", "acceleration": 8, "center_fraction": 0.1},
    {"kind": "file", "path": "MASK"},
]
BAD_SHAPES = st.one_of(
    st.sampled_from(["0x8", "-3x8", "8", "8x8x8", "x", "100000x8", "8x99999999", "1e3x8"]),
    st.text(max_size=8).filter(lambda t: "x" not in t),
)


@FUZZ
@given(st.data())
def test_mask_refuses_malformed_specs(data):
    with scratch() as tmp:
        mask_file = valid_mask(tmp)
        spec: Any = dict(data.draw(st.sampled_from(VALID_SPECS)))
        if spec.get("path") == "MASK":
            spec["path"] = str(mask_file)
        shape, text = f"{SIDE}x{SIDE}", None
        fault = data.draw(
            st.sampled_from(
                ["value", "unknown", "missing", "kind", "type", "json", "shape", "file"]
            )
        )
        named = ["--spec", "--shape", "shape", *spec]
        if fault == "value":
            key = data.draw(st.sampled_from([k for k in spec if k in BAD]))
            bad = BAD[key]
            if key == "acceleration" and "center_fraction" not in spec:
                bad = bad | st.sampled_from([3, 5, 6])  # no default centre fraction for these
            spec[key] = data.draw(bad)
            named.append(str(spec[key]))  # a path that is not there is named as such
        elif fault == "unknown":
            key = data.draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in spec))
            spec[key] = data.draw(JSON_VALUES)
            named.append(key)
        elif fault == "missing":  # what the kind cannot do without
            needed = ("kind", "rate", "acceleration", "path")
            spec.pop(data.draw(st.sampled_from([k for k in sorted(spec) if k in needed])))
        elif fault == "kind":
            spec["kind"] = data.draw(
                JSON_VALUES.filter(lambda k: k not in [s["kind"] for s in VALID_SPECS])
            )
        elif fault == "type":
            spec = data.draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        elif fault == "json":
            text = data.draw(st.text(max_size=20).filter(_not_json))
        elif fault == "shape":
            shape = data.draw(BAD_SHAPES)
        else:
            bad, _ = data.draw(bad_file(tmp, "user-mask", "mask", "mask"))
            spec = {"kind": "file", "path": str(bad)}
            named.append(str(bad))
        out = tmp / "out" / "m.npz"
        argv = ["mask", "--spec", text if text is not None else json.dumps(spec)]
        argv += [f"--shape={shape}", "--out", str(out), "--preview", str(out.with_suffix(".png"))]
        assert_refused("mask --spec", argv, named, [out, out.with_suffix(".png")])


# Registered methods that are not networks, and the parameters their constructors take.
PLAIN = {
    "zero-filled": {},
    "ifrcs": {"lam": 0.02, "rho": 0.1, "v": 0.01, "max_iter": 100, "denoiser": "dct"},
    "pano": {"lam": 0.01, "outer": 4, "patch": 8},
    "fdlcp": {"lam": 0.01, "directions": 8, "smooth_level": 0.1},
}


def _wrong_for(default: Any) -> st.SearchStrategy[str]:
    """``--param`` value texts of the wrong kind for a parameter with this default."""
    if isinstance(default, str):
        values = JSON_VALUES.filter(lambda v: not isinstance(v, str))
        return values.map(json.dumps)
    numbers = isinstance(default, float)
    values = JSON_VALUES.filter(
        lambda v: (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or (numbers and not np.isfinite(v))
            or (not numbers and not isinstance(v, int))
        )
    )
    texts = st.text(alphabet=string.ascii_letters, min_size=1, max_size=6).filter(_not_json)
    return st.one_of(values.map(json.dumps), texts)


@FUZZ
@given(st.data())
def test_reconstruct_refuses_malformed_params(data):
    with scratch() as tmp:
        method = data.draw(st.sampled_from(sorted(PLAIN)))
        known = PLAIN[method]
        if known and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(sorted(known)))
            value = data.draw(_wrong_for(known[name]))
        else:
            name = data.draw(
                st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(
                    lambda n: n not in known and n not in ("real",)
                )
            )
            value = data.draw(st.sampled_from(["1", "0.5", "abc", "true"]))
        out = tmp / "out" / "r.npy"
        argv = reconstruct_argv(valid_image(tmp), valid_mask(tmp), out, [])
        argv[argv.index("zero-filled")] = method
        argv += ["--param", f"{name}={value}"]
        assert_refused("reconstruct --param", argv, [name], [out])


@st.composite
def bad_weights(draw, folder: Path) -> tuple[str, Path]:
    """(method, file) that ``convert-weights`` must refuse: another format, garbage, a
    truncated net, or the authors' layout with a layer or weight changed."""
    method = draw(st.sampled_from(["ifrnet", "admmnet"]))
    path = folder / "net.mat"
    kind = draw(st.sampled_from(["array file", "truncated", "garbage", "altered", "other net"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "array file":
        path, _ = draw(bad_file(folder, "net", "image", "net"))
        return method, path
    if kind == "garbage":
        prefix = draw(st.sampled_from([b"", MAGIC["mat5"], MAGIC["h5"]]))
        path.write_bytes(prefix + draw(st.binary(max_size=600)))
        return method, path
    layout = method  # whose file: this method's, or (another net) the other authors'
    if kind == "other net":
        layout = "admmnet" if method == "ifrnet" else "ifrnet"
    if layout == "ifrnet":
        net = fake_ifrnet(stages=2, blocks=1, filters=2, rng=rng)
        if kind == "altered":
            block = net["blocks"][draw(st.integers(0, 1))]
            field = draw(st.sampled_from(sorted(block)))
            block[field] = draw(_bad_weight(rng))
        write_matconvnet(path, net, stages=2, blocks=1)
    else:
        layers = fake_admmnet(stages=2, rng=rng)
        if kind == "altered":
            i = draw(st.integers(0, len(layers) - 2))
            kind_, weights = layers[i]
            if weights and draw(st.booleans()):
                weights[draw(st.integers(0, len(weights) - 1))] = draw(_bad_weight(rng))
            else:
                layers[i] = (draw(st.text(string.ascii_letters, max_size=6)), weights)
        write_v73(path, layers)
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])
    return method, path


def _bad_weight(rng: np.random.Generator) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            np.zeros((0,)),
            rng.random((5, 7, 2)),
            np.full((3, 3), np.nan),
            np.full((1, 2), np.inf),
        ]
    )


@FUZZ
@given(st.data())
def test_convert_weights_refuses_malformed_files(data):
    with scratch() as tmp:
        method, path = data.draw(bad_weights(tmp))
        out = tmp / "out" / "model.pt"
        argv = ["convert-weights", "--method", method, "--input", str(path), "--out", str(out)]
        assert_refused("convert-weights", argv, [str(path)], [out])


class Payload:
    """Unpickling it would run code (here: create a file the test looks for)."""

    def __reduce__(self):
        return (Path.touch, (Path(tempfile.gettempdir()) / "ifrnet-fuzz-pickle-ran",))


@st.composite
def bad_checkpoint(draw, folder: Path) -> Path:
    """A ``model.pt`` that ``reconstruct --checkpoint`` must refuse."""
    path = folder / "model.pt"
    net = {
        k: v.clone() for k, v in build_network("ifrnet", {"stages": 1}, False).state_dict().items()
    }
    metadata = {"method": "ifrnet", "params": {"stages": 1}, "complex_data": False}
    kind = draw(
        st.sampled_from(
            ["garbage", "truncated", "pickle", "not a dict", "no model", "metadata", "weights"]
        )
    )
    if kind == "garbage":
        path.write_bytes(
            draw(st.sampled_from([b"", b"PK\x03\x04"])) + draw(st.binary(max_size=600))
        )
        return path
    if kind == "pickle":
        with open(path, "wb") as f:
            pickle.dump({"model": net, "metadata": metadata, "payload": Payload()}, f)
        return path
    state: Any = {"model": net, "metadata": metadata}
    if kind == "not a dict":
        state = draw(st.sampled_from([[1, 2], "text", 3, None]))
    elif kind == "no model":
        del state["model"]
    elif kind == "metadata":
        key = draw(st.sampled_from(["method", "params", "whole"]))
        value = draw(JSON_VALUES.filter(lambda v: v not in ("ifrnet", {"stages": 1})))
        if key == "whole":
            state["metadata"] = value
        elif key == "params" and isinstance(value, dict) and value:
            state["metadata"]["params"] = {"stages": value}  # a wrong value for a real key
        else:
            state["metadata"][key] = value
    else:
        name = draw(st.sampled_from(sorted(net)))
        other = [torch.zeros(0), torch.ones(3, 1, 2), torch.tensor(1.0)]
        net[name] = draw(st.sampled_from([t for t in other if t.shape != net[name].shape]))
    torch.save(state, path)
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])
    return path


@FUZZ
@given(st.data())
def test_reconstruct_refuses_malformed_checkpoints(data):
    with scratch() as tmp:
        (Path(tempfile.gettempdir()) / "ifrnet-fuzz-pickle-ran").unlink(missing_ok=True)
        checkpoint = data.draw(bad_checkpoint(tmp))
        out = tmp / "out" / "r.npy"
        argv = reconstruct_argv(valid_image(tmp), valid_mask(tmp), out, [])
        argv[argv.index("--method") : argv.index("--method") + 2] = [
            "--checkpoint",
            str(checkpoint),
        ]
        assert_refused("reconstruct --checkpoint", argv, [str(checkpoint)], [out])
        assert not (Path(tempfile.gettempdir()) / "ifrnet-fuzz-pickle-ran").exists()


SMOKE = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
CLOSED = [(), ("datasets", "brain-real"), ("masks", "radial-r0.40"), ("models", "zero-filled")]


@st.composite
def bad_config(draw) -> bytes:
    """Config file bytes that are not a valid config: not YAML, not UTF-8, not a mapping, a
    required key missing, an unknown key, or a value of the wrong type."""
    fault = draw(
        st.sampled_from(["syntax", "bytes", "not a mapping", "missing", "unknown", "type"])
    )
    if fault == "syntax":
        return (
            draw(st.text(max_size=30)) + draw(st.sampled_from(["\t: [", "{a: b", "a: 'x"]))
        ).encode()
    if fault == "bytes":
        return b"seed: \xff\xfe" + draw(st.binary(max_size=50))
    if fault == "not a mapping":
        return yaml.safe_dump(draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))).encode()
    config = json.loads(json.dumps(SMOKE))
    if fault == "missing":
        config.pop(draw(st.sampled_from(["seed", "device", "datasets", "masks", "models"])))
    elif fault == "unknown":
        where = config
        for key in draw(st.sampled_from(CLOSED)):
            where = where[key]
        where[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in where))] = 1
    else:
        path, value = draw(
            st.sampled_from(
                [
                    (("seed",), st.text(max_size=5)),
                    (("datasets", "brain-real", "size"), st.integers(max_value=7)),
                    (("masks", "radial-r0.40", "rate"), st.floats(min_value=1.5, max_value=9)),
                    (("models", "zero-filled", "method"), st.integers()),
                    (("tables",), st.lists(st.integers(), max_size=2)),
                ]
            )
        )
        where = config
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = draw(value)
    return yaml.safe_dump(config).encode()


@FUZZ
@given(bad_config())
def test_reconstruct_refuses_malformed_configs(text):
    with scratch() as tmp:
        config = tmp / "my config.yaml"
        config.write_bytes(text)
        out = tmp / "out" / "r.npy"
        argv = reconstruct_argv(valid_image(tmp), valid_mask(tmp), out, [])
        argv[argv.index("--method") : argv.index("--method") + 2] = ["--model", "zero-filled"]
        assert_refused(
            "reconstruct --config", argv + ["--config", str(config)], [str(config)], [out]
        )


# ---------------------------------------------------------------------------------------------
# The fuzzer's own pieces


def test_huge_files_declare_a_trillion_elements(tmp_path):
    """The "huge" cases really declare 10¹² elements (so refusing them proves the readers check
    before they allocate)."""
    for fmt in FORMATS:
        path = tmp_path / f"huge-{fmt}{SUFFIX[fmt]}"
        write_huge(fmt, path, "x")
        assert path.stat().st_size < 10_000
        if fmt in ("mat73", "h5"):
            with h5py.File(path) as f:
                assert f["x"].shape == HUGE
        elif fmt == "mat5":
            assert scipy.io.whosmat(path)[0][1] == HUGE
        else:
            opened = zipfile.ZipFile(path).open("x.npy") if fmt == "npz" else open(path, "rb")
            with opened as f:
                np.lib.format.read_magic(f)
                assert np.lib.format.read_array_header_1_0(f)[0] == HUGE


def test_the_invariant_catches_a_reader_that_misbehaves(tmp_path, monkeypatch):
    """assert_refused fails for a traceback, a second stderr line and an output left behind."""
    import ifrnet.bench.cli as cli

    image, mask, out = tmp_path / "i.npy", tmp_path / "m.npz", tmp_path / "out" / "r.npy"
    np.save(image, np.random.default_rng(0).random((16, 16)) + 0.1)  # metrics need ≥ 11×11
    save_mask(make_mask("radial", (16, 16), rate=0.4), mask)
    argv = reconstruct_argv(image, mask, out, [])
    with pytest.raises(AssertionError, match="accepted"):
        assert_refused("self-test", argv, [str(image)], [out])
    out.unlink()

    def crash(args):
        raise TypeError("'<' not supported between instances of 'str' and 'int'")

    monkeypatch.setattr(cli, "cmd_reconstruct", crash)
    with pytest.raises(TypeError):
        run(argv)

    def two_lines(args):
        print("warning: something", file=sys.stderr)
        raise ValueError(f"{image}: bad")

    monkeypatch.setattr(cli, "cmd_reconstruct", two_lines)
    with pytest.raises(AssertionError, match="not one line"):
        assert_refused("self-test", argv, [str(image)], [])

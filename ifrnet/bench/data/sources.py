"""Turn a data-set entry of the config into prepared split files: one :class:`DataSource` per
source in ``SOURCES``.

A source is one object: the config keys it needs, its defaults (the one place they live: the
config loader does not apply schema defaults), the image size it gives, how it reads the
images, and which files it tracks or fetches. To add a source, write its ``read(spec, seed)``
here (or in a module of its own under ``ifrnet/bench/data/``) and add one line to ``SOURCES`` (and
its name to the ``source`` enum of ``config/schema.yaml``, which a test checks against ``SOURCES``).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ifrnet.bench.data import embedded
from ifrnet.bench.data.archive import manifest_path
from ifrnet.bench.data.download import read_checksums, verify
from ifrnet.bench.data.fastmri import stream_slices
from ifrnet.bench.data.folder import folder_files, folder_images
from ifrnet.bench.data.matfiles import read_siat_slice, read_test_image
from ifrnet.bench.data.phase import smooth_phase
from ifrnet.util.formats import split_writer

SPLITS = ("train", "val", "test")


def _embedded(spec: dict[str, Any], seed: int) -> tuple[dict[str, np.ndarray], dict, str]:
    counts = {split: int(spec[f"n_{split}"]) for split in SPLITS}
    images, indices = embedded.embedded_images(
        int(spec["size"]), counts, seed, float(spec["min_brain_fraction"]), spec["plane"]
    )
    return images, indices, embedded.SOURCE_DESCRIPTION + f", {spec['plane']} slices"


def _numbered(directory: Path, pattern: str) -> list[Path]:
    """Files of ``directory`` matching ``pattern``, in numeric order of the digits in the name."""
    files = sorted(
        directory.glob(pattern), key=lambda p: int("".join(filter(str.isdigit, p.stem)) or 0)
    )
    if not files:
        raise ValueError(f"{directory}: no files matching {pattern!r}")
    return files


def _verified(files: list[Path], checksums: str | None) -> list[Path]:
    """The files, each checked against the checksum list (if one is configured)."""
    if checksums:
        sums = read_checksums(checksums)
        for path in files:
            if path.name not in sums:
                raise ValueError(f"{path}: not listed in {checksums}")
            verify(path, sums[path.name])
    return files


def _siat(spec: dict[str, Any], seed: int) -> tuple[dict[str, Iterable[np.ndarray]], dict, str]:
    files = _verified(_numbered(Path(spec["dir"]), "lsq*.mat"), spec.get("checksums"))
    test_spec = spec.get("test_source")
    counts = {split: int(spec[f"n_{split}"]) for split in SPLITS}
    held = counts["val"] + (0 if test_spec else counts["test"])
    if held + counts["train"] > len(files):
        raise ValueError(f"{spec['dir']}: {len(files)} slices, {held + counts['train']} requested")
    order = np.random.default_rng(seed).permutation(len(files))
    picked = {
        "val": order[: counts["val"]],
        "test": order[counts["val"] : held] if not test_spec else np.empty(0, int),
        "train": order[held : held + counts["train"]],
    }
    images: dict[str, Iterable[np.ndarray]] = {
        split: (read_siat_slice(files[i]) for i in idx) for split, idx in picked.items()
    }
    description = "SIAT_MRIdata200 (yqx7150), T2 brain, complex, cropped to 256×256"
    if test_spec:
        tests = _verified(
            _numbered(Path(test_spec["dir"]), "test_*.mat"), test_spec.get("checksums")
        )[: counts["test"]]
        images["test"] = (read_test_image(p) for p in tests)
        picked["test"] = np.arange(len(tests))
        description += "; test: IFR-Net-Code Test_data (real-valued)"
    return images, picked, description


# fastMRI part → the splits drawn from it, in order (the public val part is the paper's test set)
FASTMRI_PARTS = {"singlecoil_train": ("train", "val"), "singlecoil_val": ("test",)}


def _fastmri_slices(spec: dict[str, Any], part: str) -> int:
    """Slices a fastMRI data set takes from one part."""
    return sum(int(spec[f"n_{split}"]) for split in FASTMRI_PARTS[part])


def _fastmri(spec: dict[str, Any], seed: int) -> tuple[dict[str, Iterable[np.ndarray]], dict, str]:
    root, crop = Path(spec["dir"]), int(spec["crop"])
    images = {}
    for part, splits in FASTMRI_PARTS.items():  # one stream per part, its splits in turn
        stream = stream_slices(
            root / part, _fastmri_slices(spec, part), crop, int(spec["per_volume"])
        )
        for split in splits:
            images[split] = (image for image, _ in islice(stream, int(spec[f"n_{split}"])))
    indices = {split: np.arange(int(spec[f"n_{split}"])) for split in SPLITS}
    return images, indices, f"fastMRI single-coil knee, centre {crop}×{crop} crop"


def _folder(spec: dict[str, Any], seed: int) -> tuple[dict[str, Iterable[np.ndarray]], dict, str]:
    return folder_images(spec, seed, _verified(folder_files(spec["dir"]), spec.get("checksums")))


def _phased(image: np.ndarray, index: int, seed: int) -> np.ndarray:
    """A real image times a smooth synthetic phase seeded by (seed, slice index), rescaled to
    max |x| = 1: complex64 (H, W)."""
    phased = (image * np.exp(1j * smooth_phase(image.shape, seed * 100_003 + int(index)))).astype(
        np.complex64
    )
    return (phased / np.abs(phased).max()).astype(np.complex64)


def write_kind(
    dataset: Any, images: Iterable[np.ndarray], indices: np.ndarray, kind: str, seed: int
) -> bool:
    """Write source images into ``dataset`` (N, H, W) one at a time as complex64 images of the
    requested kind (``real`` or ``complex``); return whether they had an imaginary part.

    Complex source images give their magnitude (``real``) or stay as they are (``complex``).
    Real source images are used as they are (``real``) or, for ``complex``, multiplied by a
    smooth synthetic phase seeded by (seed, slice index) and rescaled to ``max |x| = 1``.
    Complex-typed images whose imaginary parts are all zero count as real; as that is known
    only at the end, they are written as they come and rewritten in place if need be.
    """
    if kind not in ("real", "complex"):
        raise ValueError(f"dataset kind must be 'real' or 'complex', got {kind!r}")
    imaginary, typed_complex = False, False
    for row, (image, index) in enumerate(zip(images, indices, strict=True)):
        if np.iscomplexobj(image):
            typed_complex = True
            imaginary = imaginary or bool(np.any(image.imag))
            dataset[row] = image.astype(np.complex64)
        else:
            dataset[row] = (
                image.astype(np.complex64) if kind == "real" else _phased(image, index, seed)
            )
    if typed_complex and (kind == "real") == imaginary:  # magnitude, or a synthetic phase
        for row, index in enumerate(indices):
            image = dataset[row]
            dataset[row] = (
                np.abs(image).astype(np.complex64) if imaginary else _phased(image, index, seed)
            )
    return imaginary


def prepare_dataset(
    name: str, spec: dict[str, Any], seed: int, out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Prepare data set ``name`` from its config entry; write ``{out_dir}/{split}.h5``.

    Streams: images go from the source to the files one at a time, so memory does not grow
    with the data set; the three files appear together, or none does."""
    source = data_source(spec["source"], name)
    spec = source.with_defaults(spec)
    images, indices, description = source.read(spec, seed)
    shape = (int(spec["size"]), int(spec["size"]))
    written = [Path(out_dir) / f"{split}.h5" for split in SPLITS]
    with contextlib.ExitStack() as files:
        for split, path in zip(SPLITS, written, strict=True):
            attrs = {
                "dataset": name,
                "split": split,
                "source": description,
                "kind": spec["kind"],
                "normalisation": "max |x| = 1 per slice",
                "noise_sigma": float(spec.get("noise_sigma", 0.0)),
                "seed": seed,
                "slice_index": np.asarray(indices[split], dtype=np.int64),
            }
            dataset = files.enter_context(split_writer(path, len(indices[split]), shape, attrs))
            imaginary = write_kind(dataset, images[split], indices[split], spec["kind"], seed)
            if spec["kind"] == "complex" and source.synthetic_phase(imaginary):
                attrs["source"] = description + " × synthetic phase"
    return written


def _listed(location: dict[str, Any]) -> dict[str, str]:
    """path → SHA-256 of every file a location's checksum list names (empty without one)."""
    if "checksums" not in location:
        return {}
    return {
        f"{location['dir']}/{name}": sha
        for name, sha in read_checksums(location["checksums"]).items()
    }


def _checksummed(spec: dict[str, Any]) -> list[str]:
    """The files the checksum lists of a data set and of its ``test_source`` name."""
    files = list(_listed(spec))
    if "test_source" in spec:
        files += list(_listed(spec["test_source"]))
    return files


def _fastmri_fetches(spec: dict[str, Any]) -> dict[str, tuple[dict[str, str], int]]:
    """manifest path → (where its archive URL is kept: ``{env: NAME}`` or ``{file: PATH}``,
    volumes to extract) for each fastMRI part given by URL.

    Volumes default to ceil(slices needed / per_volume); ``volumes`` overrides it per part.
    """
    found = {}
    for part, source in spec.get("urls", {}).items():
        count = spec.get("volumes", {}).get(part) or max(
            1, math.ceil(_fastmri_slices(spec, part) / int(spec["per_volume"]))
        )
        found[str(manifest_path(Path(spec["dir"]) / part))] = (source, int(count))
    return found


def _fastmri_files(spec: dict[str, Any]) -> list[str]:
    return _checksummed(spec) + list(_fastmri_fetches(spec))


def _folder_files(spec: dict[str, Any]) -> list[str]:
    """The files a checksum list names (downloaded first when the entry has a ``url``), else
    every slice file of the folder."""
    if "checksums" in spec:
        return _checksummed(spec)
    return [str(p) for p in folder_files(spec["dir"])] if Path(spec["dir"]).is_dir() else []


def _fastmri_size(spec: dict[str, Any]) -> str | None:
    if spec["size"] == spec["crop"]:
        return None
    return f"must equal the fastMRI crop {spec['crop']}, got {spec['size']}"


def _siat_size(spec: dict[str, Any]) -> str | None:
    return None if spec["size"] == 256 else f"siat slices are 256×256, got {spec['size']}"


@dataclass(frozen=True)
class DataSource:
    """A data source of prepared splits.

    ``read(spec, seed) -> (images, indices, description)``: per split, the source images (H, W)
    (real, or complex if the source is) as an iterable read lazily, one at a time, and which
    source slice each is; and a caption. ``needs``: config keys it cannot do without.
    ``defaults``: values of its optional keys (applied by :meth:`with_defaults`).
    ``size_problem(spec)``: why the entry's ``size`` does not fit the source, or None.
    ``synthetic_phase(imaginary)``: whether a complex data set gets a synthetic phase, given
    whether the split's source images had an imaginary part (caption only; :func:`write_kind`
    decides the data). ``files(spec)``: files the workflow tracks (editing one prepares the
    data set again). ``fetches(spec)``: archives streamed from URLs, manifest path → (URL
    source, volumes)."""

    read: Callable[[dict[str, Any], int], tuple[dict[str, Iterable[np.ndarray]], dict, str]]
    needs: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    size_problem: Callable[[dict[str, Any]], str | None] = lambda spec: None
    synthetic_phase: Callable[[bool], bool] = lambda imaginary: False
    files: Callable[[dict[str, Any]], list[str]] = _checksummed
    fetches: Callable[[dict[str, Any]], dict[str, tuple[dict[str, str], int]]] = lambda spec: {}

    def with_defaults(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The entry with this source's defaults filled in."""
        return {**self.defaults, **spec}

    def problems(self, name: str, spec: dict[str, Any]) -> list[str]:
        """What data-set entry ``name`` of a config lacks or gets wrong for this source."""
        problems = [
            f"datasets.{name}: source {spec['source']} needs {key!r}"
            for key in self.needs
            if key not in spec
        ]
        size = self.size_problem(self.with_defaults(spec))
        return problems + ([f"datasets.{name}.size: {size}"] if size else [])


SOURCES: dict[str, DataSource] = {
    "embedded": DataSource(
        _embedded, defaults=embedded.DEFAULTS, synthetic_phase=lambda imaginary: True
    ),
    "siat": DataSource(_siat, needs=("dir",), size_problem=_siat_size),
    "fastmri": DataSource(
        _fastmri,
        needs=("dir",),
        defaults={"crop": 320, "per_volume": 8},
        size_problem=_fastmri_size,
        files=_fastmri_files,
        fetches=_fastmri_fetches,
    ),
    "folder": DataSource(
        _folder,
        needs=("dir",),
        files=_folder_files,
        synthetic_phase=lambda imaginary: not imaginary,
    ),
}


def data_source(source: str, dataset: str | None = None) -> DataSource:
    """The registered :class:`DataSource` ``source`` (ValueError naming the known ones)."""
    if source not in SOURCES:
        where = f"dataset {dataset!r}: " if dataset else ""
        raise ValueError(f"{where}unknown source {source!r}; known: {sorted(SOURCES)}")
    return SOURCES[source]


def fastmri_fetches(datasets: dict[str, dict[str, Any]]) -> dict[str, tuple[dict[str, str], int]]:
    """manifest path → (URL source, volumes) of every archive some data set of the config
    streams from a URL (fastMRI parts given by ``urls``)."""
    found: dict[str, tuple[dict[str, str], int]] = {}
    for spec in datasets.values():
        source = data_source(spec["source"])
        found.update(source.fetches(source.with_defaults(spec)))
    return found


def source_files(spec: dict[str, Any]) -> list[str]:
    """Files a data set is prepared from that the workflow should track: checksummed files of
    siat sources, the completion manifests of fastMRI parts fetched from URLs, every slice file
    of a ``folder`` source (adding, removing or editing one prepares the data set again); none
    for the embedded source (its template ships with nilearn) or a fastMRI directory the user
    fills."""
    source = data_source(spec["source"])
    return source.files(source.with_defaults(spec))


def downloads(datasets: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """path → (URL, SHA-256) of every file some data set downloads (locations with a ``url``)."""
    found = {}
    for spec in datasets.values():
        for location in (spec, spec.get("test_source", {})):
            if "url" in location:
                base = location["url"].rstrip("/")
                for path, sha in _listed(location).items():
                    found[path] = (f"{base}/{Path(path).name}", sha)
    return found

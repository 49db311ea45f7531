"""The registries (mask kinds, data sources, methods), the measured-split helper, the batched
forward and the StagedNetwork protocol: a new mask kind or data source is one function and one
registry line, usable end to end through the library."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from baselines.admmnet import ADMMNet
from ifrnet.bench.config import SCHEMA_PATH, _cross_reference
from ifrnet.bench.data import sources
from ifrnet.bench.data.sources import SOURCES, DataSource, prepare_dataset
from ifrnet.bench.pipeline import evaluate_split, reconstruct_split
from ifrnet.bench.render.labels import display_name
from ifrnet.methods.ifrnet import IFRNet
from ifrnet.methods.method import StagedNetwork
from ifrnet.methods.registry import METHODS, has_stage_outputs
from ifrnet.methods.training import infer
from ifrnet.numerics.masks import MASK_KINDS, MaskKind, load_mask, make_mask, save_mask
from ifrnet.numerics.measure import measure, measured_split
from ifrnet.util.formats import read_recon, read_split, read_tuning

SCHEMA = yaml.safe_load(Path(SCHEMA_PATH).read_text(encoding="utf-8"))


def _enum(section: str, key: str) -> set[str]:
    return set(SCHEMA["properties"][section]["additionalProperties"]["properties"][key]["enum"])


def test_schema_enums_match_the_registries():
    assert _enum("masks", "kind") == set(MASK_KINDS)
    assert _enum("datasets", "source") == set(SOURCES)


def checkerboard(shape, rate, seed=0):
    """A toy mask kind: every other column, plus the centre column."""
    mask = np.zeros(shape, bool)
    mask[:, :: round(1 / rate)] = True
    mask[:, shape[1] // 2] = True
    return mask


def ramps(spec, seed):
    """A toy data source: horizontal ramps of growing slope, one per requested image."""
    size = int(spec["size"])
    images, indices = {}, {}
    for split in sources.SPLITS:
        n = int(spec[f"n_{split}"])
        images[split] = (
            np.stack([np.tile(np.linspace(0, 1, size) ** (1 + i), (size, 1)) for i in range(n)])
            if n
            else np.zeros((0, size, size))
        )
        indices[split] = np.arange(n)
    return images, indices, f"ramps, slope {spec['slope']}"


def test_a_new_mask_kind_and_source_are_one_registry_line_each(tmp_path, monkeypatch):
    monkeypatch.setitem(MASK_KINDS, "checker", MaskKind(checkerboard))
    monkeypatch.setitem(SOURCES, "ramps", DataSource(ramps, defaults={"slope": 1}))
    mask = make_mask("checker", (16, 16), rate=0.5, seed=3)
    assert mask.kind == "checker" and mask.rate_asked == 0.5 and mask.array[:, ::2].all()
    save_mask(mask, tmp_path / "m.npz")
    assert load_mask(tmp_path / "m.npz").kind == "checker"
    spec = dict(
        source="ramps", kind="real", size=16, n_train=0, n_val=1, n_test=2, noise_sigma=0.01
    )
    prepare_dataset("toy", spec, seed=5, out_dir=tmp_path)
    images, attrs = read_split(tmp_path / "test.h5")
    assert images.shape == (2, 16, 16) and attrs["source"] == "ramps, slope 1"
    split = measured_split(tmp_path / "test.h5", tmp_path / "m.npz")
    np.testing.assert_array_equal(split.kspace, measure(images, mask.array, 0.01, 5, "test"))
    recon = reconstruct_split(
        tmp_path / "test.h5", tmp_path / "m.npz", "zf", {"method": "zero-filled"}, tmp_path / "r.h5"
    )
    assert recon.shape == (2, 16, 16) and read_recon(tmp_path / "r.h5")[1]["mask"] == "m"
    assert len(evaluate_split(tmp_path / "r.h5", tmp_path / "test.h5", tmp_path / "e.csv")) == 2
    # the config's cross-reference checks come from the entries
    config = {
        "masks": {"c": {"kind": "checker"}},
        "models": {},
        "tables": {},
        "datasets": {"t": {**spec, "n_val": 0}},
    }
    assert _cross_reference(config) == ["masks.c: kind checker needs 'rate'"]


@pytest.mark.parametrize("kind", sorted(MASK_KINDS))
def test_mask_kind_files_are_the_inputs_of_its_job(kind):
    """A file mask is read from its ``path``; generated kinds read nothing."""
    spec = {"kind": kind, "path": "m.mat"} if kind == "file" else {"kind": kind}
    assert MASK_KINDS[kind].files(spec) == (["m.mat"] if kind == "file" else [])


def test_unknown_kinds_and_sources_name_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown mask kind 'spiral'; known: .*'radial'"):
        make_mask("spiral", (8, 8), rate=0.5)
    with pytest.raises(ValueError, match="mask kind 'fastmri' needs acceleration"):
        make_mask("fastmri", (8, 8), rate=0.5)
    spec = dict(source="dicom", kind="real", size=8, n_train=0, n_val=0, n_test=1)
    with pytest.raises(ValueError, match="dataset 'd': unknown source 'dicom'; known: "):
        prepare_dataset("d", spec, 0, tmp_path)


@pytest.mark.parametrize(
    "spec, problems",
    [
        (
            {"source": "siat", "size": 128},
            [
                "datasets.d: source siat needs 'dir'",
                "datasets.d.size: siat slices are 256×256, got 128",
            ],
        ),
        (
            {"source": "fastmri", "dir": "x", "size": 256},
            ["datasets.d.size: must equal the fastMRI crop 320, got 256"],
        ),
        ({"source": "fastmri", "dir": "x", "size": 256, "crop": 256}, []),
        ({"source": "embedded", "size": 64}, []),
    ],
)
def test_source_problems(spec, problems):
    assert SOURCES[spec["source"]].problems("d", spec) == problems


def test_measured_split_limits_before_measuring(tmp_path):
    spec = dict(
        source="embedded", kind="real", size=32, n_train=0, n_val=3, n_test=1, noise_sigma=0.05
    )
    prepare_dataset("d", spec, seed=1, out_dir=tmp_path)
    save_mask(make_mask("radial", (32, 32), rate=0.3), tmp_path / "m.npz")
    whole = measured_split(tmp_path / "val.h5", tmp_path / "m.npz")
    first = measured_split(tmp_path / "val.h5", tmp_path / "m.npz", limit=2)
    assert whole.real and len(whole.kspace) == 3 and len(first.kspace) == 2
    np.testing.assert_array_equal(first.kspace, whole.kspace[:2])
    save_mask(make_mask("radial", (16, 16), rate=0.3), tmp_path / "small.npz")
    with pytest.raises(ValueError, match="does not match the data's"):
        measured_split(tmp_path / "val.h5", tmp_path / "small.npz")


class Staged(torch.nn.Module):
    """A user's network with stage outputs: two stages of zero-filling."""

    def forward(self, kspace, mask):
        return self.forward_stages(kspace, mask)[-1]

    def forward_stages(self, kspace, mask):
        image = torch.fft.ifft2(kspace)
        return [image, image]

    def descriptor_maps(self, kspace, mask):
        return [kspace.real.abs()] * 2


def test_stage_outputs_are_a_protocol():
    assert isinstance(IFRNet(stages=2, blocks=1), StagedNetwork)
    assert not isinstance(ADMMNet(stages=2), StagedNetwork)
    assert has_stage_outputs("tests.test_registry:Staged")
    assert not has_stage_outputs("tests.test_pipeline:Counting")
    assert [name for name, entry in METHODS.items() if entry.stage_outputs] == ["ifrnet"]


def test_ifrnet_stage_outputs_end_in_its_output():
    net = IFRNet(stages=3, blocks=1).eval()
    kspace = torch.fft.fft2(torch.rand(2, 16, 16, dtype=torch.complex64))
    mask = torch.ones(16, 16)
    with torch.no_grad():
        out, stages, maps = (
            net(kspace, mask),
            net.forward_stages(kspace, mask),
            net.descriptor_maps(kspace, mask),
        )
    assert len(stages) == len(maps) == 3 and maps[0].dtype == torch.float32
    torch.testing.assert_close(stages[-1], out, rtol=0, atol=0)


def test_infer_runs_a_call_in_batches():
    net = IFRNet(stages=2, blocks=1)
    kspace = np.fft.fft2(np.random.default_rng(0).random((5, 16, 16))).astype(np.complex64)
    mask = np.ones((16, 16), np.float32)
    images, _ = infer(net, kspace, mask, batch_size=2)
    stages, _ = infer(
        net, kspace, mask, batch_size=2, call=lambda n, k, m: torch.stack(n.forward_stages(k, m), 1)
    )
    assert images.dtype == np.complex64 and stages.shape == (5, 2, 16, 16)
    np.testing.assert_array_equal(stages[:, -1], images)
    empty, seconds = infer(net, kspace[:0], mask)
    assert empty.shape == (0, 16, 16) and seconds == 0.0


def test_labels_come_from_the_registry(monkeypatch):
    config = {"models": {"a": {"method": "pano"}, "b": {"method": "my.module:Net"}}}
    assert display_name(config, "a") == "PANO" and display_name(config, "b") == "b"
    monkeypatch.setitem(
        METHODS, "pano", METHODS["pano"].__class__(METHODS["pano"].target, "P-A-N-O")
    )
    assert display_name(config, "a") == "P-A-N-O"


def test_tuning_file_errors_name_the_file(tmp_path):
    (tmp_path / "t.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"t\.json: not a tuning result"):
        read_tuning(tmp_path / "t.json")
    with pytest.raises(ValueError, match=r"nope\.json: not a tuning result"):
        read_tuning(tmp_path / "nope.json")

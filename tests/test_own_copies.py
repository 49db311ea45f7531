"""Data you already have: a siat data set's `dir` without `url` (README, "The paper's data")
prepares from the files in place, verified against the checksum list, with no download job."""

import pytest
import yaml

from tests import fixtures
from tests.workflow_helpers import ROOT, job_counts, snakemake, workflow_copy

pytestmark = pytest.mark.slow  # every test runs Snakemake


def _own_copies(work, sums_dir):
    """Generated SIAT slices and test images in data/raw/ (where brain.yaml expects them),
    with their checksum lists; returns the two lists' paths."""
    lists = {}
    for collection, names, write in (
        ("siat", [f"lsq{i}.mat" for i in range(1, 8)], fixtures.siat_slice),
        ("ifrnet-test", [f"test_{i}.mat" for i in range(1, 4)], fixtures.test_image),
    ):
        directory = work / "data" / "raw" / collection
        directory.mkdir(parents=True)
        for seed, name in enumerate(names):
            write(directory / name, seed=seed)
        lists[collection] = sums_dir / f"{collection}.sha256"
        lists[collection].write_text(
            "".join(f"{fixtures.sha256(directory / name)}  {name}\n" for name in names)
        )
    return lists


def test_dir_without_url_prepares_the_files_in_place(tmp_path):
    # Its own run: brain.yaml edited to use files already in place.
    (tmp_path / "work" / "sums").mkdir(parents=True)
    work = workflow_copy(tmp_path / "work")
    lists = _own_copies(work, work / "sums")
    config = yaml.safe_load((ROOT / "config" / "brain.yaml").read_text())
    for spec in config["datasets"].values():  # the README's recipe: keep `dir`, delete `url`
        del spec["url"]
        spec.update(checksums=str(lists["siat"]), n_train=2, n_val=1, n_test=2)
        if "test_source" in spec:
            del spec["test_source"]["url"]
            spec["test_source"]["checksums"] = str(lists["ifrnet-test"])
    (work / "own.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        work,
        "data/prepared/brain-real/test.h5",
        "data/prepared/brain-complex/test.h5",
        "--cores",
        "1",
        "--configfile",
        "own.yaml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stderr) == {"prepare_data": 2}
    assert (work / "data/prepared/brain-real/test.h5").is_file()


def test_with_url_the_files_are_downloaded(tmp_path):
    result = snakemake(
        workflow_copy(tmp_path),
        "-n",
        "data/prepared/brain-real/test.h5",
        "--cores",
        "1",
        "--configfile",
        "config/brain.yaml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"download": 205, "prepare_data": 1}

"""fastMRI volumes streamed from archive URLs (signed-URL path), on archives the tests build and
serve on localhost."""

import tarfile

import pytest
import yaml

from ifrnet.bench.data.archive import fetch_volumes, manifest_path, read_url, redact
from ifrnet.bench.data.download import read_checksums
from ifrnet.bench.data.sources import fastmri_fetches, prepare_dataset, source_files
from tests import fixtures
from tests.workflow_helpers import ROOT, job_counts, snakemake, workflow_copy

SIGNED = "?X-Amz-Signature=s3cr3t&Expires=1"


def _archive(tmp_path, name="knee_singlecoil_train.tar.xz", volumes=3, broken=None):
    """A tar.xz of ``volumes`` fixture files under singlecoil_train/ (one a README first);
    member ``broken`` (an index) is truncated."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "README").write_text("not a volume")
    members = [src / "README"]
    for i in range(volumes):
        path = src / f"file{i:03d}.h5"
        fixtures.fastmri_file(path, slices=4, seed=i)
        if i == broken:
            path.write_bytes(path.read_bytes()[:300])
        members.append(path)
    served = tmp_path / "served"
    served.mkdir(exist_ok=True)
    with tarfile.open(served / name, "w:xz") as tar:
        for path in members:
            tar.add(path, arcname=f"singlecoil_train/{path.name}")
    return served


def test_redact_hides_the_query():
    assert redact("https://host/a/b.tar.xz" + SIGNED) == "https://host/a/b.tar.xz?…"
    assert redact("https://host/a.tar") == "https://host/a.tar"


def test_fetch_extracts_the_first_volumes_and_writes_a_manifest(tmp_path):
    served = _archive(tmp_path)
    base, server = fixtures.serve(served)
    try:
        out = tmp_path / "fastmri" / "singlecoil_train"
        got = fetch_volumes(f"{base}/knee_singlecoil_train.tar.xz{SIGNED}", out, 2, progress=False)
        assert [p.name for p in got] == ["file000.h5", "file001.h5"]
        assert sorted(p.name for p in out.iterdir()) == ["file000.h5", "file001.h5"]
        sums = read_checksums(manifest_path(out))
        assert sums == {p.name: fixtures.sha256(p) for p in got}
        # A rerun keeps valid volumes (same bytes) and replaces an invalid one.
        before = (out / "file000.h5").stat().st_mtime_ns
        (out / "file001.h5").write_bytes(b"junk")
        fetch_volumes(f"{base}/knee_singlecoil_train.tar.xz", out, 2, progress=False)
        assert (out / "file000.h5").stat().st_mtime_ns == before
        assert fixtures.sha256(out / "file001.h5") == sums["file001.h5"]
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("setup", "count", "message"),
    [
        (lambda tmp: _archive(tmp, volumes=2), 3, "holds 2 .h5 volumes, 3 requested"),
        (lambda tmp: _archive(tmp, broken=1), 3, "archive member singlecoil_train/file001.h5"),
        (lambda tmp: _archive(tmp, name="other.tar.xz"), 1, "download failed"),
    ],
    ids=["too few volumes", "truncated volume", "missing archive"],
)
def test_fetch_failures_name_the_url_and_leave_no_part_files(tmp_path, setup, count, message):
    served = setup(tmp_path)
    base, server = fixtures.serve(served)
    out = tmp_path / "out"
    try:
        with pytest.raises(ValueError, match=message) as err:
            fetch_volumes(
                f"{base}/knee_singlecoil_train.tar.xz{SIGNED}", out, count, progress=False
            )
    finally:
        server.shutdown()
    assert "s3cr3t" not in str(err.value)
    assert not list(out.glob("*.part"))
    assert not manifest_path(out).exists()


def test_not_an_archive(tmp_path):
    (tmp_path / "knee_singlecoil_train.tar.xz").write_bytes(b"<html>expired</html>" * 50)
    base, server = fixtures.serve(tmp_path)
    try:
        with pytest.raises(ValueError, match="not a readable tar archive"):
            fetch_volumes(
                f"{base}/knee_singlecoil_train.tar.xz", tmp_path / "out", 1, progress=False
            )
    finally:
        server.shutdown()


def test_fastmri_urls_make_manifests_inputs_and_fetched_volumes_prepare(tmp_path):
    spec = {
        "source": "fastmri",
        "kind": "complex",
        "size": 16,
        "crop": 16,
        "dir": str(tmp_path / "fm"),
        "n_train": 3,
        "n_val": 2,
        "n_test": 2,
        "per_volume": 2,
        "urls": {"singlecoil_train": {"env": "TRAIN_URL"}, "singlecoil_val": {"file": "val.url"}},
        "volumes": {"singlecoil_val": 4},
    }
    fetches = fastmri_fetches({"knee": spec})
    train, val = (f"{tmp_path}/fm/singlecoil_{p}.fetched" for p in ("train", "val"))
    # (3 + 2) slices at 2 per volume → 3 volumes; the val count is set explicitly.
    assert fetches == {train: ({"env": "TRAIN_URL"}, 3), val: ({"file": "val.url"}, 4)}
    assert sorted(source_files(spec)) == [train, val]
    served = _archive(tmp_path, volumes=4)
    base, server = fixtures.serve(served)
    try:
        for part, count in (("singlecoil_train", 3), ("singlecoil_val", 2)):
            fetch_volumes(
                f"{base}/knee_singlecoil_train.tar.xz",
                tmp_path / "fm" / part,
                count,
                progress=False,
            )
    finally:
        server.shutdown()
    paths = prepare_dataset("knee", spec, 0, tmp_path / "prepared")
    assert [p.name for p in paths] == ["train.h5", "val.h5", "test.h5"]


def test_url_is_read_from_an_environment_variable_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTMRI_URL", "https://host/a.tar" + SIGNED)
    (tmp_path / "url").write_text("\n  https://host/b.tar" + SIGNED + "\n")
    assert read_url({"env": "FASTMRI_URL"}) == "https://host/a.tar" + SIGNED
    assert read_url({"file": str(tmp_path / "url")}) == "https://host/b.tar" + SIGNED
    monkeypatch.delenv("FASTMRI_URL")
    with pytest.raises(ValueError, match="environment variable FASTMRI_URL .* is not set"):
        read_url({"env": "FASTMRI_URL"})
    with pytest.raises(ValueError, match="cannot read the archive URL"):
        read_url({"file": str(tmp_path / "absent")})


def _leaks(secret: str, *places) -> list[str]:
    """Files under ``places`` (directories) or texts that contain ``secret``."""
    found = []
    for place in places:
        if isinstance(place, str):
            found += ["output"] if secret in place else []
        elif place.exists():
            found += [
                str(p)
                for p in place.rglob("*")
                if p.is_file() and secret.encode() in p.read_bytes()
            ]
    return found


@pytest.mark.slow
def test_workflow_fetches_with_signed_urls_that_never_leak(tmp_path):
    """Signed URLs kept in an environment variable and a file: a run with -p fetches and
    prepares; the secret is in no output, log, .snakemake/ record or result; a refreshed URL
    for the same archives reruns nothing."""
    # Its own run: a config with a fastMRI data set fetched from a local server.
    served = _archive(tmp_path, volumes=3)
    base, server = fixtures.serve(served)
    (tmp_path / "work").mkdir()
    work = workflow_copy(tmp_path / "work")
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    url_file = tmp_path / "private" / "val.url"
    url_file.parent.mkdir()
    config["datasets"]["knee"] = {
        "source": "fastmri",
        "kind": "complex",
        "size": 16,
        "crop": 16,
        "dir": "data/fastmri",
        "n_train": 2,
        "n_val": 1,
        "n_test": 2,
        "per_volume": 2,
        "noise_sigma": 0.0,
        "urls": {
            "singlecoil_train": {"env": "FASTMRI_TRAIN_URL"},
            "singlecoil_val": {"file": str(url_file)},
        },
    }
    (work / "knee.yaml").write_text(yaml.safe_dump(config))

    def run(secret: str, *options: str):
        signed = f"{base}/knee_singlecoil_train.tar.xz?X-Amz-Signature={secret}&Expires=1"
        url_file.write_text(signed + "\n")
        return snakemake(
            work,
            "data/prepared/knee/test.h5",
            "--cores",
            "1",
            "-p",
            "--configfile",
            "knee.yaml",
            *options,
            extra_env={"FASTMRI_TRAIN_URL": signed},
        )

    try:
        first = run("s3cr3t-first")
        refreshed = run("s3cr3t-refreshed", "-n")
    finally:
        server.shutdown()
    assert first.returncode == 0, first.stderr[-3000:]
    assert job_counts(first.stderr) == {"fetch_fastmri": 2, "prepare_data": 1}
    assert sorted(p.name for p in (work / "data/fastmri/singlecoil_train").iterdir()) == [
        "file000.h5",
        "file001.h5",
    ]
    assert "--url-env FASTMRI_TRAIN_URL" in first.stdout + first.stderr
    assert refreshed.returncode == 0, refreshed.stderr[-3000:]
    assert "Nothing to be done" in refreshed.stdout + refreshed.stderr
    for secret, result in (("s3cr3t-first", first), ("s3cr3t-refreshed", refreshed)):
        assert not _leaks(
            secret,
            result.stdout + result.stderr,
            work / ".snakemake",
            work / "results",
            work / "data",
        )


def test_a_url_in_the_config_is_refused_without_repeating_it():
    from ifrnet.bench.config import ConfigError, load_schema, validate_config

    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["datasets"]["knee"] = {
        "source": "fastmri",
        "kind": "complex",
        "size": 16,
        "crop": 16,
        "dir": "data/fastmri",
        "n_train": 2,
        "n_val": 1,
        "n_test": 2,
        "noise_sigma": 0.0,
        "urls": {"singlecoil_train": "https://host/t.tar.xz" + SIGNED},
    }
    with pytest.raises(ConfigError, match="knee.urls.singlecoil_train: give {env: NAME}") as err:
        validate_config(config, load_schema(ROOT / "config" / "schema.yaml"))
    assert "s3cr3t" not in str(err.value)

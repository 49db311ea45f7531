"""The workflow run from another directory (``snakemake -s <repo>/Snakefile --directory
<elsewhere>``) and as a Snakemake module: every repository file (default config, schema,
published numbers, captions, shipped checksum lists) is found from the workflow's location."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.workflow_helpers import ROOT, job_counts, snakemake

SNAKEFILE = str(ROOT / "Snakefile")

pytestmark = pytest.mark.slow  # every test runs Snakemake


@pytest.mark.parametrize("configfile", [None, "config/smoke.yaml", "config/brain.yaml"])
def test_dry_run_from_another_directory(tmp_path, configfile):
    extra = ["--configfile", str(ROOT / configfile)] if configfile else []
    result = snakemake(tmp_path, "-s", SNAKEFILE, "-n", "--cores", "1", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["table"] >= 5 and counts["report"] == 1
    if configfile == "config/brain.yaml":  # the shipped checksum lists were found
        assert counts["download"] > 0


def test_dry_run_as_a_module(tmp_path):
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{ROOT / "config" / "smoke.yaml"}"\n\n\n'
        f'module ifrnet_bench:\n    snakefile:\n        "{SNAKEFILE}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from ifrnet_bench as ifrnet_*\n"
    )
    result = snakemake(tmp_path, "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["ifrnet_table"] == 9 and counts["ifrnet_report"] == 1


def test_run_from_another_directory_on_a_folder_of_the_users_slices(tmp_path):
    """A user's own slices (source: folder) benchmarked by one config entry, the workflow run
    from the user's directory: the table uses the paper's numbers and the report the captions
    of the repository."""
    # Its own run, not the shared smoke study: the conditions under test are another
    # directory than the workflow's and a config of the user's own (a folder source).
    slices = tmp_path / "my_slices"
    slices.mkdir()
    yy, xx = np.mgrid[-1:1:40j, -1:1:40j]
    for i in range(4):
        np.save(slices / f"s{i}.npy", (xx**2 + yy**2 < 0.3 + 0.1 * i) + 0.1 * xx)
    config = {
        "seed": 0,
        "device": "cpu",
        "datasets": {
            "mine": {
                "source": "folder",
                "dir": str(slices),
                "kind": "real",
                "size": 32,
                "n_train": 0,
                "n_val": 1,
                "n_test": 2,
                "noise_sigma": 0.01,
            }
        },
        "masks": {"radial-r0.10": {"kind": "radial", "rate": 0.1}},
        "models": {
            "zero-filled": {"method": "zero-filled"},
            "ifrcs": {"method": "ifrcs", "tune": {"grid": {"lam": [0.01], "max_iter": [3]}}},
        },
        "tables": {
            "table_IV": {
                "title": "zero-filled and IFR-CS on my slices",
                "dataset": "mine",
                "masks": ["radial-r0.10"],
                "models": ["zero-filled", "ifrcs"],
                "paper": "IV",
                "paper_keys": {
                    "masks": {"radial-r0.10": {"rate": 0.1}},
                    "models": {"ifrcs": {"method": "IFR-CS"}},
                },
            }
        },
        "figures": {"fig05": {"kind": "masks", "dataset": "mine", "masks": ["radial-r0.10"]}},
    }
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "-s", SNAKEFILE, "--cores", "1", "--configfile", "mine.yaml")
    assert result.returncode == 0, result.stderr[-4000:]
    table = (work / "results" / "tables" / "table_IV.md").read_text()
    assert "your folder" in table and "Paper: Table IV" in table
    caption = (ROOT / "workflow" / "report" / "table_IV.rst").read_text().strip().splitlines()[0]
    report = (work / "results" / "report.html").read_text()
    assert caption[:40] in report or caption[:40].replace("'", "&#x27;") in report
    assert Path(work / "results" / "figures" / "fig05.png").is_file()

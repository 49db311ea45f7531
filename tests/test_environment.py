"""The conda route: envs/ifrnet.yaml pins every dependency of pyproject.toml (and nothing
else) from conda-forge alone, installs nothing by path, and jobs reach the checkout's code
without the project being installed in their environment (conda itself is not available on the
test machines)."""

import os
import subprocess
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from ifrnet.bench.jobs import job_prefix
from tests.workflow_helpers import ROOT

ENV = yaml.safe_load((ROOT / "envs" / "ifrnet.yaml").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name → conda-forge name, where they differ
TOOLS = {"python", "pip"}


def conda_pins() -> dict[str, str]:
    pins = {}
    for entry in ENV["dependencies"]:
        if isinstance(entry, str):
            name, _, version = entry.partition("=")
            pins[name] = version.lstrip("=")
    return pins


def pip_requirements() -> dict[str, Requirement]:
    entries = next(e["pip"] for e in ENV["dependencies"] if isinstance(e, dict))
    return {Requirement(e).name.lower(): Requirement(e) for e in entries}


def test_every_dependency_of_pyproject_is_pinned_within_its_range():
    conda, pip = conda_pins(), pip_requirements()
    wanted = {Requirement(d) for d in PROJECT["dependencies"]}
    for req in wanted:
        name = req.name.lower()
        if name in pip:
            pinned = pip[name]
            (spec,) = pinned.specifier
            assert spec.operator == "==" and pinned.extras == req.extras, pinned
            version = spec.version
        else:
            version = conda[CONDA_NAMES.get(name, name)]
            assert version, f"{name} is not pinned"
        assert req.specifier.contains(version), f"{name} {version} outside {req.specifier}"
    expected = {CONDA_NAMES.get(r.name.lower(), r.name.lower()) for r in wanted}
    assert set(conda) | set(pip) == expected | TOOLS, "the env file and pyproject differ"
    assert Requirement(f"python{PROJECT['requires-python']}").specifier.contains(conda["python"])


def test_conda_forge_only_and_nothing_installed_by_path():
    assert ENV["channels"] == ["conda-forge", "nodefaults"]
    text = (ROOT / "envs" / "ifrnet.yaml").read_text()
    entries = [e for e in ENV["dependencies"] if isinstance(e, str)] + [
        e for d in ENV["dependencies"] if isinstance(d, dict) for e in d["pip"]
    ]
    assert not [e for e in entries if e.startswith("-") or "/" in e or e.startswith(".")]
    assert "cpuonly" not in text and "-c pytorch" not in text


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs a system Python")
def test_jobs_run_the_checkout_without_the_project_installed(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to("/usr/bin/python3")  # an interpreter without ifrnet
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = subprocess.run(
        ["python", "-c", "import ifrnet"], cwd=tmp_path, env=env, capture_output=True
    )
    if probe.returncode == 0:
        pytest.skip("the system Python can import ifrnet")
    (tmp_path / "my repo").symlink_to(ROOT)  # a checkout path with a space
    prefix = job_prefix(tmp_path / "my repo")
    run = subprocess.run(
        ["bash", "-c", prefix + "ifrnet --help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "usage: ifrnet" in run.stdout, run.stderr
    failed = subprocess.run(
        ["bash", "-c", prefix + "ifrnet no-such-step; echo after"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert failed.returncode != 0 and "after" not in failed.stdout  # strict mode kept


FAKE_CONDA = r"""#!/bin/bash
# Stand-in for the conda commands Snakemake calls: info, --version, config, env create.
case "$1 $2" in
  "info --json") echo "{\"conda_prefix\": \"@ROOT@\", \"platform\": \"linux-64\"}";;
  "--version "*) echo "conda 24.7.1";;
  "config --get") echo '{"get": {"channel_priority": "strict"}}';;
  "env create")
    next=""; for a in "$@"; do
      if [ -n "$next" ]; then prefix="${a//\"/}"; next=""; fi; [ "$a" = --prefix ] && next=1
    done
    mkdir -p "$prefix/bin" && cp "@ROOT@/envpython" "$prefix/bin/python";;
esac
"""


@pytest.mark.slow
def test_sdm_conda_job_runs_the_checkout_in_an_environment_without_it(tmp_path):
    """``snakemake --sdm conda`` with a stand-in conda whose environments hold the dependencies
    but not this project (Python without site processing: no editable install), and no
    ``ifrnet`` command on the PATH: a job still runs this checkout's code."""
    import site
    import sys

    fake = tmp_path / "conda"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "conda").write_text(FAKE_CONDA.replace("@ROOT@", str(fake)))
    (fake / "bin" / "activate").write_text('export PATH="$1/bin:$PATH"\n')
    (fake / "envpython").write_text(
        f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{site.getsitepackages()[0]}" '
        f'exec {sys.executable} -S "$@"\n'
    )
    for name in ("bin/conda", "envpython"):
        (fake / name).chmod(0o755)
    clean = {"PATH": f"{fake / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONPATH
    probe = subprocess.run(
        [str(fake / "envpython"), "-c", "import ifrnet"],
        cwd=tmp_path,
        capture_output=True,
        env=clean,
    )
    assert probe.returncode != 0  # the environment's Python cannot import the project
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--sdm",
            "conda",
            "--cores",
            "1",
            "results/masks/radial-r0.10-32x32.npz",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work / "results" / "masks" / "radial-r0.10-32x32.npz").is_file()
    assert list((work / ".snakemake" / "conda").glob("*/bin/python"))  # the job's environment

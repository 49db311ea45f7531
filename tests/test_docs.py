"""What a user reads resolves in a fresh clone: paths named in README.md and docs/ exist, nothing
refers to the developers' private folder, the licence and citation files match pyproject."""

import os
import re
import tomllib

import pytest
import yaml

from tests.workflow_helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Top-level entries of the repository: a path starting with one of them must exist.
TOP = (
    "ifrnet",
    "baselines",
    "config",
    "workflow",
    "tests",
    "benchmarks",
    "profiles",
    "envs",
    "docs",
    ".ci",
)
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(map(re.escape, TOP)) + r")/[\w./*{},-]*)")
LINK = re.compile(r"\]\(([^)#\s]+)")
PRIVATE = os.path.join("..", "shared")  # both spelled so that this file does not contain them
OLD_SPEC = "METHODS " + "§"
TEXT = {".py", ".md", ".yaml", ".yml", ".smk", ".rst", ".toml", ".cff", ".sh", ".txt", ".cfg"}
SKIPPED = {
    ".git",
    ".venv",
    "results",
    "data",
    "__pycache__",
    ".snakemake",
    ".pytest_cache",
    ".ruff_cache",
}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def named_paths(text: str) -> set[str]:
    """Repository paths named in a Markdown text (relative to the repository root)."""
    return {m.rstrip(".,;:") for m in PATH.findall(text)}


def links(text: str) -> set[str]:
    """Relative link targets of a Markdown text (relative to the text's folder)."""
    return {m for m in LINK.findall(text) if "://" not in m and not m.startswith("mailto:")}


def _exists(base, name: str) -> bool:
    name = re.sub(r":\w+$", "", name)  # module:Class
    braces = re.search(r"\{([^}]*)\}", name)
    if braces:  # {a,b} → each alternative
        return all(
            _exists(base, name.replace(braces.group(0), alt, 1))
            for alt in braces.group(1).split(",")
        )
    path = base / name
    return path.exists() or ("*" in name and bool(list(path.parent.glob(path.name))))


def test_path_extraction():
    text = "see `ifrnet/util/io.py`, `config/{a,b}.yaml`, [spec](methods.md) and https://x.org/a/b"
    assert named_paths(text) == {"ifrnet/util/io.py", "config/{a,b}.yaml"}
    assert links(text) == {"methods.md"}
    assert _exists(ROOT, "config/{config,smoke}.yaml") and _exists(ROOT, "workflow/rules/*.smk")
    assert not _exists(ROOT, "config/{config,nope}.yaml")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_named_in_the_docs_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = sorted(
        {n for n in named_paths(text) if not _exists(ROOT, n)}
        | {n for n in links(text) if not _exists(doc.parent, n)}
    )
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def _text_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED and not d.endswith(".egg-info")]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.splitext(name)[1] in TEXT or "." not in name:
                yield path


def test_nothing_refers_to_the_private_shared_folder():
    offenders = []
    for path in _text_files():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if PRIVATE in text or OLD_SPEC in text:
            offenders.append(os.path.relpath(path, ROOT))
    assert not offenders, f"refer to {PRIVATE} or {OLD_SPEC!r} (use docs/): {offenders}"


def test_published_numbers_are_attributed_to_the_ifrnet_authors():
    header = (ROOT / "config" / "published.yaml").read_text().split("\n\n")[0]
    assert "Liu et al." in header and "IEEE TCI 2020" in header
    assert "Sun et al." not in header  # Sun et al. wrote ADMM-Net


def test_licence_is_the_one_pyproject_declares():
    licence = (ROOT / "LICENSE").read_text()
    assert PYPROJECT["license"] == "BSD-3-Clause"
    assert licence.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, the ifrnet-bench authors" in licence
    assert "Neither the name of the copyright holder" in licence  # clause 3


def test_citation_cites_this_project_and_the_ifrnet_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert {"message", "title", "authors"} <= set(cff)
    assert cff["license"] == PYPROJECT["license"] and cff["version"] == PYPROJECT["version"]
    (paper,) = [r for r in cff["references"] if r["title"].startswith("IFR-Net")]
    assert paper["type"] == "article" and paper["year"] == 2020
    assert paper["journal"] == "IEEE Transactions on Computational Imaging"
    assert [a["family-names"] for a in paper["authors"]][:2] == ["Liu", "Liu"]


def test_readme_gives_the_cpu_torch_command_for_any_machine():
    readme = (ROOT / "README.md").read_text()
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in readme
    assert "torch==2.13.0" in (ROOT / ".ci" / "run").read_text()  # CI keeps its local wheel

"""What to tell a user whose workflow file is damaged: which rule makes it, how to rebuild it.

A file under ``data/prepared/`` or ``results/`` that a job cannot read (truncated, overwritten,
half-copied: :class:`ifrnet.util.userio.DamagedFile`) is rebuilt by deleting it and rerunning
Snakemake, which then remakes it with the rule below and redoes what was built from it.
Paths are matched by their folder (relative to the working directory), so the hint holds
whatever file names a rule's outputs have inside it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ifrnet.bench import paths

#: Folder of workflow files → the rule that writes them (the most specific folder first).
MADE_BY = (
    (paths.PREPARED, "prepare_data"),
    (f"{paths.RESULTS}/masks", "make_mask"),
    (f"{paths.RESULTS}/models/published", "convert_weights"),
    (f"{paths.RESULTS}/models", "train"),
    (f"{paths.RESULTS}/tuning", "tune"),
    (f"{paths.RESULTS}/recon", "reconstruct"),
)


def made_by(path: str | os.PathLike[str]) -> str | None:
    """The rule that writes ``path``, or None if it is not a file of the workflow."""
    path = Path(path)
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve()) if path.is_absolute() else path
    except ValueError:
        return None
    text = relative.as_posix()
    for folder, rule in MADE_BY:
        if text.startswith(folder + "/"):
            return rule
    return None


def rebuild_hint(path: str | os.PathLike[str]) -> str:
    """``; …`` telling how to rebuild a damaged workflow file (empty for any other file)."""
    rule = made_by(path)
    if rule is None:
        return ""
    return (
        f"; the file is damaged: delete it (rm {shlex.quote(str(path))}) and rerun snakemake, "
        f"which rebuilds it (rule {rule}) and what depends on it"
    )

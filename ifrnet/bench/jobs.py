"""How a workflow job reaches this checkout's code in a per-rule conda environment.

With ``snakemake --sdm conda`` every job runs in an environment Snakemake builds from
``envs/ifrnet.yaml``: the pinned dependencies, not this project (conda would resolve a
``pip: -e`` path against Snakemake's copy of the file under ``.snakemake/conda/``, and the
package would be frozen at the version of the first build). Instead each job's shell starts with
:func:`job_prefix`, which makes ``ifrnet`` run ``python -m ifrnet.bench.cli`` with the checkout
first on ``PYTHONPATH`` (Snakemake clears an inherited ``PYTHONPATH`` in conda jobs). ``python -m``
also puts the working directory on the path, so a user's own method module there is found.
"""

from __future__ import annotations

import os
import shlex


def job_prefix(root: str | os.PathLike[str]) -> str:
    """Bash text run before every job command: strict mode, then ``ifrnet`` defined as this
    checkout's command line (``root``: the repository folder holding ``ifrnet/``)."""
    path = shlex.quote(os.fspath(root))
    return (
        "set -euo pipefail; ifrnet() { "
        f"PYTHONPATH={path}${{PYTHONPATH:+:$PYTHONPATH}} "
        'python -m ifrnet.bench.cli "$@"; }; '
    )

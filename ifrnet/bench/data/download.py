"""Checksummed, resumable downloads and checksum verification of local files.

``download(url, dest, sha256)`` streams into ``dest + ".part"``, resuming a partial file with an
HTTP Range request when the server honours it, verifies the SHA-256 and only then renames the
file onto ``dest``: a destination path never holds a partial or unverified file. On a mismatch
the part file is deleted and the error names the URL and both checksums. Checksum lists are
``sha256sum`` files: one ``<hex>  <file name>`` per line.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ifrnet.util.io import file_sha256

PathLike = str | os.PathLike[str]


def read_checksums(path: PathLike) -> dict[str, str]:
    """File name → SHA-256 from a ``sha256sum``-format file (ValueError naming bad lines)."""
    sums = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ValueError(f"{path}:{number}: expected '<sha256>  <file name>', got {line!r}")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def verify(path: PathLike, sha256: str, origin: str | None = None) -> None:
    """ValueError naming the file (and its origin) unless its SHA-256 is ``sha256``."""
    actual = file_sha256(path)
    if actual != sha256.lower():
        where = f" (from {origin})" if origin else ""
        raise ValueError(
            f"{path}{where}: checksum mismatch: expected SHA-256 {sha256}, got {actual}"
        )


def download(
    url: str, dest: PathLike, sha256: str, timeout: float = 60.0, progress: bool = True
) -> Path:
    """Fetch ``url`` to ``dest`` (resumable, verified, atomic); skip if ``dest`` is valid."""
    dest = Path(dest)
    if dest.exists():
        verify(dest, sha256, origin="an earlier download")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have > 0 and response.status == 206
            with open(part, "ab" if resumed else "wb") as out:
                done = have if resumed else 0
                total = response.headers.get("Content-Length")
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    out.flush()  # what has arrived survives a kill
                    done += len(chunk)
                    if progress:
                        size = f"/{done - len(chunk) + int(total)}" if total and not resumed else ""
                        print(f"\r{dest.name}: {done}{size} bytes", end="", file=sys.stderr)
    except (urllib.error.URLError, OSError) as err:
        raise ValueError(
            f"{url}: download failed ({err}); rerun to resume from "
            f"{part.stat().st_size if part.exists() else 0} bytes"
        ) from err
    if progress:
        print(file=sys.stderr)
    try:
        verify(part, sha256, origin=url)
    except ValueError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest

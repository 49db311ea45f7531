"""fastMRI volumes streamed from a (signed) archive URL, without downloading the whole archive.

fastMRI distributes single-coil knee data as ``knee_singlecoil_{train,val}.tar.xz`` behind signed
URLs that NYU e-mails after the data-sharing agreement (88 GB and 19 GB). The paper needs a few
hundred slices, so ``fetch_volumes`` reads the archive as a stream (``tarfile`` mode ``r|*``: tar,
tar.gz or tar.xz), extracts the first ``count`` ``.h5`` members into a directory and stops.

Each volume is written to ``<name>.part``, validated (``fastmri.validate_file``) and only then
renamed, so the directory never holds a partial or invalid volume; a rerun after a kill skips the
volumes already there (it re-reads the archive up to them: tar streams cannot seek). A manifest
``<directory>.fetched`` (``sha256sum`` format) is written last, atomically: its presence means the
directory is complete. Signed URLs carry credentials in their query string, so messages show the
URL without it, and the workflow never sees the URL at all: the config names where it is kept
(``{env: NAME}``, an environment variable, or ``{file: PATH}``, a file holding it), and only the
job reads it (:func:`read_url`). A refreshed URL for the same archive therefore changes nothing
Snakemake tracks, and reruns nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ifrnet.bench.data.fastmri import validate_file
from ifrnet.util.io import file_sha256, write_text_atomic

PathLike = str | os.PathLike[str]


def redact(url: str) -> str:
    """``url`` without its query string and fragment (where signed URLs keep their secrets)."""
    parts = urllib.parse.urlsplit(url)
    hidden = "?…" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + hidden


def read_url(source: dict[str, str]) -> str:
    """The URL kept where ``source`` says: ``{"env": NAME}`` or ``{"file": PATH}`` (the file's
    first non-blank line). ValueError naming the variable or file (never the URL) if absent."""
    if set(source) == {"env"}:
        url = os.environ.get(source["env"], "").strip()
        if not url:
            raise ValueError(f"environment variable {source['env']} (the archive URL) is not set")
        return url
    if set(source) == {"file"}:
        path = Path(source["file"]).expanduser()
        try:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        except OSError as err:
            raise ValueError(f"{path}: cannot read the archive URL ({err.strerror})") from None
        if not any(lines):
            raise ValueError(f"{path}: holds no archive URL")
        return next(line for line in lines if line)
    raise ValueError(f"a URL source is {{env: NAME}} or {{file: PATH}}, got keys {sorted(source)}")


def manifest_path(directory: PathLike) -> Path:
    """The completion manifest of a fetched directory: ``<directory>.fetched`` beside it."""
    directory = Path(directory)
    return directory.with_name(directory.name + ".fetched")


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    """Member → ``dest`` via ``dest.part``; validated before the rename (ValueError if invalid)."""
    part = dest.with_name(dest.name + ".part")
    source = tar.extractfile(member)
    if source is None:
        raise ValueError(f"{member.name}: not a regular file")
    try:
        with source, open(part, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        validate_file(part)
    except ValueError as err:
        part.unlink(missing_ok=True)
        raise ValueError(f"archive member {member.name}: {err}") from err
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)


def fetch_volumes(
    url: str, directory: PathLike, count: int, timeout: float = 60.0, progress: bool = True
) -> list[Path]:
    """The first ``count`` ``.h5`` volumes of the tar archive at ``url``, extracted into
    ``directory`` (flat, by base name) and listed in ``manifest_path(directory)``.

    Volumes already in ``directory`` are kept if valid. ValueError (naming the redacted URL) if
    the URL cannot be read, is not a tar archive, or holds fewer than ``count`` volumes.
    """
    if count < 1:
        raise ValueError(f"count must be ≥ 1, got {count}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shown = redact(url)
    volumes: list[Path] = []
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as response,
            tarfile.open(fileobj=response, mode="r|*") as tar,
        ):
            for member in tar:
                if not (member.isfile() and member.name.endswith(".h5")):
                    continue
                dest = directory / Path(member.name).name
                if not (dest.exists() and _valid(dest)):
                    _extract(tar, member, dest)
                volumes.append(dest)
                if progress:
                    print(f"{shown}: {len(volumes)}/{count} volumes ({dest.name})", file=sys.stderr)
                if len(volumes) == count:
                    break
    except (urllib.error.URLError, OSError) as err:
        raise ValueError(
            f"{shown}: download failed ({err}); rerun to continue (the "
            f"{len(volumes)} volumes extracted are kept)"
        ) from err
    except tarfile.TarError as err:
        raise ValueError(f"{shown}: not a readable tar archive ({err})") from err
    if len(volumes) < count:
        raise ValueError(
            f"{shown}: the archive holds {len(volumes)} .h5 volumes, {count} requested"
        )
    write_text_atomic(
        manifest_path(directory), "".join(f"{file_sha256(v)}  {v.name}\n" for v in volumes)
    )
    return volumes


def _valid(path: Path) -> bool:
    try:
        validate_file(path)
    except ValueError:
        return False
    return True

"""Atomic file writes: nothing half-written is ever left at a destination path.

Every writer in the project goes through :func:`atomic_path`: it yields a temporary path in the
destination's directory, and only when the ``with`` block finishes without an exception is the
temporary file renamed onto the destination (``os.replace`` is atomic on POSIX). On failure the
temporary file is removed and the destination is untouched; a write that runs out of space
raises :class:`DiskFull`, one line naming the file. The file gets the mode an ordinary
``open()`` would give it (``0o666`` less the process umask: 0644 under umask 022), not the
private 0600 of ``mkstemp``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask (read from /proc on Linux; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` if the block succeeds."""
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as err:
        if disk_full(err):
            raise DiskFull(_no_space(dest)) from err
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _quiet_about_full_disks():
            yield tmp
        # chmod last: a writer may have replaced the temporary file with one of its own.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, dest)
    except BaseException as err:
        full = disk_full(err) or (isinstance(err, OSError) and _nearly_full(dest.parent))
        tmp.unlink(missing_ok=True)
        if full:
            raise DiskFull(_no_space(dest)) from err
        raise


@contextlib.contextmanager
def _quiet_about_full_disks() -> Iterator[None]:
    """While writing, hold back what goes to stderr and show it afterwards, unless the disk
    filled up: then it is noise from the failing writer (h5py prints tracebacks of objects it
    cannot free once a write failed), and the write's own exception says it in one line."""
    held, default_hook = io.StringIO(), sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not disk_full(unraisable.exc_value):
            default_hook(unraisable)

    sys.unraisablehook = hook
    full = False
    try:
        with contextlib.redirect_stderr(held):
            yield
    except BaseException as err:
        full = disk_full(err)
        raise
    finally:
        sys.unraisablehook = default_hook
        if not full and held.getvalue():
            sys.stderr.write(held.getvalue())


def _nearly_full(folder: Path) -> bool:
    """Whether the file system of ``folder`` has (almost) no space left: some writers (numpy's
    ``tofile``) report a short write without an errno."""
    try:
        return shutil.disk_usage(folder).free < 1 << 16
    except OSError:
        return False


def reserve_space(path: str | os.PathLike[str], nbytes: int) -> None:
    """Make sure ``nbytes`` fit into the (empty) file ``path`` before a writer that cannot
    survive running out of space fills it — HDF5: after a write that failed for want of space,
    freeing h5py's objects of that file crashes the process. The space is allocated
    (``posix_fallocate``: ENOSPC, or a quota, raised here, before anything is written) and
    handed back to the writer. Only another process filling the disk in between defeats it."""
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, max(int(nbytes), 1))
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # EINVAL: cannot reserve here
                raise
        f.truncate(0)


def _no_space(dest: Path) -> str:
    return f"{dest}: no space left on device (in {dest.parent}); free some space and rerun"


class DiskFull(OSError):
    """A write ran out of space; the message names the file (nothing of it was left)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror


def disk_full(err: BaseException | None) -> bool:
    """Whether ``err`` (or what caused it) is a write that ran out of space: ENOSPC, or
    HDF5's report of it, which h5py raises without an errno."""
    for _ in range(8):  # the exception and the ones it was raised from
        if err is None:
            return False
        if getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err) or "errno = 28" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


class DamagedFile(ValueError):
    """A file that cannot be read as what it should be (truncated, garbage, another format);
    ``path`` names it, so that a caller can say how to rebuild it."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(message)
        self.path = Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

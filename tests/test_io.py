"""Atomic writes: all or nothing at the destination, with the mode an ordinary open() gives."""

import os
import stat

import pytest

from ifrnet.util.io import atomic_path, current_umask, write_text_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set a umask for one test; restore the old one afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_written_files_get_the_mode_of_an_ordinary_open(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    write_text_atomic(tmp_path / "atomic.txt", "x")
    assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "plain.txt") == 0o666 & ~mask


def test_a_writer_that_recreates_the_temporary_file_still_gets_the_mode(tmp_path, umask):
    umask(0o022)
    with atomic_path(tmp_path / "out.bin") as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    assert _mode(tmp_path / "out.bin") == 0o644


def test_failure_leaves_neither_destination_nor_temporary_file(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert list(tmp_path.iterdir()) == []

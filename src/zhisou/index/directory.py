"""File-system primitives: atomic writes, directory fsync and the single-writer lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from zhisou.errors import IndexLockedError

LOCK_FILE = "write.lock"
TEMP_SUFFIX = ".zhisou-tmp"


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, unique: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Temp file in the same directory → fsync → rename → fsync the directory. ``unique``: the temp
    file's name holds the process and thread, for files written without the index's write lock
    (two processes writing one temp file at once would rename a mix of both).
    """
    owner = f".{os.getpid()}-{threading.get_ident()}" if unique else ""
    temp = path.with_name(f".{path.name}{owner}{TEMP_SUFFIX}")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_directory(path.parent)


class WriteLock:
    """An exclusive, non-blocking ``flock`` on ``write.lock``: one writer per index.

    The operating system drops the lock when the process dies, so a crash never leaves a
    stale lock behind.
    """

    def __init__(self, directory: Path) -> None:
        self._path = directory / LOCK_FILE
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        handle = open(self._path, "ab")  # noqa: SIM115 - held open while the lock is held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise IndexLockedError(
                f"{self._path.parent}: another writer has the index open; close it or wait, then retry"
            ) from exc
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

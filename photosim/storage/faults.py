"""How failures of SQLite and of the disk under a library read as photosim's errors, and the
one SQLite call that must be retried by hand. Used by the store and, as a last resort, the CLI."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from photosim.core.errors import (
    DiskFull,
    LibraryBusy,
    LibraryCorrupt,
    LibraryUnreadable,
    PhotosimError,
    ReadOnlyLocation,
)
from photosim.storage import migrations

READONLY_CODES = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM)


def explain(exc: BaseException, path: Path | str) -> PhotosimError | None:
    """The photosim error a failed SQLite call or file write on the library at ``path`` means,
    or None when it means none of these (a bug: let it show)."""
    if isinstance(exc, PhotosimError):
        return exc
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull(exc.filename or path)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return ReadOnlyLocation(exc.filename or path)
        return None
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return DiskFull(path)
    if code in READONLY_CODES:
        return ReadOnlyLocation(path)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return LibraryBusy(path)
    if code == sqlite3.SQLITE_IOERR:  # on a full disk, writing the -wal/-shm says I/O error
        return DiskFull(path) if nearly_full(Path(path)) else LibraryUnreadable(path, str(exc))
    if migrations.is_damage(exc) or isinstance(exc, sqlite3.DataError | sqlite3.IntegrityError):
        return LibraryCorrupt(path, None)
    return None


def nearly_full(path: Path) -> bool:
    """Less than a megabyte left where ``path`` is (or its folder, or that one's)."""
    for place in (path, path.parent, path.parent.parent):
        try:
            st = os.statvfs(place)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize < 1 << 20
    return False


def retry_busy(statement: Callable[[], object], timeout: float = 30) -> None:
    """Run ``statement``, again while SQLite says busy: switching a new file to WAL needs an
    exclusive lock and SQLite's busy timeout does not wait for it (racing starts failed)."""
    deadline, delay = time.monotonic() + timeout, 0.002
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            if time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)

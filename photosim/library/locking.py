"""One scan per library at a time: a lock file beside the database (``filelock``).

The lock is an OS file lock (``flock``), so it is released when its holder exits,
even by ``kill -9``; no stale lock survives a crash. Who holds it (pid and what
kind of photosim) is written into a side file, so a second scan can say.
Uses the well-kept ``filelock`` package rather than hand-written locking.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from photosim.core.errors import LibraryBusy, ReadOnlyLocation


class ScanLock:
    """Held for the whole of one scan; a second one raises :class:`LibraryBusy` at once."""

    def __init__(self, db_path: Path, owner: str) -> None:
        self.db_path = Path(db_path)
        self.path = self.db_path.with_name(self.db_path.name + ".lock")
        self.owner_path = self.db_path.with_name(self.db_path.name + ".lock.owner")
        self.owner = owner
        self._lock = FileLock(self.path, timeout=0, thread_local=False, is_singleton=False)

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise LibraryBusy(self.db_path, self.holder()) from None
        except PermissionError:
            raise ReadOnlyLocation(self.path) from None
        data = json.dumps({"pid": os.getpid(), "what": self.owner}).encode()
        tmp = self.owner_path.with_name(f".{self.owner_path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.owner_path)

    def release(self) -> None:
        if self._lock.is_locked:
            self.owner_path.unlink(missing_ok=True)
            self._lock.release(force=True)

    def holder(self) -> str:
        """``"pid 123, photosim scan"`` for the process holding the lock, if it said."""
        try:
            data = json.loads(self.owner_path.read_text())
            return f"pid {int(data['pid'])}, {data['what']}"
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    def __enter__(self) -> ScanLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

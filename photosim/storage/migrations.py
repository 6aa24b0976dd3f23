"""The library schema and its migrations, and how a library file is checked on opening.

Each migration runs once, in its own transaction together with its record in
``_migrations`` and ``PRAGMA user_version`` (the schema version a newer photosim
compares against). Migrations are plain SQL so that nothing inside them commits
on its own. A file that is not SQLite, or SQLite without our tables, is "foreign";
one whose schema is newer than this photosim knows is refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Step = Callable[[sqlite3.Connection], None]

_PHOTO_COLUMNS_SQL = (
    "id INTEGER PRIMARY KEY, path {path_type}, size INTEGER, mtime_ns INTEGER, hash TEXT, "
    "width INTEGER, height INTEGER, taken TEXT, make TEXT, model TEXT, orientation INTEGER, "
    "lat FLOAT, lon FLOAT, error TEXT, seen INTEGER"
)
_PHOTO_COLUMNS = (
    "id, path, size, mtime_ns, hash, width, height, taken, make, model, orientation, "
    "lat, lon, error, seen"
)


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE photos ({_PHOTO_COLUMNS_SQL.format(path_type='TEXT')})")
    conn.execute("CREATE UNIQUE INDEX idx_photos_path ON photos (path)")
    conn.execute("CREATE INDEX idx_photos_hash ON photos (hash)")
    conn.execute(
        "CREATE TABLE vectors (hash TEXT, model TEXT, vector BLOB, PRIMARY KEY (hash, model))"
    )
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")


def _m002_paths_as_bytes(conn: sqlite3.Connection) -> None:
    """Paths as the file system's bytes, so any name (not valid UTF-8 too) round-trips."""
    conn.execute(f"CREATE TABLE photos_new ({_PHOTO_COLUMNS_SQL.format(path_type='BLOB')})")
    cols = _PHOTO_COLUMNS.replace("path,", "CAST(path AS BLOB),", 1)
    conn.execute(f"INSERT INTO photos_new ({_PHOTO_COLUMNS}) SELECT {cols} FROM photos")
    conn.execute("DROP TABLE photos")
    conn.execute("ALTER TABLE photos_new RENAME TO photos")
    conn.execute("CREATE UNIQUE INDEX idx_photos_path ON photos (path)")
    conn.execute("CREATE INDEX idx_photos_hash ON photos (hash)")


def _m003_fail_kind_and_pending(conn: sqlite3.Connection) -> None:
    """The kind of a failure (events.FailKind) and the work a scan still owes a photo."""
    conn.execute("ALTER TABLE photos ADD COLUMN fail_kind TEXT")
    conn.execute("ALTER TABLE photos ADD COLUMN pending INTEGER")
    conn.execute("CREATE INDEX idx_photos_pending ON photos (pending) WHERE pending IS NOT NULL")


def _m004_vectors_f16(conn: sqlite3.Connection) -> None:
    """Vectors are stored as float16 (half the disk, rankings unchanged): convert float32 rows.

    Self-contained on purpose: a migration must keep doing what it did when it was written.
    """
    import numpy as np

    rows = conn.execute("select rowid, vector from vectors").fetchall()
    conn.executemany(
        "update vectors set vector = ? where rowid = ?",
        [
            (np.frombuffer(blob, np.float32).astype(np.float16).tobytes(), rowid)
            for rowid, blob in rows
        ],
    )


def _m005_duplicates(conn: sqlite3.Connection) -> None:
    """Duplicate finding: pixel fingerprints and the user's decisions, all by content hash."""
    conn.execute("CREATE TABLE fingerprints (hash TEXT PRIMARY KEY, data BLOB)")
    conn.execute("CREATE TABLE dup_not_pairs (a TEXT, b TEXT, PRIMARY KEY (a, b))")  # a <= b
    conn.execute("CREATE TABLE dup_keep (hash TEXT PRIMARY KEY, path BLOB, at FLOAT)")
    conn.execute("CREATE TABLE dup_calibration (model TEXT PRIMARY KEY, data TEXT)")


MIGRATIONS: list[tuple[str, Step]] = [
    ("001_initial", _m001_initial),
    ("002_paths_as_bytes", _m002_paths_as_bytes),
    ("003_fail_kind_and_pending", _m003_fail_kind_and_pending),
    ("004_vectors_f16", _m004_vectors_f16),
    ("005_duplicates", _m005_duplicates),
]
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = frozenset({"photos", "vectors", "meta", "_migrations"})


@dataclass(frozen=True)
class FileState:
    """What a library file holds: ``kind`` is missing, empty, ours, foreign or corrupt."""

    kind: str
    version: int = 0
    unknown: tuple[str, ...] = ()  # migrations a newer photosim applied


def inspect(path: Path) -> FileState:
    """Look at a library file without writing to it."""
    if not path.exists():
        return FileState("missing")
    if path.stat().st_size == 0:
        return FileState("empty")
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return FileState("corrupt")
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        if not tables:
            return FileState("empty")
        if not {"_migrations", "photos"} <= tables:
            return FileState("foreign")
        names = [r[0] for r in conn.execute("select name from _migrations")]
        version = int(conn.execute("pragma user_version").fetchone()[0])
        conn.execute("select count(*) from photos").fetchone()
    except sqlite3.DatabaseError:
        return FileState("corrupt")
    finally:
        conn.close()
    known = {name for name, _ in MIGRATIONS}
    unknown = tuple(n for n in names if n not in known)
    return FileState("ours", max(version, len(names)), unknown)


def pending_steps(conn: sqlite3.Connection) -> list[tuple[str, Step]]:
    """The migrations this file lacks, in order."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    done = {r[0] for r in conn.execute("select name from _migrations")}
    return [(name, step) for name, step in MIGRATIONS if name not in done]


def record(conn: sqlite3.Connection, name: str) -> None:
    """Mark one migration applied (inside that migration's transaction)."""
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, time.time()])
    count = conn.execute("select count(*) from _migrations").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {int(count)}")

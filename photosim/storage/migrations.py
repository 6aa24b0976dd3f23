"""The library schema and its migrations, and how a library file is checked on opening.

Migrations are applied by sqlite-utils' :class:`sqlite_utils.Migrations` (set ``photosim``,
recorded in ``_sqlite_migrations``), all pending ones inside one ``BEGIN IMMEDIATE``
transaction together with ``PRAGMA user_version`` (the schema version a newer photosim
compares against) and ``PRAGMA application_id`` (what makes a file provably photosim's).
Taking the write lock first is what lets several processes open a new library at once:
the second waits, then finds nothing left to do, and nobody ever sees a half-made one.
Libraries made before sqlite-utils' table recorded their steps in ``_migrations``; those
records are adopted on the first upgrade. Migrations are plain SQL, so nothing inside
them commits on its own.

A file is photosim's when SQLite says its ``application_id`` is ours, or (older libraries,
id 0) when it holds our tables. Anything else (a photo, a text file, someone else's
database, a folder, a FIFO) is "foreign": refused, never renamed, migrated or written.
Only a file proven ours that SQLite cannot read is "damaged" (moved aside by the store).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

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


def _m006_lens(conn: sqlite3.Connection) -> None:
    """The lens a photo was taken with (EXIF LensModel). NULL: not read yet (rows from before
    this step; the next scan fills them from the files' EXIF headers), '': none known."""
    conn.execute("ALTER TABLE photos ADD COLUMN lens TEXT")
    conn.execute("CREATE INDEX idx_photos_lens_unread ON photos (id) WHERE lens IS NULL")


def _m007_capture_times(conn: sqlite3.Connection) -> None:
    """Capture times of the files that decide RAW+JPEG pairs, by path and file version: a
    rescan of unchanged pairs reads no EXIF (NULL taken: the file has none)."""
    conn.execute(
        "CREATE TABLE capture_times (path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
        "taken REAL)"
    )


def _m008_check_features(conn: sqlite3.Connection) -> None:
    """Each photo's features for the duplicates' geometric check, made by the scan from the
    view it keeps in its fingerprint (a search then computes none)."""
    conn.execute("CREATE TABLE check_features (hash TEXT PRIMARY KEY, data BLOB)")


MIGRATIONS: list[tuple[str, Step]] = [
    ("001_initial", _m001_initial),
    ("002_paths_as_bytes", _m002_paths_as_bytes),
    ("003_fail_kind_and_pending", _m003_fail_kind_and_pending),
    ("004_vectors_f16", _m004_vectors_f16),
    ("005_duplicates", _m005_duplicates),
    ("006_lens", _m006_lens),
    ("007_capture_times", _m007_capture_times),
    ("008_check_features", _m008_check_features),
]
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = frozenset({"photos", "vectors", "meta"})
MIGRATION_SET = "photosim"  # sqlite-utils' name for our steps in _sqlite_migrations
LEGACY_TABLE = "_migrations"  # where libraries before sqlite-utils' Migrations kept them
APPLICATION_ID = int.from_bytes(b"PhSm", "big")  # PRAGMA application_id of every library
SQLITE_MAGIC = b"SQLite format 3\x00"


def migration_set() -> sqlite_utils.Migrations:
    """Our steps as sqlite-utils migrations (built on use: MIGRATIONS is the one list)."""
    steps = sqlite_utils.Migrations(MIGRATION_SET)
    for name, step in MIGRATIONS:
        steps(name=name)(_on_connection(step))
    return steps


def _on_connection(step: Step) -> Callable[[sqlite_utils.Database], None]:
    def run(db: sqlite_utils.Database) -> None:
        step(db.conn)

    run.__name__ = getattr(step, "__name__", "step")
    return run


def upgrade(db: sqlite_utils.Database) -> int:
    """Apply every migration this file lacks in one write transaction; returns the version.

    ``BEGIN IMMEDIATE`` takes the write lock before anything is read, so a second process
    opening the same new library waits for the first and then applies nothing (sqlite-utils'
    own ``apply`` reads what is pending before it locks). Each step is a savepoint inside.
    """
    conn = db.conn
    if _is_current(conn):
        return SCHEMA_VERSION
    conn.execute("BEGIN IMMEDIATE")
    try:
        _adopt_legacy(db)
        migration_set().apply(db)
        count = conn.execute(
            "select count(*) from _sqlite_migrations where migration_set = ?", [MIGRATION_SET]
        ).fetchone()[0]
        conn.execute(f"PRAGMA user_version = {max(int(count), _user_version(conn))}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return SCHEMA_VERSION


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("pragma user_version").fetchone()[0])


def _is_current(conn: sqlite3.Connection) -> bool:
    """Every step applied and the file marked ours (a read; no write lock needed)."""
    if int(conn.execute("pragma application_id").fetchone()[0]) != APPLICATION_ID:
        return False
    try:
        done = {r[0] for r in conn.execute(
            "select name from _sqlite_migrations where migration_set = ?", [MIGRATION_SET]
        )}  # fmt: skip
    except sqlite3.OperationalError:
        return False
    return {name for name, _ in MIGRATIONS} <= done


def _adopt_legacy(db: sqlite_utils.Database) -> None:
    """Record the steps an older photosim applied (``_migrations``) in sqlite-utils' table."""
    if not db[LEGACY_TABLE].exists():
        return
    steps = migration_set()
    steps.ensure_migrations_table(db)
    done = {m.name for m in steps.applied(db)}
    for name, applied_at in db.execute(f"select name, applied_at from {LEGACY_TABLE}").fetchall():
        if name not in done:
            db.execute(
                "insert into _sqlite_migrations (migration_set, name, applied_at) values (?, ?, ?)",
                [MIGRATION_SET, name, str(applied_at)],
            )


@dataclass(frozen=True)
class FileState:
    """What a library file holds.

    ``kind``: missing, empty (nothing to lose: a new or half-made library), ours, foreign
    (not provably photosim's: never touched; ``reason`` says what it is) or damaged (proven
    ours, but SQLite cannot read it).
    """

    kind: str
    version: int = 0
    unknown: tuple[str, ...] = ()  # migrations a newer photosim applied
    reason: str = ""


def connect_read_only(path: Path, timeout: float = 30) -> sqlite3.Connection:
    """A read-only connection; on read-only media (no -shm can be made) an immutable one."""
    uri = path.absolute().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if not _on_read_only_media(path, exc):
            raise
    return sqlite3.connect(
        f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout, check_same_thread=False
    )


def _on_read_only_media(path: Path, exc: sqlite3.OperationalError) -> bool:
    """SQLite could not make the -shm beside a WAL library because nothing may be written."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code not in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY):
        return False
    return read_only_media(path)


def read_only_media(path: Path) -> bool:
    """The folder of ``path`` is on a read-only mount (or cannot be written by us)."""
    folder = path.absolute().parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK)


OTHER_DATABASE = "is another program's database"
SETTLE_S, SETTLE_TRIES = 0.05, 3  # an SQLite file not ours is looked at again this often


def inspect(path: Path) -> FileState:
    """Look at a library file without writing to it (or creating anything beside it).

    An SQLite file that is not ours is looked at again a few times first: the immutable read
    takes no lock, so while another photosim process writes a new library's pages into it
    (a checkpoint of its first transaction) it can see tables without our mark. A file that
    is really another program's stays so, at a cost of 0.15 s.
    """
    state = _inspect_once(path)
    for _ in range(SETTLE_TRIES):
        if state.kind != "foreign" or state.reason != OTHER_DATABASE:
            break
        time.sleep(SETTLE_S)
        state = _inspect_once(path)
    return state


def _inspect_once(path: Path) -> FileState:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FileState("missing")
    except NotADirectoryError:
        return FileState("foreign", reason="is inside a file, not a folder")
    except OSError as exc:
        return FileState("foreign", reason=f"cannot be opened ({exc.strerror or exc})")
    if stat.S_ISDIR(st.st_mode):
        return FileState("foreign", reason="is a folder, not a photosim library file")
    if not stat.S_ISREG(st.st_mode):
        return FileState("foreign", reason="is not a regular file (a FIFO, socket or device)")
    if st.st_size == 0:
        return FileState("empty")
    header = _header(path)
    if header is None:
        return FileState("foreign", reason="cannot be read")
    if not header.startswith(SQLITE_MAGIC):
        return FileState("foreign", reason=NOT_OURS)
    raw_id = int.from_bytes(header[68:72], "big") if len(header) >= 72 else 0
    wal = Path(f"{path}-wal")
    if not (wal.exists() and wal.stat().st_size > 0):
        # immutable: creates no -wal/-shm beside a file that may not be ours; exact when
        # there is no WAL. A verdict of damage is only ever taken from a locking read.
        state = _inspect_with(path, raw_id, immutable=True)
        if state.kind != "damaged":
            return state
    return _inspect_with(path, raw_id, immutable=False)


def _inspect_with(path: Path, raw_id: int, *, immutable: bool) -> FileState:
    try:
        if immutable:
            uri = f"{path.absolute().as_uri()}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            conn = connect_read_only(path)
        with contextlib.closing(conn):
            return _inspect_open(conn)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise  # busy, no permission, I/O: said as such by the store, never "damaged"
        # SQLite cannot read it: damaged if the header proves it ours, else not ours
        if raw_id == APPLICATION_ID:
            return FileState("damaged")
        return FileState("foreign", reason=NOT_OURS)


NOT_OURS = "is not a photosim library (or is damaged beyond recognition)"


def is_damage(exc: sqlite3.Error) -> bool:
    """SQLite says the file is not a database or is malformed (not: busy, denied, I/O)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or (
        type(exc) is sqlite3.DatabaseError and code == 0
    )


def _header(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(100)
    except OSError:
        return None


def _inspect_open(conn: sqlite3.Connection) -> FileState:
    app_id = int(conn.execute("pragma application_id").fetchone()[0])
    if app_id not in (0, APPLICATION_ID):
        return FileState("foreign", reason=OTHER_DATABASE)
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    legacy = LEGACY_TABLE in tables and "photos" in tables
    if app_id == 0 and not tables:
        return FileState("empty")  # SQLite with nothing in it: a library being made
    if app_id == 0 and not legacy:
        return FileState("foreign", reason=OTHER_DATABASE)
    try:
        names = _applied_names(conn, tables)
        version = _user_version(conn)
        conn.execute("select count(*) from photos").fetchone()
    except sqlite3.DatabaseError as exc:  # a missing table of ours is damage too
        if not (is_damage(exc) or (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == 1):
            raise
        return FileState("damaged")
    known = {name for name, _ in MIGRATIONS}
    unknown = tuple(n for n in names if n not in known)
    return FileState("ours", max(version, len(names)), unknown)


def _applied_names(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    names: list[str] = []
    if "_sqlite_migrations" in tables:
        names += [r[0] for r in conn.execute(
            "select name from _sqlite_migrations where migration_set = ?", [MIGRATION_SET]
        )]  # fmt: skip
    if LEGACY_TABLE in tables:
        names += [r[0] for r in conn.execute(f"select name from {LEGACY_TABLE}")]
    return list(dict.fromkeys(names))

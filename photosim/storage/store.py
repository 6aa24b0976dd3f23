"""The library's SQLite file: photos, their vectors and what the scans found.

One file per library, opened through sqlite-utils in WAL mode so the app can
read while a scan writes; queries may open it read-only. Every unit of work is
one explicit :meth:`Store.atomic` block. Paths are stored as the file system's
bytes (``os.fsencode``) and handed out as ``str`` (``os.fsdecode``: names that are
not valid UTF-8 come back as surrogate escapes), so every name round-trips.
The schema and the checks on opening live in :mod:`photosim.storage.migrations`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import sqlite_utils

from photosim.core.errors import (
    DiskFull,
    LibraryBusy,
    LibraryCorrupt,
    LibraryUnreadable,
    NotALibrary,
    PhotosimError,
    ReadOnlyLocation,
    SchemaTooNew,
    UnknownLibrary,
    shown,
)
from photosim.core.events import FailKind, Failure, Photo
from photosim.storage import migrations
from photosim.storage.browse import BrowseRows
from photosim.storage.codec import _dec, _enc
from photosim.storage.dupes import DuplicateRows
from photosim.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from photosim.storage.vectors import VectorRows

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PendingJob", "PhotoRow", "Store", "explain", "migrate"]

PHOTO_COLUMNS = (
    "id", "path", "size", "mtime_ns", "hash", "width", "height", "taken", "make", "model",
    "orientation", "lat", "lon", "error", "seen", "fail_kind", "pending",
)  # fmt: skip
# What a scan still owes a photo (photos.pending): listed new, or known but changed/waiting.
PENDING_NEW, PENDING_UPDATE = 1, 2
_READONLY_CODES = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM)
PendingJob = tuple[int, str, int, int, str | None, bool]  # id, path, size, mtime_ns, hash, is_new


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this file lacks (one write transaction); returns the version."""
    return migrations.upgrade(db)


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
    if code in _READONLY_CODES:
        return ReadOnlyLocation(path)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return LibraryBusy(path)
    if code == sqlite3.SQLITE_IOERR:
        return LibraryUnreadable(path, str(exc))
    if migrations.is_damage(exc) or isinstance(exc, sqlite3.DataError | sqlite3.IntegrityError):
        return LibraryCorrupt(path, None)
    return None


class Store(VectorRows, DuplicateRows, BrowseRows):
    """Thread-aware access to one library database (a connection per thread).

    ``read_only`` opens the file for queries only (``mode=ro``; on read-only media an
    immutable one): nothing is written, unless the file needs a schema migration first.
    A file that is not provably photosim's is refused (:class:`NotALibrary`), untouched.
    A library of ours that SQLite cannot read is moved aside and a fresh one started
    (``recovered`` then holds the :class:`LibraryCorrupt` to show); read-only, it raises
    that error instead. Every commit is synced to disk (``synchronous=FULL``): what a
    call returned from survives a power cut.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self._memory = str(path) == ":memory:"
        self.path = Path(path)
        self.read_only = read_only and not self._memory
        self.recovered: LibraryCorrupt | None = None
        self._local = threading.local()
        self._shared: sqlite_utils.Database | None = None
        self._immutable = False
        if not self._memory:
            self._check_file()
        if not self.read_only:
            self._migrate_or_refuse(self.db)

    # -- opening ------------------------------------------------------------
    def _check_file(self) -> None:
        """Refuse what is not ours or newer; move a damaged library aside; migrate if needed."""
        state = migrations.inspect(self.path)
        if state.kind == "foreign":
            raise NotALibrary(self.path, state.reason)
        if state.kind in ("missing", "empty") and self.read_only:
            raise UnknownLibrary(
                f"No library database at {shown(self.path)}; run `photosim scan FOLDER "
                f"--db {shown(self.path)}` first."
            )
        if not self.read_only:
            self._make_folder()
        if state.kind == "damaged":
            if self.read_only:
                raise LibraryCorrupt(self.path, None)
            self.recovered = LibraryCorrupt(self.path, self._move_aside())
        elif state.unknown or state.version > SCHEMA_VERSION:
            raise SchemaTooNew(self.path, state.version, SCHEMA_VERSION)
        elif self.read_only and state.version < SCHEMA_VERSION:
            if migrations.read_only_media(self.path):
                raise ReadOnlyLocation(self.path)  # an old library must be upgraded once
            writer = Store(self.path)  # an older schema is upgraded once, then read
            writer.close()

    def _make_folder(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotALibrary(self.path, "cannot be made: a folder in its path is a file") from None
        except OSError as exc:
            raise explain(exc, self.path) or exc from None
        if migrations.read_only_media(self.path):
            raise ReadOnlyLocation(self.path)

    def _move_aside(self) -> Path:
        """Rename the file (and its -wal/-shm) beside itself; never delete or overwrite."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while any(Path(f"{aside}{s}").exists() for s in ("", "-wal", "-shm")):
            n += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        for suffix in ("-wal", "-shm", ""):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                os.rename(src, f"{aside}{suffix}")
        return aside

    def _migrate_or_refuse(self, db: sqlite_utils.Database) -> None:
        try:
            migrate(db)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) or exc from None

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                return migrations.connect_read_only(self.path)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            _retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            # Each commit is synced (the WAL's fsync): what a scan committed, and every
            # decision, survives a power cut; NORMAL left it in the page cache until a
            # checkpoint. The cost is one fsync per transaction (a batch of photos).
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) or exc from None
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (an in-memory store shares one, for tests)."""
        if self._memory:
            if self._shared is None:
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                self._shared = sqlite_utils.Database(conn, execute_plugins=False)
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            # no sqlite-utils plugins: a Database() then skips scanning every installed
            # package's entry points for them (~50 ms per process; importlib.metadata)
            db = self._local.db = sqlite_utils.Database(self._connect(), execute_plugins=False)
        return db

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One unit of work as one transaction: all of it is written, or none of it.

        sqlite-utils' ``db.atomic()`` (nested blocks are savepoints); the outermost block
        first takes the write lock (``BEGIN IMMEDIATE``), so two writers queue instead of
        one failing half-way with "database is locked". A full disk, a read-only place or
        a damaged file come out as photosim errors (:func:`explain`).
        """
        db = self.db
        conn = db.conn
        if conn.in_transaction:
            with db.atomic():
                yield db
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            with db.atomic():  # a savepoint: the block's own rollback
                yield db
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            translated = None  # a write on a read-only store is a bug, not a place to name
            if isinstance(exc, sqlite3.Error) and not self.read_only:
                translated = explain(exc, self.path)
            if translated is None:
                raise
            raise translated from exc

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def integrity_ok(self) -> bool:
        """SQLite's own check of the whole file (``PRAGMA integrity_check``)."""
        return self.db.execute("pragma integrity_check").fetchone()[0] == "ok"

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, **values: object) -> None:
        """Write several meta keys in one transaction (``None`` stores NULL)."""
        with self.atomic() as db:
            db.conn.executemany(
                "insert into meta (key, value) values (?, ?) "
                "on conflict(key) do update set value = excluded.value",
                [(k, None if v is None else str(v)) for k, v in values.items()],
            )

    def bump_version(self) -> int:
        """Count a change of the photo set; the index compares it to its own."""
        with self.atomic():
            version = int(self.get_meta("library_version", "0")) + 1
            self.set_meta(library_version=version)
        return version

    # -- a scan's bookkeeping -------------------------------------------------
    def begin_scan(self) -> int:
        """A new scan generation: forget work owed by an earlier, interrupted scan."""
        with self.atomic() as db:
            generation = int(self.get_meta("scan_generation", "0")) + 1
            self.set_meta(scan_generation=generation)
            db.conn.execute("update photos set pending = null where pending is not null")
        return generation

    def lookup(self, paths: list[str], model_key: str | None) -> dict[str, tuple]:
        """path -> (id, size, mtime_ns, hash, error, has_vector) for the paths that have rows."""
        out: dict[str, tuple] = {}
        for start in range(0, len(paths), 500):
            chunk = [_enc(p) for p in paths[start : start + 500]]
            sql = (
                "select p.path, p.id, p.size, p.mtime_ns, p.hash, p.error, v.hash is not null "
                "from photos p left join vectors v on v.hash = p.hash and v.model = ? "
                f"where p.path in ({','.join('?' * len(chunk))})"
            )
            for path, *rest in self.db.execute(sql, [model_key, *chunk]):
                out[_dec(path)] = tuple(rest)
        return out

    def list_new(
        self, path: str, size: int, mtime_ns: int, generation: int, pending: int = PENDING_NEW
    ) -> None:
        """A row for a file just found, before it is hashed or embedded."""
        with self.atomic() as db:
            db.conn.execute(
                "insert or ignore into photos (path, size, mtime_ns, seen, pending) "
                "values (?, ?, ?, ?, ?)",
                [_enc(path), size, mtime_ns, generation, pending],
            )

    def list_new_many(self, entries: Iterable[tuple[str, int, int]], generation: int) -> None:
        """Rows for many files just found, (path, size, mtime_ns) each, in one transaction."""
        with self.atomic() as db:
            db.conn.executemany(
                "insert or ignore into photos (path, size, mtime_ns, seen, pending) "
                "values (?, ?, ?, ?, ?)",
                [(_enc(p), s, m, generation, PENDING_NEW) for p, s, m in entries],
            )

    def mark_changed(self, photo_id: int, size: int, mtime_ns: int, generation: int) -> None:
        """A known file changed on disk: its old hash, error and metadata no longer hold."""
        with self.atomic() as db:
            db.conn.execute(
                "update photos set size = ?, mtime_ns = ?, hash = null, error = null, "
                "fail_kind = null, seen = ?, pending = ? where id = ?",
                [size, mtime_ns, generation, PENDING_UPDATE, photo_id],
            )

    def mark_pending(self, ids: Iterable[int], generation: int, pending: int) -> None:
        with self.atomic() as db:
            db.conn.executemany(
                "update photos set seen = ?, pending = ? where id = ?",
                [(generation, pending, i) for i in ids],
            )

    def mark_seen_ids(self, ids: Iterable[int], generation: int) -> None:
        with self.atomic() as db:
            db.conn.executemany(
                "update photos set seen = ? where id = ?", [(generation, i) for i in ids]
            )

    def pending_count(self) -> int:
        return int(
            self.db.execute("select count(*) from photos where pending is not null").fetchone()[0]
        )

    def pending_jobs(self, after_id: int = 0, limit: int = 1000) -> list[PendingJob]:
        """The next ``limit`` photos the scan owes work, by id (page on with the last id)."""
        rows = self.db.execute(
            "select id, path, size, mtime_ns, hash, pending from photos "
            "where pending is not null and id > ? order by id limit ?",
            [after_id, limit],
        )
        return [(i, _dec(p), s, m, h, pend == PENDING_NEW) for i, p, s, m, h, pend in rows]

    def unseen(
        self, generation: int, roots: Iterable[Path], skip: Iterable[str] = ()
    ) -> list[tuple[int, str, str | None]]:
        """Rows under ``roots`` (and not under ``skip``) not seen by scan ``generation``."""
        prefixes = [_enc(str(r).rstrip("/\\")) for r in roots]
        skipped = [_enc(str(s).rstrip("/\\")) for s in skip]
        out = []
        rows = self.db.execute(
            "select id, path, hash from photos where seen is null or seen != ?", [generation]
        )
        for pid, raw, h in rows:
            path = raw if isinstance(raw, bytes) else _enc(raw)
            if any(_under(path, p) for p in prefixes) and not any(_under(path, s) for s in skipped):
                out.append((pid, _dec(raw), h))
        return out

    def delete_photos(self, ids: list[int]) -> None:
        with self.atomic() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                db.conn.execute(f"delete from photos where id in ({marks})", chunk)

    def upsert_photo(self, record: dict) -> int:
        """Insert or update the row for ``record['path']``; returns its id."""
        record = {**record, "path": _enc(record["path"])}
        cols = [c for c in record if c != "id"]
        sql = (
            f"insert into photos ({', '.join(cols)}) values ({', '.join('?' * len(cols))}) "
            f"on conflict(path) do update set "
            + ", ".join(f"{c} = excluded.{c}" for c in cols if c != "path")
            + " returning id"
        )
        with self.atomic() as db:
            return int(db.conn.execute(sql, [record[c] for c in cols]).fetchone()[0])

    # -- queries ------------------------------------------------------------
    def photos(self, model_key: str | None = None) -> list[Photo]:
        sql = f"{_PHOTOS_WITH_VECTOR} order by p.path"
        return [_photo(row) for row in self.db.query(sql, [model_key])]

    def photo(self, key: int | str | Path, model_key: str | None = None) -> Photo | None:
        column = "id" if isinstance(key, int) else "path"
        sql = f"{_PHOTOS_WITH_VECTOR} where p.{column} = ?"
        rows = list(self.db.query(sql, [model_key, key if isinstance(key, int) else _enc(key)]))
        return _photo(rows[0]) if rows else None

    def count_embedded(self, model_key: str | None) -> int:
        """Photos that have a vector of ``model_key``."""
        sql = f"select count(*) from ({_PHOTOS_WITH_VECTOR}) where has_vector"
        return int(self.db.execute(sql, [model_key]).fetchone()[0])

    def count_failed(self) -> int:
        return self.count("error is not null")

    def failures(self) -> list[Failure]:
        """Every photo that could not be used, by path, with its kind and reason."""
        rows = self.db.execute(
            "select path, fail_kind, error from photos where error is not null order by path"
        )
        return [Failure(Path(_dec(p)), _fail_kind(k), e) for p, k, e in rows]

    def paths_for_hashes(self, hashes: Iterable[str]) -> dict[str, list[str]]:
        hashes = list(set(hashes))
        out: dict[str, list[str]] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"select hash, path from photos where hash in ({marks}) and error is null"
            for h, path in self.db.execute(sql, chunk):
                out.setdefault(h, []).append(_dec(path))
        return out

    def count(self, where: str = "1") -> int:
        return int(self.db.execute(f"select count(*) from photos where {where}").fetchone()[0])

    # -- folders leaving a library ---------------------------
    def delete_under(self, folder: str | Path) -> int:
        """Forget the photos under ``folder`` (rows only: files on disk are untouched)."""
        prefix = _enc(str(folder).rstrip("/\\"))
        with self.atomic() as db:
            rows = db.execute("select id, path from photos").fetchall()
            ids = [pid for pid, raw in rows if _under(_enc(_dec(raw)), prefix)]
            self.delete_photos(ids)
            if ids:
                self.bump_version()
        return len(ids)

    # -- the grid's lean listing -----------------------------
    def photo_listing(self, model_key: str | None = None) -> list[PhotoRow]:
        """What the app's grid shows of every photo, as light tuples (by id).

        About ten times faster than :meth:`photos` at 100,000 photos (no dict rows, no
        ``Photo``/``Path`` objects); the full record of one photo comes from :meth:`photo`.
        """
        conn = self.db.conn
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")  # one snapshot for both reads while a scan writes
        try:  # a set lookup is ~2x faster than SQLite's join on the vectors' index
            vectors = {h for (h,) in conn.execute(_VECTOR_HASHES, [model_key])}
            rows = conn.execute(_LISTING).fetchall()
        finally:
            if own:
                conn.execute("COMMIT")
        new = tuple.__new__
        return [new(PhotoRow, (i, _dec(p), s or 0, m or 0, t, e, h in vectors))
                for i, p, s, m, t, e, h in rows]  # fmt: skip

    def photo_listing_earliest(self, model_key: str | None, limit: int) -> list[PhotoRow]:
        """The photos that may come first by date: the ``limit`` earliest by EXIF date taken,
        by file time in whole seconds (no date taken), and undated; ties by path; at most
        3 x ``limit``, unordered.

        Milliseconds at 100k photos: the app shows a first screenful from these (sorted by
        its own key) while the whole listing loads.
        """
        conn = self.db.conn
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")  # one snapshot for all reads
        try:
            rows = {r[0]: r for sql in _EARLIEST for r in conn.execute(sql, [limit])}
            hashes = list({r[6] for r in rows.values() if r[6] is not None})
            vectors = set()
            for start in range(0, len(hashes), 500):
                chunk = hashes[start : start + 500]
                sql = f"{_VECTOR_HASHES} and hash in ({','.join('?' * len(chunk))})"
                vectors.update(h for (h,) in conn.execute(sql, [model_key, *chunk]))
        finally:
            if own:
                conn.execute("COMMIT")
        return [PhotoRow(i, _dec(p), s or 0, m or 0, t, e, h in vectors)
                for i, p, s, m, t, e, h in rows.values()]  # fmt: skip


# Photo rows with has_vector for one model (the parameter); every photo query starts here.
_PHOTOS_WITH_VECTOR = (
    "select p.*, v.hash is not null as has_vector from photos p "
    "left join vectors v on v.hash = p.hash and v.model = ?"
)


def _retry_busy(statement: Callable[[], object], timeout: float = 30) -> None:
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


def _under(path: bytes, prefix: bytes) -> bool:
    return path == prefix or path.startswith(prefix + b"/") or path.startswith(prefix + b"\\")


def _fail_kind(value: str | None) -> FailKind:
    try:
        return FailKind(value)
    except ValueError:
        return FailKind.OTHER


def _photo(row: dict) -> Photo:
    return Photo(
        id=row["id"], path=Path(_dec(row["path"])), size=row["size"] or 0,
        mtime=(row["mtime_ns"] or 0) / 1e9, hash=row["hash"], width=row["width"],
        height=row["height"], taken=row["taken"], make=row["make"], model=row["model"],
        orientation=row["orientation"], lat=row["lat"], lon=row["lon"], error=row["error"],
        has_vector=bool(row["has_vector"]),
        fail_kind=_fail_kind(row["fail_kind"]) if row["error"] is not None else None,
    )  # fmt: skip


# -- the grid's lean listing ------------------------------------
class PhotoRow(NamedTuple):
    """One photo as the grid lists it (:meth:`Store.photo_listing`): no metadata beyond."""

    id: int
    path: str
    size: int
    mtime_ns: int
    taken: str | None  # EXIF date taken, ISO 8601, when known
    error: str | None  # why it cannot be used, when it cannot
    has_vector: bool  # embedded with the model asked for


_LISTING = "select id, path, size, mtime_ns, taken, error, hash from photos order by id"
_VECTOR_HASHES = "select hash from vectors where model = ?"
_LISTED = "select id, path, size, mtime_ns, taken, error, hash from photos"
_EARLIEST = (  # by date taken; by file time when there is none; neither: last, by path
    f"{_LISTED} where taken is not null and taken != '' order by taken, path limit ?",
    f"{_LISTED} where (taken is null or taken = '') and mtime_ns "
    "order by mtime_ns / 1000000000, path limit ?",  # the app's key: whole seconds, then path
    f"{_LISTED} where (taken is null or taken = '') and not mtime_ns order by path limit ?",
)

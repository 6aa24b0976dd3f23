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
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import sqlite_utils

from photosim.core.errors import (
    LibraryCorrupt,
    NotALibrary,
    ReadOnlyLocation,
    SchemaTooNew,
    UnknownLibrary,
    shown,
)
from photosim.storage import migrations
from photosim.storage.browse import BrowseRows
from photosim.storage.codec import _dec, _enc
from photosim.storage.dupes import DuplicateRows
from photosim.storage.faults import explain, retry_busy
from photosim.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from photosim.storage.photos import _PATH_OK, _PHOTO_TYPES, PhotoQueries, PhotoRow
from photosim.storage.vectors import VectorRows

log = logging.getLogger(__name__)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PendingJob", "PhotoRow", "Store", "explain", "migrate"]

PHOTO_COLUMNS = (
    "id", "path", "size", "mtime_ns", "hash", "width", "height", "taken", "make", "model",
    "orientation", "lat", "lon", "error", "seen", "fail_kind", "pending", "lens",
)  # fmt: skip
# What a scan still owes a photo (photos.pending): listed new, or known but changed/waiting.
PENDING_NEW, PENDING_UPDATE = 1, 2
SYNC_EVERY_S = 1.0  # a scan's commits reach the disk at least this often (periodic_sync)
PendingJob = tuple[int, str, int, int, str | None, bool]  # id, path, size, mtime_ns, hash, is_new


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this file lacks (one write transaction); returns the version."""
    return migrations.upgrade(db)


class Store:
    """Thread-aware access to one library database (a connection per thread).

    ``read_only`` opens the file for queries only (``mode=ro``; on read-only media an
    immutable one): nothing is written, unless the file needs a schema migration first.
    A file that is not provably photosim's is refused (:class:`NotALibrary`), untouched.
    A library of ours that SQLite cannot read is moved aside and a fresh one started
    (``recovered`` then holds the :class:`LibraryCorrupt` to show); read-only, it raises
    that error instead. Every commit is synced to disk (``synchronous=FULL``): what a
    call returned from survives a power cut; a scan's batches, inside
    :meth:`periodic_sync`, are synced once a second instead.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self._memory = str(path) == ":memory:"
        self.path = Path(path)
        self.read_only = read_only and not self._memory
        self.recovered: LibraryCorrupt | None = None
        self._local = threading.local()
        self._shared: sqlite_utils.Database | None = None
        self._parts()
        if not self._memory:
            self._check_file()
        if not self.read_only:
            self._migrate_or_refuse(self.db)

    def _parts(self) -> None:
        """The parts of the library's tables, each over this store's connections; callers
        use them directly (``store.photos.count()``, ``store.vectors.get_vector(...)``)."""
        self.photos = PhotoQueries(self)
        self.vectors = VectorRows(self)
        self.dupes = DuplicateRows(self)
        self.browse = BrowseRows(self)

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
            retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL"))
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

    @contextlib.contextmanager
    def periodic_sync(self, every: float = SYNC_EVERY_S) -> Iterator[None]:
        """Bulk writes on this thread (a scan): its commits are not synced one by one
        (``synchronous=NORMAL`` meanwhile); a timer thread fsyncs the WAL every ``every``
        seconds, and the block's end once more.

        A power cut then loses at most the last second of batches (the scan redoes them),
        however long a batch takes, and however fast the embedding, the syncs cost at most
        one fsync a second (an fsync with nothing new to write costs next to nothing).
        """
        if self._memory or self.read_only:
            yield
            return
        conn = self.db.conn
        conn.execute("PRAGMA synchronous=NORMAL")
        stop = threading.Event()
        timer = threading.Thread(target=self._sync_every, args=(every, stop),
                                 name="photosim-sync", daemon=True)  # fmt: skip
        timer.start()
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            stop.set()
            timer.join()
            try:
                self._sync_wal()
                conn.execute("PRAGMA synchronous=FULL")
            except (OSError, sqlite3.Error):
                if not failed:  # never hide why the block ended
                    raise

    def _sync_every(self, every: float, stop: threading.Event) -> None:
        while not stop.wait(every):
            try:
                self._sync_wal()
            except OSError:  # the block's end syncs again and says why it could not
                log.warning("Could not sync %s-wal", self.path, exc_info=True)

    def _sync_wal(self) -> None:
        """fsync the WAL: every commit written to it so far survives a power cut (frames
        moved to the database file were synced there by SQLite's checkpoint)."""
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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
        """A meta value as text (``default`` when missing, NULL or not text)."""
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row and isinstance(row[0], str) else default

    def meta_int(self, key: str, default: int = 0) -> int:
        """A counter kept in meta; a value that is not a whole number reads as ``default``."""
        value = self.get_meta(key)
        try:
            return int(value) if value is not None else default
        except ValueError:
            return default

    def meta_paths(self, key: str) -> list[str]:
        """A list of folders kept in meta as JSON; anything but a list of text reads as []."""
        try:
            data = json.loads(self.get_meta(key) or "[]")
        except ValueError:
            return []
        return [p for p in data if isinstance(p, str)] if isinstance(data, list) else []

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
            version = self.meta_int("library_version") + 1
            self.set_meta(library_version=version)
        return version

    def bump_decisions(self) -> None:
        """Count a change of the duplicate marks (a finder reloads them when it changed)."""
        with self.atomic():
            self.set_meta(dup_decisions=self.meta_int("dup_decisions") + 1)

    def content_state(self) -> tuple[int, ...]:
        """Numbers that change whenever photos, vectors or fingerprints do, even when a scan
        was killed before it could bump the version: what caches of derived results key on."""
        row = self.db.execute(
            "select (select count(*) from photos), (select coalesce(max(id), 0) from photos),"
            " (select count(*) from vectors), (select coalesce(max(rowid), 0) from vectors),"
            " (select count(*) from fingerprints),"
            " (select coalesce(max(rowid), 0) from fingerprints)"
        ).fetchone()
        return (self.meta_int("library_version"), *map(int, row))

    # -- a scan's bookkeeping -------------------------------------------------
    def begin_scan(self) -> int:
        """A new scan generation: forget work owed by an earlier, interrupted scan."""
        with self.atomic() as db:
            generation = self.meta_int("scan_generation") + 1
            self.set_meta(scan_generation=generation)
            db.conn.execute("update photos set pending = null where pending is not null")
            repaired = self._drop_damaged_rows()
        if repaired:
            log.warning(
                "%s: %d damaged rows were dropped; the scan redoes them", self.path, repaired
            )
        return generation

    def _drop_damaged_rows(self) -> int:
        """Photo rows no photosim wrote (a damaged disk, a hand edit): rows without a usable
        path go, columns of the wrong type are cleared (the scan reads those files again).
        One pass to look (~0.1 s at 100k photos); damaged vectors go with the orphans
        (:meth:`VectorRows.drop_orphan_vectors`), in the pass the scan makes anyway."""
        conn = self.db.conn
        wrong = {
            c: f"{c} is not null and typeof({c}) not in ({k})" for c, k in _PHOTO_TYPES.items()
        }
        look = (
            f"select exists(select 1 from photos where not ({_PATH_OK}) or "
            + " or ".join(f"({w})" for w in wrong.values())
            + ")"
        )
        if not conn.execute(look).fetchone()[0]:
            return 0
        count = conn.execute(f"delete from photos where not ({_PATH_OK})").rowcount
        for column, where in wrong.items():
            also = "" if column == "hash" else ", hash = null"  # read the file again
            sql = f"update photos set {column} = null{also} where {where}"
            count += conn.execute(sql).rowcount
        return count

    def lookup(self, paths: list[str], model_key: str | None) -> dict[str, tuple]:
        """path -> (id, size, mtime_ns, hash, error, has_vector, fail_kind) for the paths that
        have rows."""
        out: dict[str, tuple] = {}
        for start in range(0, len(paths), 500):
            chunk = [_enc(p) for p in paths[start : start + 500]]
            sql = (
                "select p.path, p.id, p.size, p.mtime_ns, p.hash, p.error, v.hash is not null, "
                "p.fail_kind "
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
            f"select id, path, hash from photos where (seen is null or seen != ?) and {_PATH_OK}",
            [generation],
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


def _under(path: bytes, prefix: bytes) -> bool:
    return path == prefix or path.startswith(prefix + b"/") or path.startswith(prefix + b"\\")

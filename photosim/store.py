"""The library's SQLite file: photos, their vectors and what the scans found.

One file per library, opened through sqlite-utils in WAL mode so the app can
read while a scan writes. The schema is versioned: each migration runs once and
is recorded in ``_migrations`` (the sqlite-utils ``migrations.py`` idea).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import sqlite_utils

from photosim.events import Photo

PHOTO_COLUMNS = (
    "id", "path", "size", "mtime_ns", "hash", "width", "height", "taken", "make", "model",
    "orientation", "lat", "lon", "error", "seen",
)  # fmt: skip


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["photos"].create(
        {
            "id": int, "path": str, "size": int, "mtime_ns": int, "hash": str,
            "width": int, "height": int, "taken": str, "make": str, "model": str,
            "orientation": int, "lat": float, "lon": float, "error": str, "seen": int,
        },
        pk="id",
    )  # fmt: skip
    db["photos"].create_index(["path"], unique=True)
    db["photos"].create_index(["hash"])
    db["vectors"].create({"hash": str, "model": str, "vector": bytes}, pk=("hash", "model"))
    db["meta"].create({"key": str, "value": str}, pk="key")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this file lacks; returns the schema version."""
    applied = db["_migrations"]
    if not applied.exists():
        applied.create({"name": str, "applied_at": float}, pk="name")
    done = {row["name"] for row in applied.rows}
    for name, step in MIGRATIONS:
        if name not in done:
            with db.conn:
                step(db)
                applied.insert({"name": name, "applied_at": time.time()})
    return len(MIGRATIONS)


class Store:
    """Thread-aware access to one library database (a connection per thread)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._memory = str(path) == ":memory:"
        self._shared: sqlite_utils.Database | None = None
        migrate(self.db)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (an in-memory store shares one, for tests)."""
        if self._memory:
            if self._shared is None:
                self._shared = sqlite_utils.Database(
                    sqlite3.connect(":memory:", check_same_thread=False)
                )
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One unit of work as one transaction: all of it is written, or none of it.

        The outermost block takes the write lock at once (``BEGIN IMMEDIATE``), so two
        writers queue instead of failing half-way; nested blocks are savepoints. This does
        not depend on sqlite-utils' autocommit rules (4.x commits each ``execute`` alone).
        """
        conn = self.db.conn
        if conn.in_transaction:
            name = f"sp_{secrets.token_hex(8)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, **values: object) -> None:
        self.db["meta"].upsert_all(
            [{"key": k, "value": None if v is None else str(v)} for k, v in values.items()],
            pk="key",
        )

    def bump_version(self) -> int:
        """Count a change of the photo set; the index compares it to its own."""
        version = int(self.get_meta("library_version", "0")) + 1
        self.set_meta(library_version=version)
        return version

    # -- photos -------------------------------------------------------------
    def known_files(self) -> dict[str, tuple[int, int, str | None, str | None]]:
        """path -> (size, mtime_ns, hash, error) for every photo row."""
        rows = self.db.execute("select path, size, mtime_ns, hash, error from photos")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def upsert_photo(self, record: dict) -> int:
        """Insert or update the row for ``record['path']``; returns its id."""
        cols = [c for c in record if c != "id"]
        sql = (
            f"insert into photos ({', '.join(cols)}) values ({', '.join('?' * len(cols))}) "
            f"on conflict(path) do update set "
            + ", ".join(f"{c} = excluded.{c}" for c in cols if c != "path")
            + " returning id"
        )
        return int(self.db.execute(sql, [record[c] for c in cols]).fetchone()[0])

    def commit(self) -> None:
        self.db.conn.commit()

    def list_new(self, path: str, size: int, mtime_ns: int, generation: int) -> None:
        """A row for a file just found, before it is hashed or embedded."""
        self.db.execute(
            "insert or ignore into photos (path, size, mtime_ns, seen) values (?, ?, ?, ?)",
            [path, size, mtime_ns, generation],
        )

    def mark_seen(self, paths: Iterable[str], generation: int) -> None:
        self.db.conn.executemany(
            "update photos set seen = ? where path = ?", [(generation, p) for p in paths]
        )

    def unseen(self, generation: int, roots: Iterable[Path]) -> list[tuple[int, str, str | None]]:
        """Rows under ``roots`` not seen by scan ``generation``: (id, path, hash)."""
        out = []
        prefixes = [str(r).rstrip("/\\") for r in roots]
        rows = self.db.execute(
            "select id, path, hash from photos where seen is null or seen != ?", [generation]
        )
        for pid, path, h in rows:
            if any(
                path == p or path.startswith(p + "/") or path.startswith(p + "\\") for p in prefixes
            ):
                out.append((pid, path, h))
        return out

    def delete_photos(self, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"delete from photos where id in ({marks})", chunk)

    def photos(self, model_key: str | None = None) -> list[Photo]:
        sql = f"{_PHOTOS_WITH_VECTOR} order by p.path"
        return [_photo(row) for row in self.db.query(sql, [model_key])]

    def photo(self, key: int | str | Path, model_key: str | None = None) -> Photo | None:
        column = "id" if isinstance(key, int) else "path"
        sql = f"{_PHOTOS_WITH_VECTOR} where p.{column} = ?"
        rows = list(self.db.query(sql, [model_key, key if isinstance(key, int) else str(key)]))
        return _photo(rows[0]) if rows else None

    def count_embedded(self, model_key: str | None) -> int:
        """Photos that have a vector of ``model_key``."""
        sql = f"select count(*) from ({_PHOTOS_WITH_VECTOR}) where has_vector"
        return int(self.db.execute(sql, [model_key]).fetchone()[0])

    def paths_for_hashes(self, hashes: Iterable[str]) -> dict[str, list[str]]:
        hashes = list(set(hashes))
        out: dict[str, list[str]] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"select hash, path from photos where hash in ({marks}) and error is null"
            for h, path in self.db.execute(sql, chunk):
                out.setdefault(h, []).append(path)
        return out

    def count(self, where: str = "1") -> int:
        return int(self.db.execute(f"select count(*) from photos where {where}").fetchone()[0])

    # -- vectors ------------------------------------------------------------
    def vector_hashes(self, model_key: str) -> set[str]:
        rows = self.db.execute("select hash from vectors where model = ?", [model_key])
        return {r[0] for r in rows}

    def put_vectors(self, model_key: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        self.db.conn.executemany(
            "insert or replace into vectors (hash, model, vector) values (?, ?, ?)",
            [(h, model_key, np.asarray(v, np.float32).tobytes()) for h, v in items],
        )

    def get_vector(self, hash_: str, model_key: str) -> np.ndarray | None:
        row = self.db.execute(
            "select vector from vectors where hash = ? and model = ?", [hash_, model_key]
        ).fetchone()
        return np.frombuffer(row[0], np.float32) if row else None

    def iter_vectors(
        self, model_key: str, only_present: bool = True
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(hash, vector) of this model, by default only for photos still in the library."""
        sql = "select hash, vector from vectors where model = ?"
        if only_present:
            sql += " and hash in (select hash from photos where error is null)"
        for h, blob in self.db.execute(sql, [model_key]):
            yield h, np.frombuffer(blob, np.float32)

    def drop_orphan_vectors(self) -> int:
        cur = self.db.execute(
            "delete from vectors where hash not in (select hash from photos where hash is not null)"
        )
        return cur.rowcount

    def vector_models(self) -> dict[str, int]:
        return dict(
            self.db.execute("select model, count(*) from vectors group by model").fetchall()
        )

    # -- (desktop helper) folders leaving a library ---------------------------
    def delete_under(self, folder: str | Path) -> int:
        """Forget the photos under ``folder`` (rows only: files on disk are untouched)."""
        import os

        prefix = os.fsencode(str(folder).rstrip("/\\"))
        under = (prefix + b"/", prefix + b"\\")
        with self.atomic() as db:
            ids = []
            for pid, raw in db.execute("select id, path from photos"):
                path = raw if isinstance(raw, bytes) else os.fsencode(raw)  # str or bytes rows
                if path == prefix or path.startswith(under):
                    ids.append(pid)
            self.delete_photos(ids)
            if ids:
                self.bump_version()
        return len(ids)


# Photo rows with has_vector for one model (the parameter); every photo query starts here.
_PHOTOS_WITH_VECTOR = (
    "select p.*, v.hash is not null as has_vector from photos p "
    "left join vectors v on v.hash = p.hash and v.model = ?"
)


def _photo(row: dict) -> Photo:
    return Photo(
        id=row["id"], path=Path(row["path"]), size=row["size"] or 0,
        mtime=(row["mtime_ns"] or 0) / 1e9, hash=row["hash"], width=row["width"],
        height=row["height"], taken=row["taken"], make=row["make"], model=row["model"],
        orientation=row["orientation"], lat=row["lat"], lon=row["lon"], error=row["error"],
        has_vector=bool(row["has_vector"]),
    )  # fmt: skip

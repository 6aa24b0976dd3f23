"""The photo queries of the library (a part of :class:`photosim.storage.store.Store`):
every photo, one by id or path, the failures, the grid's lean listing, and the rows the
duplicate finder and the trash read. Rows are read only as the types photosim writes: a
damaged row (a path that is a number, a size that is text) is skipped or read as None."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from photosim.core.events import FailKind, Failure, Photo
from photosim.storage.codec import _dec, _enc
from photosim.storage.rows import Rows


class PhotoQueries(Rows):
    """What the library knows of its photos, for the API, the app and the duplicate finder."""

    def all(self, model_key: str | None = None) -> list[Photo]:
        """Every photo with a usable path, by path (``has_vector`` for ``model_key``)."""
        sql = f"{_PHOTOS_WITH_VECTOR} where {_P_PATH_OK} order by p.path"
        return [_photo(row) for row in self.db.query(sql, [model_key])]

    def photo(self, key: int | str | Path, model_key: str | None = None) -> Photo | None:
        column = "id" if isinstance(key, int) else "path"
        sql = f"{_PHOTOS_WITH_VECTOR} where {_P_PATH_OK} and p.{column} = ?"
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
            "select path, fail_kind, error from photos "
            f"where error is not null and {_PATH_OK} order by path"
        )
        return [Failure(Path(_dec(p)), _fail_kind(k), str(e)) for p, k, e in rows]

    def paths_for_hashes(self, hashes: Iterable[str]) -> dict[str, list[str]]:
        hashes = list(set(hashes))
        out: dict[str, list[str]] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"select hash, path from photos where hash in ({marks}) and error is null "
                f"and {_PATH_OK}"
            )
            for h, path in self.db.execute(sql, chunk):
                out.setdefault(h, []).append(_dec(path))
        return out

    def count(self, where: str = "1") -> int:
        return int(self.db.execute(f"select count(*) from photos where {where}").fetchone()[0])

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
                for i, p, s, m, t, e, h in map(_listed, rows)]  # fmt: skip

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
            vectors: set[str] = set()
            for start in range(0, len(hashes), 500):
                chunk = hashes[start : start + 500]
                sql = f"{_VECTOR_HASHES} and hash in ({','.join('?' * len(chunk))})"
                vectors.update(h for (h,) in conn.execute(sql, [model_key, *chunk]))
        finally:
            if own:
                conn.execute("COMMIT")
        return [PhotoRow(i, _dec(p), s or 0, m or 0, t, e, h in vectors)
                for i, p, s, m, t, e, h in map(_listed, rows.values())]  # fmt: skip

    def photo_record(self, path: str) -> dict | None:
        """The raw row of the photo at ``path`` (``path`` as ``str``), to restore it as it was."""
        cursor = self.db.execute("select * from photos where path = ?", [_enc(path)])
        row = cursor.fetchone()
        if row is None:
            return None
        record = dict(zip([d[0] for d in cursor.description], row, strict=True))
        return {**record, "path": _dec(record["path"])}

    def lens_unread(self, limit: int) -> list[tuple[int, str]]:
        """(id, path) of readable photos whose lens was never read (rows from before lenses)."""
        sql = f"select id, path from photos where lens is null and error is null and {_PATH_OK}"
        rows = self.db.execute(f"{sql} order by id limit ?", [limit]).fetchall()
        return [(pid, _dec(path)) for pid, path in rows]

    def set_lenses(self, lenses: list[tuple[int, str]]) -> None:
        """Record (id, lens) of photos ('' when the file names none), in one transaction."""
        with self.atomic() as db:
            db.conn.executemany("update photos set lens = ? where id = ?",
                                [(lens, pid) for pid, lens in lenses])  # fmt: skip

    def capture_times(self) -> dict[str, tuple[int, int, float | None]]:
        """path -> (size, mtime_ns, capture time) of the files that decided RAW+JPEG pairs."""
        rows = self.db.execute("select path, size, mtime_ns, taken from capture_times")
        return {
            _dec(p): (s, m, t if isinstance(t, float) else None)
            for p, s, m, t in rows
            if isinstance(s, int) and isinstance(m, int)
        }

    def put_capture_times(
        self, times: dict[str, tuple[int, int, float | None]], *, replace: bool = False
    ) -> None:
        """Keep ``times`` (see :meth:`capture_times`); ``replace``: forget all others."""
        with self.atomic() as db:
            if replace:
                db.conn.execute("delete from capture_times")
            db.conn.executemany(
                "insert or replace into capture_times (path, size, mtime_ns, taken) "
                "values (?, ?, ?, ?)",
                [(_enc(p), s, m, t) for p, (s, m, t) in times.items()],
            )

    def photo_rows(self) -> list[tuple]:
        """(path, hash, size, width, height, taken, mtime_ns, make) of readable photos."""
        sql = (
            "select path, hash, size, width, height, taken, mtime_ns, make from photos "
            "where error is null and typeof(hash) = 'text' and typeof(path) in ('blob', 'text')"
        )

        def num(v: object) -> int | None:
            return v if isinstance(v, int) else None

        def text(v: object) -> str | None:
            return v if isinstance(v, str) else None

        return [(_dec(p), h, num(s) or 0, num(w), num(ht), text(t), num(m) or 0, text(mk))
                for p, h, s, w, ht, t, m, mk in self.db.execute(sql)]  # fmt: skip


# Photo rows with has_vector for one model (the parameter); every photo query starts here.
_PHOTOS_WITH_VECTOR = (
    "select p.*, v.hash is not null as has_vector from photos p "
    "left join vectors v on v.hash = p.hash and v.model = ?"
)


def _fail_kind(value: str | None) -> FailKind:
    if value is None:
        return FailKind.OTHER
    try:
        return FailKind(value)
    except ValueError:
        return FailKind.OTHER


def _photo(row: dict) -> Photo:
    return Photo(
        id=row["id"], path=Path(_dec(row["path"])), size=_int(row["size"]) or 0,
        mtime=(_int(row["mtime_ns"]) or 0) / 1e9, hash=_text(row["hash"]),
        width=_int(row["width"]), height=_int(row["height"]), taken=_text(row["taken"]),
        make=_text(row["make"]), model=_text(row["model"]), lens=_text(row["lens"]) or None,
        orientation=_int(row["orientation"]), lat=_float(row["lat"]), lon=_float(row["lon"]),
        error=_text(row["error"]), has_vector=bool(row["has_vector"]),
        fail_kind=_fail_kind(row["fail_kind"]) if row["error"] is not None else None,
    )  # fmt: skip


# A row's values as photosim wrote them, or None: a damaged row never reaches the caller
# as a wrong type (the scan's repair, _drop_damaged_rows, clears them for good).
def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _listed(row: tuple) -> tuple:
    i, p, s, m, t, e, h = row
    return i, p, _int(s), _int(m), _text(t), _text(e), h


_PATH_OK = "typeof(path) in ('blob', 'text')"  # rows without a usable path are not photos
_P_PATH_OK = "typeof(p.path) in ('blob', 'text')"
_PHOTO_TYPES = {  # column -> the SQLite types photosim writes there (NULL aside)
    "size": "'integer'", "mtime_ns": "'integer'", "hash": "'text'", "width": "'integer'",
    "height": "'integer'", "taken": "'text'", "make": "'text'", "model": "'text'",
    "orientation": "'integer'", "lat": "'real', 'integer'", "lon": "'real', 'integer'",
    "error": "'text'", "fail_kind": "'text'", "seen": "'integer'", "pending": "'integer'",
    "lens": "'text'",
}  # fmt: skip


# -- the grid's lean listing ------------------------------------
class PhotoRow(NamedTuple):
    """One photo as the grid lists it (:meth:`PhotoQueries.photo_listing`): no metadata beyond."""

    id: int
    path: str
    size: int
    mtime_ns: int
    taken: str | None  # EXIF date taken, ISO 8601, when known
    error: str | None  # why it cannot be used, when it cannot
    has_vector: bool  # embedded with the model asked for


_LISTING = (
    f"select id, path, size, mtime_ns, taken, error, hash from photos where {_PATH_OK} order by id"
)
_VECTOR_HASHES = "select hash from vectors where model = ?"
_LISTED = f"select id, path, size, mtime_ns, taken, error, hash from photos where {_PATH_OK}"
_EARLIEST = (  # by date taken; by file time when there is none; neither: last, by path
    f"{_LISTED} and taken is not null and taken != '' order by taken, path limit ?",
    f"{_LISTED} and (taken is null or taken = '') and mtime_ns "
    "order by mtime_ns / 1000000000, path limit ?",  # the app's key: whole seconds, then path
    f"{_LISTED} and (taken is null or taken = '') and not mtime_ns order by path limit ?",
)

"""The vectors of the library (a part of :class:`photosim.storage.store.Store`): embeddings by
content hash and model, read in batches, by rowid or after a rowid for the search index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from photosim.storage.codec import decode_vector, decode_vectors, encode_vector
from photosim.storage.rows import Connections, Rows


class VectorRows(Rows):
    """Vector rows of a :class:`~photosim.storage.store.Store`."""

    def __init__(self, connections: Connections) -> None:
        super().__init__(connections)
        self._sizes: dict[str, int] = {}  # model -> bytes of one vector (vector_size)

    # -- vectors ------------------------------------------------------------
    def vector_hashes(self, model_key: str) -> set[str]:
        rows = self.db.execute("select hash from vectors where model = ?", [model_key])
        return {r[0] for r in rows}

    def put_vectors(self, model_key: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        self.db.conn.executemany(
            "insert or replace into vectors (hash, model, vector) values (?, ?, ?)",
            [(h, model_key, encode_vector(v)) for h, v in items],
        )

    def vector_size(self, model_key: str) -> int:
        """The bytes of one stored vector of ``model_key``: what most of them have (0: none).

        Every read keeps only vectors of this size, so a damaged row (wrong size, odd
        length, NULL, text) is skipped, never decoded; the next scan replaces it.
        """
        sizes = self._sizes
        if not sizes.get(model_key):
            row = self.db.execute(_SIZE_OF_MOST, [model_key]).fetchone()
            sizes[model_key] = int(row[0]) if row else 0
        return sizes[model_key]

    def get_vector(self, hash_: str, model_key: str) -> np.ndarray | None:
        row = self.db.execute(
            f"select vector from vectors where hash = ? and model = ? and {_OK}",
            [hash_, model_key, self.vector_size(model_key)],
        ).fetchone()
        return decode_vector(row[0]) if row else None

    def iter_vectors(
        self, model_key: str, only_present: bool = True
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(hash, vector) of this model, by default only for photos still in the library."""
        sql = f"select hash, vector from vectors where model = ? and {_OK}"
        if only_present:
            sql += " and hash in (select hash from photos where error is null)"
        for h, blob in self.db.execute(sql, [model_key, self.vector_size(model_key)]):
            yield h, decode_vector(blob)

    def drop_orphan_vectors(self, model_key: str | None = None) -> int:
        """Drop vectors no photo has, and damaged ones (not a blob of whole float16 values,
        or, for ``model_key``, not of its size): the next scan embeds those photos again."""
        size = self.vector_size(model_key) if model_key else 0
        cur = self.db.execute(
            "delete from vectors where hash not in (select hash from photos where hash is not null)"
            " or typeof(hash) != 'text' or typeof(model) != 'text' or typeof(vector) != 'blob'"
            " or length(vector) % 2 or length(vector) = 0 or (model = ? and length(vector) != ?)",
            [model_key, size],
        )
        return cur.rowcount

    def vector_models(self) -> dict[str, int]:
        return dict(
            self.db.execute("select model, count(*) from vectors group by model").fetchall()
        )

    # -- for the search index ------------------------------------------------
    _PRESENT = " and hash in (select hash from photos where error is null)"

    def max_vector_rowid(self) -> int:
        """The newest vector row's id: vectors written later have larger ones."""
        return int(self.db.execute("select coalesce(max(rowid), 0) from vectors").fetchone()[0])

    def count_vectors(self, model_key: str, only_present: bool = True) -> int:
        sql = f"select count(*) from vectors where model = ? and {_OK}" + (
            self._PRESENT if only_present else ""
        )
        return int(self.db.execute(sql, [model_key, self.vector_size(model_key)]).fetchone()[0])

    def count_vectors_after(self, model_key: str, rowid: int) -> int:
        """Vectors of ``model_key`` written after ``rowid``."""
        sql = f"select count(*) from vectors where rowid > ? and model = ? and {_OK}"
        size = self.vector_size(model_key)
        return int(self.db.execute(sql, [rowid, model_key, size]).fetchone()[0])

    def vector_batches(
        self, model_key: str, size: int = 4096, every: int = 1, only_present: bool = True
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """(hashes, float32 matrix) in batches, by rowid; ``every`` > 1 keeps one row in that many."""
        for _, hashes, matrix in self.vector_rows(model_key, size, every, only_present):
            yield hashes, matrix

    def vector_rows(
        self, model_key: str, size: int = 4096, every: int = 1, only_present: bool = True
    ) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
        """(rowids, hashes, float32 matrix) in batches, like ``vector_batches``."""
        sql = f"select rowid, hash, vector from vectors where model = ? and {_OK}"
        params: list = [model_key, self.vector_size(model_key)]
        if every > 1:
            sql += " and rowid % ? = 0"
            params.append(every)
        sql += self._PRESENT if only_present else ""
        cursor = self.db.execute(sql, params)
        while rows := cursor.fetchmany(size):
            rowids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            yield rowids, [r[1] for r in rows], decode_vectors([r[2] for r in rows])

    def vectors_after(self, model_key: str, rowid: int) -> tuple[int, list[str], np.ndarray | None]:
        """Vectors written after ``rowid``: (the newest rowid, hashes, float32 matrix or None)."""
        rows = self.db.execute(
            f"select rowid, hash, vector from vectors where rowid > ? and model = ? and {_OK} "
            "order by rowid",
            [rowid, model_key, self.vector_size(model_key)],
        ).fetchall()
        if not rows:
            return rowid, [], None
        return int(rows[-1][0]), [r[1] for r in rows], decode_vectors([r[2] for r in rows])

    def get_vectors(self, hashes: Iterable[str], model_key: str) -> dict[str, np.ndarray]:
        """hash -> float32 vector for those of ``hashes`` that have one."""
        hashes = list(hashes)
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"select hash, vector from vectors where model = ? and {_OK} and hash in ({marks})"
            )
            for h, blob in self.db.execute(sql, [model_key, self.vector_size(model_key), *chunk]):
                out[h] = decode_vector(blob)
        return out

    def vectors_by_rowid(
        self, rowids: Sequence[int], model_key: str
    ) -> tuple[list[str], np.ndarray]:
        """(hashes, float32 matrix) of the rows ``rowids`` that hold a vector of ``model_key``,
        in rowid order. One query and one conversion: a search re-scores dozens of these."""
        hashes: list[str] = []
        blobs: list[bytes] = []
        for start in range(0, len(rowids), 500):
            chunk = list(rowids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = (
                f"select hash, vector from vectors where rowid in ({marks}) and model = ? and {_OK}"
            )
            for h, blob in self.db.execute(sql, [*chunk, model_key, self.vector_size(model_key)]):
                hashes.append(h)
                blobs.append(blob)
        if not blobs:
            return [], np.zeros((0, 0), np.float32)
        return hashes, decode_vectors(blobs)

    def sample_vectors(self, model_key: str, n: int) -> list[np.ndarray]:
        """Up to ``n`` vectors of this model, a sample drawn by content (for calibration).

        The first ``n`` in content-hash order: as random as a draw, but the same photos
        give the same sample whatever order they were scanned in (reproducible thresholds).
        """
        size = self.vector_size(model_key)
        rows = self.db.execute(  # rowids drawn first: the sort never carries the blobs
            "select vector from vectors where rowid in (select rowid from vectors where "
            "model = ? and typeof(vector) = 'blob' and length(vector) = ? "
            "order by hash limit ?) order by hash",
            [model_key, size, n],
        )
        return [decode_vector(blob) for (blob,) in rows]


# A stored vector is read only when it is a blob of its model's size (and has a hash).
_OK = "typeof(vector) = 'blob' and typeof(hash) = 'text' and length(vector) = ?"
_SIZE_OF_MOST = (  # over a sample: a few damaged rows never outvote the rest
    "select size from (select length(vector) as size from vectors where model = ? "
    "and typeof(vector) = 'blob' and length(vector) > 0 and length(vector) % 2 = 0 limit 1000) "
    "group by size order by count(*) desc limit 1"
)

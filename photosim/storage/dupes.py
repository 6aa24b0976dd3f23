"""The duplicate-finding rows of the library (a part of :class:`photosim.storage.store.Store`):
pixel fingerprints and the geometric check's features, the user's decisions (not
duplicates, keep) by content hash, and the calibrated thresholds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from photosim.storage.codec import _dec, _enc
from photosim.storage.rows import Rows


class DuplicateRows(Rows):
    """Duplicate-finding rows of a :class:`~photosim.storage.store.Store`."""

    # -- fingerprints, decisions, calibration --------------------------------
    def fingerprints(self, hashes: Iterable[str] | None = None) -> dict[str, bytes]:
        """Pixel fingerprints by content hash (all of them, or only ``hashes``)."""
        return self._blobs("fingerprints", hashes)

    def put_fingerprints(self, items: Iterable[tuple[str, bytes]]) -> None:
        self._put_blobs("fingerprints", items)

    def check_features(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """The geometric check's features the scan kept, by content hash (of ``hashes``)."""
        return self._blobs("check_features", hashes)

    def put_check_features(self, items: Iterable[tuple[str, bytes]]) -> None:
        self._put_blobs("check_features", items)

    def _blobs(self, table: str, hashes: Iterable[str] | None) -> dict[str, bytes]:
        if hashes is None:
            sql = f"select hash, data from {table} where typeof(data) = 'blob'"
            return dict(self.db.execute(sql).fetchall())
        hashes = list(set(hashes))
        out: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"select hash, data from {table} where hash in ({marks}) and typeof(data) = 'blob'"
            )
            out.update(self.db.execute(sql, chunk).fetchall())
        return out

    def _put_blobs(self, table: str, items: Iterable[tuple[str, bytes]]) -> None:
        with self.atomic():
            self.db.conn.executemany(
                f"insert or replace into {table} (hash, data) values (?, ?)", list(items)
            )

    def add_not_duplicates(self, hashes: Iterable[str]) -> None:
        """Every pair of these contents is "not duplicates" (a pair, or a whole group)."""
        unique = sorted(set(hashes))
        pairs = [(a, b) for i, a in enumerate(unique) for b in unique[i + 1 :]]
        if len(unique) == 1:  # copies of one content: the exact group is dismissed
            pairs = [(unique[0], unique[0])]
        with self.atomic():
            self.db.conn.executemany(
                "insert or ignore into dup_not_pairs (a, b) values (?, ?)", pairs
            )

    def remove_not_duplicates(self, hashes: Iterable[str]) -> None:
        """Forget "not duplicates" between any two of these contents (a restored group)."""
        unique = sorted(set(hashes))
        pairs = [(a, b) for i, a in enumerate(unique) for b in unique[i:]]  # also (a, a)
        with self.atomic():
            self.db.conn.executemany("delete from dup_not_pairs where a = ? and b = ?", pairs)

    def remove_keep(self, hash_: str) -> None:
        """Forget a keep mark (the user marked the photo for removal after all)."""
        with self.atomic():
            self.db.execute("delete from dup_keep where hash = ?", [hash_])

    def not_duplicate_pairs(self) -> set[tuple[str, str]]:
        sql = "select a, b from dup_not_pairs where typeof(a) = 'text' and typeof(b) = 'text'"
        return {(a, b) for a, b in self.db.execute(sql)}

    def add_keep(self, hash_: str, path: str) -> None:
        """Keep this content; ``path`` picks among byte-identical copies while it exists."""
        with self.atomic():
            self.db.execute(
                "insert or replace into dup_keep (hash, path, at) values (?, ?, ?)",
                [hash_, _enc(path), time.time()],
            )

    def keep_hashes(self) -> dict[str, str]:
        """Content hash -> the path that was marked (the content is what counts)."""
        sql = (
            "select hash, path from dup_keep "
            "where typeof(hash) = 'text' and typeof(path) in ('blob', 'text')"
        )
        return {h: _dec(p) for h, p in self.db.execute(sql)}

    def get_calibration(self, model_key: str) -> dict | None:
        row = self.db.execute(
            "select data from dup_calibration where model = ?", [model_key]
        ).fetchone()
        try:
            data = json.loads(row[0]) if row and isinstance(row[0], str) else None
        except ValueError:  # damaged: as if never calibrated (it is measured again)
            return None
        return data if isinstance(data, dict) else None

    def put_calibration(self, model_key: str, data: dict) -> None:
        with self.atomic():
            self.db.execute(
                "insert or replace into dup_calibration (model, data) values (?, ?)",
                [model_key, json.dumps(data)],
            )

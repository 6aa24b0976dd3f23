"""The browsing part of :class:`photosim.storage.store.Store`: photo counts per folder and per
month, and the photos of one folder a page at a time, for the app's sidebar and the CLI.

Aggregates are a single pass over the photos (about 0.1 s at 100,000); pages are range scans
of the path index. A part of :class:`photosim.storage.store.Store`; SQL lives only in
``photosim.storage``."""

from __future__ import annotations

import os
from collections import Counter

from photosim.storage.codec import _dec, _enc
from photosim.storage.rows import Rows

_OK = "error is null and typeof(path) in ('blob', 'text')"  # readable photos with a usable path

# A photo's month: from its EXIF date taken, else its file time (local), as the app sorts by
# date; "" when it has neither.
_MONTHS = (
    "select coalesce(nullif(substr(taken, 1, 7), ''), "
    "strftime('%Y-%m', mtime_ns / 1000000000, 'unixepoch', 'localtime'), '') as month, "
    f"count(*) from photos where {_OK} group by month"
)
_PAGE = "select id, path, size, mtime_ns, taken, error, hash from photos"


class BrowseRows(Rows):
    """Folder and month listings of a library's photos."""

    def folder_counts(self) -> dict[str, int]:
        """Readable photos directly in each folder that holds any (folder path -> count)."""
        sep = os.sep.encode()
        counts = Counter(
            _enc(p).rpartition(sep)[0] if isinstance(p, str) else p.rpartition(sep)[0]
            for (p,) in self.db.execute(f"select path from photos where {_OK}")
        )
        return {_dec(folder): n for folder, n in counts.items()}

    def month_counts(self) -> dict[str, int]:
        """Readable photos per month ``"YYYY-MM"`` (``""``: no date at all)."""
        return dict(self.db.execute(_MONTHS).fetchall())

    def photos_in_folder(
        self, folder: str, *, subfolders: bool = True, after: str | None = None, limit: int = 500
    ) -> list[tuple]:
        """A page of the readable photos in ``folder`` (and its subfolders), by path.

        Rows are ``(id, path, size, mtime_ns, taken, error, hash)``; pass the last path
        as ``after`` for the next page. A range scan of the path index: fast at any size.
        """
        sep = os.sep.encode()
        low = _enc(folder).rstrip(sep) + sep
        high = low[:-1] + bytes([sep[0] + 1])  # just past every path that starts with low
        start = max(low, _enc(after)) if after is not None else low
        op = ">" if after is not None else ">="
        out: list[tuple] = []
        sql = f"{_PAGE} where path {op} ? and path < ? and {_OK} order by path limit ?"
        while len(out) < limit:
            rows = self.db.execute(sql, [start, high, limit]).fetchall()
            if not rows:
                break
            for row in rows:
                raw = _enc(row[1]) if isinstance(row[1], str) else row[1]
                if subfolders or sep not in raw[len(low) :]:
                    out.append((row[0], _dec(raw), *row[2:]))
            start, op = (_enc(rows[-1][1]) if isinstance(rows[-1][1], str) else rows[-1][1]), ">"
            sql = f"{_PAGE} where path > ? and path < ? and {_OK} order by path limit ?"
            if len(rows) < limit:
                break
        return out[:limit]

    def hashes_with_vector(self, hashes: list[str], model_key: str) -> set[str]:
        """Which of ``hashes`` have a vector of ``model_key`` (for a page of photos)."""
        found: set[str] = set()
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            sql = f"select hash from vectors where model = ? and hash in ({','.join('?' * len(chunk))})"
            found.update(h for (h,) in self.db.execute(sql, [model_key, *chunk]))
        return found

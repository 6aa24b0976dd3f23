"""The grid's order, prepared off the GUI thread: sort keys (date taken, else the file's
local time; name; folder) computed once per photo, and the rows as the grid lists them."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from photosim.api import PhotoRow
from photosim.app.browse.roles import FolderKeyRole, NameKeyRole
from photosim.core.events import Photo


@dataclass
class Listing:
    """The library's photos in the grid's order, prepared off the GUI thread (:func:`listing`)."""

    rows: list[PhotoRow]
    keys: list[str]  # each row's sort key, ascending
    sort_role: int
    index: dict[str, int] = field(default_factory=dict)  # path -> row


def listing(rows: Sequence[PhotoRow], sort_role: int) -> Listing:
    """``rows`` sorted for the grid, with their keys and rows by path: done in a worker.

    A key is computed once per photo and Python sorts row numbers by it; at 100,000
    photos this is a few hundred milliseconds, which the GUI thread never waits for.
    """
    keys = [sort_key(row, sort_role) for row in rows]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ordered = [rows[i] for i in order]
    return Listing(ordered, [keys[i] for i in order], sort_role,
                   {row.path: n for n, row in enumerate(ordered)})  # fmt: skip


def row_of_photo(photo: Photo) -> PhotoRow:
    """A full record as the grid lists it."""
    return PhotoRow(photo.id, str(photo.path), photo.size, int(photo.mtime * 1e9), photo.taken,
                    photo.error, photo.has_vector)  # fmt: skip


def describes(photo: Photo, entry: PhotoRow) -> bool:
    """Whether a record read earlier still holds for the listed file (mtime: a float)."""
    facts = (photo.id, photo.size, photo.taken, photo.error, photo.has_vector)
    listed = (entry.id, entry.size, entry.taken, entry.error, entry.has_vector)
    return facts == listed and abs(photo.mtime * 1e9 - entry.mtime_ns) < 1e4


def unlisted(path: str) -> PhotoRow:
    """A file a running scan just found: no record yet (id 0, no date)."""
    return PhotoRow(0, path, 0, 0, None, None, False)


def sort_key(entry: PhotoRow, role: int) -> str:
    path = entry.path
    if role == NameKeyRole:
        return os.path.basename(path).casefold() + "\0" + path
    if role == FolderKeyRole:
        return os.path.dirname(path).casefold() + "\0" + os.path.basename(path).casefold()
    if entry.taken:
        date = entry.taken
    elif entry.mtime_ns:  # local time, as the camera's date taken is
        date = local_iso(entry.mtime_ns // 1_000_000_000)
    else:
        date = "9999"  # not known yet: after the dated photos
    return date + "\0" + path


_QUARTER = 900  # seconds: UTC offsets (and their changes) fall on quarter hours since ~1970
_MINSEC = [f"{m:02}:{s:02}" for m in range(60) for s in range(60)]
_QUARTERS: dict[int, tuple[str, int] | None] = {}  # UTC quarter -> ("YYYY-MM-DDTHH:", second)


def local_iso(seconds: int) -> str:
    """``time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))``, faster.

    The local time of a quarter hour's start is computed once per quarter hour: the grid
    sorts 100,000 file dates on opening. A quarter with an odd offset (old local mean
    times) or a change of offset inside it takes the slow way.
    """
    quarter, rest = divmod(seconds, _QUARTER)
    start = _QUARTERS.get(quarter, False)
    if start is False:
        if len(_QUARTERS) > 100_000:
            _QUARTERS.clear()  # a bound on memory: at most a few MB
        local = time.localtime(quarter * _QUARTER)
        steady = local.tm_gmtoff == time.localtime(quarter * _QUARTER + _QUARTER - 1).tm_gmtoff
        start = _QUARTERS[quarter] = (
            (time.strftime("%Y-%m-%dT%H:", local), local.tm_min * 60 + local.tm_sec)
            if steady and local.tm_gmtoff % _QUARTER == 0
            else None
        )
    if start is None:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))
    return start[0] + _MINSEC[start[1] + rest]

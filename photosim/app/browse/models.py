"""Qt models of photos with thumbnails: the library's photos (the grid, kept sorted) and a
query's neighbours (with their scores)."""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt

from photosim.api import PhotoRow
from photosim.app.browse.listing import (
    Listing,
    describes,
    listing,
    row_of_photo,
    sort_key,
    unlisted,
)
from photosim.app.browse.roles import (
    SORTS,
    DateKeyRole,
    ErrorRole,
    Index,
    LabelRole,
    PathRole,
    PhotoRole,
    ScoreRole,
    ThumbRole,
)
from photosim.app.browse.thumbnails import Thumbnails
from photosim.core.errors import shown
from photosim.core.events import Match, Photo
from photosim.core.text import name_in_folder


@dataclass
class Item:
    path: str
    photo: Photo | None = None
    error: str | None = None
    score: float | None = None
    taken: str | None = None


def _tooltip(item: Item, error: str | None) -> str:
    lines = [shown(item.path)]
    taken = item.photo.taken if item.photo else item.taken
    if taken:
        lines.append(taken.replace("T", " "))
    if error:
        lines.append(f"Cannot show this photo: {error}")
    if item.score is not None:
        lines.append(f"Similarity {item.score:.0%}")
    return "\n".join(lines)


class ThumbModel(QAbstractListModel):
    """A list of items with thumbnails; repaints an item when its thumbnail arrives.

    Subclasses say how many rows there are (``_size``) and what one row is (``item``).
    """

    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._rows: dict[str, int] = {}
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    def _size(self) -> int:
        raise NotImplementedError

    def item(self, row: int) -> Item:
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else self._size()

    def row_of(self, path: str) -> int | None:
        return self._rows.get(path)

    def label(self, path: str) -> str:
        """The name shown under a thumbnail: the file's name, with its folder's name when
        another photo here has the same name (``2016 Brittany/100002.jpg``)."""
        return name_in_folder(path, self.name_counts())

    def name_counts(self) -> Counter:
        """How many photos here bear each file name (recounted when the rows change)."""
        key = (id(self._rows), len(self._rows))
        if getattr(self, "_counted", None) != key:
            self._counts = Counter(os.path.basename(p) for p in self._rows)
            self._counted = key
        return self._counts

    def photo_of(self, path: str) -> Photo | None:
        """The library's record of ``path`` as last loaded (None: not known, or not recorded yet)."""
        row = self._rows.get(path)
        return self.item(row).photo if row is not None else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= self._size():
            return None
        item = self.item(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return shown(self.label(item.path))
        if role == PathRole:
            return item.path
        if role == PhotoRole:
            return item.photo
        if role == ScoreRole:
            return item.score
        error = item.error or self.thumbnails.error(item.path)
        if role == ErrorRole:
            return error
        if role == ThumbRole:
            return None if error else self.thumbnails.get(item.path)
        if role == LabelRole:
            return self.thumbnails.label(item.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(item, error)
        return None

    def _on_thumbnail(self, path: str, *_reason) -> None:
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [ThumbRole, ErrorRole])


class PhotoModel(ThumbModel):
    """Every photo of the library, kept sorted here (not in the proxy).

    Rows are the library's light listing (:class:`~photosim.storage.store.PhotoRow` tuples, no
    object per photo); full records are kept only for the photos that came with one
    (a scan's batches, a selected photo). Sorting 100,000 photos in a
    QSortFilterProxyModel costs a Python call per comparison (seconds); here each key
    is computed once and Python's sort takes milliseconds. Photos found during a scan
    are inserted in order.
    """

    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None) -> None:
        super().__init__(thumbnails, parent)
        self.sort_role = DateKeyRole
        self._list: list[PhotoRow] = []
        self._keys: list[str] = []
        self._records: dict[str, Photo] = {}

    def _size(self) -> int:
        return len(self._list)

    def item(self, row: int) -> Item:
        entry = self._list[row]
        return Item(entry.path, self._records.get(entry.path), entry.error, None, entry.taken)

    @property
    def items(self) -> list[Item]:
        """Every row as an :class:`Item` (a copy, O(n): for tests and small libraries)."""
        return [self.item(row) for row in range(len(self._list))]

    def path_at(self, row: int) -> str:
        return self._list[row].path

    def entry(self, path: str) -> PhotoRow | None:
        """What the listing says of ``path`` (None: not in the grid)."""
        row = self._rows.get(path)
        return self._list[row] if row is not None else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == PathRole and index.isValid() and index.row() < len(self._list):
            return self._list[index.row()].path  # the filter asks this of every row: no Item
        return super().data(index, role)

    def set_listing(self, rows: Listing | Sequence[PhotoRow]) -> None:
        """Replace the contents with the library's listing (sorted here unless prepared)."""
        prepared = rows if isinstance(rows, Listing) else None
        if prepared is None or prepared.sort_role != self.sort_role:
            prepared = listing(prepared.rows if prepared else rows, self.sort_role)
        self.beginResetModel()
        self._list, self._keys, self._rows = prepared.rows, prepared.keys, prepared.index
        self._keep_records()
        self.endResetModel()

    def _keep_records(self) -> None:
        """Keep the few records read before while they still hold for the listing."""
        self._records = {
            path: photo
            for path, photo in self._records.items()
            if (row := self._rows.get(path)) is not None and describes(photo, self._list[row])
        }

    def extend_listing(self, prepared: Listing) -> bool:
        """The whole listing after its first rows were shown: appended below them when they
        are its start (the view keeps its place and selection), else set. True if appended."""
        count = len(self._list)
        shown_paths = [entry.path for entry in self._list]
        if prepared.sort_role != self.sort_role or shown_paths != [
            entry.path for entry in prepared.rows[:count]
        ]:
            self.set_listing(prepared)
            return False
        more = len(prepared.rows) > count
        if more:
            self.beginInsertRows(QModelIndex(), count, len(prepared.rows) - 1)
        self._list, self._keys, self._rows = prepared.rows, prepared.keys, prepared.index
        self._keep_records()
        if more:
            self.endInsertRows()
        if count:  # the same rows, maybe with newer details
            self.dataChanged.emit(self.index(0), self.index(count - 1))
        return True

    def set_photos(self, photos: list[Photo]) -> None:
        """Replace the contents with full records (small libraries, tests)."""
        self.set_listing([row_of_photo(p) for p in photos])
        self._records = {str(p.path): p for p in photos}

    def set_sort(self, name: str) -> None:
        """Sort by "Date taken", "Name" or "Folder" (views keep their current photo)."""
        self.beginResetModel()
        self.sort_role = SORTS.get(name, DateKeyRole)
        prepared = listing(self._list, self.sort_role)
        self._list, self._keys, self._rows = prepared.rows, prepared.keys, prepared.index
        self.endResetModel()

    def _reindex(self) -> None:
        self._rows = {entry.path: row for row, entry in enumerate(self._list)}

    def add_paths(self, paths: list[str]) -> None:
        """Photos just found by a running scan: shown at once, in order; details come later."""
        fresh = [p for p in dict.fromkeys(paths) if p not in self._rows]
        for path in fresh:
            entry = unlisted(path)
            key = sort_key(entry, self.sort_role)
            row = bisect.bisect_right(self._keys, key)
            self.beginInsertRows(QModelIndex(), row, row)
            self._keys.insert(row, key)
            self._list.insert(row, entry)
            self.endInsertRows()
        if fresh:
            self._reindex()  # once per batch: rows after an insertion all shift

    def update_photo(self, photo: Photo) -> None:
        """New details for one photo (embedded or failed during the scan); it keeps its place."""
        path = str(photo.path)
        row = self._rows.get(path)
        if row is None:
            self.add_paths([path])
            row = self._rows[path]
        self._list[row] = row_of_photo(photo)
        self._records[path] = photo
        if photo.error is None and self.thumbnails.error(path):
            self.thumbnails.forget(path)  # a file fixed since: try its thumbnail again
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def set_record(self, photo: Photo) -> None:
        """The full record of a listed photo, read when it was selected (nothing moves)."""
        path = str(photo.path)
        if path in self._rows:
            self._records[path] = photo

    def first_row_dated(self, prefix: str) -> int | None:
        """The first row whose date starts at or after ``prefix`` ("2019" or "2019-07");
        None unless the photos are sorted by date."""
        if self.sort_role != DateKeyRole:
            return None
        row = bisect.bisect_left(self._keys, prefix)
        return row if row < len(self._keys) else None

    def month_starts(self) -> list[tuple[int, str]]:
        """The first row of each month ("2019-07"; "" for the photos with no date, last) when
        sorted by date, else none: a bisection a month, so ~1 ms for 100,000 photos.

        From the keys the rows are in, so a photo a scan dated keeps its place (and section)
        until the listing puts it in its month."""
        keys, starts, row = self._keys, [], 0
        if self.sort_role != DateKeyRole:
            return starts
        while row < len(keys):
            if keys[row].startswith("9999"):
                starts.append((row, ""))
                break
            month = keys[row][:7]
            starts.append((row, month))
            row = bisect.bisect_left(keys, month + "\uffff", row + 1)
        return starts

    def remove_path(self, path: str) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._list[row]
        del self._keys[row]
        self._records.pop(path, None)
        self._reindex()
        self.endRemoveRows()


class NeighbourModel(ThumbModel):
    """A query's matches with their scores; those under the minimum score are hidden.

    Names are told apart across ``among`` (the grid's photos) when given: a match named
    as the query but in another folder shows its folder, so it never reads as the query.
    """

    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None,
                 among: ThumbModel | None = None) -> None:  # fmt: skip
        super().__init__(thumbnails, parent)
        self.among = among
        self.items: list[Item] = []
        self.matches: list[Match] = []
        self.min_score = 0.0

    def _size(self) -> int:
        return len(self.items)

    def item(self, row: int) -> Item:
        return self.items[row]

    def set_matches(self, matches: list[Match]) -> None:
        self.matches = list(matches)
        self._refill()

    def set_min_score(self, value: float) -> None:
        self.min_score = value
        self._refill()

    def hidden(self) -> int:
        """How many matches the minimum score hides."""
        return len(self.matches) - len(self.items)

    def name_counts(self) -> Counter:
        own = super().name_counts()
        return own if self.among is None else self.among.name_counts() | own

    def _refill(self) -> None:
        self.beginResetModel()
        self.items = [
            Item(str(m.path), score=m.score) for m in self.matches if m.score >= self.min_score
        ]
        self._rows = {item.path: row for row, item in enumerate(self.items)}
        self.endResetModel()

    def path_at(self, row: int) -> str:
        return self.items[row].path

    def paths(self) -> list[Path]:
        return [Path(i.path) for i in self.items]

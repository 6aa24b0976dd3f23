"""Qt models: the library's photos (grid), their sort/filter proxy, and a query's neighbours."""

from __future__ import annotations

import bisect
import calendar
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)

from photosim.api import PhotoRow
from photosim.app.browse.thumbnails import Thumbnails
from photosim.core.errors import shown
from photosim.core.events import Match, Photo

PathRole = Qt.ItemDataRole.UserRole + 1  # str: absolute path
PhotoRole = Qt.ItemDataRole.UserRole + 2  # Photo or None (found, not recorded yet)
ThumbRole = Qt.ItemDataRole.UserRole + 3  # QPixmap or None (loading)
ErrorRole = Qt.ItemDataRole.UserRole + 4  # str: why it cannot be shown, or None
ScoreRole = Qt.ItemDataRole.UserRole + 5  # float in [0, 1] (neighbours only)
LabelRole = Qt.ItemDataRole.UserRole + 9  # str: a badge such as "RAW+JPG", or None
DateKeyRole = Qt.ItemDataRole.UserRole + 6  # str sort key: date taken, else file date
NameKeyRole = Qt.ItemDataRole.UserRole + 7
FolderKeyRole = Qt.ItemDataRole.UserRole + 8

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Section:
    """Photos under one grid header: rows ``first`` .. ``first + count - 1`` of a view's model."""

    first: int
    count: int
    title: str = ""  # "": no header


def month_title(month: str) -> str:
    """A header for the photos of ``month`` ("2019-07": "July 2019"; "": "No date")."""
    year, _, number = month.partition("-")
    if year.isdigit() and number.isdigit() and 1 <= int(number) <= 12:
        return f"{calendar.month_name[int(number)]} {year}"
    return "No date"


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


class _ThumbModel(QAbstractListModel):
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
        name = os.path.basename(path)
        if self.name_counts().get(name, 0) < 2:
            return name
        return f"{os.path.basename(os.path.dirname(path))}/{name}"

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


SORTS: dict[str, int] = {"Date taken": DateKeyRole, "Name": NameKeyRole, "Folder": FolderKeyRole}


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
    keys = [_sort_key(row, sort_role) for row in rows]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ordered = [rows[i] for i in order]
    return Listing(ordered, [keys[i] for i in order], sort_role,
                   {row.path: n for n, row in enumerate(ordered)})  # fmt: skip


def row_of_photo(photo: Photo) -> PhotoRow:
    """A full record as the grid lists it."""
    return PhotoRow(photo.id, str(photo.path), photo.size, int(photo.mtime * 1e9), photo.taken,
                    photo.error, photo.has_vector)  # fmt: skip


def _describes(photo: Photo, entry: PhotoRow) -> bool:
    """Whether a record read earlier still holds for the listed file (mtime: a float)."""
    facts = (photo.id, photo.size, photo.taken, photo.error, photo.has_vector)
    listed = (entry.id, entry.size, entry.taken, entry.error, entry.has_vector)
    return facts == listed and abs(photo.mtime * 1e9 - entry.mtime_ns) < 1e4


def _unlisted(path: str) -> PhotoRow:
    """A file a running scan just found: no record yet (id 0, no date)."""
    return PhotoRow(0, path, 0, 0, None, None, False)


class PhotoModel(_ThumbModel):
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
            if (row := self._rows.get(path)) is not None and _describes(photo, self._list[row])
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
            entry = _unlisted(path)
            key = _sort_key(entry, self.sort_role)
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


def _sort_key(entry: PhotoRow, role: int) -> str:
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


class PhotoProxy(QSortFilterProxyModel):
    """Filters on the path: a text (case-insensitive) and a folder (the sidebar's, with or
    without its subfolders); the order is the source model's.

    Both are one regular expression on the path, so Qt filters 100,000 rows in C++.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(PathRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(False)
        self.text, self.folder, self.subfolders = "", "", True

    def set_text(self, text: str) -> None:
        self.text = text
        self._apply()

    def set_folder(self, folder: str, subfolders: bool = True) -> None:
        """Only the photos in ``folder`` ("" for all), with its subfolders or not."""
        self.folder, self.subfolders = folder, subfolders
        self._apply()

    def _apply(self) -> None:
        pattern = "^"
        if self.text:
            pattern += f"(?=.*{QRegularExpression.escape(self.text)})"
        if self.folder:
            top = QRegularExpression.escape(self.folder.rstrip(os.sep) + os.sep)
            rest = "" if self.subfolders else f"[^{QRegularExpression.escape(os.sep)}]*$"
            pattern += f"(?-i:{top}){rest}"
        options = QRegularExpression.PatternOption.CaseInsensitiveOption
        self.setFilterRegularExpression(QRegularExpression(pattern, options))

    def path_at(self, row: int) -> str:
        return self.data(self.index(row, 0), PathRole)

    def sections(self) -> list[Section]:
        """The grid's date headers: the months of the photos shown, when sorted by date.

        The proxy keeps the source's order, so a month's first shown row is found by
        bisecting the shown rows (a filter hides some) on their source rows."""
        source: PhotoModel = self.sourceModel()
        starts, count = source.month_starts(), self.rowCount()
        if not starts or not count:
            return []
        firsts = [row for row, _month in starts]
        if count != source.rowCount():
            source_row = lambda row: self.mapToSource(self.index(row, 0)).row()  # noqa: E731
            firsts = [_bisect_rows(source_row, count, row) for row in firsts]
        ends = [*firsts[1:], count]
        return [Section(first, end - first, month_title(month))
                for first, end, (_row, month) in zip(firsts, ends, starts, strict=True)
                if end > first]  # fmt: skip

    def row_of(self, path: str) -> int | None:
        source: PhotoModel = self.sourceModel()
        row = source.row_of(path)
        if row is None:
            return None
        proxy = self.mapFromSource(source.index(row))
        return proxy.row() if proxy.isValid() else None


def _bisect_rows(source_row, count: int, target: int) -> int:
    """The first shown row whose source row is ``target`` or later (``count``: none)."""
    low, high = 0, count
    while low < high:
        mid = (low + high) // 2
        if source_row(mid) < target:
            low = mid + 1
        else:
            high = mid
    return low


class NeighbourModel(_ThumbModel):
    """A query's matches with their scores; those under the minimum score are hidden.

    Names are told apart across ``among`` (the grid's photos) when given: a match named
    as the query but in another folder shows its folder, so it never reads as the query.
    """

    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None,
                 among: _ThumbModel | None = None) -> None:  # fmt: skip
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


class History:
    """The similarity walk's Back/Forward list, as in a web browser."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.pos = -1

    def push(self, path: str) -> None:
        """``path`` was selected by the user: it ends the list (forward steps are dropped)."""
        del self.paths[self.pos + 1 :]
        if not self.paths or self.paths[-1] != path:
            self.paths.append(path)
        self.pos = len(self.paths) - 1

    def can_back(self) -> bool:
        return self.pos > 0

    def can_forward(self) -> bool:
        return self.pos < len(self.paths) - 1

    def back(self) -> str | None:
        if not self.can_back():
            return None
        self.pos -= 1
        return self.paths[self.pos]

    def forward(self) -> str | None:
        if not self.can_forward():
            return None
        self.pos += 1
        return self.paths[self.pos]

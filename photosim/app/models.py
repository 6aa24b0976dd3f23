"""Qt models: the library's photos (grid), their sort/filter proxy, and a query's neighbours."""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from photosim.app.thumbnails import Thumbnails
from photosim.errors import shown
from photosim.events import Match, Photo

PathRole = Qt.ItemDataRole.UserRole + 1  # str: absolute path
PhotoRole = Qt.ItemDataRole.UserRole + 2  # Photo or None (found, not recorded yet)
ThumbRole = Qt.ItemDataRole.UserRole + 3  # QPixmap or None (loading)
ErrorRole = Qt.ItemDataRole.UserRole + 4  # str: why it cannot be shown, or None
ScoreRole = Qt.ItemDataRole.UserRole + 5  # float in [0, 1] (neighbours only)
DateKeyRole = Qt.ItemDataRole.UserRole + 6  # str sort key: date taken, else file date
NameKeyRole = Qt.ItemDataRole.UserRole + 7
FolderKeyRole = Qt.ItemDataRole.UserRole + 8

Index = QModelIndex | QPersistentModelIndex


@dataclass
class Item:
    path: str
    photo: Photo | None = None
    error: str | None = None
    score: float | None = None


def _tooltip(item: Item, error: str | None) -> str:
    lines = [shown(item.path)]
    photo = item.photo
    if photo and photo.taken:
        lines.append(photo.taken.replace("T", " "))
    if error:
        lines.append(f"Cannot show this photo: {error}")
    if item.score is not None:
        lines.append(f"Similarity {item.score:.0%}")
    return "\n".join(lines)


class _ThumbModel(QAbstractListModel):
    """A list of items with thumbnails; repaints an item when its thumbnail arrives."""

    def __init__(self, thumbnails: Thumbnails, parent=None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.items: list[Item] = []
        self._rows: dict[str, int] = {}
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.items)

    def row_of(self, path: str) -> int | None:
        return self._rows.get(path)

    def item(self, row: int) -> Item:
        return self.items[row]

    def photo_of(self, path: str) -> Photo | None:
        """The library's record of ``path`` as last loaded (None: not known, or not recorded yet)."""
        row = self._rows.get(path)
        return self.items[row].photo if row is not None else None

    def _reindex(self) -> None:
        self._rows = {item.path: row for row, item in enumerate(self.items)}

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.items):
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return shown(os.path.basename(item.path))
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
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(item, error)
        return None

    def _on_thumbnail(self, path: str, *_reason) -> None:
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [ThumbRole, ErrorRole])


SORTS: dict[str, int] = {"Date taken": DateKeyRole, "Name": NameKeyRole, "Folder": FolderKeyRole}


class PhotoModel(_ThumbModel):
    """Every photo of the library, kept sorted here (not in the proxy).

    Sorting 50,000 photos in a QSortFilterProxyModel costs a Python call per
    comparison (seconds); here each key is computed once and Python's sort
    takes milliseconds. Photos found during a scan are inserted in order.
    """

    def __init__(self, thumbnails: Thumbnails, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self.sort_role = DateKeyRole
        self._keys: list[str] = []

    def set_photos(self, photos: list[Photo]) -> None:
        """Replace the contents (after a scan, or when a library opens)."""
        self.beginResetModel()
        self.items = [Item(str(p.path), p, p.error) for p in photos]
        self._sort()
        self.endResetModel()

    def set_sort(self, name: str) -> None:
        """Sort by "Date taken", "Name" or "Folder" (views keep their current photo)."""
        self.beginResetModel()
        self.sort_role = SORTS.get(name, DateKeyRole)
        self._sort()
        self.endResetModel()

    def _sort(self) -> None:
        keyed = sorted((_sort_key(item, self.sort_role), item) for item in self.items)
        self._keys = [k for k, _ in keyed]
        self.items = [item for _, item in keyed]
        self._reindex()

    def add_paths(self, paths: list[str]) -> None:
        """Photos just found by a running scan: shown at once, in order; details come later."""
        fresh = [p for p in dict.fromkeys(paths) if p not in self._rows]
        for path in fresh:
            item = Item(path)
            key = _sort_key(item, self.sort_role)
            row = bisect.bisect_right(self._keys, key)
            self.beginInsertRows(QModelIndex(), row, row)
            self._keys.insert(row, key)
            self.items.insert(row, item)
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
        item = self.items[row]
        item.photo, item.error = photo, photo.error
        if photo.error is None and self.thumbnails.error(path):
            self.thumbnails.forget(path)  # a file fixed since: try its thumbnail again
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def remove_path(self, path: str) -> None:
        row = self._rows.get(path)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.items[row]
        del self._keys[row]
        self._reindex()
        self.endRemoveRows()


def _sort_key(item: Item, role: int) -> str:
    path = item.path
    if role == NameKeyRole:
        return os.path.basename(path).casefold() + "\0" + path
    if role == FolderKeyRole:
        return os.path.dirname(path).casefold() + "\0" + os.path.basename(path).casefold()
    photo = item.photo
    if photo and photo.taken:
        date = photo.taken
    elif photo and photo.mtime:
        date = datetime.fromtimestamp(photo.mtime).isoformat()
    else:
        date = "9999"  # not known yet: after the dated photos
    return date + "\0" + path


class PhotoProxy(QSortFilterProxyModel):
    """Filters on the path (case-insensitive); the order is the source model's."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFilterRole(PathRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(False)

    def path_at(self, row: int) -> str:
        return self.data(self.index(row, 0), PathRole)

    def row_of(self, path: str) -> int | None:
        source: PhotoModel = self.sourceModel()
        row = source.row_of(path)
        if row is None:
            return None
        proxy = self.mapFromSource(source.index(row))
        return proxy.row() if proxy.isValid() else None


class NeighbourModel(_ThumbModel):
    """A query's matches with their scores; those under the minimum score are hidden."""

    def __init__(self, thumbnails: Thumbnails, parent=None) -> None:
        super().__init__(thumbnails, parent)
        self.matches: list[Match] = []
        self.min_score = 0.0

    def set_matches(self, matches: list[Match]) -> None:
        self.matches = list(matches)
        self._refill()

    def set_min_score(self, value: float) -> None:
        self.min_score = value
        self._refill()

    def hidden(self) -> int:
        """How many matches the minimum score hides."""
        return len(self.matches) - len(self.items)

    def _refill(self) -> None:
        self.beginResetModel()
        self.items = [
            Item(str(m.path), score=m.score) for m in self.matches if m.score >= self.min_score
        ]
        self._reindex()
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

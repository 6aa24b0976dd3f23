"""The grid's filter (a text and a folder, one regular expression on the path) and its
date headers: the months of the photos shown, as sections of rows."""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRegularExpression, QSortFilterProxyModel, Qt

from photosim.app.browse.models import PhotoModel
from photosim.app.browse.roles import PathRole


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

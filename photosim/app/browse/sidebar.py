"""The sidebar: the library's folder tree and its timeline, to walk a collection by place and
by date (as digiKam, gThumb and Shotwell start).

Both lists come from the engine's listings (``Library.folder_tree`` and ``timeline``), read
in a worker: at open, a few times a second while a scan adds photos, and when it ends.
Choosing a folder emits :attr:`Sidebar.folder_chosen` (the grid filters to it, with or
without its subfolders); choosing a year or month emits :attr:`Sidebar.month_chosen` (the
grid jumps there).
"""

from __future__ import annotations

import calendar
import os

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosim.api import Folder, Library, Year
from photosim.app.workers import Runner
from photosim.core.errors import shown

PathData = Qt.ItemDataRole.UserRole + 1  # a folder item's path; a date item's "YYYY-MM"
REFRESH_MS = 1500  # while a scan runs, the counts are read again at most this often
ALL = ""  # the "All photos" item: no folder filter


def sidebar_listings(library: Library) -> tuple[Library, list[Folder], list[Year]]:
    """The folder tree and the timeline of ``library`` (run in a worker)."""
    return library, library.folder_tree(), library.timeline()


class Sidebar(QWidget):
    """Folders and Dates tabs; see the module docstring."""

    #: A folder was chosen: its path ("" for all photos) and whether subfolders count.
    folder_chosen = Signal(str, bool)
    #: A year or month was chosen: "YYYY" or "YYYY-MM" ("0000": photos with no date).
    month_chosen = Signal(str)

    def __init__(self, signals: QObject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.library: Library | None = None
        self.folder = ALL
        self._filled = False
        self.runner = Runner("photosim-sidebar", self)
        self.runner.done.connect(self._on_listings)
        self.folders = QTreeWidget(objectName="folders", headerHidden=True)
        _two_columns(self.folders)
        self.folders.itemSelectionChanged.connect(self._on_folder)
        self.subfolders = QCheckBox("Include subfolders", checked=True)
        self.subfolders.toggled.connect(lambda _on: self._emit_folder())
        self.dates = QTreeWidget(objectName="dates", headerHidden=True)
        _two_columns(self.dates)
        self.dates.itemClicked.connect(self._on_date)
        self.dates.itemActivated.connect(self._on_date)
        folder_page = QWidget()
        column = QVBoxLayout(folder_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.folders, 1)
        column.addWidget(self.subfolders)
        self.tabs = QTabWidget()
        self.tabs.addTab(folder_page, "Folders")
        self.tabs.addTab(self.dates, "Dates")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        signals.library_opened.connect(self.set_library)
        signals.library_closed.connect(lambda: self.set_library(None))
        signals.scan_progress.connect(lambda _ev: self._refresh_soon())
        signals.scan_finished.connect(lambda _ev: self.refresh())
        signals.photos_changed.connect(lambda _paths: self.refresh())

    # -- the library ---------------------------------------------------------
    def set_library(self, library: Library | None) -> None:
        """Show ``library``'s folders and dates (read in a worker); None empties both."""
        self.library = library
        self.folder = ALL
        self._filled = False
        self._timer.stop()
        self.runner.cancel()
        self.folders.clear()
        self.dates.clear()
        if library is not None:
            self.refresh()

    def refresh(self) -> None:
        """Read the listings again (the latest request wins)."""
        self._timer.stop()
        library = self.library
        if library is not None:
            self.runner.submit(lambda: sidebar_listings(library))

    def _refresh_soon(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _on_listings(self, result: tuple[Library, list[Folder], list[Year]]) -> None:
        library, tree, years = result
        if library is not self.library:
            return
        self._fill_folders(tree)
        self._fill_dates(years)

    # -- folders -------------------------------------------------------------
    def _fill_folders(self, tree: list[Folder]) -> None:
        """Rebuild the tree keeping what was expanded, selected and scrolled to."""
        expanded = {
            item.data(0, PathData) for item in tree_items(self.folders) if item.isExpanded()
        }
        scroll = self.folders.verticalScrollBar().value()
        self.folders.blockSignals(True)
        self.folders.clear()
        total = sum(node.total for node in tree)
        everything = QTreeWidgetItem(self.folders, ["All photos", f"{total:,}"])
        everything.setData(0, PathData, ALL)
        selected = everything if self.folder == ALL else None
        first = not self._filled
        for node in tree:
            item = self._add_folder(self.folders, node, expanded)
            item.setExpanded(first or node.path in expanded)  # the roots open at first
            selected = selected or _find(item, self.folder)
        self._filled = True
        for item in tree_items(self.folders):
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
        if selected is not None:
            selected.setSelected(True)
            self.folders.setCurrentItem(selected)
        self.folders.verticalScrollBar().setValue(scroll)
        self.folders.blockSignals(False)

    def _add_folder(self, parent, node: Folder, expanded: set[str]) -> QTreeWidgetItem:
        name = shown(node.name)  # a root too: its full path is in the tooltip
        item = QTreeWidgetItem(parent, [name, f"{node.total:,}"])
        item.setData(0, PathData, node.path)
        item.setToolTip(0, f"{shown(node.path)}\n{node.own:,} photos here, "
                           f"{node.total:,} with subfolders")  # fmt: skip
        for child in node.children:
            self._add_folder(item, child, expanded)
        item.setExpanded(node.path in expanded)
        return item

    def _on_folder(self) -> None:
        items = self.folders.selectedItems()
        self.folder = items[0].data(0, PathData) if items else ALL
        self._emit_folder()

    def _emit_folder(self) -> None:
        self.folder_chosen.emit(self.folder, self.subfolders.isChecked())

    def select_folder(self, path: str) -> None:
        """Select ``path``'s item (as a click would); "" selects all photos."""
        for item in tree_items(self.folders):
            if item.data(0, PathData) == path:
                self.folders.setCurrentItem(item)
                return

    # -- dates ---------------------------------------------------------------
    def _fill_dates(self, years: list[Year]) -> None:
        expanded = {item.data(0, PathData) for item in tree_items(self.dates) if item.isExpanded()}
        current = self.dates.currentItem()
        chosen = current.data(0, PathData) if current is not None else None
        scroll = self.dates.verticalScrollBar().value()
        self.dates.blockSignals(True)
        self.dates.clear()
        for year in years:
            key = f"{year.year:04}"
            label = str(year.year) if year.year else "No date"
            item = QTreeWidgetItem(self.dates, [label, f"{year.count:,}"])
            item.setData(0, PathData, key)
            for month in year.months:
                mkey = f"{month.year:04}-{month.month:02}"
                child = QTreeWidgetItem(item, [calendar.month_name[month.month],
                                               f"{month.count:,}"])  # fmt: skip
                child.setData(0, PathData, mkey)
            item.setExpanded(key in expanded)
        for item in tree_items(self.dates):
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
            if chosen is not None and item.data(0, PathData) == chosen:
                self.dates.setCurrentItem(item)
        self.dates.verticalScrollBar().setValue(scroll)
        self.dates.blockSignals(False)

    def _on_date(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        self.month_chosen.emit(item.data(0, PathData))

    def date_item(self, key: str) -> QTreeWidgetItem | None:
        return next((i for i in tree_items(self.dates) if i.data(0, PathData) == key), None)

    def folder_item(self, path: str) -> QTreeWidgetItem | None:
        return next((i for i in tree_items(self.folders) if i.data(0, PathData) == path), None)


def _two_columns(tree: QTreeWidget) -> None:
    """A name that takes the width and a count that fits its digits."""
    tree.setColumnCount(2)
    tree.setUniformRowHeights(True)
    header = tree.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)


def tree_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    """Every item of ``tree``, depth first."""
    out: list[QTreeWidgetItem] = []
    stack = [tree.topLevelItem(i) for i in reversed(range(tree.topLevelItemCount()))]
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(item.child(i) for i in reversed(range(item.childCount())))
    return out


def _find(item: QTreeWidgetItem, path: str) -> QTreeWidgetItem | None:
    if item.data(0, PathData) == path:
        return item
    if not path.startswith(item.data(0, PathData).rstrip(os.sep) + os.sep):
        return None
    for i in range(item.childCount()):
        found = _find(item.child(i), path)
        if found is not None:
            return found
    return None

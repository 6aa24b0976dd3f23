"""The grid's context menu: Open, Open With, Show in Folder, Copy Path, Similar Photos,
Similar to These (registered by the queries) and Move to Trash."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QListView

from photosim.app import messages
from photosim.app.browse.panes import file_url
from photosim.app.browse.viewer import open_externally
from photosim.app.workers import Runner
from photosim.core.errors import shown
from photosim.core.text import plural


class Pane(Protocol):
    """What the menu needs of the Photos pane (its ``queries`` know the selection)."""

    grid: QListView
    queries: object

    def open_viewer(self, path: str | None = None) -> None: ...
    def show_query(self, path: str, outside: bool = False) -> None: ...
    def on_files_changed(self, paths: list) -> None: ...


class GridMenu(QObject):
    """Actions on the selected photos, in the grid's context menu (see module docstring)."""

    def __init__(self, pane: Pane, state, signals, before: QAction | None = None) -> None:
        super().__init__(pane.grid)
        self.pane, self.state, self.signals = pane, state, signals
        self.runner = Runner("photosim-trash", self)
        self.runner.done.connect(self._on_trashed)
        self.runner.failed.connect(lambda exc: self._say(messages.describe(exc)))
        grid = pane.grid
        self.actions: dict[str, QAction] = {}
        for key, text, slot in (
            ("open", "Open", self.open),
            ("open_with", "Open in Other Application", self.open_with),
            ("folder", "Show in Folder", self.show_in_folder),
            ("copy", "Copy Path", self.copy_path),
            ("similar", "Similar Photos", self.similar),
        ):
            action = self.actions[key] = QAction(text, grid)
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            grid.insertAction(before, action) if before is not None else grid.addAction(action)
        separator = QAction(grid)
        separator.setSeparator(True)
        grid.addAction(separator)
        trash = self.actions["trash"] = QAction("Move to Trash", grid)
        trash.setToolTip("To the system trash, with an undo; never deleted")
        trash.triggered.connect(lambda _checked=False: self.trash())
        grid.addAction(trash)

    def _say(self, text: str) -> None:
        self.signals.status_message.emit(text)

    def _first(self) -> str | None:
        paths = self.pane.queries.selected_paths()
        return paths[0] if paths else None

    def open(self) -> None:
        if path := self._first():
            self.pane.open_viewer(path)

    def open_with(self) -> None:
        if (path := self._first()) and (why := open_externally(path)):
            self._say(why)

    def show_in_folder(self) -> None:
        if path := self._first():
            QDesktopServices.openUrl(file_url(str(Path(path).parent)))

    def copy_path(self) -> None:
        paths = self.pane.queries.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))

    def similar(self) -> None:
        if path := self._first():
            self.pane.show_query(path)

    def trash(self) -> None:
        """Move the selected photos to the system trash (journalled: Undo brings them back)."""
        paths, library = self.pane.queries.selected_paths(), self.state.library
        if not paths or library is None:
            return
        self._say(f"Moving {plural(len(paths), 'photo')} to the trash…")
        self.runner.submit(
            lambda: (paths, library.decisions.move_to_trash([Path(p) for p in paths]))
        )

    def _on_trashed(self, result) -> None:
        paths, record = result
        moved = getattr(record, "moved", [])
        failed = getattr(record, "failed", [])
        text = f"Moved {plural(len(moved), 'photo')} to the trash."
        if failed:
            path, reason = failed[0]
            text += f" {shown(Path(path).name)} could not move: {reason}."
        self._say(text)
        self.pane.on_files_changed(paths)

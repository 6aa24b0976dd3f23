"""The library's folders from the app: open one, open a recent one, add one, remove one.

Owns File > Open Folder / Open Recent and Library > Add Folder / Remove Folder / Folders,
the recent folders (in the settings) and the window title that names the open folders.
Adding and removing run in workers (``LibraryState.change``); removing a folder forgets
its photos (a full-table delete at 100k photos), never their files.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from photosim.api import Library
from photosim.app.browse.browser import BrowsePane
from photosim.app.commands import Commands
from photosim.app.library_state import LibraryState
from photosim.core.errors import shown


class FolderActions(QObject):
    """Folders of the open library and the recent ones (see module docstring)."""

    #: A folder left the library (arguments: the folder, how many photos left with it).
    removed = Signal(str, int)

    def __init__(self, window: QMainWindow, state: LibraryState, browser: BrowsePane,
                 settings: QSettings, commands: Commands) -> None:  # fmt: skip
        super().__init__(window)
        self.window, self.state, self.browser, self.settings = window, state, browser, settings
        commands.add(window, "file", "&Open Folder…", self.choose_folder,
                     shortcut=QKeySequence.StandardKey.Open, icon="folder-open")  # fmt: skip
        self.recent_menu = commands.submenu(window, "file", "Open &Recent")
        commands.add(window, "library", "&Add Folder…", self.choose_added_folder,
                     icon="folder-new", section=200)  # fmt: skip
        self.remove_menu: QMenu = commands.submenu(window, "library", "Remo&ve Folder",
                                                   section=200)  # fmt: skip
        self.folders_menu: QMenu = commands.submenu(window, "library", "&Folders", section=200)
        browser.welcome.open_folder.connect(self.choose_folder)
        browser.welcome.open_recent.connect(state.open_library)
        state.signals.library_opened.connect(self._on_opened)
        self.refresh_recent()
        self.refresh_folders()

    # -- opening -------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open a folder of photos", str(Path.home())
        )
        if folder:
            self.state.open_library(folder)

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent", []) or []
        return [value] if isinstance(value, str) else list(value)

    def refresh_recent(self) -> None:
        recent = [f for f in self.recent_folders() if os.path.isdir(f)]
        self.recent_menu.clear()
        for folder in recent[:10]:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.state.open_library(f))
        self.recent_menu.setEnabled(bool(recent))
        self.browser.welcome.set_recent(recent)

    def _on_opened(self, library: Library) -> None:
        """The opened library's folder goes first in the recent ones; the title names it."""
        folder = str(library.roots[0]) if library.roots else str(library.db_path)
        self.window.setWindowTitle(f"photosim: {shown(folder)}")
        recent = [folder] + [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent", recent[:10])
        self.refresh_recent()
        self.refresh_folders()

    # -- the library's folders -----------------------------------------------------------
    def choose_added_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Add a folder to this library", str(Path.home())
        )
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> bool:
        """Add ``folder`` to the open library (or open it) and scan it in (in a worker)."""
        if self.state.library is None:
            self.state.open_library(folder)
            return True
        self.state.change(lambda library: library.add_root(folder),
                          lambda _root: self.refresh_folders())  # fmt: skip
        return True

    def remove_folder(self, folder: str) -> int:
        """Take ``folder`` out of the library (in a worker): its photos leave the grid, the
        files stay on disk. 0 when refused (a library keeps one folder); 1 once started."""
        library = self.state.library
        if library is None:
            return 0
        if len(library.roots) < 2:
            self.state.signals.status_message.emit(
                "A library keeps at least one folder; open another folder instead (Ctrl+O)."
            )
            return 0
        self.browser.forget_under(folder)

        def done(count: int) -> None:
            self.browser.forget_under(folder)
            self.state.reload()
            self.refresh_folders()
            self.state.start_scan()  # rebuilds the search index without them, in the scan
            self.state.signals.status_message.emit(
                f"{count:,} photos of {shown(folder)} left the library; the files are untouched."
            )
            self.removed.emit(folder, count)

        self.state.signals.status_message.emit(f"Taking {shown(folder)} out of the library…")
        self.state.change(lambda library: library.remove_root(folder), done)
        return 1

    def refresh_folders(self) -> None:
        """The window title and the Library menu name the folders of the open library."""
        library = self.state.library
        roots = [str(r) for r in library.roots] if library is not None else []
        self.remove_menu.clear()
        self.folders_menu.clear()
        for root in roots:
            action = self.remove_menu.addAction(shown(root))
            action.triggered.connect(lambda _=False, r=root: self.remove_folder(r))
            self.folders_menu.addAction(shown(root)).setEnabled(False)
        self.remove_menu.setEnabled(len(roots) > 1)
        self.folders_menu.setEnabled(bool(roots))
        if roots:
            more = f" + {len(roots) - 1} more" if len(roots) > 2 else ""
            names = " + ".join(shown(r) for r in roots[:2]) if len(roots) <= 2 else shown(roots[0])
            self.window.setWindowTitle(f"photosim: {names}{more}")

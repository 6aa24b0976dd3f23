"""The main window: it assembles the panes and nothing else.

Photos (grid, preview, neighbours: ``browse/``) and Duplicates (``dupes/``) are tabs; the
status bar and the library's folders, weights and preferences (``setup/``) are panes of
their own. Each pane registers the commands it owns (``commands.py``) and listens to the
signal hub (``signals.py``); the open library is ``LibraryState``'s. Nothing slow runs
here: closing abandons the library's workers, which end in the background.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtGui import QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QTabWidget

from photosim.app.browse.browser import BrowsePane
from photosim.app.browse.delegate import resource_path
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.commands import MENUS, Commands
from photosim.app.dupes.view import DuplicatesView
from photosim.app.library_state import LibraryState
from photosim.app.setup.actions import SetupActions
from photosim.app.setup.folders import FolderActions
from photosim.app.shortcuts import VIEW_KEYS, ShortcutsDialog
from photosim.app.signals import Signals
from photosim.app.status import StatusPane
from photosim.core import paths

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.api import Backbone


def app_settings() -> QSettings:
    """Settings in the one place paths.py decides (PHOTOSIM_HOME moves it for tests)."""
    return QSettings(str(paths.settings_path()), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """One library at a time, shown by panes that each own their part (see module docstring)."""

    def __init__(self, *, model: str | None = None, weights: str | None = None,
                 device: str = "auto", backbone: Backbone | None = None) -> None:  # fmt: skip
        super().__init__()
        self.signals = Signals(self)
        self.settings = app_settings()
        options = {"model": model, "weights": weights, "device": device, "backbone": backbone}
        self.state = LibraryState(self.signals, options, self)
        self.thumbnails = Thumbnails(parent=self)
        commands = self.commands = Commands()
        self.browser = BrowsePane(self.state, self.signals, self.thumbnails, commands)
        self.duplicates = DuplicatesView(self.thumbnails, self)
        self.status = StatusPane(self.state, self.signals, commands, self)
        self.folders = FolderActions(self, self.state, self.browser, self.settings, commands)
        self.setup = SetupActions(self, self.state, self.browser, self.settings, commands)
        commands.add(self, "file", "&Quit", self.close, shortcut=QKeySequence.StandardKey.Quit,
                     icon="application-exit", section=900)  # fmt: skip
        commands.add(self, "view", "&Photos", lambda: self.tabs.setCurrentIndex(0),
                     shortcut="Ctrl+1", section=200)  # fmt: skip
        commands.add(self, "view", "&Duplicates", self.show_duplicates, shortcut="Ctrl+2",
                     section=200)  # fmt: skip
        commands.add(self, "help", "&Keyboard Shortcuts", self.show_shortcuts, shortcut="F1",
                     section=50)  # fmt: skip
        self._assemble()
        self._connect_duplicates()
        self.setWindowTitle("photosim")
        self.setWindowIcon(QIcon(resource_path("photosim.svg")))
        self._restore_settings()

    def _assemble(self) -> None:
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.browser, "Photos")
        self.tabs.addTab(self.duplicates, "Duplicates")
        self.setCentralWidget(self.tabs)
        self.addToolBar(self.browser.bar)
        self.commands.build(self.menuBar())
        self.status.install(self.statusBar())

    def _connect_duplicates(self) -> None:
        """The Duplicates tab follows the open library; what it trashes leaves the grid."""
        hub, view = self.signals, self.duplicates
        hub.library_opened.connect(view.set_library)
        hub.library_closed.connect(lambda: view.set_library(None))
        hub.scan_finished.connect(lambda _final: view.invalidate())
        view.summary.connect(
            lambda n: self.tabs.setTabText(1, f"Duplicates ({n})" if n else "Duplicates")
        )
        view.trashed.connect(self.browser.on_files_changed)
        view.restored.connect(self.browser.on_files_changed)

    def show_shortcuts(self) -> ShortcutsDialog:
        menus = {name: title.replace("&", "") for name, title in MENUS.items()}
        rows = [
            (
                menus[menu],
                action.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                action.text().replace("&", "").rstrip("…"),
            )
            for menu, action in self.commands.actions()
            if not action.shortcut().isEmpty()
        ]
        dialog = ShortcutsDialog(rows + VIEW_KEYS, self)  # fmt: skip
        dialog.show()
        return dialog

    def show_duplicates(self) -> None:
        self.tabs.setCurrentWidget(self.duplicates)

    def _restore_settings(self) -> None:
        if geometry := self.settings.value("window/geometry"):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.browser.restore_settings(self.settings)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.browser.save_settings(self.settings)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Returns at once: the library's workers are abandoned and end in the background
        (``photosim.app.run`` gives a cancelled scan a moment to finish its batch at exit)."""
        self.save_settings()
        self.state.close_library()
        self.thumbnails.drop_queued()
        super().closeEvent(event)

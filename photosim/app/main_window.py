"""The main window: grid of thumbnails, preview and details, neighbours strip, scan status.

It assembles the panes and wires them; everything slow (opening a library, loading
photos and their records, queries, scans) runs in workers (workers.py), so the GUI
thread never waits and never queries the library itself.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
)

from photosim.api import Library, open_filter
from photosim.app import messages
from photosim.app.browse.delegate import resource_path
from photosim.app.browse.models import History, NeighbourModel, PhotoModel, PhotoProxy
from photosim.app.browse.panes import (
    BrowseBar,
    FailuresDialog,
    NeighboursPane,
    PhotoGrid,
    PreviewPane,
    WelcomePage,
)
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.library_state import LibraryMixin
from photosim.app.setup.actions import SetupMixin
from photosim.app.signals import Signals
from photosim.app.watch import LibraryWatch
from photosim.app.workers import Runner, Worker, neighbours_job, preview_job
from photosim.core import paths
from photosim.core.errors import PhotosimError, shown
from photosim.core.events import ScanProgress

PREVIEW_SIDE = 1600
CLOSE_GRACE_S = 1.5  # how long closing lets a cancelled scan finish its batch
IMAGE_FILTER = open_filter()

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.api import Backbone


def app_settings() -> QSettings:
    """Settings in the one place paths.py decides (PHOTOSIM_HOME moves it for tests)."""
    return QSettings(str(paths.settings_path()), QSettings.Format.IniFormat)


class MainWindow(SetupMixin, LibraryMixin, QMainWindow):
    """One library at a time; every slow step runs in a worker (see workers.py)."""

    def __init__(self, *, model: str | None = None, weights: str | None = None,
                 device: str = "auto", backbone: Backbone | None = None) -> None:  # fmt: skip
        super().__init__()
        self.engine_options = {"model": model, "weights": weights, "device": device,
                               "backbone": backbone}  # fmt: skip
        self.signals = Signals(self)
        self.settings = app_settings()
        self.library: Library | None = None
        self.worker: Worker | None = None  # the scan of self.library
        self.opener: Worker | None = None  # the library being opened
        self.model_error: PhotosimError | None = None
        self.current: str | None = None  # the query shown: a library photo or a dropped file
        self.history = History()
        self._push_next = True  # False while Back/Forward select a photo
        self.last_scan: ScanProgress | None = None
        self._final: ScanProgress | None = None  # a finished scan, until the grid reloaded
        self.thumbnails = Thumbnails(parent=self)
        self.photos = PhotoModel(self.thumbnails, self)
        self.proxy = PhotoProxy(self)
        self.proxy.setSourceModel(self.photos)
        self.neighbours = NeighbourModel(self.thumbnails, self)
        self.query_runner = Runner("photosim-query", self)
        self.preview_runner = Runner("photosim-preview", self)
        self.records_runner = Runner("photosim-records", self)  # the library's photo list
        self.record_runner = Runner("photosim-record", self)  # the selected photo's record
        self.watch = LibraryWatch(parent=self)
        self.menus: dict[str, QMenu] = {}  # "file", "view", "library", "help": add items here
        self._build_views()
        self._build_toolbar()
        self._build_menus()
        self._build_status()
        self._connect()
        self._build_duplicates()
        self._init_setup()  # weights, preferences, folders (setup/actions.py)
        self.setAcceptDrops(True)
        self.setWindowTitle("photosim")
        self.setWindowIcon(QIcon(resource_path("photosim.svg")))
        self._restore_settings()

    # -- building --------------------------------------------------------------
    def _build_views(self) -> None:
        self.grid = PhotoGrid(self.proxy)
        self.delegate = self.grid.delegate
        self.welcome = WelcomePage()
        self.grid_stack = QStackedWidget()
        self.grid_stack.addWidget(self.welcome)
        self.grid_stack.addWidget(self.grid)
        self.preview = PreviewPane()
        self.strip = NeighboursPane(self.neighbours)
        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.addWidget(self.grid_stack)
        self.top_split.addWidget(self.preview)
        self.top_split.setStretchFactor(0, 3)
        self.top_split.setStretchFactor(1, 2)
        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.strip)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 1)
        for split in (self.top_split, self.main_split):
            split.setChildrenCollapsible(False)
        self.setCentralWidget(self.main_split)

    def _build_toolbar(self) -> None:
        self.browse_bar = BrowseBar(self)
        self.filter_edit = self.browse_bar.filter_edit
        self.sort_box = self.browse_bar.sort_box
        self.zoom = self.browse_bar.zoom
        self.addToolBar(self.browse_bar)

    def _action(self, menu, text: str, slot, shortcut=None, icon: str | None = None) -> QAction:
        action = QAction(QIcon.fromTheme(icon) if icon else QIcon(), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = self.menus["file"] = bar.addMenu("&File")
        self._action(
            file, "&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open, "folder-open"
        )
        self.recent_menu = file.addMenu("Open &Recent")
        self._action(file, "&Find Similar to…", self.choose_query_file, "Ctrl+Shift+F", "edit-find")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "application-exit")
        view = self.menus["view"] = bar.addMenu("&View")
        self._action(
            view,
            "Zoom &In",
            lambda: self.zoom.setValue(self.zoom.value() + 32),
            QKeySequence.StandardKey.ZoomIn,
        )
        self._action(
            view,
            "Zoom &Out",
            lambda: self.zoom.setValue(self.zoom.value() - 32),
            QKeySequence.StandardKey.ZoomOut,
        )
        self._action(view, "&Back", self.go_back, "Alt+Left", "go-previous")
        self._action(view, "&Forward", self.go_forward, "Alt+Right", "go-next")
        library = self.menus["library"] = bar.addMenu("&Library")
        self.rescan_action = self._action(library, "&Rescan", self.start_scan, "F5", "view-refresh")
        self.cancel_action = self._action(
            library, "&Cancel Scan", self.cancel_scan, None, "process-stop"
        )
        self._action(library, "Show &Skipped Files…", self.show_failures)
        help_menu = self.menus["help"] = bar.addMenu("&Help")
        self._action(help_menu, "&Model Weights…", self.show_weights_help)
        self._action(help_menu, "&About photosim", self.show_about)
        self._build_setup_menus(bar, file, library, help_menu)
        QShortcut(QKeySequence("Ctrl+F"), self, self._focus_filter)
        QShortcut(QKeySequence(Qt.Key.Key_Backspace), self, self.go_back)

    def _build_status(self) -> None:
        self.status_text = QLabel()
        self.progress = QProgressBar(maximumWidth=240, textVisible=False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the scan; finished work is kept")
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.count_label = QLabel()
        self.failed_link = QLabel(visible=False)
        self.failed_link.setToolTip("Files that could not be read, each with the reason")
        self.failed_link.linkActivated.connect(lambda _link: self.show_failures())
        status = self.statusBar()
        status.addWidget(self.status_text, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.failed_link)
        status.addPermanentWidget(self.count_label)
        self._set_scanning(False)

    def _connect(self) -> None:
        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.grid.activated.connect(self._on_grid_activated)
        self.grid.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.sort_box.currentTextChanged.connect(self._on_sort)
        self.zoom.valueChanged.connect(self._on_zoom)
        self.strip.activated.connect(self.walk_to)
        self.strip.back.connect(self.go_back)
        self.strip.forward.connect(self.go_forward)
        self.strip.k_changed.connect(lambda _k: self._query_neighbours())
        self.welcome.open_folder.connect(self.choose_folder)
        self.welcome.open_recent.connect(self.open_library)
        self.query_runner.done.connect(self._on_neighbours)
        self.query_runner.failed.connect(self._on_neighbours_failed)
        self.preview_runner.done.connect(self._on_preview)
        self.preview_runner.failed.connect(
            lambda exc: self.preview.set_image(self.preview.path, None, messages.reason(exc))
        )
        self.records_runner.done.connect(self._on_records)
        self.record_runner.done.connect(self._on_record)
        self.watch.changed.connect(self._on_library_changed)
        self.watch.retry.connect(self.start_scan)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    # -- settings --------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if geometry := s.value("window/geometry"):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.top_split.setSizes([760, 500])
        self.main_split.setSizes([560, 230])
        for key, split in (
            ("window/top_split", self.top_split),
            ("window/main_split", self.main_split),
        ):
            if state := s.value(key):
                split.restoreState(state)
        self.zoom.setValue(int(s.value("view/zoom", 160)))
        self._on_zoom(self.zoom.value())
        self.sort_box.setCurrentText(str(s.value("view/sort", "Date taken")))
        self.strip.k_box.setValue(int(s.value("view/k", 12)))
        self.strip.slider.setValue(int(s.value("view/min_score", 0)))
        self._refresh_recent()

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/top_split", self.top_split.saveState())
        s.setValue("window/main_split", self.main_split.saveState())
        s.setValue("view/zoom", self.zoom.value())
        s.setValue("view/sort", self.sort_box.currentText())
        s.setValue("view/k", self.strip.k_box.value())
        s.setValue("view/min_score", self.strip.slider.value())
        s.sync()

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent", []) or []
        return [value] if isinstance(value, str) else list(value)

    def _refresh_recent(self) -> None:
        recent = [f for f in self.recent_folders() if os.path.isdir(f)]
        self.recent_menu.clear()
        for folder in recent[:10]:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_library(f))
        self.recent_menu.setEnabled(bool(recent))
        self.welcome.set_recent(recent)

    # -- opening and scanning --------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", str(Path.home()))
        if folder:
            self.open_library(folder)

    # -- selection, neighbours, history ----------------------------------------
    def selected_path(self) -> str | None:
        index = self.grid.currentIndex()
        return self.proxy.path_at(index.row()) if index.isValid() else None

    def select_path(self, path: str, push: bool = True) -> bool:
        """Select ``path`` in the grid and scroll to it; the filter is cleared if it hides it."""
        row = self.proxy.row_of(path)
        if row is None and self.filter_edit.text():
            self.filter_edit.clear()
            row = self.proxy.row_of(path)
        if row is None:
            return False
        self._push_next = push
        index = self.proxy.index(row, 0)
        self.grid.setCurrentIndex(index)
        self.grid.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._push_next = True
        return True

    def _on_current_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        path = self.proxy.path_at(current.row())
        if self._push_next:
            self.history.push(path)
        self.show_query(path)

    def show_query(self, path: str, outside: bool = False) -> None:
        """Preview ``path`` and ask for its neighbours (both in workers)."""
        self.current = path
        photo = None if outside else self.photos.photo_of(path)
        note = "Not in this library: compared, not added." if outside else ""
        self.preview.show_photo(path, photo, note)
        entry = None if outside or photo is not None else self.photos.entry(path)
        if entry is not None and (self.model_error or not entry.has_vector):
            self._read_record(path)  # the grid lists no details; a neighbours query brings them
        self.preview_runner.submit(lambda: preview_job(path, PREVIEW_SIDE))
        self.strip.set_history(self.history.can_back(), self.history.can_forward())
        self.signals.photo_selected.emit(path)
        self._query_neighbours()

    def _query_neighbours(self) -> None:
        """Neighbours of the current query: from the cache for library photos, else embedded."""
        path, library = self.current, self.library
        if path is None or library is None or self._requery_special():
            return
        k = self.strip.k_box.value()
        entry = self.photos.entry(path)
        inside = entry is not None
        if self.model_error and not (entry and entry.has_vector):
            title = f"Similar to {shown(os.path.basename(path))}"
            self.show_weights_prompt(messages.describe(self.model_error), title)
            return
        self.query_runner.submit(lambda: neighbours_job(library, path, k, inside))
        name = html.escape(shown(os.path.basename(path)))
        self.strip.title.setText(f"Similar to <b>{name}</b>: searching…")

    def _on_neighbours(self, result) -> None:
        query, matches, *record = result  # a query of several photos has no record
        if query != self.current:
            return
        self._on_record(record[0] if record else None)  # details first, whoever ended first
        self.strip.show_matches(query, matches)
        self.signals.neighbours_ready.emit(query, matches)

    def _on_neighbours_failed(self, exc: Exception) -> None:
        if self.current and self.photos.photo_of(self.current) is None:
            self._read_record(self.current)  # the details the answer would have brought
        message = messages.describe(exc, scanning=self.scanning())
        title = f"Similar to {shown(os.path.basename(self.current or ''))}"
        self.strip.show_message(message, title)
        self.signals.similarity_unavailable.emit(message)

    def _read_record(self, path: str) -> None:
        """Read the full record of a grid photo in a worker (``_on_record`` shows it)."""
        library = self.library
        if library is not None and self.photos.row_of(path) is not None:
            self.record_runner.submit(lambda: library.photo(path))

    def _on_record(self, photo) -> None:
        """A selected photo's full record (the grid lists none): its details are shown."""
        if photo is None:
            return
        self.photos.set_record(photo)
        self.preview.set_record(str(photo.path), photo)

    def _on_preview(self, result) -> None:
        path, image, size = result
        self.preview.set_image(path, image, size=size)

    def walk_to(self, path: str) -> None:
        """A neighbour was activated: select it in the grid (the similarity walk)."""
        if not self.select_path(path):
            self.show_query(path, outside=True)

    def go_back(self) -> None:
        if (path := self.history.back()) is not None:
            self.select_path(path, push=False)

    def go_forward(self) -> None:
        if (path := self.history.forward()) is not None:
            self.select_path(path, push=False)

    # -- outside photos ---------------------------------------------------------
    def choose_query_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Find photos similar to…", str(Path.home()), IMAGE_FILTER
        )
        if path:
            self.query_file(path)

    def query_file(self, path: str) -> None:
        """Neighbours in the library of any image file; it is not added."""
        if self.library is None:
            self.status_text.setText("Open a folder of photos first, then drop a photo to compare.")
            return
        path = str(Path(path).absolute())
        if not self.select_path(path):
            self.grid.selectionModel().clearCurrentIndex()
            self.show_query(path, outside=True)

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()) or self.accepts_drop(
            event.mimeData()
        ):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files and os.path.isfile(files[0]):
            event.acceptProposedAction()
            self.query_file(files[0])
        elif self.drop_data(event.mimeData()):  # a browser's picture, carried as data
            event.acceptProposedAction()

    # -- small slots -------------------------------------------------------------
    def _on_grid_activated(self, index) -> None:
        if index.isValid():
            self.preview.open_photo()

    def _on_scrolled(self, _value: int) -> None:
        self.thumbnails.drop_queued()  # what is still queued is off screen now

    def _on_sort(self, name: str) -> None:
        selected = self.selected_path()
        self.photos.set_sort(name)
        if selected:
            self.select_path(selected, push=False)

    def _on_zoom(self, side: int) -> None:
        self.grid.set_side(side)

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _update_count(self, *_args) -> None:
        shown, total = self.proxy.rowCount(), self.photos.rowCount()
        self.count_label.setText(
            f"{total:,} photos" if shown == total else f"{shown:,} of {total:,} photos"
        )
        if self.library is not None and total == 0 and not self.scanning():
            self.welcome.set_text(
                "No photos in this folder yet. Open another folder, or add photos and press F5."
            )

    def set_failed_count(self, count: int) -> None:
        """The status bar's "N skipped" link (opens the list of skipped files with reasons)."""
        self.failed_link.setText(f'<a href="skipped">{count:,} skipped</a>')
        self.failed_link.setVisible(count > 0)

    def show_failures(self) -> None:
        """List every skipped file with its reason (read in a worker; the dialog follows)."""
        library = self.library
        if library is None:
            return
        worker = Worker(lambda _abort: library.failures(), name="photosim-failures")
        worker.finished.connect(lambda failures: self._show_failures_dialog(library, failures))
        worker.errored.connect(lambda exc: self.status_text.setText(messages.describe(exc)))
        worker.start()

    def _show_failures_dialog(self, library: Library, failures: list) -> None:
        if library is not self.library:
            return
        self.failures_dialog = FailuresDialog(messages.failure_lines(failures), self)
        self.failures_dialog.show()
        self.signals.failures_shown.emit(self.failures_dialog)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Returns within ~2 s: a cancelled scan gets a moment to finish its batch, no more."""
        self.save_settings()
        scan = self.close_library()
        self.thumbnails.drop_queued()
        if scan is not None:
            self.hide()
            scan.join(CLOSE_GRACE_S)
        super().closeEvent(event)

    # -- duplicates (the Duplicates tab beside the photos) ----------------
    def _build_duplicates(self) -> None:
        """The grid area becomes a tab of "Photos | Duplicates"; View > Duplicates switches."""
        from PySide6.QtWidgets import QTabWidget

        from photosim.app.dupes.view import DuplicatesView

        self.duplicates = DuplicatesView(self.thumbnails, self)
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.takeCentralWidget(), "Photos")
        self.tabs.addTab(self.duplicates, "Duplicates")
        self.setCentralWidget(self.tabs)
        view = self.menus["view"]
        view.addSeparator()
        self._action(view, "&Photos", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action(view, "&Duplicates", self.show_duplicates, "Ctrl+2")
        self.signals.library_opened.connect(self.duplicates.set_library)
        self.signals.library_closed.connect(lambda: self.duplicates.set_library(None))
        self.signals.scan_finished.connect(lambda _final: self.duplicates.invalidate())
        self.duplicates.summary.connect(
            lambda n: self.tabs.setTabText(1, f"Duplicates ({n})" if n else "Duplicates")
        )
        self.duplicates.trashed.connect(self._on_files_changed)
        self.duplicates.restored.connect(self._on_files_changed)

    def show_duplicates(self) -> None:
        self.tabs.setCurrentWidget(self.duplicates)

    def _on_files_changed(self, _paths: list) -> None:
        """Photos went to the trash or came back: the grid shows the library as it is now."""
        if self.library is None:
            return
        for path in _paths:  # gone to the trash: off the grid now; the reload confirms
            if not os.path.exists(path):
                self.photos.remove_path(str(path))
        self.reload_photos()
        if any(self.photos.row_of(p) is None and os.path.exists(p) for p in _paths):
            self.start_scan()  # restored files the library no longer lists: scan them back in
        self.signals.photos_changed.emit(list(_paths))

"""The main window: grid of thumbnails, preview and details, neighbours strip, scan status."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from photosim import paths
from photosim.app.delegate import PAD, ThumbDelegate, resource_path
from photosim.app.models import SORTS, NeighbourModel, PhotoModel, PhotoProxy
from photosim.app.panes import NeighboursPane, PreviewPane, WelcomePage
from photosim.app.scanning import ScanMixin
from photosim.app.setup_actions import SetupMixin, known_db_for
from photosim.app.signals import Signals
from photosim.app.tasks import Runner, ScanWorker, friendly
from photosim.app.thumbnails import Thumbnails, pil_to_qimage
from photosim.decode import load_image
from photosim.embed import Backbone
from photosim.events import ScanProgress
from photosim.library import Library

PREVIEW_SIDE = 1600
IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp *.gif *.heic *.heif *.mpo);;All files (*)"
)


def app_settings() -> QSettings:
    """Settings in the one place paths.py decides (PHOTOSIM_HOME moves it for tests)."""
    return QSettings(str(paths.settings_path()), QSettings.Format.IniFormat)


class MainWindow(SetupMixin, ScanMixin, QMainWindow):
    """One library at a time; every slow step runs in a worker (see tasks.py)."""

    def __init__(self, *, model: str | None = None, weights: str | None = None,
                 device: str = "auto", backbone: Backbone | None = None) -> None:  # fmt: skip
        super().__init__()
        self.engine_options = {"model": model, "weights": weights, "device": device,
                               "backbone": backbone}  # fmt: skip
        self.signals = Signals(self)
        self.settings = app_settings()
        self.library: Library | None = None
        self.worker: ScanWorker | None = None
        self.model_error: str | None = None
        self.current: str | None = None  # the query shown: a library photo or a dropped file
        self.history: list[str] = []
        self.history_pos = -1
        self._push_next = True  # False while Back/Forward select a photo
        self.last_scan: ScanProgress | None = None
        self.thumbnails = Thumbnails(parent=self)
        self.photos = PhotoModel(self.thumbnails, self)
        self.proxy = PhotoProxy(self)
        self.proxy.setSourceModel(self.photos)
        self.neighbours = NeighbourModel(self.thumbnails, self)
        self.query_runner = Runner(parent=self)
        self.preview_runner = Runner(parent=self)
        self._build_views()
        self._build_toolbar()
        self._build_menus()
        self._build_status()
        self._connect()
        self._init_setup()  # weights, preferences, folders (setup_actions.py)
        self.setAcceptDrops(True)
        self.setWindowTitle("photosim")
        self.setWindowIcon(QIcon(resource_path("photosim.svg")))
        self._restore_settings()

    # -- building --------------------------------------------------------------
    def _build_views(self) -> None:
        self.grid = QListView()
        self.grid.setObjectName("grid")
        self.delegate = ThumbDelegate(160, self.grid)
        self.grid.setItemDelegate(self.delegate)
        self.grid.setModel(self.proxy)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(400)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.setMouseTracking(True)
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
        bar = QToolBar("Browse", objectName="browse", movable=False)
        self.filter_edit = QLineEdit(
            placeholderText="Filter by path (Ctrl+F)", clearButtonEnabled=True
        )
        self.filter_edit.setMaximumWidth(320)
        self.sort_box = QComboBox()
        self.sort_box.addItems(list(SORTS))
        self.sort_box.setToolTip("Sort the photos")
        self.zoom = QSlider(Qt.Orientation.Horizontal, minimum=96, maximum=320, value=160)
        self.zoom.setFixedWidth(140)
        self.zoom.setToolTip("Thumbnail size")
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy())  # fmt: skip
        bar.addWidget(QLabel(" Zoom "))
        bar.addWidget(self.zoom)
        bar.addWidget(spacer)
        bar.addWidget(self.filter_edit)
        bar.addWidget(QLabel("  Sort "))
        bar.addWidget(self.sort_box)
        self.addToolBar(bar)

    def _action(self, menu, text: str, slot, shortcut=None, icon: str | None = None) -> QAction:
        action = QAction(QIcon.fromTheme(icon) if icon else QIcon(), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(
            file, "&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open, "folder-open"
        )
        self.recent_menu = file.addMenu("Open &Recent")
        self._action(file, "&Find Similar to…", self.choose_query_file, "Ctrl+Shift+F", "edit-find")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "application-exit")
        view = bar.addMenu("&View")
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
        library = bar.addMenu("&Library")
        self.rescan_action = self._action(library, "&Rescan", self.start_scan, "F5", "view-refresh")
        self.cancel_action = self._action(
            library, "&Cancel Scan", self.cancel_scan, None, "process-stop"
        )
        self._action(library, "Show &Skipped Files…", self.show_failures)
        help_menu = bar.addMenu("&Help")
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
        status = self.statusBar()
        status.addWidget(self.status_text, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
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
            lambda msg: self.preview.set_image(self.preview.path, None, msg)
        )
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

    def open_library(
        self, root: str | os.PathLike | None, db: str | os.PathLike | None = None
    ) -> bool:
        """Open (or create) the library of ``root`` and start its incremental scan."""
        self.close_library()
        if root and db is None and (known := known_db_for(root)):
            root, db = None, known  # a folder of a library with several: open all of it
        try:
            roots = [Path(root)] if root else None
            self.library = Library(roots, db, **self.engine_options)
        except Exception as exc:
            self.library = None
            self.welcome.set_text(friendly(exc))
            self.grid_stack.setCurrentWidget(self.welcome)
            return False
        folder = str(self.library.roots[0]) if self.library.roots else str(db)
        self.setWindowTitle(f"photosim: {folder}")
        recent = [folder] + [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent", recent[:10])
        self._refresh_recent()
        self.photos.set_photos(self.library.photos())
        self.grid_stack.setCurrentWidget(self.grid)
        self.signals.library_opened.emit(self.library)
        self.start_scan()
        return True

    def close_library(self) -> None:
        self.stop_scan(wait=True)
        self.query_runner.wait()
        self.preview_runner.wait()
        if self.library is not None:
            self.library.close()
        self.library, self.model_error, self.last_scan = None, None, None
        self.history, self.history_pos, self.current = [], -1, None
        self.photos.set_photos([])
        self.neighbours.set_matches([])
        self.preview.show_photo(None)

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
            del self.history[self.history_pos + 1 :]
            if not self.history or self.history[-1] != path:
                self.history.append(path)
            self.history_pos = len(self.history) - 1
        self.show_query(path)

    def show_query(self, path: str, outside: bool = False) -> None:
        """Preview ``path`` and ask for its neighbours (in a worker)."""
        self.current = path
        photo = None if outside else self.library.photo(path) if self.library else None
        note = "Not in this library: compared, not added." if outside else ""
        self.preview.show_photo(path, photo, note)
        self.preview_runner.submit(lambda: (path, pil_to_qimage(load_image(path, PREVIEW_SIDE))))
        self.strip.set_history(self.history_pos > 0, self.history_pos < len(self.history) - 1)
        self.signals.photo_selected.emit(path)
        self._query_neighbours()

    def _query_neighbours(self) -> None:
        """Neighbours of the current query: from the cache for library photos, else embedded."""
        path, library = self.current, self.library
        if path is None or library is None or self._requery_special():
            return
        k = self.strip.k_box.value()
        photo = library.photo(path)
        if self.model_error and not (photo and photo.has_vector):
            self.show_weights_prompt(
                self._weights_message(), f"Similar to {os.path.basename(path)}"
            )
            return
        if photo is not None:
            self.query_runner.submit(lambda: (path, library.similar(photo, k)))
        else:
            self.query_runner.submit(lambda: (path, library.similar_to_file(path, k)))
        self.strip.title.setText(f"Similar to <b>{os.path.basename(path)}</b>: searching…")

    def _weights_message(self) -> str:
        return f"Similarity needs the ResNet weights. {self.model_error}"

    def _on_neighbours(self, result) -> None:
        query, matches = result
        if query != self.current:
            return
        self.strip.show_matches(query, matches)
        self.signals.neighbours_ready.emit(query, matches)

    def _on_neighbours_failed(self, message: str) -> None:
        if self.scanning() and "not been embedded" in message:
            message = message.rstrip(".") + "; the running scan will get to it."
        self.strip.show_message(message, f"Similar to {os.path.basename(self.current or '')}")
        self.signals.similarity_unavailable.emit(message)

    def _on_preview(self, result) -> None:
        path, image = result
        self.preview.set_image(path, image)

    def walk_to(self, path: str) -> None:
        """A neighbour was activated: select it in the grid (the similarity walk)."""
        if not self.select_path(path):
            self.show_query(path, outside=True)

    def go_back(self) -> None:
        if self.history_pos > 0:
            self.history_pos -= 1
            self.select_path(self.history[self.history_pos], push=False)

    def go_forward(self) -> None:
        if self.history_pos < len(self.history) - 1:
            self.history_pos += 1
            self.select_path(self.history[self.history_pos], push=False)

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
        inside = self.select_path(path) if self.library.photo(path) else False
        if not inside:
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
        self.delegate.side = side
        text = self.grid.fontMetrics().height() + 4
        self.grid.setGridSize(QSize(side + 2 * PAD + 4, side + 2 * PAD + text + 4))

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

    def show_failures(self) -> None:
        failures = self.library.failures() if self.library else []
        text = "\n".join(f"{p}: {r}" for p, r in failures[:200]) or "No skipped files."
        box = QMessageBox(QMessageBox.Icon.Information, "Skipped files",
                          f"{len(failures)} files could not be read and were skipped.", parent=self)  # fmt: skip
        box.setDetailedText(text)
        box.exec()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.close_library()
        self.thumbnails.drop_queued()
        self.thumbnails.wait(3000)
        super().closeEvent(event)

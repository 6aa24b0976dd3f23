"""The Photos pane: grid of thumbnails, preview and details, neighbours strip, history.

It owns its models and runners and the commands that act on them (zoom, back and forward,
the filter); queries of other things than one grid photo are in ``queries.py``. It hears
about the library through the signal hub and reads it only in workers.
"""

from __future__ import annotations

import html
import os
from functools import partial

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from photosim.api import Library
from photosim.app import messages
from photosim.app.browse.grid import PhotoGrid
from photosim.app.browse.grid_menu import GridMenu
from photosim.app.browse.history import History
from photosim.app.browse.listing import Listing, listing
from photosim.app.browse.models import NeighbourModel, PhotoModel
from photosim.app.browse.panes import BrowseBar, NeighboursPane, PreviewPane, WelcomePage
from photosim.app.browse.proxy import PhotoProxy
from photosim.app.browse.queries import QueryActions
from photosim.app.browse.roles import DateKeyRole
from photosim.app.browse.sidebar import Sidebar
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.browse.viewer import Viewer
from photosim.app.commands import Commands
from photosim.app.library_state import LibraryState
from photosim.app.signals import Signals
from photosim.app.workers import Runner, ScanBatch, neighbours_job, preview_job
from photosim.core.errors import shown
from photosim.core.events import Photo, ScanKind, ScanProgress
from photosim.core.paths import is_under

PREVIEW_SIDE = 1600
IDLE_MS = 1500  # a listing that reorders the grid waits for this much rest of pointer and keys
_ACTIVITY = {QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
             QEvent.Type.KeyPress}  # fmt: skip


class BrowsePane(QWidget):
    """Browse the open library and walk from photo to similar photo (see module docstring)."""

    def __init__(self, state: LibraryState, signals: Signals, thumbnails: Thumbnails,
                 commands: Commands, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.state, self.signals, self.thumbnails = state, signals, thumbnails
        self.current: str | None = None  # the query shown: a library photo or a dropped file
        self._pending: Listing | None = None  # a reordering listing waiting for the user to rest
        self._active = QTimer(self, singleShot=True, interval=IDLE_MS)  # runs while they work
        self._active.timeout.connect(self._on_idle)
        self.history = History()
        self._push_next = True  # False while Back/Forward select a photo
        self.photos = PhotoModel(thumbnails, self)
        self.proxy = PhotoProxy(self)
        self.proxy.setSourceModel(self.photos)
        self.neighbours = NeighbourModel(thumbnails, self, among=self.photos)
        self.query_runner = Runner("photosim-query", self)
        self.preview_runner = Runner("photosim-preview", self)
        self.record_runner = Runner("photosim-record", self)  # the selected photo's record
        self._build()
        self.queries = QueryActions(self, commands)
        self.grid_menu = GridMenu(self, state, signals, before=self.queries.many_action)
        self._commands(commands)
        self._connect()
        self.setAcceptDrops(True)
        self._set_order()
        self._show_controls()  # the welcome page first

    # -- building --------------------------------------------------------------------
    def _build(self) -> None:
        self.bar = BrowseBar(self)  # the window shows it as its toolbar
        self.filter_edit, self.sort_box, self.zoom = (self.bar.filter_edit, self.bar.sort_box,
                                                      self.bar.zoom)  # fmt: skip
        self.grid = PhotoGrid(self.proxy)
        self.grid.sections = self.proxy.sections  # month headers when sorted by date
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
        self.sidebar = Sidebar(self.signals)  # folders and dates, left of the grid
        self.top_split.insertWidget(0, self.sidebar)
        self.top_split.setStretchFactor(0, 0)
        self.viewer = Viewer()  # one photo full-window: Enter or double-click, Esc back
        self.viewer.step_from = self._step_in_grid
        self.pages = QStackedWidget()
        self.pages.addWidget(self.main_split)
        self.pages.addWidget(self.viewer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

    def _commands(self, commands: Commands) -> None:
        step = 32
        commands.add(self, "view", "Zoom &In", lambda: self.zoom.setValue(self.zoom.value() + step),
                     shortcut=QKeySequence.StandardKey.ZoomIn)  # fmt: skip
        commands.add(self, "view", "Zoom &Out",
                     lambda: self.zoom.setValue(self.zoom.value() - step),
                     shortcut=QKeySequence.StandardKey.ZoomOut)  # fmt: skip
        commands.add(self, "view", "&Back", self.go_back, shortcut="Alt+Left", icon="go-previous")
        commands.add(self, "view", "&Forward", self.go_forward, shortcut="Alt+Right",
                     icon="go-next")  # fmt: skip
        QShortcut(QKeySequence("Ctrl+F"), self, self._focus_filter)
        self.filter_edit.installEventFilter(self)  # Esc clears the filter (eventFilter)
        self.grid.installEventFilter(self)
        self.grid.viewport().installEventFilter(self)  # the pointer over the grid (eventFilter)
        QShortcut(QKeySequence(Qt.Key.Key_Backspace), self, self.go_back)

    def _connect(self) -> None:
        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.grid.activated.connect(self._on_grid_activated)
        self.grid.verticalScrollBar().valueChanged.connect(lambda _v: self.thumbnails.drop_queued())
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.grid_stack.currentChanged.connect(lambda _index: self._show_controls())
        self.sidebar.folder_chosen.connect(self.proxy.set_folder)
        self.sidebar.month_chosen.connect(self.jump_to_date)
        self.viewer.shown.connect(lambda path: self.select_path(path, center=False))
        self.viewer.closed.connect(self.close_viewer)
        self.sort_box.currentTextChanged.connect(self._on_sort)
        self.zoom.valueChanged.connect(self.grid.set_side)
        self.strip.activated.connect(self.walk_to)
        self.strip.back.connect(self.go_back)
        self.strip.forward.connect(self.go_forward)
        self.strip.k_changed.connect(lambda _k: self.query_neighbours())
        self.query_runner.done.connect(self._on_neighbours)
        self.query_runner.failed.connect(self._on_neighbours_failed)
        self.preview_runner.done.connect(self._on_preview)
        self.preview_runner.failed.connect(
            lambda exc: self.preview.set_image(self.preview.path, None, messages.reason(exc))
        )
        self.record_runner.done.connect(self._on_record)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):  # fmt: skip
            signal.connect(self._update_count)
        hub = self.signals
        hub.photos_listed.connect(self._on_listed)
        hub.library_opened.connect(lambda _library: self.grid_stack.setCurrentWidget(self.grid))
        hub.library_closed.connect(self._clear)
        hub.library_failed.connect(self._on_open_failed)
        hub.scan_batch.connect(self._on_scan_batch)
        hub.scan_finished.connect(self._on_scan_finished)

    # -- settings --------------------------------------------------------------------
    def restore_settings(self, s: QSettings) -> None:
        self.top_split.setSizes([220, 760, 500])
        self.main_split.setSizes([560, 230])
        for key, split in (("window/top_split", self.top_split),
                           ("window/main_split", self.main_split)):  # fmt: skip
            if state := s.value(key):
                split.restoreState(state)
        self.zoom.setValue(int(s.value("view/zoom", 160)))
        self.grid.set_side(self.zoom.value())
        self.sort_box.setCurrentText(str(s.value("view/sort", "Date taken")))
        self.strip.k_box.setValue(int(s.value("view/k", 12)))
        self.strip.slider.setValue(int(s.value("view/min_score", 0)))

    def save_settings(self, s: QSettings) -> None:
        s.setValue("window/top_split", self.top_split.saveState())
        s.setValue("window/main_split", self.main_split.saveState())
        s.setValue("view/zoom", self.zoom.value())
        s.setValue("view/sort", self.sort_box.currentText())
        s.setValue("view/k", self.strip.k_box.value())
        s.setValue("view/min_score", self.strip.slider.value())

    # -- the library's photos --------------------------------------------------------
    def _on_listed(self, photos: Listing, more: bool) -> None:
        """The library's photos: all of them (the selection is kept), or the rest of them.

        A listing that would reorder the grid while the user works in it (a scan's end puts
        the photos it found in their places) waits until the pointer and keys have rested
        for :data:`IDLE_MS`: rows never move under a click.
        """
        selected = self.selected_path()
        if more:
            if not self.photos.extend_listing(photos) and selected:
                self.select_path(selected, push=False, center=False)
            return
        if self._active.isActive() and self._reorders(photos):
            self._pending = photos
            return
        self._apply_listing(photos)

    def _reorders(self, photos: Listing) -> bool:
        """Whether ``photos`` would put other photos on rows the grid shows now."""
        count = self.photos.rowCount()
        if count == 0:
            return False
        return [self.photos.path_at(r) for r in range(count)] != [
            row.path for row in photos.rows[:count]]  # fmt: skip

    def _apply_listing(self, photos: Listing) -> None:
        """Show ``photos``, keeping the selected photo (or the first one in view) in view."""
        self._pending = None
        selected = self.selected_path()
        top = self.grid.indexAt(self.grid.viewport().rect().topLeft())
        anchor = self.proxy.path_at(top.row()) if top.isValid() and not selected else None
        self.photos.set_listing(photos)
        if selected:
            self.select_path(selected, push=False, center=False)
        elif anchor and (row := self.proxy.row_of(anchor)) is not None:
            self.grid.scrollTo(self.proxy.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)

    def _on_idle(self) -> None:
        if self._pending is not None:
            self._apply_listing(self._pending)

    def _on_scan_batch(self, batch: ScanBatch) -> None:
        found = []
        for ev in batch.events:
            if ev.kind == ScanKind.FOUND and ev.path is not None:
                found.append(str(ev.path))
            elif ev.kind == ScanKind.REMOVED and ev.path is not None:
                self.photos.remove_path(str(ev.path))
        self.photos.add_paths(found)
        for photo in batch.photos.values():
            self.photos.update_photo(photo)

    def _on_scan_finished(self, final: ScanProgress | None) -> None:
        if final is not None and self.current and self.state.library is not None:
            self.query_neighbours()  # the grid shows all of the scan now
        elif self.strip.progress_shown:
            self.strip.reset()  # "Embedding the photos…" is over

    def _on_open_failed(self, exc: Exception) -> None:
        self.welcome.set_text(messages.describe(exc))
        self.grid_stack.setCurrentWidget(self.welcome)

    def _clear(self) -> None:
        """The library was let go of: nothing of it is shown or asked for any more."""
        for runner in (self.query_runner, self.preview_runner, self.record_runner):
            runner.cancel()
        if self.pages.currentWidget() is self.viewer:
            self.close_viewer()
        self.viewer.clear()
        self.history, self.current = History(), None
        self.photos.set_photos([])
        self.strip.reset()  # no "Similar to" a photo of the old library, no Back
        self.preview.show_photo(None)
        self.thumbnails.drop_queued()

    def forget_under(self, folder: str) -> None:
        """A folder left the library: a query in it is no longer shown."""
        if self.current and is_under(self.current, [folder]):
            self.current = None
            self.preview.show_photo(None)
            self.neighbours.set_matches([])

    def on_files_changed(self, paths: list) -> None:
        """Photos went to the trash or came back: the grid shows the library as it is now."""
        if self.state.library is None:
            return
        for path in paths:  # gone to the trash: off the grid now; the reload confirms
            if not os.path.exists(path):
                self.photos.remove_path(str(path))
        self.state.reload()
        if any(self.photos.row_of(p) is None and os.path.exists(p) for p in paths):
            self.state.start_scan()  # restored files the library no longer lists: scan them in
        self.signals.photos_changed.emit(list(paths))

    # -- selection, neighbours, history ----------------------------------------------
    def selected_path(self) -> str | None:
        index = self.grid.currentIndex()
        return self.proxy.path_at(index.row()) if index.isValid() else None

    def select_path(self, path: str, push: bool = True, center: bool = True) -> bool:
        """Select ``path`` in the grid and scroll to it (``center`` False: only as far as
        needed to show it); a filter or folder that hides it is cleared."""
        row = self.proxy.row_of(path)
        if row is None and self.filter_edit.text():
            self.filter_edit.clear()
            row = self.proxy.row_of(path)
        if row is None and self.proxy.folder:
            self.sidebar.select_folder("")
            row = self.proxy.row_of(path)
        if row is None:
            return False
        self._push_next = push
        index = self.proxy.index(row, 0)
        self.grid.setCurrentIndex(index)
        hint = QAbstractItemView.ScrollHint
        self.grid.scrollTo(index, hint.PositionAtCenter if center else hint.EnsureVisible)
        self._push_next = True
        return True

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
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
        if entry is not None and (self.state.model_error or not entry.has_vector):
            self._read_record(path)  # the grid lists no details; a neighbours query brings them
        self.preview_runner.submit(lambda: preview_job(path, PREVIEW_SIDE))
        self.strip.set_history(self.history.can_back(), self.history.can_forward())
        self.signals.photo_selected.emit(path)
        self.query_neighbours()

    def query_neighbours(self) -> None:
        """Neighbours of the current query: from the cache for library photos, else embedded."""
        path, library = self.current, self.state.library
        if path is None or library is None or self.queries.requery():
            return
        k = self.strip.k_box.value()
        entry = self.photos.entry(path)
        inside = entry is not None
        if self.state.model_error and not (entry and entry.has_vector):
            title = f"Similar to {shown(os.path.basename(path))}"
            self.signals.weights_needed.emit(messages.describe(self.state.model_error), title)
            return
        self.query_runner.submit(lambda: neighbours_job(library, path, k, inside))
        name = html.escape(shown(os.path.basename(path)))
        self.strip.title.setText(f"Similar to <b>{name}</b>: searching…")

    def _on_neighbours(self, result: tuple) -> None:
        query, matches, *record = result  # a query of several photos has no record
        if query != self.current:
            return
        self._on_record(record[0] if record else None)  # details first, whoever ended first
        self.strip.show_matches(query, matches)
        self.signals.neighbours_ready.emit(query, matches)

    def _on_neighbours_failed(self, exc: Exception) -> None:
        if self.current and self.photos.photo_of(self.current) is None:
            self._read_record(self.current)  # the details the answer would have brought
        message = messages.describe(exc, scanning=self.state.scanning())
        title = f"Similar to {shown(os.path.basename(self.current or ''))}"
        self.strip.show_message(message, title)
        self.signals.similarity_unavailable.emit(message)

    def _read_record(self, path: str) -> None:
        """Read the full record of a grid photo in a worker (``_on_record`` shows it)."""
        library: Library | None = self.state.library
        if library is not None and self.photos.row_of(path) is not None:
            self.record_runner.submit(lambda: library.photo(path))

    def _on_record(self, photo: Photo | None) -> None:
        """A selected photo's full record (the grid lists none): its details are shown."""
        if photo is None:
            return
        self.photos.set_record(photo)
        self.preview.set_record(str(photo.path), photo)

    def _on_preview(self, result: tuple) -> None:
        path, image, size, companions = result
        self.preview.set_image(path, image, size=size, companions=companions)

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

    # -- drops: a photo file, or a picture a browser drags as data -------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.queries.accepts_drop(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.queries.drop(event.mimeData()):
            event.acceptProposedAction()

    # -- small slots ---------------------------------------------------------------
    def _on_grid_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_viewer(self.proxy.path_at(index.row()))

    # -- the viewer and the sidebar --------------------------------------------------
    def open_viewer(self, path: str | None = None) -> None:
        """Show ``path`` (default: the selected photo) full-window, with the strip under it."""
        path = path or self.selected_path()
        if not path:
            return
        self.viewer.take_strip(self.strip)
        self.pages.setCurrentWidget(self.viewer)
        self.bar.hide()
        self.viewer.show_path(path)
        self.viewer.setFocus()

    def close_viewer(self, path: str = "") -> None:
        """Back to the grid, on the last photo shown, scrolled only as far as needed."""
        self.strip.setMaximumHeight(16_777_215)  # QWIDGETSIZE_MAX: the splitter sizes it again
        self.main_split.insertWidget(1, self.strip)
        self.pages.setCurrentWidget(self.main_split)
        self.bar.show()
        if path:
            self.select_path(path, push=False, center=False)
        self.grid.setFocus()

    def _step_in_grid(self, path: str, delta: int) -> str | None:
        """The photo ``delta`` places from ``path`` in the grid's order, clamped to its ends."""
        row, count = self.proxy.row_of(path), self.proxy.rowCount()
        if row is None or not count:
            return None
        return self.proxy.path_at(max(0, min(count - 1, row + delta)))

    def jump_to_date(self, key: str) -> None:
        """Select the first photo of a year ("2019") or month ("2019-07") in the grid, sorting
        by date first if needed ("0000": the photos with no date, last)."""
        if self.photos.sort_role != DateKeyRole:
            self.sort_box.setCurrentText("Date taken")
        row = self.photos.first_row_dated("9999" if key == "0000" else key)
        while row is not None and row < self.photos.rowCount():
            index = self.proxy.mapFromSource(self.photos.index(row))
            if index.isValid():  # the first of them the filter shows
                self.select_path(self.proxy.path_at(index.row()))
                self.grid.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)
                return
            row += 1

    def _on_sort(self, name: str) -> None:
        selected = self.selected_path()
        self.photos.set_sort(name)
        self._set_order()
        if selected:
            self.select_path(selected, push=False)

    def _set_order(self) -> None:
        """The library's listings come sorted as the grid shows them (sorted in workers)."""
        self.state.arrange = partial(listing, sort_role=self.photos.sort_role)
        self.state.by_date = self.photos.sort_role == DateKeyRole

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Esc in the grid or the filter field clears the filter (when there is one); the
        pointer and keys in the grid hold back a reordering listing (``_on_listed``)."""
        if watched in (self.grid, self.grid.viewport()) and event.type() in _ACTIVITY:
            self._active.start()
        if (event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape
                and self.filter_edit.text()):  # fmt: skip
            self.filter_edit.clear()
            return True
        return super().eventFilter(watched, event)

    def _show_controls(self) -> None:
        """The welcome page shows no control that has nothing to act on (zoom, filter, sort,
        preview, strip, sidebar); the photos bring them back."""
        photos = self.grid_stack.currentWidget() is self.grid
        for widget in (self.bar, self.preview, self.strip, self.sidebar):
            widget.setVisible(photos)

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _update_count(self, *_args: object) -> None:
        shown_, total = self.proxy.rowCount(), self.photos.rowCount()
        self.signals.photos_counted.emit(shown_, total)
        if self.state.library is not None and total == 0 and not self.state.scanning():
            self.welcome.set_text(
                "No photos in this folder yet. Open another folder, or add photos and press F5."
            )

"""The side pane (preview, details, actions), the neighbours strip and the welcome page."""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosim.api import human_size
from photosim.app.browse.delegate import ThumbDelegate
from photosim.app.browse.models import NeighbourModel
from photosim.app.browse.roles import SORTS
from photosim.core.errors import shown
from photosim.core.events import Photo
from photosim.core.text import camera_name, plural


def file_url(path: str) -> QUrl:
    """A file URL keeping every byte of the name (``fromLocalFile`` drops undecodable ones)."""
    return QUrl.fromEncoded(Path(path).absolute().as_uri().encode("ascii"))


def theme_icon(name: str, fallback: QIcon | None = None) -> QIcon:
    icon = QIcon.fromTheme(name)
    return icon if not icon.isNull() else (fallback or QIcon())


class PreviewPane(QWidget):
    """A large upright preview fitted to the pane, the photo's details and three actions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: str | None = None
        self._image: QImage | None = None
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(160, 120)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.name = QLabel(textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.name.setFont(font)
        self.details = QLabel(textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setWordWrap(True)
        self.open_button = QPushButton(theme_icon("document-open"), "Open")
        self.folder_button = QPushButton(theme_icon("folder-open"), "Show in folder")
        self.copy_button = QPushButton(theme_icon("edit-copy"), "Copy path")
        self.open_button.setToolTip("Open with the system's photo viewer")
        self.open_button.clicked.connect(self.open_photo)
        self.folder_button.clicked.connect(self.show_in_folder)
        self.copy_button.clicked.connect(self.copy_path)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.folder_button, self.copy_button):
            buttons.addWidget(button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.name)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.show_photo(None)

    def show_photo(self, path: str | None, photo: Photo | None = None, note: str = "") -> None:
        """Details of ``path`` now; the image follows with ``set_image``."""
        self.path = path
        self._image = None
        self._facts = (photo, note)
        self._size: int | None = None
        self._companions: list[str] = []
        self.image.clear()
        for button in (self.open_button, self.folder_button, self.copy_button):
            button.setEnabled(path is not None)
        if path is None:
            self.name.setText("")
            self.details.setText("")  # one hint is enough: the strip's, under the grid
            return
        self.image.setText("Loading…")
        self.name.setText(shown(os.path.basename(path)))
        self.details.setText(self._describe(path, photo, note))

    def _describe(self, path: str, photo: Photo | None, note: str, size: int | None = None) -> str:
        """Folder, pixels and bytes, date, camera and lens: from the record, never the disk here."""
        lines = [shown(Path(path).parent)]
        facts = []
        if photo and photo.width and photo.height:
            facts.append(f"{photo.width} × {photo.height}")
        size = photo.size if photo and photo.size else size
        if size is not None:
            facts.append(human_size(size))
        if facts:
            lines.append(" · ".join(facts))
        when = []
        if photo and photo.taken:
            when.append(datetime.fromisoformat(photo.taken).strftime("%Y-%m-%d %H:%M"))
        camera = camera_name(photo.make, photo.model) if photo else ""
        if camera:
            when.append(camera)
        if photo and photo.lens:
            when.append(photo.lens)
        if when:
            lines.append(" · ".join(when))
        if self._companions:
            names = ", ".join(shown(os.path.basename(c)) for c in self._companions)
            lines.append(f"With: {names}")
        if photo and photo.error:
            lines.append(f"Cannot be read: {photo.error}")
        if note:
            lines.append(note)
        return "\n".join(lines)

    def set_image(
        self,
        path: str,
        image: QImage | None,
        error: str | None = None,
        size: int | None = None,
        companions: list[str] | None = None,
    ) -> None:
        """The loaded image (or why not), the file's size and the files that travel with it
        (a RAW's JPEG, sidecars, a Live Photo's video), read with it in the worker."""
        if path != self.path:
            return  # a late answer for a photo no longer shown
        self._image = image
        if companions is not None:
            self._companions = companions
        if size is not None:
            self._size = size
            self.details.setText(self._describe(path, *self._facts, size=size))
        if image is None:
            self.image.setText(f"Cannot show this photo: {error}" if error else "")
        self._fit()

    def set_record(self, path: str, photo: Photo) -> None:
        """The library's record of the photo shown, read after it was selected."""
        if path != self.path:
            return  # a late answer for a photo no longer shown
        self._facts = (photo, self._facts[1])
        self.details.setText(self._describe(path, *self._facts, size=self._size))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._image is None:
            return
        size = self.image.size()
        pixmap = QPixmap.fromImage(self._image)
        if pixmap.width() > size.width() or pixmap.height() > size.height():
            pixmap = pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)  # fmt: skip
        self.image.setPixmap(pixmap)

    def open_photo(self) -> None:
        """Open with the desktop's handler for the file type (never a shell)."""
        if self.path:
            QDesktopServices.openUrl(file_url(self.path))

    def show_in_folder(self) -> None:
        if self.path:
            QDesktopServices.openUrl(file_url(str(Path(self.path).parent)))

    def copy_path(self) -> None:
        if self.path:
            QGuiApplication.clipboard().setText(shown(self.path))


class NeighboursPane(QWidget):
    """'Similar to X' with Back/Forward, the minimum-score slider, k, and the strip itself."""

    activated = Signal(str)  # a neighbour's path: walk to it
    back = Signal()
    forward = Signal()
    k_changed = Signal(int)

    def __init__(self, model: NeighbourModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.title = QLabel()
        self.back_button = QToolButton(arrowType=Qt.ArrowType.LeftArrow, toolTip="Back (Backspace)")
        self.forward_button = QToolButton(
            arrowType=Qt.ArrowType.RightArrow, toolTip="Forward (Alt+Right)"
        )
        self.back_button.clicked.connect(self.back)
        self.forward_button.clicked.connect(self.forward)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=0)
        self.slider.setFixedWidth(160)
        self.slider.setToolTip("Hide matches below this similarity")
        self.slider_label = QLabel(
            alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        widest = self.slider_label.fontMetrics().horizontalAdvance("100%")
        self.slider_label.setFixedWidth(widest + 4)  # "5%" to "100%": the row never shifts
        self.slider.valueChanged.connect(self._on_slider)
        self.k_box = QSpinBox(minimum=1, maximum=200, value=12)
        self.k_box.setToolTip("How many similar photos to show")
        self.k_box.valueChanged.connect(self.k_changed)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.back_button)
        header.addWidget(self.forward_button)
        header.addSpacing(16)
        header.addWidget(QLabel("min score"))
        header.addWidget(self.slider)
        header.addWidget(self.slider_label)
        header.addSpacing(16)
        header.addWidget(QLabel("show"))
        header.addWidget(self.k_box)
        self.view = QListView()
        self.view.setObjectName("neighbours")
        self.delegate = ThumbDelegate(120, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(False)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setMouseTracking(True)
        self.view.clicked.connect(self._on_activated)
        self.view.activated.connect(self._on_activated)
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(self.view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)
        self._on_slider(0)
        self.set_history(False, False)
        self.show_message("Select a photo to see its most similar photos here.")

    def sizeHint(self) -> QSize:
        return QSize(800, self.delegate.side + 90)

    def min_score(self) -> float:
        return self.slider.value() / 100

    def set_history(self, can_back: bool, can_forward: bool) -> None:
        self.back_button.setEnabled(can_back)
        self.forward_button.setEnabled(can_forward)

    def reset(self) -> None:
        """As at start: no query, no history (another library, or a finished step's note)."""
        self.model.set_matches([])
        self.set_history(False, False)
        self.show_message("Select a photo to see its most similar photos here.")

    def show_progress(self, text: str) -> None:
        """A note of work under way; :meth:`reset` or the next answer replaces it."""
        self.show_message(text)
        self.progress_shown = True

    def show_message(self, text: str, title: str = "") -> None:
        self.progress_shown = False
        self.title.setText(title)
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def show_matches(self, query: str, matches: list) -> None:
        self.progress_shown = False
        name = shown(self.model.label(query))  # with its folder when another bears its name
        self.title.setText(f"Similar to <b>{html.escape(name)}</b>")
        self.title.setToolTip(shown(query))
        self.model.set_matches(matches)
        self._update_empty()

    def _update_empty(self) -> None:
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.view)
            self.view.scrollToTop()
        elif self.model.matches:
            self.message.setText(
                f"Nothing as similar as {self.slider.value()}%: "
                f"{self.model.hidden()} weaker matches are hidden. Lower the minimum score to see them."
            )
            self.stack.setCurrentWidget(self.message)
        else:
            self.message.setText("No other photo in the library to compare with yet.")
            self.stack.setCurrentWidget(self.message)

    def _on_slider(self, value: int) -> None:
        self.slider_label.setText(f"{value}%")
        self.model.set_min_score(value / 100)
        if self.stack.currentWidget() is self.view or self.model.matches:
            self._update_empty()

    def _on_activated(self, index) -> None:
        if index.isValid():
            self.activated.emit(self.model.path_at(index.row()))


class WelcomePage(QWidget):
    """What the grid area says when there is nothing to show, with what to do about it."""

    open_folder = Signal()
    open_recent = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        font = self.text.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.text.setFont(font)
        self.button = QPushButton(theme_icon("folder-open"), "Open a folder of photos…")
        self.button.clicked.connect(self.open_folder)
        self.recent = QVBoxLayout()
        column = QVBoxLayout()
        column.addStretch(2)
        column.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.button)
        row.addStretch()
        column.addLayout(row)
        column.addLayout(self.recent)
        column.addStretch(3)
        self.setLayout(column)
        self.set_text("Open a folder of photos to browse it and find similar shots.")

    def set_text(self, text: str) -> None:
        self.text.setText(text)

    def set_recent(self, folders: list[str]) -> None:
        while self.recent.count():
            widget = self.recent.takeAt(0).widget()
            if widget:
                widget.deleteLater()
        for folder in folders[:6]:
            button = QPushButton(folder, flat=True)
            button.setToolTip(f"Open {folder} again")
            button.clicked.connect(lambda _=False, f=folder: self.open_recent.emit(f))
            self.recent.addWidget(button, alignment=Qt.AlignmentFlag.AlignHCenter)


class BrowseBar(QToolBar):
    """The toolbar above the grid: thumbnail zoom, path filter, sort order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Browse", parent, objectName="browse", movable=False)
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
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(QLabel(" Zoom "))
        self.addWidget(self.zoom)
        self.addWidget(spacer)
        self.addWidget(self.filter_edit)
        self.addWidget(QLabel("  Sort "))
        self.addWidget(self.sort_box)


class FailuresDialog(QDialog):
    """Every file the scans could not read, with the reason (non-modal)."""

    def __init__(self, lines: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        count = len(lines)
        summary = (
            f"{plural(count, 'file')} could not be read and were skipped; your files were not "
            "changed."
            if count
            else "No skipped files."
        )
        self.table = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.table.setHeaderLabels(["File", "Reason"])
        for path, reason in lines:
            item = QTreeWidgetItem([path, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
            self.table.addTopLevelItem(item)
        self.table.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(summary, wordWrap=True))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str]]:
        return [
            (self.table.topLevelItem(i).text(0), self.table.topLevelItem(i).text(1))
            for i in range(self.table.topLevelItemCount())
        ]

"""Queries the grid cannot express alone: a file from anywhere, several selected photos, and a
picture dragged from a browser (as data, never downloaded). Owned by the Photos pane.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, QMimeData, QObject, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QListView

from photosim.api import open_filter
from photosim.app.browse.panes import NeighboursPane, PreviewPane
from photosim.app.browse.proxy import PhotoProxy
from photosim.app.commands import Commands
from photosim.app.library_state import LibraryState
from photosim.app.signals import Signals
from photosim.app.workers import Runner, pil_to_qimage

DROPPED = "the dropped image"
NO_LIBRARY = "Open a folder of photos first, then drop a photo to compare."


def image_from_mime(mime: QMimeData) -> Image.Image | None:
    """The picture a drag carries as data (a browser's image drag), without any download."""
    for fmt in mime.formats():
        if fmt.startswith("image/"):
            data = bytes(mime.data(fmt))
            try:
                image = Image.open(io.BytesIO(data))
                image.load()
                return image.convert("RGB")
            except Exception:
                continue
    if mime.hasImage():
        qimage = QImage(mime.imageData())
        if not qimage.isNull():
            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            qimage.save(buffer, "PNG")
            return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    return None


class Pane(Protocol):
    """What the queries use of the Photos pane that owns them (``BrowsePane``)."""

    state: LibraryState
    signals: Signals
    grid: QListView
    proxy: PhotoProxy
    preview: PreviewPane
    strip: NeighboursPane
    query_runner: Runner
    current: str | None

    def select_path(self, path: str, push: bool = True) -> bool: ...
    def show_query(self, path: str, outside: bool = False) -> None: ...


class QueryActions(QObject):
    """File > Find Similar to…, Similar to These (also the grid's context menu), and drops."""

    def __init__(self, pane: Pane, commands: Commands) -> None:
        super().__init__(pane.grid)
        self.pane = pane
        self.special: tuple[str, Callable[[int], list]] | None = None  # (label, fn(k))
        commands.add(self, "file", "&Find Similar to…", self.choose_query_file,
                     shortcut="Ctrl+Shift+F", icon="edit-find", section=110)  # fmt: skip
        self.many_action = commands.add(self, "file", "Similar to &These",
                                        self.similar_to_selection, shortcut="Ctrl+Shift+S",
                                        section=110,
                                        tip="Photos like all the selected ones together")  # fmt: skip
        grid = pane.grid
        grid.addAction(self.many_action)
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        # Ctrl/Shift-click add to the selection; a plain click still selects one photo.
        grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def _say(self, text: str) -> None:
        self.pane.signals.status_message.emit(text)

    # -- a file from anywhere -------------------------------------------------------------
    def choose_query_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.pane.grid, "Find photos similar to…", str(Path.home()), open_filter()
        )
        if path:
            self.query_file(path)

    def query_file(self, path: str) -> None:
        """Neighbours in the library of any image file; it is not added."""
        if self.pane.state.library is None:
            self._say(NO_LIBRARY)
            return
        path = str(Path(path).absolute())
        if not self.pane.select_path(path):
            self.pane.grid.selectionModel().clearCurrentIndex()
            self.pane.show_query(path, outside=True)

    # -- several photos ---------------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.pane.grid.selectionModel().selectedIndexes()})
        return [self.pane.proxy.path_at(r) for r in rows]

    def similar_to_selection(self) -> None:
        """Photos like all the selected ones (their mean vector); the selection is left out."""
        paths = self.selected_paths()
        library = self.pane.state.library
        if len(paths) < 2 or library is None:
            if paths:
                self.pane.show_query(paths[0])
            return
        self.start(f"{len(paths)} selected photos", lambda k: library.similar_to_many(paths, k))

    # -- a picture held in memory -------------------------------------------------------------
    def query_image(self, image: Image.Image) -> None:
        """Neighbours of a picture held in memory (a browser's drag): nothing is saved."""
        library = self.pane.state.library
        if library is None:
            self._say(NO_LIBRARY)
            return
        preview = self.pane.preview
        self.pane.grid.selectionModel().clearCurrentIndex()
        preview.show_photo(None)
        preview.name.setText("Dropped image")
        preview.details.setText("From the drag: compared, not saved or added.")
        preview._image = pil_to_qimage(image)
        preview._fit()
        self.start(DROPPED, lambda k: library.similar_to_image(image, k))

    def start(self, label: str, fn: Callable[[int], list]) -> None:
        """Show the neighbours of a query that is no single photo, named ``label``."""
        self.special = (label, fn)
        self.pane.current = label
        self.requery()

    def requery(self) -> bool:
        """Ask again for a query that is no single photo (k changed, scan done); False if
        the current query is a photo."""
        if self.special is None or self.pane.current != self.special[0]:
            return False
        label, fn = self.special
        k = self.pane.strip.k_box.value()
        self.pane.query_runner.submit(lambda: (label, fn(k)))
        self.pane.strip.title.setText(f"Similar to <b>{label}</b>: searching…")
        return True

    # -- drops ---------------------------------------------------------------------------------
    def accepts_drop(self, mime: QMimeData) -> bool:
        return (
            mime.hasImage() or mime.hasUrls() or any(f.startswith("image/") for f in mime.formats())
        )

    def drop(self, mime: QMimeData) -> bool:
        """A dropped file is queried; image data (a browser's drag) too; a bare web address
        is refused with a sentence why. True when the drop was taken."""
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if files and os.path.isfile(files[0]):
            self.query_file(files[0])
            return True
        image = image_from_mime(mime)
        if image is not None:
            self.query_image(image)
            return True
        if mime.hasUrls():
            self._say(
                "photosim does not download pictures from the web; drag the picture itself "
                "from the page, or save it and drop the file."
            )
        return False

"""Thumbnails for the views: decoded in a thread pool, kept in a bounded memory cache.

As in vimiv-qt's thumbnail manager, each thumbnail is one ``QRunnable``; the
result comes back as a signal with the photo's path. Views ask only for what
they paint, and ``drop_queued()`` forgets queued work when the user scrolls
away, so scrolling a huge library only ever decodes what is on screen.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from photosim.api import load_thumbnail, pair_label
from photosim.app.messages import describe
from photosim.app.workers import pil_to_qimage
from photosim.core.errors import DecodeError, shown

log = logging.getLogger(__name__)


class _Emitter(QObject):
    loaded = Signal(str, QImage)
    failed = Signal(str, str)
    labelled = Signal(str, str)  # a badge for the photo, e.g. "RAW+JPG"


class _ThumbJob(QRunnable):
    def __init__(self, path: str, emitter: _Emitter) -> None:
        super().__init__()
        self.path, self.emitter = path, emitter

    def run(self) -> None:
        try:
            image = load_thumbnail(self.path)
        except DecodeError as exc:
            self.emitter.failed.emit(self.path, exc.reason)
        except OSError as exc:
            self.emitter.failed.emit(self.path, f"cannot read the file ({exc.strerror or exc})")
        except Exception as exc:
            log.warning("thumbnail of %s failed", shown(self.path), exc_info=True)
            self.emitter.failed.emit(self.path, describe(exc))
        else:
            label = pair_label(self.path)  # in the worker: it lists the photo's folder
            if label:
                self.emitter.labelled.emit(self.path, label)
            self.emitter.loaded.emit(self.path, pil_to_qimage(image))


class Thumbnails(QObject):
    """Shared by every view: ``get(path)`` gives a pixmap now or None and loads it.

    ``ready(path)`` says a thumbnail arrived, ``failed(path, reason)`` that the
    file cannot be shown; views then repaint that item.
    """

    ready = Signal(str)
    failed = Signal(str, str)

    def __init__(self, max_bytes: int = 256 << 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(2, min(4, os.cpu_count() or 2)))
        self.max_bytes = max_bytes
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._bytes = 0
        self._errors: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._queued: set[str] = set()
        self._emitter = _Emitter(self)
        self._emitter.loaded.connect(self._on_loaded)
        self._emitter.failed.connect(self._on_failed)
        self._emitter.labelled.connect(self._labels.__setitem__)

    def get(self, path: str) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and it is queued for loading."""
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._errors and path not in self._queued:
            self._queued.add(path)
            self.pool.start(_ThumbJob(path, self._emitter))
        return None

    def error(self, path: str) -> str | None:
        """Why this file has no thumbnail, if it failed."""
        return self._errors.get(path)

    def label(self, path: str) -> str | None:
        """A badge for the photo (a RAW+JPEG pair: "RAW+JPG"), known once its thumbnail loaded."""
        return self._labels.get(path)

    def forget(self, path: str) -> None:
        """Drop what is known about ``path`` (the file changed)."""
        self._errors.pop(path, None)
        self._labels.pop(path, None)
        pixmap = self._pixmaps.pop(path, None)
        if pixmap is not None:
            self._bytes -= _cost(pixmap)

    def drop_queued(self) -> None:
        """Forget work not started yet: the items scrolled out of view."""
        self.pool.clear()
        self._queued.clear()

    def pending(self) -> int:
        return len(self._queued)

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    def _on_loaded(self, path: str, image: QImage) -> None:
        self._queued.discard(path)
        pixmap = QPixmap.fromImage(image)
        self._pixmaps[path] = pixmap
        self._bytes += _cost(pixmap)
        while self._bytes > self.max_bytes and len(self._pixmaps) > 1:
            _, old = self._pixmaps.popitem(last=False)
            self._bytes -= _cost(old)
        self.ready.emit(path)

    def _on_failed(self, path: str, reason: str) -> None:
        self._queued.discard(path)
        self._errors[path] = reason
        self.failed.emit(path, reason)


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4

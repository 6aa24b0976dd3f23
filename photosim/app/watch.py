"""Watching a library that another process is scanning (the app then only reads it).

When the app's own scan meets ``LibraryBusy``, it polls a cheap stamp of the
library (its change counter and photo count) in a worker every few seconds and
says when it changed, so the window can show the other scan's photos. Every few
polls it also says ``retry``: the other scan may have ended without changing
anything, and the window's own scan should then run.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from photosim.api import Library
from photosim.app.workers import Worker

WATCH_EVERY_MS = 3000
RETRY_EVERY = 5  # polls


def stamp(library: Library) -> tuple[str | None, int]:
    """What changes when a scan writes: the library's version and its number of photos."""
    return library.change_stamp()


class LibraryWatch(QObject):
    """Polls ``stamp(library)`` off the GUI thread; ``changed`` when it differs from before."""

    changed = Signal()
    retry = Signal()

    def __init__(self, interval_ms: int = WATCH_EVERY_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self._poll)
        self._library: Library | None = None
        self._last: tuple | None = None
        self._worker: Worker | None = None
        self._polls = 0

    def watch(self, library: Library | None) -> None:
        """Start watching ``library`` (a no-op when it is watched already)."""
        if library is None or library is self._library:
            return
        self.stop()
        self._library = library
        self.timer.start()
        self._poll()

    def stop(self) -> None:
        self.timer.stop()
        if self._worker is not None:
            self._worker.abandon()
        self._library, self._last, self._worker, self._polls = None, None, None, 0

    def watching(self) -> bool:
        return self._library is not None

    def _poll(self) -> None:
        library = self._library
        if library is None or self._worker is not None:
            return
        worker = Worker(lambda _abort: stamp(library), name="photosim-watch")
        worker.finished.connect(lambda value: self._on_stamp(worker, value))
        worker.errored.connect(lambda _exc: self._on_stamp(worker, None))
        self._worker = worker
        worker.start()

    def _on_stamp(self, worker: Worker, value: tuple | None) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        if value is None:
            return
        before, self._last = self._last, value
        self._polls += 1
        if before is not None and value != before:
            self._polls = 0
            self.changed.emit()
        elif self._polls % RETRY_EVERY == 0:
            self.retry.emit()

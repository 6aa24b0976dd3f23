"""Work off the GUI thread: one-shot tasks in a pool and the cancellable scan worker.

The scan follows superqt's generator-worker pattern: the engine's scan is a
generator of progress events; the worker iterates it in a thread, checks an
abort flag between items, and forwards events to the GUI in small batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from photosim.errors import PhotosimError
from photosim.events import ScanProgress
from photosim.library import Library

log = logging.getLogger(__name__)

# How often the GUI hears from the scan: often enough to feel live, rarely enough to stay light.
EMIT_EVERY_S = 0.15


def friendly(exc: BaseException) -> str:
    """One sentence for people: our own errors already are; others get a hint."""
    if isinstance(exc, PhotosimError):
        return str(exc)
    return f"Something went wrong ({type(exc).__name__}: {exc}); try again, or run photosim from a terminal to see details."


class _TaskSignals(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class Task(QRunnable):
    """Run ``fn()`` in a pool; its result or a friendly error comes back as a signal."""

    def __init__(self, ticket: int, fn: Callable[[], Any], signals: _TaskSignals) -> None:
        super().__init__()
        self.ticket, self.fn, self.signals = ticket, fn, signals

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported, never raised into Qt
            log.debug("task failed", exc_info=True)
            self.signals.failed.emit(self.ticket, friendly(exc))
        else:
            self.signals.done.emit(self.ticket, result)


class Runner(QObject):
    """Runs callables in its own pool; only the latest request's answer is delivered.

    ``submit`` returns at once; ``done(result)`` or ``failed(message)`` follow
    on the GUI thread. Answers to superseded requests are dropped, so a fast
    click-through shows the last photo's result, not a late earlier one.
    """

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, threads: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._signals = _TaskSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._ticket = 0

    def submit(self, fn: Callable[[], Any]) -> None:
        self._ticket += 1
        self.pool.clear()  # queued, not started: superseded
        self.pool.start(Task(self._ticket, fn, self._signals))

    def wait(self, msecs: int = 5000) -> bool:
        return self.pool.waitForDone(msecs)

    def _on_done(self, ticket: int, result: object) -> None:
        if ticket == self._ticket:
            self.done.emit(result)

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self.failed.emit(message)


class ScanWorker(QThread):
    """Runs ``library.scan()`` in a thread; ``cancel()`` stops it between photos.

    ``progress`` carries a list of ``ScanProgress`` events (batched);
    ``finished_scan`` the last event (None if the scan could not start);
    ``failed`` one sentence when the scan stopped on an error.
    """

    progress = Signal(list)
    finished_scan = Signal(object)
    failed = Signal(str)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._abort = threading.Event()

    def cancel(self) -> None:
        self._abort.set()

    @property
    def cancelled(self) -> bool:
        return self._abort.is_set()

    def run(self) -> None:
        batch: list[ScanProgress] = []
        last_emit = 0.0
        final: ScanProgress | None = None
        try:
            for event in self.library.scan(cancel=self._abort):
                batch.append(event)
                final = event
                now = time.monotonic()
                urgent = event.kind in ("walked", "indexing", "model_unavailable", "done")
                if urgent or now - last_emit >= EMIT_EVERY_S:
                    self.progress.emit(batch)
                    batch, last_emit = [], now
        except Exception as exc:
            log.debug("scan failed", exc_info=True)
            if batch:
                self.progress.emit(batch)
            self.failed.emit(friendly(exc))
            final = None
        else:
            if batch:
                self.progress.emit(batch)
        self.finished_scan.emit(final)

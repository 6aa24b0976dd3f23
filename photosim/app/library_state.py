"""The window's library: open, scan (the grid filling live), reload, change and close it.

:class:`LibraryState` holds the open ``Library`` and the workers that use it, and tells
the panes what happened through the signal hub (``app/signals.py``). Everything runs in
workers and nothing here waits: a superseded worker is abandoned and ends in the
background, and every slot checks that the worker calling it is the current one.
A change of the library (weights, model, folders) waits for the abandoned scan in its
own worker, never on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from photosim.api import Library, PhotoRow, known_db_for
from photosim.app import messages
from photosim.app.signals import Signals
from photosim.app.watch import LibraryWatch
from photosim.app.workers import Runner, ScanBatch, Worker, retire, scan_job
from photosim.core.errors import LibraryBusy, PhotosimError, shown
from photosim.core.events import ScanKind, ScanProgress

log = logging.getLogger(__name__)

FIRST_ROWS = 1000  # a big library shows this many photos first (more than a screenful)


Arrange = Callable[[Sequence[PhotoRow]], Any]  # the grid's rows in its order (a ``Listing``)


def grid_listing(library: Library, arrange: Arrange) -> tuple[Any, int]:
    """The grid's photos, sorted, and the count of skipped files: read in a worker.

    The light listing (no record per photo) keeps a 100,000-photo library's launch short.
    """
    return arrange(library.photo_listing()), library.failure_count()


def warm_index(library: Library) -> None:
    """Map the search index into memory (in the opener) so the first click answers as fast
    as the next ones; it is only an optimisation, so a failure is logged, never shown."""
    try:
        library.warm_index()
    except Exception:
        log.warning("warming the index of %s failed", shown(library.db_path), exc_info=True)


class LibraryState(QObject):
    """Open, scan, reload, change and close ``self.library``, never waiting on the GUI thread.

    ``engine_options`` are the ``Library`` keyword arguments (model, weights, device,
    backbone) a library opens with. ``arrange`` puts listed rows in the grid's order (in
    the worker that reads them); ``by_date`` says that order is the date taken, so a big
    library can show its earliest photos first. The Photos pane sets both.
    """

    def __init__(self, signals: Signals, engine_options: dict[str, Any],
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.signals = signals
        self.engine_options = engine_options
        self.arrange: Arrange = list
        self.by_date = True
        self.library: Library | None = None
        self.worker: Worker | None = None  # the scan of self.library
        self.opener: Worker | None = None  # the library being opened
        self.model_error: PhotosimError | None = None
        #: Run in the opener's worker on each library before it is shown or scanned.
        self.prepare: Callable[[Library], None] | None = None
        self.last_scan: ScanProgress | None = None
        self._final: ScanProgress | None = None  # a finished scan, until the grid reloaded
        self.records_runner = Runner("photosim-records", self)  # the library's photo list
        self.records_runner.done.connect(self._on_records)
        self.watch = LibraryWatch(parent=self)
        self.watch.changed.connect(self._on_library_changed)
        self.watch.retry.connect(self.start_scan)

    def _say(self, text: str) -> None:
        self.signals.status_message.emit(text)

    # -- opening and closing ------------------------------------------------------------
    def open_library(
        self, root: str | os.PathLike | None, db: str | os.PathLike | None = None
    ) -> None:
        """Open (or create) the library of ``root`` in a worker, then start its scan.

        Returns at once; ``signals.library_opened`` follows (or ``library_failed``).
        """
        self.close_library()
        options, arrange, prepare = dict(self.engine_options), self.arrange, self.prepare
        by_date = self.by_date

        def open_it(_abort: threading.Event) -> Iterator[tuple[Library, Any, int]]:
            folder, where = root, db
            if folder and where is None and (known := known_db_for(folder)):
                folder, where = None, known  # a folder of a library with several: all of it
            # download=False: the app fetches weights only when the user clicks Download
            library = Library([Path(folder)] if folder else None, where, download=False,
                              **options)  # fmt: skip
            if by_date and library.photo_count() > FIRST_ROWS:
                first = arrange(library.photo_listing_earliest(FIRST_ROWS))
                first.rows, first.keys = first.rows[:FIRST_ROWS], first.keys[:FIRST_ROWS]
                yield library, first, library.failure_count()  # a first screenful, at once
            if prepare is not None:  # before the scan (which starts once this returns)
                prepare(library)
            listed = grid_listing(library, arrange)
            warm_index(library)
            return (library, *listed)

        opener = Worker(open_it, name="photosim-open")
        opener.yielded.connect(lambda result: self._on_first_rows(opener, result))
        opener.finished.connect(lambda result: self._on_opened(opener, result))
        opener.errored.connect(lambda exc: self._on_open_failed(opener, exc))
        self.opener = opener
        self._say(f"Opening {shown(root or db)}…")
        opener.start()

    def _on_first_rows(self, opener: Worker, result: tuple[Library, Any, int]) -> None:
        """A big library's first screenful: shown (and usable) while the rest loads."""
        library, photos, failed = result
        if opener is self.opener and self.library is None:
            self._adopt(library, photos, failed)

    def _on_opened(self, opener: Worker, result: tuple[Library, Any, int] | None) -> None:
        if result is None:  # abandoned after its first rows: nothing more to show
            return
        library, photos, failed = result
        if opener is not self.opener:
            if library is not self.library:
                retire(library, [])
            return
        self.opener = None
        if library is self.library:  # its first rows are shown: the rest goes below them
            self.signals.photos_listed.emit(photos, True)
            self.signals.failures_counted.emit(failed)
        else:
            self._adopt(library, photos, failed)
        self.start_scan()

    def _adopt(self, library: Library, photos: Any, failed: int) -> None:
        """``library`` is the window's now: its photos go to the grid."""
        self.library = library
        self.signals.photos_listed.emit(photos, False)
        self.signals.failures_counted.emit(failed)
        self.signals.library_opened.emit(library)

    def _on_open_failed(self, opener: Worker, exc: Exception) -> None:
        if opener is not self.opener:
            return
        self.opener = None
        if self.library is not None:  # its first rows are shown: they stay, with the reason
            self._say(messages.describe(exc))
            return
        self._say("")
        self.signals.library_failed.emit(exc)

    def close_library(self) -> Worker | None:
        """Let go of the library at once: its workers are abandoned and it closes after them."""
        if self.opener is not None:
            self.opener.abandon()
            self.opener = None
        self.watch.stop()
        scan = self.abandon_scan()
        self.records_runner.cancel()
        library = self.library
        self.library, self.model_error, self.last_scan, self._final = None, None, None, None
        if library is not None:
            retire(library, [scan] if scan else [])
            self.signals.library_closed.emit()
        self.signals.failures_counted.emit(0)
        return scan

    def reload(self, final: ScanProgress | None = None) -> None:
        """List the library's photos again in a worker (``photos_listed`` follows).

        With ``final`` (a scan's last event), ``signals.scan_finished`` follows the reload.
        """
        library = self.library
        if library is None:
            return
        self._final = final or self._final
        arrange = self.arrange
        self.records_runner.submit(lambda: (library, *grid_listing(library, arrange)))

    def _on_records(self, result: tuple) -> None:
        library, records, failed = result
        if library is not self.library:
            return
        self.signals.photos_listed.emit(records, False)
        self.signals.failures_counted.emit(failed)
        final, self._final = self._final, None
        if final is not None:  # a finished scan: now the grid shows all of it
            self.signals.scan_finished.emit(final)

    # -- changing the library -----------------------------------------------------------
    def change(
        self,
        fn: Callable[[Library], Any],
        done: Callable[[Any], None] | None = None,
        failed: Callable[[Exception], None] | None = None,
    ) -> Worker | None:
        """Run ``fn(library)`` in a worker once the running scan has stopped, then scan again.

        The scan is abandoned now (it stops at its next check, in the background); the
        worker waits for it, so the GUI thread never does. ``done(result)`` or
        ``failed(exception)`` follow on the GUI thread, unless the library was closed since.
        """
        library = self.library
        if library is None:
            return None
        scan = self.abandon_scan()

        def job(_abort: threading.Event) -> Any:
            if scan is not None:
                scan.join()
            return fn(library)

        def ended(result: Any, ok: bool) -> None:
            if library is not self.library:
                return
            if not ok:
                if failed is not None:
                    failed(result)
                else:
                    self._say(messages.describe(result))
            elif done is not None:
                done(result)
            self.start_scan()

        worker = Worker(job, name="photosim-change")
        worker.finished.connect(lambda result: ended(result, True))
        worker.errored.connect(lambda exc: ended(exc, False))
        worker.start()
        return worker

    # -- the scan -----------------------------------------------------------------------
    def start_scan(self) -> None:
        if self.library is None or self.worker is not None:
            return
        worker = Worker(partial(scan_job, self.library), name="photosim-scan", stop_on_abort=False)
        worker.yielded.connect(partial(self._on_scan_batch, worker))
        worker.finished.connect(partial(self._on_scan_finished, worker))
        worker.errored.connect(partial(self._on_scan_errored, worker))
        self.worker = worker
        if not self.watch.watching():  # a retry while another scan runs stays quiet
            self.signals.scanning_changed.emit(True)
            self._say("Looking for photos…")
        worker.start()

    def cancel_scan(self) -> None:
        if self.worker is not None:
            self.worker.abort()
            self._say("Stopping the scan; finished work is kept…")

    def abandon_scan(self) -> Worker | None:
        """Stop listening to the scan and ask it to stop; it ends in the background."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.abandon()
            self.signals.scanning_changed.emit(False)
        return worker

    def scanning(self) -> bool:
        return self.worker is not None

    def _on_scan_batch(self, worker: Worker, batch: ScanBatch) -> None:
        if worker is not self.worker:
            return
        if self.watch.watching():  # our scan runs: the other one is over
            self.watch.stop()
            self.signals.scanning_changed.emit(True)
        for ev in batch.events:
            if ev.kind == ScanKind.MODEL_UNAVAILABLE:
                self.model_error = messages.model_problem(ev.model_error or ev.reason)
        self.signals.scan_batch.emit(batch)
        self.last_scan = batch.events[-1]
        self.signals.scan_progress.emit(self.last_scan)

    def _on_scan_errored(self, worker: Worker, exc: Exception) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        if isinstance(exc, LibraryBusy) and self.watch.watching():
            return  # a quiet retry: the other scan still runs
        self.signals.scanning_changed.emit(False)
        if isinstance(exc, LibraryBusy):
            self._say(messages.BUSY)
            self.watch.watch(self.library)
            self.reload()
        else:
            self._say(f"The scan stopped. {messages.describe(exc)}")
        self.signals.scan_failed.emit(exc)
        self.signals.scan_finished.emit(None)

    def _on_scan_finished(self, worker: Worker, final: ScanProgress | None) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self.watch.stop()
        self.signals.scanning_changed.emit(False)
        if final is not None and self.library is not None:
            self.model_error = messages.model_problem(final.model_error) or self.model_error
            self._say(messages.summary(final, self.model_error))
            self.reload(final)
        else:
            self.signals.scan_finished.emit(final)

    def _on_library_changed(self) -> None:
        """Another process wrote to the library: show its photos, then try our scan again."""
        self.reload()
        self.start_scan()

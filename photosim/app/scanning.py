"""Scanning from the window: the worker's lifecycle, the grid filling live, the status bar.

A mixin of ``MainWindow`` (kept apart to keep the window readable); it uses the
window's library, models, status widgets and signal hub. Every slot checks that
the worker calling it is the current one: a worker abandoned when another folder
was opened may still end later, and is ignored then.
"""

from __future__ import annotations

import logging
from functools import partial

from photosim.app import messages
from photosim.app.tasks import ScanBatch, Worker, scan_job
from photosim.errors import LibraryBusy
from photosim.events import ScanKind, ScanProgress

log = logging.getLogger(__name__)


class ScanMixin:
    """Start, follow, cancel and finish the background scan of ``self.library``."""

    def start_scan(self) -> None:
        if self.library is None or self.worker is not None:
            return
        worker = Worker(partial(scan_job, self.library), name="photosim-scan", stop_on_abort=False)
        worker.yielded.connect(partial(self._on_scan_batch, worker))
        worker.finished.connect(partial(self._on_scan_finished, worker))
        worker.errored.connect(partial(self._on_scan_errored, worker))
        self.worker = worker
        if not self.watch.watching():  # a retry while another scan runs stays quiet
            self._set_scanning(True)
            self.status_text.setText("Looking for photos…")
        worker.start()

    def cancel_scan(self) -> None:
        if self.worker is not None:
            self.worker.abort()
            self.status_text.setText("Stopping the scan; finished work is kept…")

    def abandon_scan(self) -> Worker | None:
        """Stop listening to the scan and ask it to stop; it ends in the background."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.abandon()
            self._set_scanning(False)
        return worker

    def scanning(self) -> bool:
        return self.worker is not None

    def _set_scanning(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        self.cancel_action.setEnabled(on)
        self.rescan_action.setEnabled(not on)

    def _on_scan_batch(self, worker: Worker, batch: ScanBatch) -> None:
        if worker is not self.worker:
            return
        if self.watch.watching():  # our scan runs: the other one is over
            self.watch.stop()
            self._set_scanning(True)
        found = []
        for ev in batch.events:
            if ev.kind == ScanKind.FOUND and ev.path is not None:
                found.append(str(ev.path))
            elif ev.kind == ScanKind.REMOVED and ev.path is not None:
                self.photos.remove_path(str(ev.path))
            elif ev.kind == ScanKind.MODEL_UNAVAILABLE:
                self.model_error = messages.model_problem(ev.model_error or ev.reason)
        self.photos.add_paths(found)
        for photo in batch.photos.values():
            self.photos.update_photo(photo)
        last = batch.events[-1]
        self.last_scan = last
        self._show_progress(last)
        self.signals.scan_progress.emit(last)

    def _show_progress(self, ev: ScanProgress) -> None:
        if ev.kind in (ScanKind.FOUND, ScanKind.REMOVED, ScanKind.INDEXING) or not ev.total:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
        self.status_text.setText(messages.progress(ev))

    def _on_scan_errored(self, worker: Worker, exc: Exception) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        if isinstance(exc, LibraryBusy) and self.watch.watching():
            return  # a quiet retry: the other scan still runs
        self._set_scanning(False)
        if isinstance(exc, LibraryBusy):
            self.status_text.setText(messages.BUSY)
            self.watch.watch(self.library)
            self.reload_photos()
        else:
            self.status_text.setText(f"The scan stopped. {messages.describe(exc)}")
        self.signals.scan_failed.emit(exc)
        self.signals.scan_finished.emit(None)

    def _on_scan_finished(self, worker: Worker, final: ScanProgress | None) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self.watch.stop()
        self._set_scanning(False)
        if final is not None and self.library is not None:
            self.model_error = messages.model_problem(final.model_error) or self.model_error
            self.status_text.setText(messages.summary(final, self.model_error))
            self.reload_photos(final)
        else:
            self.signals.scan_finished.emit(final)

    def _on_library_changed(self) -> None:
        """Another process wrote to the library: show its photos, then try our scan again."""
        self.reload_photos()
        self.start_scan()

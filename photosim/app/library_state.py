"""The window's library: opening, scanning (the grid filling live), reloading, closing.

A mixin of ``MainWindow`` (kept apart to keep the window an assembler of panes);
it uses the window's models, status widgets and signal hub. All of it runs in
workers. Every slot checks that the worker calling it is the current one: a worker
abandoned when another folder was opened may still end later, and is ignored then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from photosim.api import Library, known_db_for
from photosim.app import messages
from photosim.app.browse.models import DateKeyRole, History, Listing, listing
from photosim.app.workers import ScanBatch, Worker, retire, scan_job
from photosim.core.errors import LibraryBusy, shown
from photosim.core.events import ScanKind, ScanProgress

log = logging.getLogger(__name__)

FIRST_ROWS = 1000  # a big library shows this many photos first (more than a screenful)


def grid_listing(library: Library, sort_role: int) -> tuple[Listing, int]:
    """The grid's photos, sorted, and the count of skipped files: read in a worker.

    The light listing (no record per photo) keeps a 100,000-photo library's launch short.
    """
    return listing(library.photo_listing(), sort_role), library.failure_count()


def warm_index(library: Library) -> None:
    """Map the search index into memory (in the opener) so the first click answers as fast
    as the next ones; it is only an optimisation, so a failure is logged, never shown."""
    try:
        library.warm_index()
    except Exception:
        log.warning("warming the index of %s failed", shown(library.db_path), exc_info=True)


class LibraryMixin:
    """Open, scan, reload and close ``self.library``, never waiting on the GUI thread."""

    def open_library(
        self, root: str | os.PathLike | None, db: str | os.PathLike | None = None
    ) -> None:
        """Open (or create) the library of ``root`` in a worker, then start its scan.

        Returns at once; ``signals.library_opened`` follows (or the welcome page says why not).
        """
        self.close_library()
        options, sort_role = self.engine_options, self.photos.sort_role

        def open_it(_abort) -> Iterator[tuple[Library, Listing, int]]:
            folder, where = root, db
            if folder and where is None and (known := known_db_for(folder)):
                folder, where = None, known  # a folder of a library with several: all of it
            library = Library([Path(folder)] if folder else None, where, **options)
            if sort_role == DateKeyRole and library.photo_count() > FIRST_ROWS:
                first = listing(library.photo_listing_earliest(FIRST_ROWS), sort_role)
                first.rows, first.keys = first.rows[:FIRST_ROWS], first.keys[:FIRST_ROWS]
                yield library, first, library.failure_count()  # a first screenful, at once
            listed = grid_listing(library, sort_role)
            warm_index(library)
            return (library, *listed)

        opener = Worker(open_it, name="photosim-open")
        opener.yielded.connect(lambda result: self._on_first_rows(opener, result))
        opener.finished.connect(lambda result: self._on_opened(opener, result))
        opener.errored.connect(lambda exc: self._on_open_failed(opener, exc))
        self.opener = opener
        self.status_text.setText(f"Opening {shown(root or db)}…")
        opener.start()

    def _on_first_rows(self, opener: Worker, result: tuple[Library, Listing, int]) -> None:
        """A big library's first screenful: shown (and usable) while the rest loads."""
        library, photos, failed = result
        if opener is self.opener and self.library is None:
            self._adopt(library, photos, failed)

    def _on_opened(self, opener: Worker, result: tuple[Library, Listing, int] | None) -> None:
        if result is None:  # abandoned after its first rows: nothing more to show
            return
        library, photos, failed = result
        if opener is not self.opener:
            if library is not self.library:
                retire(library, [])
            return
        self.opener = None
        if library is self.library:  # its first rows are shown: the rest goes below them
            selected = self.selected_path()
            if not self.photos.extend_listing(photos) and selected:
                self.select_path(selected, push=False)
            self.set_failed_count(failed)
        else:
            self._adopt(library, photos, failed)
        self.start_scan()

    def _adopt(self, library: Library, photos: Listing, failed: int) -> None:
        """``library`` is the window's now: its photos in the grid, its folder in the recents."""
        self.library = library
        folder = str(library.roots[0]) if library.roots else str(library.db_path)
        self.setWindowTitle(f"photosim: {shown(folder)}")
        recent = [folder] + [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent", recent[:10])
        self._refresh_recent()
        self.photos.set_listing(photos)
        self.set_failed_count(failed)
        self.grid_stack.setCurrentWidget(self.grid)
        self.signals.library_opened.emit(library)

    def _on_open_failed(self, opener: Worker, exc: Exception) -> None:
        if opener is not self.opener:
            return
        self.opener = None
        if self.library is not None:  # its first rows are shown: they stay, with the reason
            self.status_text.setText(messages.describe(exc))
            return
        self.status_text.setText("")
        self.welcome.set_text(messages.describe(exc))
        self.grid_stack.setCurrentWidget(self.welcome)
        self.signals.library_failed.emit(exc)

    def close_library(self) -> Worker | None:
        """Let go of the library at once: its workers are abandoned and it closes after them."""
        if self.opener is not None:
            self.opener.abandon()
            self.opener = None
        self.watch.stop()
        scan = self.abandon_scan()
        for runner in (self.query_runner, self.preview_runner, self.records_runner,
                       self.record_runner):  # fmt: skip
            runner.cancel()
        if self.library is not None:
            retire(self.library, [scan] if scan else [])
            self.signals.library_closed.emit()
        self.library, self.model_error, self.last_scan, self._final = None, None, None, None
        self.history, self.current = History(), None
        self.photos.set_photos([])
        self.neighbours.set_matches([])
        self.preview.show_photo(None)
        self.set_failed_count(0)
        return scan

    def reload_photos(self, final: ScanProgress | None = None) -> None:
        """Load the library's photos in a worker; the grid keeps its selection.

        With ``final`` (a scan's last event), ``signals.scan_finished`` follows the reload.
        """
        library = self.library
        if library is None:
            return
        self._final = final or self._final
        sort_role = self.photos.sort_role
        self.records_runner.submit(lambda: (library, *grid_listing(library, sort_role)))

    def _on_records(self, result: tuple) -> None:
        library, records, failed = result
        if library is not self.library:
            return
        selected = self.selected_path()
        self.photos.set_listing(records)
        self.set_failed_count(failed)
        if selected:
            self.select_path(selected, push=False)
        final, self._final = self._final, None
        if final is not None:  # a finished scan: now the grid shows all of it
            if self.current:
                self._query_neighbours()
            self.signals.scan_finished.emit(final)

    # -- the scan ------------------------------------------------------------

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

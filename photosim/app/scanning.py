"""Scanning from the window: the worker's lifecycle, the grid filling live, the status bar.

A mixin of ``MainWindow`` (kept apart to keep the window readable); it uses the
window's library, models, status widgets and signal hub.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from photosim.app.tasks import ScanWorker
from photosim.events import ScanProgress


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class ScanMixin:
    """Start, follow, cancel and finish the background scan of ``self.library``."""

    def start_scan(self) -> None:
        if self.library is None or self.worker is not None:
            return
        self.worker = ScanWorker(self.library, self)
        self.worker.progress.connect(self._on_scan_progress)
        self.worker.failed.connect(self._on_scan_failed)
        self.worker.finished_scan.connect(self._on_scan_finished)
        self._set_scanning(True)
        self.status_text.setText("Looking for photos…")
        self.worker.start()

    def cancel_scan(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status_text.setText("Stopping the scan; finished work is kept…")

    def stop_scan(self, wait: bool = False) -> None:
        worker = self.worker
        if worker is None:
            return
        worker.cancel()
        if wait:
            worker.wait()
            self._on_scan_finished(None)

    def scanning(self) -> bool:
        return self.worker is not None

    def _set_scanning(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        self.cancel_action.setEnabled(on)
        self.rescan_action.setEnabled(not on)

    def _on_scan_progress(self, batch: list[ScanProgress]) -> None:
        found, changed = [], []
        for ev in batch:
            if ev.kind == "found" and ev.path is not None:
                found.append(str(ev.path))
            elif ev.kind == "removed" and ev.path is not None:
                self.photos.remove_path(str(ev.path))
            elif ev.photo_id is not None:
                changed.append(ev.photo_id)
            elif ev.kind == "model_unavailable":
                self.model_error = ev.reason
        self.photos.add_paths(found)
        if self.library is not None:
            for photo_id in changed[-500:]:
                if photo := self.library.photo(photo_id):
                    self.photos.update_photo(photo)
        last = batch[-1]
        self.last_scan = last
        self._show_progress(last)
        self.signals.scan_progress.emit(last)

    def _show_progress(self, ev: ScanProgress) -> None:
        if ev.kind in ("found", "removed") or not ev.total:
            self.progress.setRange(0, 0)
            self.status_text.setText(f"Looking for photos… {ev.found:,} found")
        elif ev.kind == "indexing":
            self.progress.setRange(0, 0)
            self.status_text.setText("Building the similarity index…")
        else:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
            parts = [f"Scanning {ev.done:,} / {ev.total:,}"]
            if ev.rate:
                parts.append(f"{ev.rate:.1f} photos/s")
            if eta := _eta(ev.eta_s):
                parts.append(eta)
            self.status_text.setText(" · ".join(parts))

    def _on_scan_failed(self, message: str) -> None:
        self.model_error = self.model_error or message
        QMessageBox.warning(self, "The scan stopped", message)

    def _on_scan_finished(self, final: ScanProgress | None) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        worker.wait()
        self._set_scanning(False)
        if final is not None and self.library is not None:
            self.model_error = final.model_error or self.model_error
            self._reload_keeping_selection()
            self.status_text.setText(self._summary(final))
            if self.current:
                self._query_neighbours()
        self.signals.scan_finished.emit(final)

    def _summary(self, ev: ScanProgress) -> str:
        if ev.cancelled:
            return f"Scan cancelled: {ev.done:,} of {ev.total:,} done; F5 resumes it."
        parts = [f"{ev.found:,} photos"]
        for label, value in (("new", ev.new), ("moved", ev.moved), ("removed", ev.removed),
                             ("skipped", ev.failed)):  # fmt: skip
            if value:
                parts.append(f"{value:,} {label}")
        text = "Up to date: " + ", ".join(parts)
        if self.model_error:
            text += ". Similarity is off until the model weights are found (Help > Model Weights)."
        elif not ev.found:
            text = "No photos in this folder. Open another one (Ctrl+O)."
        return text

    def _reload_keeping_selection(self) -> None:
        selected = self.selected_path()
        self.photos.set_photos(self.library.photos())
        if selected:
            self.select_path(selected, push=False)

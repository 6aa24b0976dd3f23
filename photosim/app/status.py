"""The status bar: what the app is doing, the scan's progress and Cancel, counts, skipped files.

It owns the scan commands (Rescan, Cancel Scan, Show Skipped Files) and listens to the
signal hub for everything it shows.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from photosim.api import Library
from photosim.app import messages
from photosim.app.browse.panes import FailuresDialog
from photosim.app.commands import Commands
from photosim.app.library_state import LibraryState
from photosim.app.signals import Signals
from photosim.app.workers import Worker
from photosim.core.events import ScanKind, ScanProgress


class StatusPane(QObject):
    """Widgets of the window's status bar (``install(bar)``) and the scan commands."""

    def __init__(self, state: LibraryState, signals: Signals, commands: Commands,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.state, self.signals = state, signals
        self.status_text = QLabel()
        self.progress = QProgressBar(maximumWidth=240, textVisible=False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the scan; finished work is kept")
        self.cancel_button.clicked.connect(state.cancel_scan)
        self.count_label = QLabel()
        self.failed_link = QLabel(visible=False)
        self.failed_link.setToolTip("Files that could not be read, each with the reason")
        self.failed_link.linkActivated.connect(lambda _link: self.show_failures())
        self.failures_dialog: FailuresDialog | None = None
        self.rescan_action = commands.add(self, "library", "&Rescan", state.start_scan,
                                          shortcut="F5", icon="view-refresh")  # fmt: skip
        self.cancel_action = commands.add(self, "library", "&Cancel Scan", state.cancel_scan,
                                          icon="process-stop")  # fmt: skip
        commands.add(self, "library", "Show &Skipped Files…", self.show_failures)
        signals.status_message.connect(self.status_text.setText)
        signals.scanning_changed.connect(self.set_scanning)
        signals.scan_progress.connect(self.show_progress)
        signals.failures_counted.connect(self.set_failed_count)
        signals.photos_counted.connect(self.set_count)
        self.set_scanning(False)

    def install(self, bar: QStatusBar) -> None:
        """Put the widgets into the window's status bar."""
        bar.addWidget(self.status_text, 1)
        for widget in (self.progress, self.cancel_button, self.failed_link, self.count_label):
            bar.addPermanentWidget(widget)

    def set_scanning(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        self.cancel_action.setEnabled(on)
        self.rescan_action.setEnabled(not on)

    def show_progress(self, ev: ScanProgress) -> None:
        busy = (
            ScanKind.FOUND,
            ScanKind.REMOVED,
            ScanKind.PREPARING,
            ScanKind.INDEXING,
            ScanKind.WALKED,
        )  # fmt: skip  (WALKED: the model loads, nothing to count yet)
        if ev.kind in busy or not ev.total:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
        self.status_text.setText(messages.progress(ev))

    def set_count(self, shown: int, total: int) -> None:
        self.count_label.setText(
            f"{total:,} photos" if shown == total else f"{shown:,} of {total:,} photos"
        )

    def set_failed_count(self, count: int) -> None:
        """The "N skipped" link (opens the list of skipped files with reasons)."""
        self.failed_link.setText(f'<a href="skipped">{count:,} skipped</a>')
        self.failed_link.setVisible(count > 0)

    def show_failures(self) -> None:
        """List every skipped file with its reason (read in a worker; the dialog follows)."""
        library = self.state.library
        if library is None:
            return
        worker = Worker(lambda _abort: library.failures(), name="photosim-failures")
        worker.finished.connect(lambda failures: self._show_failures_dialog(library, failures))
        worker.errored.connect(lambda exc: self.status_text.setText(messages.describe(exc)))
        worker.start()

    def _show_failures_dialog(self, library: Library, failures: list) -> None:
        if library is not self.state.library:
            return
        self.failures_dialog = FailuresDialog(messages.failure_lines(failures),
                                              self.status_text.window())  # fmt: skip
        self.failures_dialog.show()
        self.signals.failures_shown.emit(self.failures_dialog)

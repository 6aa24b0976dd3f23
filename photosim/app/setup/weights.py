"""Model weights from the app: choose a file, or download torchvision's, with progress and Cancel.

The download (:func:`photosim.models.weights.download`, the engine's own) runs in one of the
app's workers and writes into torch's cache (where torchvision looks for the weights)
through a temporary file, so a cancelled or failed download leaves nothing half-written.
Cancel never waits: the worker stops at its next chunk in the background. Errors come back
as one sentence for people.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photosim.api import download, expected_weights_file, validate_weights, weights_url
from photosim.app.workers import Worker

WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt *.bin *.ckpt);;All files (*)"


def check_weights(path: str, model: str) -> Worker:
    """``validate_weights`` in a worker (a large state dict takes ~0.5 s to read): ``finished``
    when the file fits ``model``, ``errored(WeightsInvalid)`` when not. Not started."""
    return Worker(lambda _abort: validate_weights(path, model), name="photosim-weights-check")


class _Progress(QObject):
    """Carries a download's progress from its worker thread to the dialog (queued)."""

    changed = Signal(int, int)


class DownloadDialog(QDialog):
    """A progress bar and Cancel while torchvision's weights of ``model`` download."""

    downloaded = Signal(str)  # the model name, once its weights are in torch's cache

    def __init__(self, model: str, parent: QWidget | None = None, url: str | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setWindowTitle(f"Downloading the {model} weights")
        self.label = QLabel(f"Downloading the pretrained {model} weights from pytorch.org…")
        self.label.setWordWrap(True)
        self.bar = QProgressBar(minimum=0, maximum=0)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button, alignment=Qt.AlignmentFlag.AlignRight)
        # Wide enough for its title and a two-line message (it was 247 x 106 px, both cut).
        width = self.fontMetrics().horizontalAdvance(self.windowTitle()) + 160
        self.setMinimumWidth(max(460, width))
        self.error: str | None = None
        self._progress = _Progress(self)
        self._progress.changed.connect(self._on_progress)
        progress = self._progress

        def fetch(abort: threading.Event) -> bool:  # torch is imported here, off the GUI thread
            def report(done: int, total: int) -> None:
                try:
                    progress.changed.emit(done, total)
                except RuntimeError:  # the dialog is gone: the download is being cancelled
                    abort.set()

            dest = expected_weights_file(model)
            return download(url or weights_url(model), dest, report, abort)

        self.worker = Worker(fetch, name="photosim-download")
        self.worker.finished.connect(self._on_finished)
        self.worker.errored.connect(self._on_errored)
        self.worker.start()

    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(done * 1000 / total))
        self.label.setText(f"Downloading the {self.model} weights: {done / 1e6:.0f} MB")

    def _on_finished(self, complete: bool) -> None:
        if complete:
            self.downloaded.emit(self.model)
            self.accept()

    def _on_errored(self, _exc: Exception) -> None:
        self.error = (
            f"The {self.model} weights could not be downloaded (no network?); "
            f"connect to the internet and try again, or choose a weights file instead."
        )
        self.label.setText(self.error)
        self.bar.hide()  # no 0% bar left after a failure
        self.cancel_button.setText("Close")
        self.adjustSize()

    def reject(self) -> None:
        self.worker.abandon()  # it stops at its next chunk and removes its partial file
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.worker.abandon()
        super().closeEvent(event)


class WeightsPrompt(QWidget):
    """The degraded state's offer: why similarity is off, and two ways to turn it on."""

    choose = Signal()
    download = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("weights_prompt")
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.error.setStyleSheet("color: #c0392b;")
        self.choose_button = QPushButton("Choose weights file…")
        self.choose_button.setToolTip("A .pth state dict of the model (Edit > Preferences)")
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Get torchvision's pretrained weights (needs internet)")
        self.choose_button.clicked.connect(self.choose)
        self.download_button.clicked.connect(self.download)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.choose_button)
        row.addWidget(self.download_button)
        row.addStretch()
        layout = QVBoxLayout(self)
        layout.addStretch()
        layout.addWidget(self.message)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addStretch()

    def set_text(self, text: str, error: str = "") -> None:
        self.message.setText(text)
        self.error.setText(error)
        self.error.setVisible(bool(error))


class WeightsDialog(QDialog):
    """Help > Model Weights: the state of the weights, and the same two ways to supply them."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model weights")
        self.setMinimumWidth(520)
        self.prompt = WeightsPrompt(self)
        self.prompt.set_text(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(buttons)

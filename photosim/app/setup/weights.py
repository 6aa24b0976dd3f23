"""Model weights from the app: choose a file, or download torchvision's, with progress and Cancel.

The download runs in a ``QThread`` and writes into torch's own cache (where torchvision looks
for the weights), through a temporary file so a cancelled or failed download leaves nothing
half-written. Errors come back as one sentence for people.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
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

from photosim.core.errors import PhotosimError

WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt *.bin *.ckpt);;All files (*)"
CHUNK = 1 << 20
# torch.hub's convention: "resnet50-11ad3fa6.pth" carries the start of the file's SHA-256.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")


def weights_url(model: str) -> str:
    """Where torchvision downloads the default weights of ``model`` from."""
    from photosim.models.embed import _weights_enum  # torch: only when weights are asked for

    return _weights_enum(model).url


class Downloader(QThread):
    """Fetch ``url`` into ``dest`` off the GUI thread; ``cancel()`` stops between chunks.

    ``progress(done, total)`` (total 0 when unknown), then ``succeeded(dest)`` or
    ``failed(sentence)``; a cancelled download emits ``failed("")``.
    """

    progress = Signal(int, int)
    succeeded = Signal(str)
    failed = Signal(str)

    def __init__(self, url: str, dest: Path, model: str, parent=None) -> None:
        super().__init__(parent)
        self.url, self.dest, self.model = url, Path(dest), model
        self._abort = threading.Event()

    def cancel(self) -> None:
        self._abort.set()

    def run(self) -> None:
        tmp = self.dest.with_name(f".{self.dest.name}.{os.getpid()}.part")
        try:
            self._fetch(tmp)
        except Exception:
            self.failed.emit(
                f"The {self.model} weights could not be downloaded (no network?); "
                f"connect to the internet and try again, or choose a weights file instead."
            )
        else:
            if self._abort.is_set():
                self.failed.emit("")
            else:
                self.succeeded.emit(str(self.dest))
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _fetch(self, tmp: Path) -> None:
        import urllib.request  # here, not at launch: ~80 ms of imports (http, email, ssl)

        self.dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with urllib.request.urlopen(self.url, timeout=30) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            read = getattr(response, "read1", response.read)  # what has arrived: Cancel is quick
            while not self._abort.is_set() and (chunk := read(CHUNK)):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                self.progress.emit(done, total)
        if self._abort.is_set():
            return
        if (m := _HASH_IN_NAME.search(os.path.basename(self.url))) and not (
            digest.hexdigest().startswith(m.group(1))
        ):
            raise OSError("the download is damaged")
        os.replace(tmp, self.dest)


class WeightsCheck(QThread):
    """``validate_weights`` off the GUI thread: ``passed()`` or ``refused(WeightsInvalid)``."""

    passed = Signal()
    refused = Signal(object)

    def __init__(self, path: str, model: str, parent=None) -> None:
        super().__init__(parent)
        self.path, self.model = path, model

    def run(self) -> None:
        try:
            from photosim.models.embed import validate_weights

            validate_weights(self.path, self.model)
        except PhotosimError as exc:
            self.refused.emit(exc)
        else:
            self.passed.emit()


class DownloadDialog(QDialog):
    """A progress bar and Cancel while torchvision's weights of ``model`` download."""

    downloaded = Signal(str)  # the model name, once its weights are in torch's cache

    def __init__(self, model: str, parent=None, url: str | None = None) -> None:
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
        self.error: str | None = None
        from photosim.models.embed import expected_weights_file

        dest = expected_weights_file(model)
        self.worker = Downloader(url or weights_url(model), dest, model, self)
        self.worker.progress.connect(self._on_progress)
        self.worker.succeeded.connect(self._on_succeeded)
        self.worker.failed.connect(self._on_failed)
        self.worker.start()

    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(done * 1000 / total))
        self.label.setText(f"Downloading the {self.model} weights: {done / 1e6:.0f} MB")

    def _on_succeeded(self, _dest: str) -> None:
        self.downloaded.emit(self.model)
        self.accept()

    def _on_failed(self, message: str) -> None:
        if not message:  # cancelled
            return
        self.error = message
        self.label.setText(message)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel_button.setText("Close")

    def reject(self) -> None:
        self.worker.cancel()
        self.worker.wait()
        super().reject()

    def closeEvent(self, event) -> None:
        self.worker.cancel()
        self.worker.wait()
        super().closeEvent(event)


class WeightsPrompt(QWidget):
    """The degraded state's offer: why similarity is off, and two ways to turn it on."""

    choose = Signal()
    download = Signal()

    def __init__(self, parent=None) -> None:
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

    def __init__(self, text: str, parent=None) -> None:
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

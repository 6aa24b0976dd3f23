"""Edit > Preferences: model, device, precision, backend, neighbours shown, thumbnail cache.

Values live in the app's QSettings (``photosim.app.main_window.app_settings()``); the window
applies them at once where it can (see ``SetupActions.apply_preferences``). Command-line
flags win over them for the run they are given to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photosim.api import (
    BACKENDS,
    DEFAULT_MODEL,
    MODELS,
    PRECISIONS,
    cache_size,
    clear_thumbnails,
    prune_thumbnails,
    runtime_version,
)
from photosim.app.browse.panes import human_size
from photosim.app.workers import Worker

DEVICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_CACHE_MB = 1000


# Each preference: its field, its key in QSettings, and its choices (None: a number).
FIELDS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("model", "engine/model", MODELS),
    ("device", "engine/device", DEVICES),
    ("precision", "engine/precision", PRECISIONS),
    ("backend", "engine/backend", BACKENDS),
    ("k", "view/k", None),
    ("cache_mb", "cache/thumbnail_mb", None),
)


@dataclass(frozen=True)
class Preferences:
    """What the dialog edits; ``read``/``write`` keep it in QSettings (keys in FIELDS)."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    precision: str = "auto"
    k: int = 12
    cache_mb: int = DEFAULT_CACHE_MB
    backend: str = "auto"

    @classmethod
    def read(cls, s: QSettings) -> Preferences:
        defaults, values = cls(), {}
        for name, key, choices in FIELDS:
            default = getattr(defaults, name)
            value = s.value(key, default)
            if choices is None:
                values[name] = int(value)
            else:  # a value of another version (or hand-edited) falls back to the default
                values[name] = str(value) if str(value) in choices else default
        return cls(**values)

    def write(self, s: QSettings) -> None:
        for name, key, _choices in FIELDS:
            s.setValue(key, getattr(self, name))
        s.sync()


def engine_defaults(options: dict, s: QSettings) -> dict:
    """The window's engine options with what the command line left open taken from settings."""
    if options.get("backbone") is not None:
        return options  # an injected model (tests, benchmarks) is used as is
    prefs = Preferences.read(s)
    out = dict(options)
    if out.get("model") is None and s.contains("engine/model"):
        out["model"] = prefs.model
    if out.get("weights") is None and out.get("model"):  # else: once the library's model is known
        out["weights"] = remembered_weights(s, out["model"])
    if out.get("device", "auto") == "auto":
        out["device"] = prefs.device
    if out.get("precision") is None:
        out["precision"] = prefs.precision  # the engine's speed option
    if out.get("backend") is None:
        out["backend"] = prefs.backend
    return out


def remembered_weights(s: QSettings, model: str) -> str | None:
    """The weights file chosen in the app for ``model``, if it is still there."""
    import os

    value = str(s.value(f"weights/{model}", "") or "")
    return value if value and os.path.isfile(value) else None


def available_devices() -> list[str]:
    """The accelerators torch can use here: "cuda", "mps" (the CPU always is). Imports torch."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return [name for name, ok in (("cuda", torch.cuda.is_available()),
                                  ("mps", mps is not None and mps.is_available())) if ok]  # fmt: skip


@dataclass(frozen=True)
class Machine:
    """What this computer offers the model: accelerators, in words, and the runtimes."""

    devices: tuple[str, ...]
    detected: str
    openvino: bool


def machine() -> Machine:
    """The accelerators and runtimes here; imports torch (~1.5 s the first time): a worker's."""
    import torch

    devices = available_devices()
    found = [f"CUDA ({torch.cuda.get_device_name(0)})"] if "cuda" in devices else []
    found += ["Apple MPS"] if "mps" in devices else []
    detected = "Detected: " + (", ".join(found) + " and the CPU" if found else "the CPU only")
    return Machine(tuple(devices), detected, runtime_version("openvino") is not None)


def prune_in_background(max_bytes: int) -> threading.Thread:
    """Shrink the thumbnail cache to ``max_bytes`` without holding up the window."""
    thread = threading.Thread(target=prune_thumbnails, args=(max_bytes,), daemon=True)
    thread.start()
    return thread


def clear_cache() -> int:
    """Delete every cached thumbnail; what the cache holds afterwards (in a worker)."""
    clear_thumbnails()
    return cache_size()


WAITING = "…"  # shown until a worker's figure arrives


class PreferencesDialog(QDialog):
    """The form; ``values()`` is what the user chose (applied by the window on OK).

    What needs torch or the disk (the accelerators, the cache's size, clearing it, whether a
    model's weights are here) comes from workers: the labels say "…" until it arrives.
    ``weights_for(model)`` is asked, in a worker, whether a model's weights are on this
    computer; ``download_requested``/``choose_requested`` carry the model whose weights the
    user wants before switching to it.
    """

    download_requested = Signal(str)
    choose_requested = Signal(str)

    def __init__(
        self,
        prefs: Preferences,
        parent: QWidget | None = None,
        weights_for: Callable[[str], int | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._weights_for = weights_for
        self._workers: list[Worker] = []
        self.model_box = self._combo(MODELS, prefs.model,
                                     "A larger ResNet is slower; changing it re-embeds the library")  # fmt: skip
        self.device_box = self._combo(DEVICES, prefs.device, "")
        self.device_label = QLabel(WAITING)
        self._enable(self.device_box, ("cuda", "mps"), False)  # until the machine is known
        self.precision_box = self._combo(PRECISIONS, prefs.precision,
                                         "Half precision is faster on GPUs; auto picks for you")  # fmt: skip
        self.backend_box = self._combo(BACKENDS, prefs.backend,
                                       "Where the model runs on a CPU: auto uses OpenVINO where "
                                       "it is faster at the same vectors")  # fmt: skip
        self.k_box = QSpinBox(minimum=1, maximum=200, value=prefs.k)
        self.cache_box = QSpinBox(minimum=10, maximum=100_000, singleStep=100, suffix=" MB")
        self.cache_box.setValue(prefs.cache_mb)
        self.cache_label = QLabel(WAITING)
        self.clear_button = QPushButton("Clear cache")
        self.clear_button.setToolTip("Delete every cached thumbnail (they are made again)")
        self.clear_button.clicked.connect(self._on_clear)
        self.weights_note = QLabel(wordWrap=True)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Get torchvision's pretrained weights (needs internet)")
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.setToolTip("A .pth state dict of the model")
        self.download_button.clicked.connect(lambda: self._ask(self.download_requested))
        self.choose_button.clicked.connect(lambda: self._ask(self.choose_requested))
        self.weights_row = QWidget()  # the note above its two buttons, under the model
        column = QVBoxLayout(self.weights_row)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.weights_note)
        column.addWidget(self._row(QLabel(), self.download_button, self.choose_button))
        self.weights_row.setVisible(False)
        self.setMinimumWidth(480)
        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow(self.weights_row)  # the whole width: a sentence
        for label, field in (("Device", self.device_box), ("", self.device_label),
                             ("Precision", self.precision_box), ("Backend", self.backend_box),
                             ("Similar photos shown", self.k_box),
                             ("Thumbnail cache",
                              self._row(self.cache_box, self.clear_button, self.cache_label))):  # fmt: skip
            form.addRow(label, field)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._start(lambda _abort: machine(), self._on_machine)
        self._start(lambda _abort: cache_size(), self._show_cache_use)
        self.model_box.currentTextChanged.connect(self.check_weights)
        self.check_weights()

    @staticmethod
    def _combo(choices: tuple[str, ...], current: str, tip: str) -> QComboBox:
        box = QComboBox()
        box.addItems(list(choices))
        box.setCurrentText(current)
        box.setToolTip(tip)
        return box

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        """Widgets side by side in one form row (a label takes the room left)."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget, 1 if isinstance(widget, QLabel) else 0)
        return row

    @staticmethod
    def _enable(box: QComboBox, names: tuple[str, ...], enabled: bool) -> None:
        model = box.model()
        for name in names:
            model.item(box.findText(name)).setEnabled(enabled)  # type: ignore[attr-defined]

    def _start(self, job: Callable[[threading.Event], object], done: Callable) -> Worker:
        """``job`` in a worker; ``done(result)`` on the GUI thread unless the dialog closed."""
        worker = Worker(job, name="photosim-preferences")
        worker.finished.connect(done)
        self._workers.append(worker)
        worker.start()
        return worker

    def _ask(self, signal: Signal) -> None:
        signal.emit(self.model_box.currentText())  # type: ignore[attr-defined]

    def _on_machine(self, found: Machine) -> None:
        self.device_label.setText(found.detected)
        self._enable(self.device_box, tuple(found.devices), True)  # what is not here stays off
        self._enable(self.backend_box, ("openvino",), found.openvino)

    def check_weights(self, _model: str = "") -> None:
        """Say, before switching, when the chosen model's weights are not on this computer."""
        if self._weights_for is None:
            return
        model, ask = self.model_box.currentText(), self._weights_for
        self._start(lambda _abort: (model, ask(model)), self._on_weights)

    def _on_weights(self, answer: tuple[str, int | None]) -> None:
        model, size = answer
        if model != self.model_box.currentText():
            return  # the user has moved on to another model
        self.weights_note.setStyleSheet("")
        self.weights_note.setText(
            f"The {model} weights are not on this computer: with {model}, similarity is off "
            f"until you download them or choose a {model} weights file."
        )
        self._show_weights_row(size is None)

    def _show_weights_row(self, visible: bool) -> None:
        self.weights_row.setVisible(visible)
        # A wrapped label in a form gets one line's height: room for three, or none left over.
        self.weights_note.setMinimumHeight(3 * self.fontMetrics().lineSpacing())
        self.adjustSize()

    def show_weights_error(self, text: str) -> None:
        """A chosen file or a download that failed: one sentence under the model."""
        self.weights_note.setStyleSheet("color: #c0392b;")
        self.weights_note.setText(text)
        self._show_weights_row(True)

    def values(self) -> Preferences:
        return Preferences(
            model=self.model_box.currentText(),
            device=self.device_box.currentText(),
            precision=self.precision_box.currentText(),
            backend=self.backend_box.currentText(),
            k=self.k_box.value(),
            cache_mb=self.cache_box.value(),
        )

    def _show_cache_use(self, size: int) -> None:
        self.cache_label.setText(f"{human_size(size)} in use")
        self.clear_button.setEnabled(True)

    def _on_clear(self) -> None:
        self.clear_button.setEnabled(False)
        self.cache_label.setText("Clearing…")
        self._start(lambda _abort: clear_cache(), self._show_cache_use)

    def done(self, result: int) -> None:
        """Closing never waits: what is still running is let go and ends on its own."""
        for worker in self._workers:
            worker.abandon()
        self._workers.clear()
        super().done(result)

"""Edit > Preferences: model, device, precision, backend, neighbours shown, thumbnail cache.

Values live in the app's QSettings (``photosim.app.main_window.app_settings()``); the window
applies them at once where it can (see ``SetupActions.apply_preferences``). Command-line
flags win over them for the run they are given to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QSettings
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
    cache_size,
    clear_thumbnails,
    prune_thumbnails,
    runtime_version,
)
from photosim.app.browse.panes import human_size

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEFAULT_CACHE_MB = 1000


@dataclass(frozen=True)
class Preferences:
    """What the dialog edits; ``read``/``write`` keep it in QSettings."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    precision: str = "auto"
    k: int = 12
    cache_mb: int = DEFAULT_CACHE_MB
    backend: str = "auto"

    @classmethod
    def read(cls, s: QSettings) -> Preferences:
        def pick(key: str, choices: tuple[str, ...], default: str) -> str:
            value = str(s.value(key, default))
            return value if value in choices else default

        return cls(
            model=pick("engine/model", MODELS, DEFAULT_MODEL),
            device=pick("engine/device", DEVICES, "auto"),
            precision=pick("engine/precision", PRECISIONS, "auto"),
            backend=pick("engine/backend", BACKENDS, "auto"),
            k=int(s.value("view/k", 12)),
            cache_mb=int(s.value("cache/thumbnail_mb", DEFAULT_CACHE_MB)),
        )

    def write(self, s: QSettings) -> None:
        s.setValue("engine/model", self.model)
        s.setValue("engine/device", self.device)
        s.setValue("engine/precision", self.precision)
        s.setValue("engine/backend", self.backend)
        s.setValue("view/k", self.k)
        s.setValue("cache/thumbnail_mb", self.cache_mb)
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
    """The accelerators torch can use here: "cuda", "mps" (the CPU always is)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return [name for name, ok in (("cuda", torch.cuda.is_available()),
                                  ("mps", mps is not None and mps.is_available())) if ok]  # fmt: skip


def detected_devices() -> str:
    """What this computer offers, in words: the GPU by name, Apple's MPS, or the CPU only."""
    import torch

    found = []
    if "cuda" in available_devices():
        found.append(f"CUDA ({torch.cuda.get_device_name(0)})")
    if "mps" in available_devices():
        found.append("Apple MPS")
    return "Detected: " + (", ".join(found) + " and the CPU" if found else "the CPU only")


def prune_in_background(max_bytes: int) -> threading.Thread:
    """Shrink the thumbnail cache to ``max_bytes`` without holding up the window."""
    thread = threading.Thread(target=prune_thumbnails, args=(max_bytes,), daemon=True)
    thread.start()
    return thread


class PreferencesDialog(QDialog):
    """The form; ``values()`` is what the user chose (applied by the window on OK)."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.model_box = self._combo(MODELS, prefs.model)
        self.model_box.setToolTip("A larger ResNet is slower; changing it re-embeds the library")
        self.device_box = self._combo(DEVICES, prefs.device)
        self.device_label = QLabel(detected_devices())
        for i, name in enumerate(DEVICES):  # what is not there cannot be picked
            if name not in ("auto", "cpu") and name not in available_devices():
                self.device_box.model().item(i).setEnabled(False)
        self.precision_box = self._combo(PRECISIONS, prefs.precision)
        self.precision_box.setToolTip("Half precision is faster on GPUs; auto picks for you")
        self.backend_box = self._combo(BACKENDS, prefs.backend)
        self.backend_box.setToolTip("Where the model runs on a CPU: auto uses OpenVINO where "
                                    "it is faster at the same vectors")  # fmt: skip
        if runtime_version("openvino") is None:  # not installed: cannot be picked
            self.backend_box.model().item(BACKENDS.index("openvino")).setEnabled(False)
        self.k_box = QSpinBox(minimum=1, maximum=200, value=prefs.k)
        self.cache_box = QSpinBox(minimum=10, maximum=100_000, singleStep=100, suffix=" MB")
        self.cache_box.setValue(prefs.cache_mb)
        self.cache_label = QLabel()
        self.clear_button = QPushButton("Clear cache")
        self.clear_button.setToolTip("Delete every cached thumbnail (they are made again)")
        self.clear_button.clicked.connect(self._on_clear)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_box)
        cache_row.addWidget(self.clear_button)
        cache_row.addWidget(self.cache_label, 1)
        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow("Device", self.device_box)
        form.addRow("", self.device_label)
        form.addRow("Precision", self.precision_box)
        form.addRow("Backend", self.backend_box)
        form.addRow("Similar photos shown", self.k_box)
        form.addRow("Thumbnail cache", cache_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._show_cache_use()

    @staticmethod
    def _combo(choices: tuple[str, ...], current: str) -> QComboBox:
        box = QComboBox()
        box.addItems(list(choices))
        box.setCurrentText(current)
        return box

    def values(self) -> Preferences:
        return Preferences(
            model=self.model_box.currentText(),
            device=self.device_box.currentText(),
            precision=self.precision_box.currentText(),
            backend=self.backend_box.currentText(),
            k=self.k_box.value(),
            cache_mb=self.cache_box.value(),
        )

    def _show_cache_use(self) -> None:
        self.cache_label.setText(f"{human_size(cache_size())} in use")

    def _on_clear(self) -> None:
        clear_thumbnails()
        self._show_cache_use()

"""The Duplicates view's filter bar: which kinds of group to show and the two thresholds."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from photosim.app.dupes.models import KIND_TIPS

KINDS = ("exact", "near", "similar")
KIND_PLURAL = {"exact": "Identical files", "near": "Same pictures", "similar": "Similar shots"}


class FilterBar(QWidget):
    """Kind boxes and the near / similar sliders; ``changed()`` when the user moves one."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind_boxes = {k: QCheckBox(KIND_PLURAL[k]) for k in KINDS}
        for kind, box in self.kind_boxes.items():
            box.setChecked(True)
            box.setToolTip(KIND_TIPS[kind])
            box.toggled.connect(self.changed)
        self.near_slider, self.near_label = self._slider(
            "Same picture: the model's score from which a pair is checked on its pixels (lower "
            "checks more pairs; only pixels that agree make a group). Starts calibrated."
        )
        self.similar_slider, self.similar_label = self._slider(
            "Similar shots: the lowest similarity score shown. Starts calibrated for your model."
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for box in self.kind_boxes.values():
            layout.addWidget(box)
        layout.addSpacing(12)
        for text, slider, label in (("Same picture ≥", self.near_slider, self.near_label),
                                    ("Similar ≥", self.similar_slider, self.similar_label)):  # fmt: skip
            layout.addWidget(QLabel(text))
            layout.addWidget(slider)
            layout.addWidget(label)

    def _slider(self, tip: str) -> tuple[QSlider, QLabel]:
        slider = QSlider(Qt.Orientation.Horizontal, minimum=500, maximum=1000, value=900)
        slider.setFixedWidth(130)
        slider.setToolTip(tip)
        label = QLabel("0.900")
        slider.valueChanged.connect(lambda v: label.setText(f"{v / 1000:.3f}"))
        slider.valueChanged.connect(self.changed)
        return slider, label

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, box in self.kind_boxes.items() if box.isChecked())

    def thresholds(self) -> tuple[float, float]:
        """(near, similar) as the sliders say."""
        return self.near_slider.value() / 1000, self.similar_slider.value() / 1000

    def set_thresholds(self, near: float, similar: float) -> None:
        """Show these thresholds (the calibrated ones) without a ``changed``."""
        for slider, label, value in ((self.near_slider, self.near_label, near),
                                     (self.similar_slider, self.similar_label, similar)):  # fmt: skip
            slider.blockSignals(True)
            slider.setValue(round(value * 1000))
            slider.blockSignals(False)
            label.setText(f"{slider.value() / 1000:.3f}")

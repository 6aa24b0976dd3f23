"""Side-by-side compare of two photos: synchronised zoom and pan, a difference overlay, facts.

Both panes share one ``ViewState`` in *normalised* image coordinates (0..1 of
each image's width and height), so a resized copy lines up with its original
at every zoom. The images are decoded upright (EXIF applied) in a worker; the
difference image is ``|A - B|`` with B resized to A's size, amplified so small
re-encoding noise is visible. Nothing here writes to a photo.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops
from PySide6.QtCore import QObject, QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShortcut,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photosim.api import DupGroup, DupMember, is_sharper, load_image, sharpness
from photosim.app.browse.panes import human_size
from photosim.app.messages import describe
from photosim.app.workers import Runner, pil_to_qimage
from photosim.core.text import name_in_folder

COMPARE_SIDE = 2048  # decoded size of each side: sharp enough to judge at 4x zoom on screen
DIFF_GAIN = 4  # |A - B| is multiplied by this so faint differences show
MAX_ZOOM = 32.0


@dataclass(frozen=True)
class Side:
    """What the compare view shows about one photo (from a DupMember, or just a path)."""

    path: Path
    width: int | None = None
    height: int | None = None
    size: int | None = None
    taken: str | None = None
    sharpness: float | None = None
    title: str = ""

    @classmethod
    def of(cls, item: DupMember | str | os.PathLike, title: str = "") -> Side:
        """A ``DupMember``-like object or a path."""
        if isinstance(item, str | os.PathLike):
            return cls(Path(item), title=title)
        return cls(Path(item.path), item.width, item.height, item.size, item.taken,
                   item.sharpness, title)  # fmt: skip


def difference(a: Image.Image, b: Image.Image) -> tuple[Image.Image, float, int]:
    """Amplified ``|a - b|`` with ``b`` turned and resized onto ``a``, the mean difference (0..1)
    and the turn applied (degrees): a copy rotated in its pixels is compared the way it matches."""
    turn = _best_turn(a, b)
    if turn:
        b = b.rotate(turn, expand=True)
    b = b.resize(a.size, Image.Resampling.BILINEAR) if b.size != a.size else b
    arr = np.asarray(ImageChops.difference(a, b), dtype=np.uint16)
    mean = float(arr.mean()) / 255.0
    shown = Image.fromarray(np.clip(arr * DIFF_GAIN, 0, 255).astype(np.uint8), "RGB")
    return shown, mean, turn


def _best_turn(a: Image.Image, b: Image.Image) -> int:
    """0, 90, 180 or 270: the turn of ``b`` that matches ``a`` clearly best at 64 px, else 0."""
    small = np.asarray(a.convert("L").resize((64, 64)), dtype=np.float32)
    errors = {}
    for turn in (0, 90, 180, 270):
        other = b.rotate(turn, expand=True).convert("L").resize((64, 64))
        errors[turn] = float(np.abs(small - np.asarray(other, dtype=np.float32)).mean())
    best = min(errors, key=errors.get)
    return best if errors[best] < 0.5 * errors[0] else 0


def load_pair(left: Side, right: Side) -> dict:
    """Decode both sides upright, their difference and missing facts (runs in a worker)."""
    a, b = load_image(left.path, COMPARE_SIDE), load_image(right.path, COMPARE_SIDE)
    diff, mean, turn = difference(a, b)
    facts = [_facts(left, a), _facts(right, b)]
    shown = b.rotate(turn, expand=True) if turn else b  # a copy turned in its pixels, turned back
    return {"left": pil_to_qimage(a), "right": pil_to_qimage(shown), "diff": pil_to_qimage(diff),
            "mean_diff": mean, "turn": turn, "facts": facts, "paths": (left.path, right.path)}  # fmt: skip


def _facts(side: Side, image: Image.Image) -> dict:
    try:
        st = os.stat(side.path)
        size, mtime = side.size or st.st_size, st.st_mtime
    except OSError:
        size, mtime = side.size, None
    width, height = side.width, side.height
    if not width or not height:
        with Image.open(side.path) as im:  # header only: the real pixel size, not the decoded one
            width, height = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
    if side.taken:
        date = datetime.fromisoformat(side.taken).strftime("%Y-%m-%d %H:%M:%S") + " (taken)"
    elif mtime is not None:
        date = datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S") + " (file)"
    else:
        date = "unknown"
    # the engine's measure (at a fixed size, so comparable across copies of different sizes)
    sharp = side.sharpness if side.sharpness is not None else sharpness(image.convert("L"))
    return {"pixels": f"{width} × {height}", "megapixels": (width * height) / 1e6,
            "size": human_size(size) if size is not None else "?", "date": date,
            "sharpness": f"{sharp:.2f}", "sharp": float(sharp),
            "path": str(side.path)}  # fmt: skip


class ViewState(QObject):
    """Zoom (1 = whole image fits) and the normalised point at the centre: shared by both panes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.zoom = 1.0
        self.center = QPointF(0.5, 0.5)
        self.frame: QSizeF | None = None  # the shape both sides are drawn in (the left photo's)

    def set(self, zoom: float, center: QPointF) -> None:
        zoom = min(MAX_ZOOM, max(1.0, zoom))
        half = 0.5 / zoom  # keep the view on the image
        cx = min(1 - half, max(half, center.x()))
        cy = min(1 - half, max(half, center.y()))
        self.zoom, self.center = zoom, QPointF(cx, cy)
        self.changed.emit()

    def reset(self) -> None:
        self.set(1.0, QPointF(0.5, 0.5))


class ImagePane(QWidget):
    """One side: paints its image at the shared zoom and centre; wheel zooms, drag pans."""

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.image: QImage | None = None
        self.message = "Loading…"
        self._drag: QPointF | None = None
        self.setMinimumSize(240, 180)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        state.changed.connect(self.update)

    def set_image(self, image: QImage | None, message: str = "") -> None:
        self.image, self.message = image, message
        self.update()

    def image_rect(self) -> QRectF:
        """Where the whole image is painted (mostly off the widget when zoomed in).

        Both panes use the shared frame (the left photo's shape), so a resized or
        re-shaped copy covers exactly the same rectangle as its original.
        """
        frame = self.state.frame or QSizeF(self.image.width(), self.image.height())
        s = min(self.width() / frame.width(), self.height() / frame.height()) * self.state.zoom
        w, h = frame.width() * s, frame.height() * s
        c = self.state.center
        return QRectF(self.width() / 2 - c.x() * w, self.height() / 2 - c.y() * h, w, h)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Dark))
        if self.image is None or self.image.isNull():
            painter.setPen(self.palette().color(QPalette.ColorRole.BrightText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.state.zoom < 4)
        painter.drawImage(self.image_rect(), self.image)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.image is None:
            return
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        rect = self.image_rect()
        pos = event.position()
        under = QPointF((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())
        zoom = min(MAX_ZOOM, max(1.0, self.state.zoom * 1.25**steps))
        # keep the image point under the cursor where it is
        s = zoom / self.state.zoom
        c = self.state.center
        self.state.set(zoom, QPointF(under.x() + (c.x() - under.x()) / s,
                                     under.y() + (c.y() - under.y()) / s))  # fmt: skip
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None or self.image is None:
            return
        rect = self.image_rect()
        delta = event.position() - self._drag
        self._drag = event.position()
        c = self.state.center
        self.state.set(self.state.zoom, QPointF(c.x() - delta.x() / rect.width(),
                                                c.y() - delta.y() / rect.height()))  # fmt: skip

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:
        self._drag = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, _event: QMouseEvent) -> None:
        self.state.reset()


class ElidedLabel(QLabel):
    """One line of plain text cut with "…" to the width the layout gives it; the whole text
    in its tooltip (a long path or reason never pushes the panes apart, nor is cut silently)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._full, self._mode = "", mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._full, self._mode, width))


class CompareView(QWidget):
    """Two photos side by side with their facts; ``loaded`` fires when both are shown."""

    loaded = Signal()
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewState(self)
        self.sides: tuple[Side, Side] | None = None
        self.result: dict | None = None
        self.panes = (ImagePane(self.state), ImagePane(self.state))
        self.titles = (ElidedLabel(), ElidedLabel())
        self.facts = (QLabel(), QLabel())
        middle = Qt.TextElideMode.ElideMiddle  # a path keeps its start and its file name
        self.paths = (ElidedLabel(mode=middle), ElidedLabel(mode=middle))
        grid = QGridLayout()
        for col in (0, 1):
            font = self.titles[col].font()
            font.setBold(True)
            self.titles[col].setFont(font)
            self.facts[col].setMinimumHeight(4 * self.fontMetrics().lineSpacing() + 4)
            self.facts[col].setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            grid.setColumnStretch(col, 1)
            self.facts[col].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(self.titles[col], 0, col)
            grid.addWidget(self.panes[col], 1, col)
            grid.addWidget(self.facts[col], 2, col)
            grid.addWidget(self.paths[col], 3, col)
        grid.setRowStretch(1, 1)
        self.diff_box = QCheckBox("Difference overlay (D)")
        self.diff_box.setToolTip(
            f"Show |left − right| on the right, the right photo resized to the left one, ×{DIFF_GAIN}"
        )
        self.diff_box.toggled.connect(self._show_right)
        self.zoom_label = QLabel()
        fit = QPushButton("Fit")
        fit.setToolTip("Show both photos whole (or double-click a photo)")
        fit.clicked.connect(self.state.reset)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Wheel zooms, drag pans; both sides move together."))
        bar.addStretch()
        bar.addWidget(self.zoom_label)
        bar.addWidget(fit)
        bar.addWidget(self.diff_box)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(grid, 1)
        self.state.changed.connect(self._on_zoom)
        diff_key = QShortcut(QKeySequence("D"), self, self.diff_box.toggle)
        diff_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.runner = Runner(parent=self)
        self.runner.done.connect(self._on_loaded)
        self.runner.failed.connect(self._on_failed)
        self._on_zoom()

    def compare(self, left: DupMember | str | os.PathLike, right: DupMember | str | os.PathLike,
                titles: tuple[str, str] = ("", ""),
                names: tuple[str, str] | None = None) -> None:  # fmt: skip
        """Show ``left`` and ``right`` (DupMember-like objects or paths); decoding runs off-thread."""
        self.sides = (Side.of(left, titles[0]), Side.of(right, titles[1]))
        if names is None:  # same names: with their folders (the grid's rule)
            counts = Counter(side.path.name for side in self.sides)
            names = (name_in_folder(str(self.sides[0].path), counts),
                     name_in_folder(str(self.sides[1].path), counts))  # fmt: skip
        self.names = names
        self.result = None
        self.state.frame = None
        self.state.reset()
        for col, side in enumerate(self.sides):
            self.panes[col].set_image(None, "Loading…")
            self.titles[col].set_full_text(self._title(self.names[col], side))
            self.facts[col].setText("")
            self.paths[col].set_full_text(f"Path: {side.path}")
        sides = self.sides
        self.runner.submit(lambda: load_pair(*sides))

    def busy(self) -> bool:
        """Still loading the pair (tests wait on this with qtbot.waitUntil)."""
        return self.runner.busy()

    @staticmethod
    def _title(name: str, side: Side, note: str = "") -> str:
        return name + note + (f" · {side.title}" if side.title else "")

    def _on_loaded(self, result: dict) -> None:
        if self.sides is None or result["paths"] != (self.sides[0].path, self.sides[1].path):
            return
        self.result = result
        self.state.frame = QSizeF(result["left"].size())
        self.panes[0].set_image(result["left"])
        for col, facts in enumerate(result["facts"]):
            other = result["facts"][1 - col]
            self.facts[col].setText(self._facts_text(facts, other))
            self.facts[col].setToolTip(facts["path"])
        self._show_right()
        self.loaded.emit()

    def _on_failed(self, exc: BaseException) -> None:
        message = describe(exc)
        for pane in self.panes:
            pane.set_image(None, message)
        self.failed.emit(message)

    def _show_right(self, *_args) -> None:
        if self.result is None:
            return
        diff = self.diff_box.isChecked()
        self.panes[1].set_image(self.result["diff" if diff else "right"])
        side = self.sides[1]
        if diff:
            mean, turn = self.result["mean_diff"], self.result["turn"]
            turned = f", right turned {turn}° to match" if turn else ""
            self.titles[1].set_full_text(
                f"Difference ×{DIFF_GAIN} · mean {mean:.1%}{turned}: black is identical"
            )
        else:
            turn = self.result["turn"]
            note = f" (shown turned {turn}° to match)" if turn else ""
            self.titles[1].set_full_text(self._title(self.names[1], side, note))

    @staticmethod
    def _facts_text(facts: dict, other: dict) -> str:
        bigger = facts["megapixels"] > other["megapixels"]
        sharper = is_sharper(facts["sharp"], other["sharp"])  # as the keep rule judges it
        rows = [
            ("Pixels", facts["pixels"] + (" (more)" if bigger else "")),
            ("File", facts["size"]),
            ("Date", facts["date"]),
            ("Sharpness", facts["sharpness"] + (" (sharper)" if sharper else "")),
        ]
        return "\n".join(f"{k}: {v}" for k, v in rows)

    def _on_zoom(self) -> None:
        self.zoom_label.setText(f"Zoom {self.state.zoom:.1f}×  ")


class CompareDialog(QDialog):
    """The compare view in its own resizable window (not modal: the groups stay usable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare photos")
        self.view = CompareView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view)
        self.resize(1200, 760)

    def show_member(self, group: DupGroup, row: int) -> CompareDialog | None:
        """Show the member at ``row`` beside the group's keeper (the keeper beside the next
        photo); None when there is no such member."""
        if not 0 <= row < len(group.photos) or len(group.photos) < 2:
            return None
        keeper = next((m for m in group.photos if m.path == group.keep), group.photos[0])
        member = group.photos[row]
        other = member if member.path != keeper.path else group.photos[1 if row == 0 else 0]
        titles = tuple("suggested keeper" if m.path == group.keep else m.reason
                       for m in (keeper, other))  # fmt: skip
        counts = Counter(m.path.name for m in group.photos)  # named as on the group's cards
        names = (name_in_folder(str(keeper.path), counts), name_in_folder(str(other.path), counts))
        self.view.compare(keeper, other, titles, names)
        self.show()
        self.raise_()
        return self

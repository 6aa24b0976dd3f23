"""The viewer inside the app: one photo full-window, fit or 1:1, zoom and pan, arrows to flip.

Photos are decoded by the engine (upright by their EXIF orientation, colours converted to
sRGB) in workers, at most :data:`MAX_SIDE` pixels a side; the next and previous photos of
the grid's order are decoded ahead into a small cache, so the arrows flip at once. Esc (or
double-click) goes back; the window puts the grid back where it was, on the last photo shown.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QKeyEvent, QPainter, QPalette, QWheelEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photosim.api import load_image
from photosim.app.workers import Worker, pil_to_qimage
from photosim.core.errors import PhotosimError, shown

MAX_SIDE = 8192  # pixels: a 45 MP photo is shown at full size; beyond, scaled on decoding
CACHE = 5  # decoded photos kept: the one shown, two behind, two ahead
ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.02, 16.0


def decode_job(path: str) -> tuple[str, QImage | None, str | None]:
    """(path, upright sRGB image or None, why not) in a worker."""
    try:
        return path, pil_to_qimage(load_image(path, MAX_SIDE)), None
    except PhotosimError as exc:
        return path, None, str(exc)
    except OSError as exc:
        return path, None, f"{shown(os.path.basename(path))} could not be read ({exc.strerror})."


def desktop_open(url: QUrl) -> bool:
    """Ask the desktop to open ``url`` with its application; False when it has none."""
    return QDesktopServices.openUrl(url)


def open_externally(path: str) -> str:
    """Hand ``path`` to the desktop's application for it; "" on success, else a sentence."""
    from photosim.app.browse.panes import file_url

    if desktop_open(file_url(path)):
        return ""
    ext = os.path.splitext(path)[1].lower() or "such"
    return (f"No application on this desktop opens {ext} files; choose one in your desktop's "
            f"settings (Default Applications), or use Show in Folder.")  # fmt: skip


class ImageView(QWidget):
    """Paints one image: fitted to the widget, or at a scale; drag pans, the wheel zooms."""

    zoomed = Signal(float)  # the scale now (1.0: one image pixel per screen pixel)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.fit = True
        self._scale = 1.0
        self.offset = QPointF(0, 0)  # the image's top-left corner in widget coordinates
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.black)
        self.setPalette(palette)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.fit = True
        self._place()
        self.update()

    @property
    def scale(self) -> float:
        """The scale shown: in fit mode the one that fits (never above 1:1)."""
        if self.fit and self.image is not None and not self.image.isNull():
            w, h = max(1, self.width()), max(1, self.height())
            return min(1.0, w / self.image.width(), h / self.image.height())
        return self._scale

    def set_scale(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` keeping the image point under ``anchor`` (default: the centre)."""
        if self.image is None:
            return
        old = self.scale
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        if self.fit:
            self._place()
        point = (anchor - self.offset) / old  # image coordinates under the anchor
        self.fit, self._scale = False, scale
        self.offset = anchor - point * scale
        self._clamp()
        self.update()
        self.zoomed.emit(scale)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_scale(self.scale * factor, anchor)

    def fit_to_window(self) -> None:
        self.fit = True
        self._place()
        self.update()
        self.zoomed.emit(self.scale)

    def pan(self, dx: float, dy: float) -> None:
        if not self.fit:
            self.offset += QPointF(dx, dy)
            self._clamp()
            self.update()

    def _place(self) -> None:
        """Centre the image at the current scale."""
        if self.image is None:
            return
        s = self.scale
        self.offset = QPointF((self.width() - self.image.width() * s) / 2,
                              (self.height() - self.image.height() * s) / 2)  # fmt: skip

    def _clamp(self) -> None:
        """Keep the image on screen: centred along a side it does not fill, else no gaps."""
        if self.image is None:
            return
        s = self.scale
        w, h = self.image.width() * s, self.image.height() * s
        x, y = self.offset.x(), self.offset.y()
        x = (self.width() - w) / 2 if w <= self.width() else min(0, max(self.width() - w, x))
        y = (self.height() - h) / 2 if h <= self.height() else min(0, max(self.height() - h, y))
        self.offset = QPointF(x, y)

    def paintEvent(self, _event) -> None:
        if self.image is None or self.image.isNull():
            return
        painter = QPainter(self)
        smooth = self.scale < 1.0  # up close, the pixels as they are
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        s = self.scale
        target = QRectF(self.offset.x(), self.offset.y(), self.image.width() * s,
                        self.image.height() * s)  # fmt: skip
        painter.drawImage(target, self.image)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place() if self.fit else self._clamp()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP**steps, event.position())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            self.pan(delta.x(), delta.y())

    def mouseReleaseEvent(self, _event) -> None:
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event) -> None:
        event.ignore()  # the viewer's: a double-click on the photo goes back to the grid


class Viewer(QWidget):
    """One photo full-window (see the module docstring).

    The window gives it the grid's order as ``step_from(path, delta)`` (the photo ``delta``
    places away in the grid, clamped to its ends; None when there is none) and listens to :attr:`shown` (select that photo in the grid: the preview and the neighbours
    strip follow) and :attr:`closed` (the grid again, on that photo).
    """

    shown = Signal(str)  # the photo shown now
    closed = Signal(str)  # back to the grid; the last photo shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self.path: str | None = None
        self.step_from: Callable[[str, int], str | None] = lambda _path, _delta: None
        self.cache: OrderedDict[str, QImage | str] = OrderedDict()  # image, or why not
        self._loading: dict[str, Worker] = {}
        self.view = ImageView()
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.zoom_label = QLabel()
        self.note = QLabel(wordWrap=True)  # why a photo cannot be shown or opened
        self.note.setObjectName("viewer-note")
        self.buttons: dict[str, QToolButton] = {}
        bar = QHBoxLayout()
        for key, text, tip, slot in (
            ("back", "Back to grid", "Esc", self.close_viewer),
            ("previous", "◀", "Previous photo (Left)", self.previous),
            ("next", "▶", "Next photo (Right)", self.next),
            ("fit", "Fit", "Fit to window (F or 0)", self.view.fit_to_window),
            ("actual", "1:1", "Actual pixels (1)", lambda: self.view.set_scale(1.0)),
            ("open", "Open in Other Application", "Hand the photo to the desktop's viewer",
             self.open_external),
        ):  # fmt: skip
            button = self.buttons[key] = QToolButton(text=text, toolTip=tip, autoRaise=True)
            button.clicked.connect(slot)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            bar.addWidget(button)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.zoom_label)
        self.view.zoomed.connect(lambda s: self.zoom_label.setText(f"{s:.0%}"))
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(4, 2, 4, 2)
        self.layout_.addLayout(bar)
        self.layout_.addWidget(self.note)
        self.layout_.addWidget(self.view, 1)
        self.note.hide()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- what is shown -----------------------------------------------------------
    def show_path(self, path: str) -> None:
        """Show ``path`` (from the cache when it was decoded ahead) and decode its neighbours."""
        if path == self.path:
            return
        self.path = path
        self.title.setText(shown(path))
        self.note.hide()
        cached = self.cache.get(path)
        if cached is None:
            self.view.set_image(None)
            self._load(path)
        else:
            self.cache.move_to_end(path)
            self._display(path, cached)
        for near in self._around(path):
            self._load(near)
        self.shown.emit(path)

    def _display(self, path: str, item: QImage | str) -> None:
        if isinstance(item, QImage):
            self.view.set_image(item)
            self.zoom_label.setText(f"{self.view.scale:.0%}")
        else:
            self.view.set_image(None)
            self._say(item)

    def _around(self, path: str) -> list[str]:
        """The photos to decode ahead: next, previous, the one after next."""
        near = (self.step_from(path, delta) for delta in (1, -1, 2))
        return [p for p in dict.fromkeys(near) if p and p != path]

    def _load(self, path: str) -> None:
        if path in self.cache or path in self._loading:
            return
        worker = Worker(lambda _abort: decode_job(path), name="photosim-viewer")
        worker.finished.connect(self._on_decoded)
        self._loading[path] = worker
        worker.start()

    def _on_decoded(self, result: tuple[str, QImage | None, str | None]) -> None:
        path, image, why = result
        self._loading.pop(path, None)
        self.cache[path] = image if image is not None else (why or "It could not be shown.")
        while len(self.cache) > CACHE:
            oldest = next(iter(self.cache))
            if oldest == self.path:
                self.cache.move_to_end(oldest)
                continue
            del self.cache[oldest]
        if path == self.path:
            self._display(path, self.cache[path])

    def _say(self, sentence: str) -> None:
        self.note.setText(sentence)
        self.note.setVisible(bool(sentence))

    # -- moving ------------------------------------------------------------------
    def step(self, delta: int) -> None:
        """Show the photo ``delta`` places away in the grid's order (it stops at the ends)."""
        target = self.step_from(self.path, delta) if self.path else None
        if target and target != self.path:
            self.show_path(target)

    def next(self) -> None:
        self.step(1)

    def previous(self) -> None:
        self.step(-1)

    def close_viewer(self) -> None:
        self.closed.emit(self.path or "")

    def clear(self) -> None:
        """Forget every decoded photo (another library, or the viewer closed for good)."""
        for worker in self._loading.values():
            worker.abandon()
        self._loading.clear()
        self.cache.clear()
        self.path = None
        self.view.set_image(None)

    def open_external(self) -> None:
        if self.path:
            self._say(open_externally(self.path))

    def take_strip(self, strip: QWidget) -> None:
        """Show the neighbours strip under the photo, at its own height: the photo gets the
        rest (the window puts it back, and lifts the limit, on closing)."""
        strip.setMaximumHeight(strip.sizeHint().height())
        self.layout_.addWidget(strip)
        strip.show()

    # -- keys ----------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        actions = {
            Qt.Key.Key_Escape: self.close_viewer,
            Qt.Key.Key_Right: self.next,
            Qt.Key.Key_Space: self.next,
            Qt.Key.Key_PageDown: self.next,
            Qt.Key.Key_Left: self.previous,
            Qt.Key.Key_Backspace: self.previous,
            Qt.Key.Key_PageUp: self.previous,
            Qt.Key.Key_Home: lambda: self.step(-(10**9)),
            Qt.Key.Key_End: lambda: self.step(10**9),
            Qt.Key.Key_Plus: lambda: self.view.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Equal: lambda: self.view.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Minus: lambda: self.view.zoom_by(1 / ZOOM_STEP),
            Qt.Key.Key_1: lambda: self.view.set_scale(1.0),
            Qt.Key.Key_0: self.view.fit_to_window,
            Qt.Key.Key_F: self.view.fit_to_window,
        }
        action = actions.get(Qt.Key(key))
        if action is None:
            super().keyPressEvent(event)
            return
        if (
            self.view.fit is False
            and key in (Qt.Key.Key_Left, Qt.Key.Key_Right)
            and (event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        ):  # Shift+arrows pan a zoomed photo
            self.view.pan(40 if key == Qt.Key.Key_Left else -40, 0)
            return
        action()

    def mouseDoubleClickEvent(self, _event) -> None:
        self.close_viewer()

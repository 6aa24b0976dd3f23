"""Painting one thumbnail cell: the whole frame letterboxed in a square, name, score badge."""

from __future__ import annotations

import math
from importlib import resources

from PySide6.QtCore import QModelIndex, QObject, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photosim.app.browse.roles import ErrorRole, LabelRole, ScoreRole, ThumbRole

PAD = 6
# Score badges are the only fixed colours (the design asks for it): one for
# "same picture" (re-saves, resizes, rotations), one for "similar".
SAME_PICTURE = 0.92
SAME_COLOUR = QColor(46, 139, 87)
SIMILAR_COLOUR = QColor(52, 101, 164)


def resource_path(name: str) -> str:
    return str(resources.files("photosim.resources") / name)


def score_text(score: float) -> str:
    """Percent, rounded down so only an identical picture reads 100%; tenths near the top."""
    if score >= 0.99:
        return f"{math.floor(score * 1000) / 10:.1f}%"
    return f"{math.floor(score * 100)}%"


class ThumbDelegate(QStyledItemDelegate):
    """Draws a square thumbnail cell of ``side`` pixels; the views change ``side`` to zoom."""

    def __init__(self, side: int = 160, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self._broken = QSvgRenderer(resource_path("broken.svg"))

    def text_height(self, option: QStyleOptionViewItem) -> int:
        return option.fontMetrics.height() + 4

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.side + 2 * PAD, self.side + 2 * PAD + self.text_height(option))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        cell = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(cell, 6, 6)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Midlight))
            painter.drawRoundedRect(cell, 6, 6)
        square = QRect(option.rect.x() + PAD, option.rect.y() + PAD, self.side, self.side)
        error = index.data(ErrorRole)
        pixmap: QPixmap | None = index.data(ThumbRole)
        frame = square  # where the picture is drawn: a label sits on its corner
        if error:
            self._broken.render(painter, QRectF(square.adjusted(20, 20, -20, -20)))
        elif pixmap is None or pixmap.isNull():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(square.adjusted(8, 8, -8, -8), 4, 4)
        else:
            size = pixmap.size().scaled(square.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(square.center())
            painter.drawPixmap(target, pixmap)
            frame = target
        score = index.data(ScoreRole)
        if score is not None:
            self._badge(painter, square, score)
        label = index.data(LabelRole)
        if label and not error:
            self._label(painter, frame, label)
        text_rect = QRect(
            cell.x() + 2, square.bottom() + 4, cell.width() - 4, self.text_height(option)
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = option.fontMetrics.elidedText(
            str(index.data()), Qt.TextElideMode.ElideMiddle, text_rect.width()
        )
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()

    def _label(self, painter: QPainter, square: QRect, text: str) -> None:
        """A small tag in the top-left corner (a RAW+JPEG pair: "RAW+JPG")."""
        original = painter.font()
        font = QFont(original)
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.75))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 8, metrics.height()
        tag = QRect(square.left() + 4, square.top() + 4, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(tag, 3, 3)
        painter.setPen(QColor("white"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(original)

    def _badge(self, painter: QPainter, square: QRect, score: float) -> None:
        text = score_text(score)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 10, metrics.height() + 2
        badge = QRect(square.right() - w - 2, square.bottom() - h - 2, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(SAME_COLOUR if score >= SAME_PICTURE else SIMILAR_COLOUR)
        painter.drawRoundedRect(badge, h / 2, h / 2)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        font.setBold(False)
        painter.setFont(font)

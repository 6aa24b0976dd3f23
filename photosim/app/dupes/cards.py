"""A duplicate group's photo cards: the thumbnail with a KEEP / REMOVE / REFERENCE badge that
toggles when clicked, and the list view that reports those clicks."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter
from PySide6.QtWidgets import QListView, QStyleOptionViewItem

from photosim.app.browse.delegate import PAD, ThumbDelegate
from photosim.app.dupes.models import MarkRole

KEEP_COLOUR, REMOVE_COLOUR, REF_COLOUR = (
    QColor(46, 139, 87),
    QColor(192, 57, 43),
    QColor(52, 101, 164),
)


class MarkDelegate(ThumbDelegate):
    """A thumbnail cell with a KEEP / REMOVE / REFERENCE badge; clicking the badge toggles it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        mark = index.data(MarkRole)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        square = QRect(option.rect.x() + PAD, option.rect.y() + PAD, self.side, self.side)
        if mark == "remove":
            painter.fillRect(square, QColor(192, 57, 43, 60))
        badge = self.badge_rect(option.rect, painter.fontMetrics(), mark)
        colour = {"keep": KEEP_COLOUR, "remove": REMOVE_COLOUR}.get(mark, REF_COLOUR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, _badge_text(mark))
        painter.restore()

    def badge_rect(self, cell: QRect, metrics: QFontMetrics, mark: str) -> QRect:
        w, h = metrics.horizontalAdvance(_badge_text(mark)) + 18, metrics.height() + 4
        return QRect(cell.x() + PAD + 4, cell.y() + PAD + 4, w, h)


def _badge_text(mark: str) -> str:
    return {"keep": "✓ KEEP", "remove": "✗ REMOVE"}.get(mark, "✓ REFERENCE")


class MemberView(QListView):
    """The group's photos; ``badge_clicked(row)`` when a keep/remove badge is clicked."""

    badge_clicked = Signal(int)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            rect = self.itemDelegate().badge_rect(self.visualRect(index), self.fontMetrics(),
                                                  index.data(MarkRole))  # fmt: skip
            if rect.adjusted(-4, -4, 4, 4).contains(event.position().toPoint()):
                self.setCurrentIndex(index)
                self.badge_clicked.emit(index.row())
                return
        super().mousePressEvent(event)

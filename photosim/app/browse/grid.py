"""The grid of thumbnails: cells that fill the width, and date headers when sorted by date.

A view of its own (not QListView's icon mode): QListView cannot break a row for a header,
leaves an empty strip at its right, and scrolls a clicked thumbnail into view even when it
is fully shown. Here every cell has one size, so the layout is arithmetic over sections
(a header and its photos): finding a photo's place is a bisection, whatever the library's
size, and a change of the rows keeps the photo at the top of the view where it was.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QFont, QPainter, QPalette, QRegion
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

from photosim.app.browse.delegate import PAD, ThumbDelegate
from photosim.app.browse.proxy import Section


class PhotoGrid(QAbstractItemView):
    """The library's thumbnails in rows that fill the width, zoomable (``set_side``).

    ``sections`` (set by the pane) says where headers go; without it, or when it returns
    no titled section, the photos are one run with no header.
    """

    def __init__(self, model, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("grid")
        self.delegate = ThumbDelegate(160, self)
        self.setItemDelegate(self.delegate)
        self.sections: Callable[[], list[Section]] | None = None
        self._sections: list[Section] = []
        self._firsts: list[int] = []  # each section's first row
        self._tops: list[int] = []  # each section's top (its header's), in content pixels
        self._bodies: list[int] = []  # each section's first line of photos
        self._height = 0
        self._columns, self._step, self._margin = 1, 176, 0
        self._cell = QSize(176, 200)
        self._dirty = True
        self._anchor: tuple[QPersistentModelIndex, int] | None = None  # top photo, its offset
        self._hover = QPersistentModelIndex()
        self._later = QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self._relayout_now)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setModel(model)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset,
                       model.layoutChanged):  # fmt: skip
            signal.connect(self.relayout)
        self.set_side(160)

    # -- geometry --------------------------------------------------------------------
    def set_side(self, side: int) -> None:
        """Thumbnails of ``side`` pixels (the zoom)."""
        self.delegate.side = side
        text = self.fontMetrics().height() + 4
        self._cell = QSize(side + 2 * PAD + 4, side + 2 * PAD + text + 4)
        self.verticalScrollBar().setSingleStep(max(8, self._cell.height() // 4))
        self.relayout()

    def gridSize(self) -> QSize:
        """The smallest cell; the cells of a row share the width the view has."""
        return QSize(self._cell)

    def header_height(self) -> int:
        return self.fontMetrics().height() * 2 + 8

    def relayout(self, *_args: object) -> None:
        """The rows, their order, the width or the zoom changed: lay out again, once for
        a burst of changes (a scan inserts its photos one by one) or when asked sooner."""
        self._dirty = True
        if not self._later.isActive():
            self._later.start()

    def _relayout_now(self) -> None:
        self.updateGeometries()
        self.viewport().update()

    def _ensure_layout(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        model = self.model()
        count = model.rowCount() if model is not None else 0
        sections = [s for s in (self.sections() if self.sections and count else []) if s.count]
        if not any(s.title for s in sections):
            sections = [Section(0, count)] if count else []
        width, cell = max(1, self.viewport().width()), self._cell.width()
        self._columns = max(1, width // cell)
        spare = width - self._columns * cell  # shared: equal gaps, half a gap at each side
        gap = spare // self._columns
        self._step, self._margin = cell + gap, max(0, spare - gap * (self._columns - 1)) // 2
        header, line = self.header_height(), self._cell.height()
        self._sections, self._firsts, self._tops, self._bodies = sections, [], [], []
        y = 0
        for section in sections:
            self._firsts.append(section.first)
            self._tops.append(y)
            y += header if section.title else 0
            self._bodies.append(y)
            y += -(-section.count // self._columns) * line
        self._height = y
        self._keep_anchor()

    def _keep_anchor(self) -> None:
        """After a change of the rows, the photo that was at the top stays where it was.

        Quietly (the layout may be asked for while painting): the whole view is drawn again.
        """
        bar = self.verticalScrollBar()
        before = bar.value()
        blocked = bar.blockSignals(True)
        bar.setRange(0, max(0, self._height - self.viewport().height()))
        anchor = self._anchor
        if anchor is not None and anchor[0].isValid() and before > 0:
            bar.setValue(self._content_rect(anchor[0].row()).top() - anchor[1])
        bar.blockSignals(blocked)
        if bar.value() != before:
            self.viewport().update()

    def _remember_anchor(self) -> None:
        """The photo at the top of the view now, and how far down it is drawn."""
        if self._dirty:
            return
        index = self._first_visible()
        if index is None:
            self._anchor = None
            return
        offset = self._content_rect(index).top() - self.verticalScrollBar().value()
        self._anchor = (QPersistentModelIndex(self.model().index(index, 0)), offset)

    def _first_visible(self) -> int | None:
        y = self.verticalScrollBar().value()
        s = bisect.bisect_right(self._tops, y) - 1
        if s < 0:
            return None
        section = self._sections[s]
        line = max(0, (y - self._bodies[s]) // self._cell.height())
        row = section.first + line * self._columns
        if row >= section.first + section.count:
            if s + 1 >= len(self._sections):
                return None
            row = self._sections[s + 1].first
        return row

    def _section_of(self, row: int) -> int:
        return bisect.bisect_right(self._firsts, row) - 1

    def _content_rect(self, row: int) -> QRect:
        """The cell of ``row`` in content pixels."""
        s = self._section_of(row)
        if s < 0:
            return QRect()
        line, col = divmod(row - self._sections[s].first, self._columns)
        left = self._margin + col * self._step
        return QRect(QPoint(left, self._bodies[s] + line * self._cell.height()), self._cell)

    def visualRect(self, index: QModelIndex) -> QRect:
        if not index.isValid():
            return QRect()
        self._ensure_layout()
        rect = self._content_rect(index.row())
        return rect.translated(0, -self.verticalScrollBar().value()) if rect.isValid() else rect

    def header_rects(self) -> list[tuple[QRect, str]]:
        """Where each header is drawn now (viewport pixels), with its title."""
        self._ensure_layout()
        y, width = self.verticalScrollBar().value(), self.viewport().width()
        return [(QRect(0, top - y, width, self.header_height()), s.title)
                for s, top in zip(self._sections, self._tops, strict=True) if s.title]  # fmt: skip

    def indexAt(self, point: QPoint) -> QModelIndex:
        self._ensure_layout()
        y = point.y() + self.verticalScrollBar().value()
        s = bisect.bisect_right(self._tops, y) - 1
        if s < 0 or y < self._bodies[s] or point.x() < 0:
            return QModelIndex()
        section = self._sections[s]
        line = (y - self._bodies[s]) // self._cell.height()
        col = min(self._columns - 1, max(0, point.x() - self._margin) // self._step)
        row = section.first + line * self._columns + col
        if row >= section.first + section.count:
            return QModelIndex()
        index = self.model().index(row, 0)
        return index if self.visualRect(index).contains(point) else QModelIndex()

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        """As far as needed to show ``index``: none when its thumbnail is fully in view (a click
        on it never moves the grid), and a header stays above the first row of its section."""
        if not index.isValid():
            return
        rect = self.visualRect(index)
        bar, height = self.verticalScrollBar(), self.viewport().height()
        square = QRect(rect.left() + PAD, rect.top() + PAD, self.delegate.side, self.delegate.side)
        hints = QAbstractItemView.ScrollHint
        if hint == hints.EnsureVisible and square.top() >= 0 and square.bottom() < height:
            return
        top = rect.top() + bar.value()
        s = self._section_of(index.row())
        if s >= 0 and top == self._bodies[s]:
            top = self._tops[s]  # the first line: its header with it
        if hint == hints.PositionAtTop:
            bar.setValue(top)
        elif hint == hints.PositionAtCenter:
            bar.setValue(top - (height - rect.height()) // 2)
        elif (rect.top() < 0 and hint != hints.PositionAtBottom) or rect.height() > height:
            bar.setValue(top)
        else:
            bar.setValue(rect.bottom() + 1 + bar.value() - height)

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:
        return False

    def updateGeometries(self) -> None:
        self._ensure_layout()
        bar = self.verticalScrollBar()
        bar.setPageStep(self.viewport().height())
        bar.setRange(0, max(0, self._height - self.viewport().height()))
        super().updateGeometries()

    def resizeEvent(self, event) -> None:
        self._remember_anchor()
        super().resizeEvent(event)
        self.relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._remember_anchor()

    # -- moving and selecting -------------------------------------------------------
    def moveCursor(self, action, modifiers) -> QModelIndex:
        self._ensure_layout()
        model, current = self.model(), self.currentIndex()
        count = model.rowCount()
        if not count:
            return QModelIndex()
        if not current.isValid():
            return model.index(0, 0)
        row, act = current.row(), QAbstractItemView.CursorAction
        if action in (act.MoveLeft, act.MovePrevious):
            row -= 1
        elif action in (act.MoveRight, act.MoveNext):
            row += 1
        elif action == act.MoveUp:
            row = self._line_step(row, -1)
        elif action == act.MoveDown:
            row = self._line_step(row, 1)
        elif action in (act.MovePageUp, act.MovePageDown):
            sign = -1 if action == act.MovePageUp else 1
            rect = self.visualRect(current)
            point = rect.center() + QPoint(0, sign * self.viewport().height())
            bar = self.verticalScrollBar()
            point.setY(max(-bar.value(), min(point.y(), self._height - 1 - bar.value())))
            found = self.indexAt(point)
            while not found.isValid() and 0 <= point.y() + bar.value() < self._height:
                point.setY(point.y() + sign * 8)  # a header or a short line's end: go on
                found = self.indexAt(point)
            row = found.row() if found.isValid() else (0 if sign < 0 else count - 1)
        elif action == act.MoveHome:
            row = 0
        elif action == act.MoveEnd:
            row = count - 1
        return model.index(max(0, min(count - 1, row)), 0)

    def _line_step(self, row: int, step: int) -> int:
        """The photo a line up or down, in the same column where that line reaches it."""
        s = self._section_of(row)
        section = self._sections[s]
        line, col = divmod(row - section.first, self._columns)
        lines = -(-section.count // self._columns)
        line += step
        if 0 <= line < lines:
            return min(
                section.first + line * self._columns + col, section.first + section.count - 1
            )
        s += step
        if not 0 <= s < len(self._sections):
            return row
        other = self._sections[s]
        line = 0 if step > 0 else (other.count - 1) // self._columns
        return min(other.first + line * self._columns + col, other.first + other.count - 1)

    def setSelection(self, rect: QRect, command) -> None:
        """The photos the rectangle touches (a rubber band, or a click's point)."""
        self._ensure_layout()
        rect = rect.normalized()
        y = self.verticalScrollBar().value()
        top, bottom = rect.top() + y, rect.bottom() + y
        selection = QItemSelection()
        model = self.model()
        for s, section in enumerate(self._sections):
            body, end = self._bodies[s], section.first + section.count
            if bottom < body or top >= self._tops[s] + self._section_height(s):
                continue
            first_line = max(0, (top - body) // self._cell.height())
            last_line = (bottom - body) // self._cell.height()
            for line in range(first_line, last_line + 1):
                start = section.first + line * self._columns
                left = right = None
                for col in range(self._columns):
                    row = start + col
                    if row >= end:
                        break
                    if self.visualRect(model.index(row, 0)).intersects(rect):
                        left = row if left is None else left
                        right = row
                if left is not None:
                    selection.select(model.index(left, 0), model.index(right, 0))
        if selection.isEmpty() and (index := self.indexAt(rect.center())).isValid():
            selection.select(index, index)
        self.selectionModel().select(selection, command)

    def _section_height(self, s: int) -> int:
        nxt = self._tops[s + 1] if s + 1 < len(self._tops) else self._height
        return nxt - self._tops[s]

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        region = QRegion()
        visible = self.viewport().rect()
        for rng in selection:
            for row in self._rows_in_view(rng.top(), rng.bottom()):
                rect = self.visualRect(self.model().index(row, 0))
                if rect.intersects(visible):
                    region += rect
        return region

    def _rows_in_view(self, first: int = 0, last: int | None = None) -> range:
        """The rows drawn in the viewport now, within ``first`` .. ``last``."""
        self._ensure_layout()
        if not self._sections:
            return range(0)
        y = self.verticalScrollBar().value()
        start = self._first_visible()
        end_point = QPoint(self.viewport().width() - 1, self.viewport().height() - 1)
        s = bisect.bisect_right(self._tops, end_point.y() + y) - 1
        section = self._sections[max(0, s)]
        line = max(0, (end_point.y() + y - self._bodies[max(0, s)]) // self._cell.height())
        end = min(section.first + section.count, section.first + (line + 1) * self._columns)
        if start is None:
            return range(0)
        last = end - 1 if last is None else min(last, end - 1)
        return range(max(first, start), last + 1)

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        self._ensure_layout()
        painter = QPainter(self.viewport())
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        model, selection = self.model(), self.selectionModel()
        current, focus = self.currentIndex(), self.hasFocus()
        area = event.rect()
        for row in self._rows_in_view():
            index = model.index(row, 0)
            rect = self.visualRect(index)
            if not rect.intersects(area):
                continue
            option.rect = rect
            state = QStyle.StateFlag.State_Enabled
            if selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if focus and index == current:
                state |= QStyle.StateFlag.State_HasFocus
            if index == self._hover:
                state |= QStyle.StateFlag.State_MouseOver
            option.state = state
            self.delegate.paint(painter, option, index)
        self._paint_headers(painter, area)
        painter.end()

    def _paint_headers(self, painter: QPainter, area: QRect) -> None:
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        palette = self.palette()
        for rect, title in self.header_rects():
            if not rect.intersects(area):
                continue
            text = rect.adjusted(12, 6, -12, -2)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             title)  # fmt: skip
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.drawLine(text.left(), rect.bottom() - 1, text.right(), rect.bottom() - 1)

    def mouseMoveEvent(self, event) -> None:
        index = QPersistentModelIndex(self.indexAt(event.position().toPoint()))
        if index != self._hover:
            old, self._hover = self._hover, index
            for changed in (old, index):
                if changed.isValid():
                    self.viewport().update(self.visualRect(self.model().index(changed.row(), 0)))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self._hover.isValid():
            self.viewport().update(self.visualRect(self.model().index(self._hover.row(), 0)))
        self._hover = QPersistentModelIndex()
        self._later = QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self._relayout_now)
        super().leaveEvent(event)

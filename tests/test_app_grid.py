"""The grid as a photo browser's (issue 17): month headers when sorted by date, rows that
never move under the pointer, a click that never scrolls a shown thumbnail, the width used."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QApplication

from photosim.app.browse.delegate import PAD
from photosim.app.browse.grid import PhotoGrid
from photosim.app.browse.models import PhotoModel
from photosim.app.browse.proxy import PhotoProxy, month_title
from photosim.app.browse.thumbnails import Thumbnails
from photosim.core.events import Photo

MONTHS = {"2019-07": 7, "2019-12": 3, "2021-03": 11}  # photos taken in each month


def photos() -> list[Photo]:
    out = []
    for month, count in MONTHS.items():
        for day in range(count):
            n = len(out)
            out.append(Photo(id=n, path=Path(f"/p/{month}/IMG_{n:03}.jpg"), size=1,
                             mtime=1e9 + n, taken=f"{month}-{day + 1:02}T10:00:00"))  # fmt: skip
    return out


@pytest.fixture
def grid(qtbot):
    model = PhotoModel(Thumbnails())
    model.set_photos(photos())
    proxy = PhotoProxy()
    proxy.setSourceModel(model)
    view = PhotoGrid(proxy)
    view.sections = proxy.sections
    view.set_side(96)
    qtbot.addWidget(view)
    view.resize(520, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def titles(grid: PhotoGrid) -> list[str]:
    return [title for _rect, title in grid.header_rects()]


def in_view(grid: PhotoGrid) -> dict[str, tuple[int, int]]:
    """Each photo drawn in the viewport, and where."""
    proxy, area = grid.model(), grid.viewport().rect()
    out = {}
    for row in range(proxy.rowCount()):
        rect = grid.visualRect(proxy.index(row, 0))
        if rect.intersects(area):
            out[proxy.path_at(row)] = (rect.x(), rect.y())
    return out


def test_month_headers_when_sorted_by_date_and_none_by_name(grid):
    proxy, model = grid.model(), grid.model().sourceModel()
    assert titles(grid) == ["July 2019", "December 2019", "March 2021"]
    headers = [rect for rect, _title in grid.header_rects()]
    for section, header in zip(proxy.sections(), headers, strict=True):
        first = grid.visualRect(proxy.index(section.first, 0))
        assert first.top() >= header.bottom() and first.left() < grid.width() // 4  # a new line
        assert section.count == MONTHS[Path(proxy.path_at(section.first)).parent.name]
    assert not grid.indexAt(headers[1].center()).isValid()  # a header is no photo
    proxy.set_text("2019-12")  # a filter: only the months it shows
    assert titles(grid) == ["December 2019"]
    proxy.set_text("")
    model.set_sort("Name")
    assert titles(grid) == []
    first = grid.visualRect(proxy.index(0, 0))
    assert first.top() == 0  # no room kept for a header
    model.set_sort("Date taken")
    assert titles(grid) == ["July 2019", "December 2019", "March 2021"]
    assert month_title("") == "No date" and month_title("2020-13") == "No date"


def test_headers_follow_a_scan_and_rows_in_view_stay_put(qtbot, grid):
    """Photos a scan finds appear under "No date" at the end; a month above the view that
    gains or loses a line moves nothing in view (the photo at the top keeps its place)."""
    model = grid.model().sourceModel()
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum() // 2)
    before = in_view(grid)
    assert before
    model.add_paths(["/p/new/found1.jpg", "/p/new/found2.jpg"])  # found, not yet read
    assert titles(grid)[-1] == "No date"
    assert in_view(grid) == before
    found = Photo(id=99, path=Path("/p/new/found1.jpg"), size=1, mtime=1e9,
                  taken="2019-07-09T10:00:00")  # fmt: skip
    model.update_photo(found)  # details arrive: it keeps its place until the listing
    assert in_view(grid) == before
    bar = grid.verticalScrollBar()
    bar.setValue(bar.maximum())  # March 2021 in view; July 2019 above it
    before = in_view(grid)
    assert all("/2021-03/" in path or "/new/" in path for path in before)
    grid.setCurrentIndex(grid.model().index(grid.model().rowCount() - 1, 0))  # one in view
    for name in ("IMG_000", "IMG_001", "IMG_002", "IMG_003"):  # July loses a line
        model.remove_path(f"/p/2019-07/{name}.jpg")
    assert in_view(grid) == before


def test_a_click_on_a_fully_visible_thumbnail_never_scrolls(qtbot, grid):
    """Qt scrolls a clicked item into view a double-click's time after the press: never for
    a thumbnail shown whole, even when its name under it is cut by the edge."""
    app = QApplication.instance()
    interval = app.doubleClickInterval()
    app.setDoubleClickInterval(60)
    try:
        bar, proxy = grid.verticalScrollBar(), grid.model()
        side, height = grid.delegate.side, grid.viewport().height()
        cut = 0
        for offset in range(0, bar.maximum(), 23):
            bar.setValue(offset)
            for row in range(proxy.rowCount()):
                rect = grid.visualRect(proxy.index(row, 0))
                square = QRect(rect.topLeft() + QPoint(PAD, PAD), QSize(side, side))
                whole = square.top() >= 0 and square.bottom() < height
                if whole and not grid.viewport().rect().contains(rect):
                    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton,
                                     pos=square.center())  # fmt: skip
                    qtbot.wait(250)  # past Qt's delayed scroll to the clicked item
                    assert grid.currentIndex().row() == row and bar.value() == offset
                    cut += 1
                    break
        assert cut >= 3
        bar.setValue(0)
        below = next(r for r in range(proxy.rowCount())
                     if grid.visualRect(proxy.index(r, 0)).top() + PAD + side >= height)  # fmt: skip
        rect = grid.visualRect(proxy.index(below, 0))
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.topLeft() + QPoint(20, 20))  # fmt: skip
        qtbot.waitUntil(lambda: bar.value() > 0, timeout=2_000)  # cut: scrolled into view
        assert grid.viewport().rect().contains(grid.visualRect(proxy.index(below, 0)))
    finally:
        app.setDoubleClickInterval(interval)


@pytest.mark.parametrize("width", [430, 520, 611, 777])
def test_the_grid_uses_its_width(grid, width):
    """No empty strip at the right: the cells of a row share the width evenly."""
    grid.resize(width, 400)
    proxy, area = grid.model(), grid.viewport().width()
    line = [grid.visualRect(proxy.index(r, 0)) for r in range(MONTHS["2019-07"])]
    line = [rect for rect in line if rect.top() == line[0].top()]
    assert len(line) == area // grid.gridSize().width()
    left, right = line[0].left(), area - 1 - line[-1].right()
    gaps = [b.left() - a.right() - 1 for a, b in pairwise(line)]
    assert abs(left - right) <= 1 and max(gaps) == min(gaps)
    assert left <= (min(gaps) + len(line)) // 2 + 1  # a half gap, and what did not divide


def test_keys_walk_the_grid_across_headers(qtbot, grid):
    proxy = grid.model()
    month = lambda: Path(proxy.path_at(grid.currentIndex().row())).parent.name  # noqa: E731
    grid.setFocus()
    grid.setCurrentIndex(proxy.index(0, 0))
    tops = {grid.visualRect(proxy.index(r, 0)).top() for r in range(MONTHS["2019-07"])}
    for _line in tops:  # down through July's lines, then into December's first
        qtbot.keyClick(grid, Qt.Key.Key_Down)
    assert month() == "2019-12" and grid.currentIndex().row() == MONTHS["2019-07"]
    qtbot.keyClick(grid, Qt.Key.Key_Up)
    assert month() == "2019-07"
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.currentIndex().row() == proxy.rowCount() - 1
    qtbot.keyClick(grid, Qt.Key.Key_Home)
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert grid.currentIndex().row() == 1


def test_the_min_score_row_does_not_shift_as_its_label_changes(qtbot):
    from photosim.app.browse.models import NeighbourModel
    from photosim.app.browse.panes import NeighboursPane

    strip = NeighboursPane(NeighbourModel(Thumbnails()))
    qtbot.addWidget(strip)
    strip.resize(900, 220)
    strip.show()
    qtbot.waitExposed(strip)
    places = set()
    for value in (0, 5, 55, 100):
        strip.slider.setValue(value)
        strip.layout().activate()
        places.add((strip.slider.x(), strip.slider_label.x(), strip.slider_label.width()))
        assert strip.slider_label.text() == f"{value}%"
        assert strip.slider_label.width() >= strip.slider_label.sizeHint().width()  # not cut
    assert len(places) == 1

"""Browsing like a photo browser (issue 17): the sidebar's folders and dates, and the viewer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import write_photo

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF, Qt, QUrl

from photosim.app.browse import viewer as viewer_module
from photosim.app.browse.sidebar import ALL
from photosim.app.main_window import MainWindow

SCAN_TIMEOUT = 60_000
WINDOW_SIZE = (1200, 800)  # the shared ``window`` fixture's size here


def stamp(path: Path, when: str) -> None:
    """Give ``path`` a file time ("YYYY-MM-DD"): its date when it has no EXIF date."""
    t = time.mktime(time.strptime(when, "%Y-%m-%d")) + 12 * 3600
    os.utime(path, (t, t))


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two years in folders, a nested folder, and a photo stored on its side (EXIF 6)."""
    root = tmp_path / "Pictures"
    for i, (rel, when) in enumerate([("2019/beach/a.jpg", "2019-07-03"),
                                     ("2019/beach/b.jpg", "2019-07-04"),
                                     ("2019/c.jpg", "2019-12-24"),
                                     ("2021/d.jpg", "2021-03-01"),
                                     ("2021/e.jpg", "2021-03-02")]):  # fmt: skip
        stamp(write_photo(root / rel, size=(160, 120), seed=i), when)
    stamp(write_photo(root / "2021" / "side.jpg", size=(160, 120), seed=7, orientation=6),
          "2021-03-03")  # fmt: skip
    return root


def open_and_scan(qtbot, win: MainWindow, folder: Path) -> None:
    """Open ``folder``, scan it, and wait for the sidebar to count all its photos."""
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT):
        win.state.open_library(str(folder))
    sidebar, count = win.browser.sidebar, str(len(list(folder.rglob("*.jpg"))))

    def counted() -> bool:
        item = sidebar.folder_item(str(folder.resolve()))
        return item is not None and item.text(1) == count

    qtbot.waitUntil(counted, timeout=10_000)


def grid_paths(win: MainWindow) -> list[str]:
    proxy = win.browser.proxy
    return [proxy.path_at(r) for r in range(proxy.rowCount())]


# -- the sidebar -------------------------------------------------------------------
def test_folder_tree_shows_counts_and_filters_the_grid(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    sidebar, root = window.browser.sidebar, folder.resolve()
    assert sidebar.folder_item(str(root)).text(1) == "6"
    assert sidebar.folder_item(str(root / "2019")).text(1) == "3"
    assert sidebar.folder_item(str(root / "2019" / "beach")).text(1) == "2"
    sidebar.folders.setCurrentItem(sidebar.folder_item(str(root / "2019")))
    assert sorted(Path(p).name for p in grid_paths(window)) == ["a.jpg", "b.jpg", "c.jpg"]
    sidebar.subfolders.setChecked(False)  # only the photos directly in 2019
    assert [Path(p).name for p in grid_paths(window)] == ["c.jpg"]
    sidebar.folders.setCurrentItem(sidebar.folder_item(ALL))
    assert len(grid_paths(window)) == 6


def test_timeline_jumps_the_grid_to_a_month(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    sidebar = window.browser.sidebar
    qtbot.waitUntil(lambda: sidebar.date_item("2021-03") is not None, timeout=10_000)
    years = [
        sidebar.dates.topLevelItem(i).text(0) for i in range(sidebar.dates.topLevelItemCount())
    ]
    assert years == ["2021", "2019"]
    assert sidebar.date_item("2019").text(1) == "3" and sidebar.date_item("2019-07").text(1) == "2"
    sidebar.dates.itemClicked.emit(sidebar.date_item("2019-12"), 0)
    assert Path(window.browser.selected_path()).name == "c.jpg"
    sidebar.dates.itemClicked.emit(sidebar.date_item("2021"), 0)  # a year: its first photo
    assert Path(window.browser.selected_path()).name == "d.jpg"


def test_sidebar_follows_a_scan_and_forgets_a_closed_library(qtbot, window, folder, tmp_path):
    open_and_scan(qtbot, window, folder)
    sidebar = window.browser.sidebar
    stamp(write_photo(folder / "2023" / "new.jpg", size=(160, 120), seed=11), "2023-05-05")
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        window.state.start_scan()
    qtbot.waitUntil(lambda: sidebar.folder_item(str(folder.resolve() / "2023")) is not None,
                    timeout=10_000)  # fmt: skip
    qtbot.waitUntil(lambda: sidebar.date_item("2023-05") is not None, timeout=10_000)
    other = tmp_path / "Other"
    write_photo(other / "x.jpg", size=(160, 120))
    open_and_scan(qtbot, window, other)
    assert sidebar.folder_item(str(folder.resolve())) is None


def test_sidebar_counts_follow_a_scan_while_it_runs(qtbot, window, folder):
    from photosim.core.events import ScanKind, ScanProgress

    open_and_scan(qtbot, window, folder)
    sidebar = window.browser.sidebar
    stamp(write_photo(folder / "2023" / "new.jpg", size=(160, 120), seed=11), "2023-05-05")
    list(window.state.library.scan())  # the photo reaches the library, no scan_finished yet
    window.signals.scan_progress.emit(ScanProgress(ScanKind.EMBEDDED, done=1, total=2))
    assert sidebar.folder_item(str(folder.resolve() / "2023")) is None  # not at every event
    qtbot.waitUntil(lambda: sidebar.folder_item(str(folder.resolve() / "2023")) is not None,
                    timeout=10_000)  # fmt: skip
    assert sidebar.date_item("2023-05") is not None


# -- the viewer --------------------------------------------------------------------
def open_viewer(qtbot, win: MainWindow, name: str):
    path = next(p for p in grid_paths(win) if Path(p).name == name)
    win.browser.select_path(path)
    win.browser.grid.setFocus()
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_Return)
    viewer = win.browser.viewer
    assert win.browser.pages.currentWidget() is viewer
    qtbot.waitUntil(lambda: viewer.view.image is not None, timeout=10_000)
    return viewer


def test_enter_opens_the_viewer_and_esc_goes_back_to_the_same_place(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    grid = window.browser.grid
    viewer = open_viewer(qtbot, window, "b.jpg")
    assert viewer.view.fit and viewer.view.scale <= 1.0
    order = grid_paths(window)
    start = order.index(viewer.path)
    qtbot.waitUntil(lambda: order[start + 1] in viewer.cache, timeout=10_000)  # decoded ahead
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.path == order[start + 1] and viewer.view.image is viewer.cache[viewer.path]
    assert window.browser.selected_path() == viewer.path  # preview and strip follow
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert window.browser.pages.currentWidget() is not viewer
    assert window.browser.selected_path() == order[start + 1]
    rect = grid.visualRect(grid.currentIndex())
    assert grid.viewport().rect().contains(rect)  # in view where it was left


def test_viewer_zooms_fits_and_shows_photos_upright(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    viewer = open_viewer(qtbot, window, "side.jpg")
    image = viewer.view.image
    assert (image.width(), image.height()) == (120, 160)  # EXIF 6: stored 160x120 on its side
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert not viewer.view.fit and viewer.view.scale == 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert viewer.view.scale == pytest.approx(1.25)
    viewer.view.set_scale(4.0, QPointF(10, 10))
    before = viewer.view.offset
    viewer.view.pan(-30, -20)
    assert viewer.view.offset != before
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    assert viewer.view.fit


def test_double_click_opens_and_closes_the_viewer_the_wheel_zooms_and_both_sides_preload(
    qtbot, window, folder
):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    open_and_scan(qtbot, window, folder)
    grid = window.browser.grid
    order = grid_paths(window)
    middle = order[len(order) // 2]
    window.browser.select_path(middle)
    at = grid.visualRect(grid.currentIndex()).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=at)  # a double-click's
    qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=at)  # two presses
    viewer = window.browser.viewer
    assert window.browser.pages.currentWidget() is viewer and viewer.path == middle
    start = order.index(middle)
    qtbot.waitUntil(lambda: {order[start - 1], order[start + 1]} <= set(viewer.cache),
                    timeout=10_000)  # fmt: skip
    qtbot.waitUntil(lambda: viewer.view.image is not None, timeout=10_000)
    before = viewer.view.scale
    centre = QPointF(viewer.view.width() / 2, viewer.view.height() / 2)
    wheel = QWheelEvent(centre, viewer.view.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(viewer.view, wheel)
    assert viewer.view.scale > before and not viewer.view.fit
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.path == order[start - 1] and viewer.view.image is viewer.cache[viewer.path]
    qtbot.mouseDClick(viewer.view, Qt.MouseButton.LeftButton)
    assert window.browser.pages.currentWidget() is not viewer
    assert window.browser.selected_path() == order[start - 1]


def test_open_in_other_application_says_when_there_is_none(qtbot, window, folder, monkeypatch):
    open_and_scan(qtbot, window, folder)
    viewer = open_viewer(qtbot, window, "a.jpg")
    asked: list[QUrl] = []
    monkeypatch.setattr(viewer_module, "desktop_open", lambda url: asked.append(url) or False)
    viewer.buttons["open"].click()
    assert asked and asked[0].toLocalFile() == viewer.path
    assert viewer.note.isVisibleTo(viewer) and "No application" in viewer.note.text()


def test_the_neighbours_strip_is_in_the_viewer(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    strip = window.browser.strip
    viewer = open_viewer(qtbot, window, "a.jpg")
    assert viewer.isAncestorOf(strip) and strip.isVisibleTo(viewer)
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isAncestorOf(strip) and window.browser.main_split.isAncestorOf(strip)


def test_folder_and_text_filters_combine_and_names_are_taken_literally(qtbot):
    from photosim.app.browse.models import PhotoModel
    from photosim.app.browse.proxy import PhotoProxy
    from photosim.app.browse.thumbnails import Thumbnails
    from photosim.core.events import Photo

    paths = ["/p/Trip (2019) [a]/x.jpg", "/p/Trip (2019) [a]/sub/y.jpg", "/p/trip (2019) [a]/z.jpg",
             "/p/Other/x.jpg"]  # fmt: skip
    model = PhotoModel(Thumbnails())
    model.set_photos([Photo(id=i, path=Path(p), size=1, mtime=1e9) for i, p in enumerate(paths)])
    proxy = PhotoProxy()
    proxy.setSourceModel(model)
    shown = lambda: sorted(proxy.path_at(r) for r in range(proxy.rowCount()))  # noqa: E731
    proxy.set_folder("/p/Trip (2019) [a]")
    assert shown() == sorted(paths[:2])  # the folder's case counts: another folder is another
    proxy.set_folder("/p/Trip (2019) [a]", subfolders=False)
    assert shown() == [paths[0]]
    proxy.set_folder("/p/Trip (2019) [a]")
    proxy.set_text("Y.JPG")  # the text is case-insensitive
    assert shown() == [paths[1]]
    proxy.set_folder("")
    proxy.set_text("x.jpg")
    assert shown() == sorted([paths[0], paths[3]])


# -- a stable grid -----------------------------------------------------------------
def test_a_reordering_listing_waits_until_the_user_rests(qtbot, window, folder, monkeypatch):
    """A scan's end puts found photos in their places: never under the pointer (issue 17)."""
    from photosim.app.browse import browser as browser_module
    from photosim.app.browse.listing import listing

    open_and_scan(qtbot, window, folder)
    pane = window.browser
    pane._active.setInterval(300)
    before = grid_paths(window)
    pane.select_path(before[2])
    rows = list(reversed([pane.photos.entry(p) for p in before]))  # another order
    reordered = listing(rows, pane.photos.sort_role)
    reordered.rows, reordered.keys = rows, sorted(reordered.keys)  # as a scan's end would give
    reordered.index = {row.path: n for n, row in enumerate(rows)}
    qtbot.mouseMove(pane.grid.viewport())  # the pointer is over the grid, working
    pane._active.start()
    window.signals.photos_listed.emit(reordered, False)
    assert grid_paths(window) == before  # nothing moved under the pointer
    qtbot.waitUntil(lambda: grid_paths(window) == [r.path for r in rows], timeout=5_000)
    assert pane.selected_path() == before[2]  # the selection stays, and in view
    rect = pane.grid.visualRect(pane.grid.currentIndex())
    assert pane.grid.viewport().rect().intersects(rect)
    assert browser_module.IDLE_MS >= 1000


def test_same_name_files_show_their_folder(qtbot):
    from photosim.app.browse.models import NeighbourModel, PhotoModel
    from photosim.app.browse.thumbnails import Thumbnails
    from photosim.core.events import Match, Photo

    paths = ["/p/2016 Brittany/100002.jpg", "/p/Camera/100002.jpg", "/p/Camera/100003.jpg"]
    model = PhotoModel(Thumbnails())
    model.set_photos([Photo(id=i, path=Path(p), size=1, mtime=1e9) for i, p in enumerate(paths)])
    labels = {model.data(model.index(r), Qt.ItemDataRole.DisplayRole) for r in range(3)}
    assert labels == {"2016 Brittany/100002.jpg", "Camera/100002.jpg", "100003.jpg"}
    strip = NeighbourModel(Thumbnails())
    strip.set_matches([Match(Path(paths[0]), 0.99), Match(Path(paths[1]), 0.9)])
    assert strip.data(strip.index(0), Qt.ItemDataRole.DisplayRole) == "2016 Brittany/100002.jpg"
    strip = NeighbourModel(Thumbnails(), among=model)  # the strip of the query paths[1]
    strip.set_matches([Match(Path(paths[0]), 0.99), Match(Path(paths[2]), 0.9)])
    labels = [strip.data(strip.index(r), Qt.ItemDataRole.DisplayRole) for r in range(2)]
    assert labels == ["2016 Brittany/100002.jpg", "100003.jpg"]  # never read as the query
    assert strip.label(paths[1]) == "Camera/100002.jpg"  # the strip's title names the query so

"""The app with pytest-qt (offscreen): models, thumbnails, scan, neighbours, drop, cancel.

A tiny injected model keeps these fast; waits are on signals or conditions.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, open_and_scan, rotated_copy, write_photo

from photosim.models.embed import Backbone

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from photosim.app.browse.delegate import score_text
from photosim.app.browse.models import PhotoModel
from photosim.app.browse.proxy import PhotoProxy
from photosim.app.browse.roles import ErrorRole
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.main_window import MainWindow
from photosim.core.events import Photo
from photosim.library import Library
from photosim.media import thumbs

SCAN_TIMEOUT = 60_000


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "Pictures"
    for seed in range(8):
        write_photo(root / f"photo{seed}.jpg", seed=seed)
    rotated_copy(root / "photo3.jpg", root / "copy of photo3.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


def select(qtbot, win: MainWindow, name: str):
    path = str(next(p for p in (win.state.library.roots[0]).rglob(name)))
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=10_000) as blocker:
        assert win.browser.select_path(path)
    return blocker.args


# -- models and thumbnails ---------------------------------------------------------
def _photo(i: int, path: str, taken: str | None) -> Photo:
    return Photo(id=i, path=Path(path), size=1, mtime=1e9 + i, taken=taken)


def test_proxy_sorts_by_date_name_folder_and_filters_on_path(qtbot):
    model = PhotoModel(Thumbnails())
    model.set_photos([
        _photo(1, "/p/b/zebra.jpg", "2021-01-01T00:00:00"),
        _photo(2, "/p/a/apple.jpg", "2023-05-01T00:00:00"),
        _photo(3, "/p/c/mango.jpg", "2019-07-01T00:00:00"),
    ])  # fmt: skip
    proxy = PhotoProxy()
    proxy.setSourceModel(model)
    names = lambda: [Path(proxy.path_at(r)).name for r in range(proxy.rowCount())]  # noqa: E731
    assert names() == ["mango.jpg", "zebra.jpg", "apple.jpg"]  # oldest first
    model.set_sort("Name")
    assert names() == ["apple.jpg", "mango.jpg", "zebra.jpg"]
    model.set_sort("Folder")
    assert names() == ["apple.jpg", "zebra.jpg", "mango.jpg"]
    proxy.setFilterFixedString("/B/")
    assert names() == ["zebra.jpg"]


def test_photos_found_during_a_scan_are_inserted_in_order(qtbot):
    model = PhotoModel(Thumbnails())
    model.set_sort("Name")
    model.set_photos([_photo(1, "/p/b.jpg", None), _photo(2, "/p/d.jpg", None)])
    model.add_paths(["/p/c.jpg", "/p/a.jpg", "/p/e.jpg", "/p/c.jpg"])
    names = [Path(item.path).stem for item in model.items]
    assert names == ["a", "b", "c", "d", "e"]
    assert [model.row_of(f"/p/{n}.jpg") for n in names] == [0, 1, 2, 3, 4]


def test_thumbnails_load_off_thread_upright_and_come_from_disk_next_time(
    qtbot, tmp_path, monkeypatch
):
    path = str(rotated_copy(write_photo(tmp_path / "a.jpg", size=(640, 480)), tmp_path / "r.jpg"))
    loader = Thumbnails()
    assert loader.get(path) is None  # queued, not decoded on the GUI thread
    with qtbot.waitSignal(loader.ready, timeout=10_000) as blocker:
        pass
    assert blocker.args == [path]
    pixmap = loader.get(path)
    assert (pixmap.width(), pixmap.height()) == (320, 240)  # EXIF-upright, landscape again
    st = Path(path).stat()
    assert thumbs.cache_file(path, st.st_size, st.st_mtime_ns).is_file()

    def no_decode(*_a, **_k):
        raise AssertionError("decoded again despite the disk cache")

    monkeypatch.setattr(thumbs, "load_image", no_decode)
    second = Thumbnails()  # a second start
    second.get(path)
    qtbot.waitUntil(lambda: second.get(path) is not None, timeout=10_000)


def test_undecodable_file_gets_a_reason_and_queued_work_can_be_dropped(qtbot, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    loader = Thumbnails()
    with qtbot.waitSignal(loader.failed, timeout=10_000) as blocker:
        loader.get(str(bad))
    assert blocker.args[0] == str(bad) and "not an image" in blocker.args[1]
    assert loader.get(str(bad)) is None and loader.pending() == 0  # not retried
    for i in range(40):
        loader.get(str(write_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i)))
    loader.drop_queued()
    assert loader.pending() == 0
    loader.wait()


def test_score_badges_never_round_up_to_identical():
    assert score_text(0.9996) == "99.9%"
    assert score_text(1.0) == "100.0%"
    assert score_text(0.874) == "87%"


# -- the window ------------------------------------------------------------------------
def test_scan_fills_grid_and_selecting_shows_rotated_copy_first(qtbot, window, folder):
    final = open_and_scan(qtbot, window, folder)
    assert window.windowTitle() == f"photosim: {folder}"
    assert final.found == 10 and final.failed == 1
    assert window.browser.proxy.rowCount() == 10
    query, matches = select(qtbot, window, "photo3.jpg")
    assert query == str(folder / "photo3.jpg")
    assert matches[0].path == folder / "copy of photo3.jpg" and matches[0].score > 0.95
    assert window.browser.neighbours.rowCount() == 8  # everything else that could be read
    assert window.browser.strip.stack.currentWidget() is window.browser.strip.view
    assert window.browser.preview.name.text() == "photo3.jpg"
    qtbot.waitUntil(lambda: window.browser.preview._image is not None, timeout=10_000)
    assert window.browser.preview._image.width() == 320  # upright full frame, not cropped


def test_broken_file_shows_its_reason(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    row = window.browser.proxy.row_of(str(folder / "broken.jpg"))
    index = window.browser.proxy.index(row, 0)
    assert "not an image" in index.data(ErrorRole)
    assert "Cannot show this photo" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_activating_a_neighbour_walks_with_back_and_forward(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    select(qtbot, window, "photo3.jpg")
    first = window.browser.neighbours.path_at(0)
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000):
        window.browser.strip.view.activated.emit(window.browser.neighbours.index(0))
    assert window.browser.selected_path() == first
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000):
        qtbot.keyClick(window.browser.grid, Qt.Key.Key_Backspace)
    assert window.browser.selected_path() == str(folder / "photo3.jpg")
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000):
        window.browser.go_forward()
    assert window.browser.selected_path() == first


def test_min_score_slider_hides_weak_matches_and_says_so(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    _, matches = select(qtbot, window, "photo3.jpg")
    cut = (matches[0].score + matches[1].score) / 2
    window.browser.strip.slider.setValue(int(cut * 100))
    assert window.browser.neighbours.rowCount() == sum(
        m.score >= int(cut * 100) / 100 for m in matches
    )
    window.browser.strip.slider.setValue(100)
    if matches[0].score < 1.0:
        assert window.browser.neighbours.rowCount() == 0
        assert "Lower the minimum score" in window.browser.strip.message.text()


def test_k_box_sets_how_many_neighbours(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    select(qtbot, window, "photo3.jpg")
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        window.browser.strip.k_box.setValue(3)
    assert len(blocker.args[1]) == 3


def test_dropping_an_outside_photo_queries_without_adding_it(qtbot, window, folder, tmp_path):
    open_and_scan(qtbot, window, folder)
    outside = rotated_copy(folder / "photo5.jpg", tmp_path / "from phone.jpg", orientation=8)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        window.browser.dropEvent(event)
    query, matches = blocker.args
    assert query == str(outside) and matches[0].path == folder / "photo5.jpg"
    assert "from phone.jpg" in window.browser.strip.title.text()
    assert window.browser.preview.path == str(outside)
    qtbot.waitUntil(
        lambda: "KB" in window.browser.preview.details.text(), timeout=10_000
    )  # size, later
    assert window.state.library.photo(outside) is None


class SlowBackbone(Backbone):
    """The tiny model, but each batch waits for a permit from the test."""

    def __init__(self) -> None:
        tiny = make_tiny_backbone()
        super().__init__(module=tiny.module, key=tiny.key, input_size=tiny.input_size)
        self.permits = threading.Semaphore(0)
        self.calls = 0  # batches that reached the model

    def embed(self, batch) -> np.ndarray:
        self.calls += 1
        self.permits.acquire(timeout=30)
        return super().embed(batch)


@pytest.fixture
def big_folder(tmp_path) -> Path:
    """More photos than two embedding batches (32 each), so a scan can stop between them."""
    root = tmp_path / "Many"
    for seed in range(70):
        write_photo(root / f"img{seed:02}.jpg", size=(96, 64), seed=seed)
    return root


def scanning_window(qtbot, folder: Path) -> tuple[MainWindow, SlowBackbone]:
    backbone = SlowBackbone()
    win = MainWindow(backbone=backbone)
    qtbot.addWidget(win)
    win.show()
    win.state.open_library(str(folder))
    qtbot.waitUntil(
        lambda: win.browser.proxy.rowCount() == 70, timeout=SCAN_TIMEOUT
    )  # listed before embedding
    assert win.status.cancel_button.isVisible() and win.state.scanning()
    return win, backbone


def test_cancel_keeps_finished_work_and_f5_resumes(qtbot, big_folder):
    win, backbone = scanning_window(qtbot, big_folder)
    qtbot.waitUntil(lambda: backbone.calls == 1, timeout=SCAN_TIMEOUT)  # first batch in the model
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.status.cancel_button, Qt.MouseButton.LeftButton)
        backbone.permits.release()
    assert blocker.args[0].cancelled
    assert "cancelled" in win.status.status_text.text()
    assert not win.status.cancel_button.isVisible()
    assert win.state.library.info()["embedded"] == 32  # the finished batch is kept
    backbone.permits.release(10)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT) as blocker:
        qtbot.keyClick(win, Qt.Key.Key_F5)
    assert not blocker.args[0].cancelled
    assert blocker.args[0].embedded == 38  # resumed, nothing embedded twice
    assert win.state.library.info()["embedded"] == 70
    win.close()


def test_closing_during_a_scan_stops_it_and_keeps_finished_work(qtbot, big_folder):
    win, backbone = scanning_window(qtbot, big_folder)
    db = win.state.library.db_path
    backbone.permits.release()
    qtbot.waitUntil(lambda: backbone.calls == 2, timeout=SCAN_TIMEOUT)  # batch 1 done, 2 waiting
    worker = win.state.worker
    win.close()  # the scan is told to stop; batch 2 is still in the model
    assert win.state.worker is None and not win.isVisible()
    backbone.permits.release()  # batch 2 finishes in the background, then the scan stops
    assert worker.join(30)
    with Library(db_path=db) as lib:
        assert lib.info()["photos"] == 70
        assert lib.info()["embedded"] == 64  # two batches finished, the rest left for next time


def test_without_weights_the_app_browses_and_says_how_to_get_them(qtbot, folder):
    win = MainWindow(model="resnet18")  # no weights file, downloads disabled in tests
    qtbot.addWidget(win)
    win.show()
    open_and_scan(qtbot, win, folder)
    assert win.browser.proxy.rowCount() == 10
    win.browser.select_path(str(folder / "photo3.jpg"))
    text = win.browser.strip.message.text()
    assert "Similarity needs the pretrained resnet18 weights" in text
    assert "download them or choose" in text and "--weights" not in text  # the app's words
    assert "Similarity is off" in win.status.status_text.text()
    win.close()


def test_keyboard_filter_and_settings_are_remembered(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.browser.filter_edit.hasFocus()
    qtbot.keyClicks(window.browser.filter_edit, "photo1")
    assert window.browser.proxy.rowCount() == 1
    window.browser.zoom.setValue(250)
    window.browser.strip.k_box.setValue(5)
    window.close()
    again = MainWindow(backbone=make_tiny_backbone())
    qtbot.addWidget(again)
    assert again.browser.zoom.value() == 250 and again.browser.strip.k_box.value() == 5
    assert again.folders.recent_folders()[0] == str(folder)
    assert again.browser.grid.gridSize().width() > 250


def test_preview_actions_copy_open_and_show_in_folder(qtbot, window, folder, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(
        "photosim.app.browse.panes.QDesktopServices.openUrl",
        lambda url: opened.append(url.toLocalFile()),
    )
    open_and_scan(qtbot, window, folder)
    select(qtbot, window, "photo3.jpg")
    assert "320 × 240" in window.browser.preview.details.text()  # pixel size from the library
    qtbot.mouseClick(window.browser.preview.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == str(folder / "photo3.jpg")
    qtbot.mouseClick(window.browser.preview.open_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.browser.preview.folder_button, Qt.MouseButton.LeftButton)
    assert opened == [str(folder / "photo3.jpg"), str(folder)]


def test_arrow_keys_move_the_selection_and_show_its_neighbours(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    window.browser.sort_box.setCurrentText("Name")
    select(qtbot, window, "photo3.jpg")
    window.browser.grid.setFocus()
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        qtbot.keyClick(window.browser.grid, Qt.Key.Key_Right)
    assert blocker.args[0] == str(folder / "photo4.jpg")
    assert window.browser.preview.name.text() == "photo4.jpg"

"""Setting photosim up in the app (pytest-qt, offscreen): weights chosen or downloaded,
preferences applied, folders added and removed, About and the log, queries of several
photos and of a picture dragged from a web browser."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
import torch
from conftest import new_window, rotated_copy, write_photo
from conftest import open_and_scan as scan_in
from PIL import Image
from test_e2e import PROJECT

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QFileDialog

from photosim.app.browse.queries import DROPPED
from photosim.app.main_window import MainWindow, app_settings
from photosim.app.setup.preferences import Preferences
from photosim.core import paths
from photosim.library import Library
from photosim.media import thumbs

SCAN_TIMEOUT = 120_000


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "Pictures"
    for seed in range(8):
        write_photo(root / f"photo{seed}.jpg", seed=seed)
    rotated_copy(root / "photo3.jpg", root / "copy of photo3.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


def open_and_scan(qtbot, win: MainWindow, folder: Path):
    return scan_in(qtbot, win, folder, timeout=SCAN_TIMEOUT)


def drop(win: MainWindow, mime: QMimeData) -> None:
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    win.browser.dropEvent(event)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- weights from the app -----------------------------------------------------------
def degraded_window(qtbot, folder) -> MainWindow:
    """A new user's first start: no weights anywhere, no network."""
    win = new_window(qtbot, model="resnet18")
    done = open_and_scan(qtbot, win, folder)
    assert done.model_error and win.state.library.info()["embedded"] == 0
    win.browser.select_path(str(folder / "photo3.jpg"))
    assert win.browser.strip.stack.currentWidget() is win.setup.weights_prompt
    assert win.setup.weights_prompt.choose_button.text() == "Choose weights file…"
    return win


def test_choosing_a_weights_file_turns_similarity_on_without_a_restart(
    qtbot, folder, resnet18_weights, monkeypatch
):
    win = degraded_window(qtbot, folder)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(resnet18_weights), ""))
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=SCAN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.setup.weights_prompt.choose_button, Qt.MouseButton.LeftButton)
    query, matches = blocker.args
    assert query == str(folder / "photo3.jpg") and len(matches) == 8
    assert matches[0].path == folder / "copy of photo3.jpg"
    assert win.state.library.info()["embedded"] == 9  # the waiting photos were embedded
    assert (
        win.state.model_error is None
        and win.browser.strip.stack.currentWidget() is win.browser.strip.view
    )
    win.close()
    assert app_settings().value("weights/resnet18") == str(resnet18_weights.resolve())
    other = folder.parent / "Other"  # another library of that model, made without weights
    write_photo(other / "other.jpg", seed=40)
    with Library([other]) as lib:
        lib.store.set_meta(model_name="resnet18")
    again = new_window(qtbot)  # the next start: the library's model gets the chosen weights
    with qtbot.waitSignal(again.signals.scan_finished, timeout=SCAN_TIMEOUT) as blocker:
        again.state.open_library(str(other))
    assert again.state.library.model.weights == str(resnet18_weights.resolve())
    assert not again.state.model_error and blocker.args[0].embedded == 1
    again.close()


def test_help_model_weights_offers_the_same_choice(qtbot, folder, resnet18_weights, monkeypatch):
    win = degraded_window(qtbot, folder)
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    next(a for a in menu.actions() if a.text() == "&Model Weights…").trigger()
    prompt = win.setup.weights_dialog.prompt
    qtbot.waitUntil(lambda: prompt.message.text() != "…", timeout=10_000)  # from a worker
    assert "resnet18" in prompt.message.text() and prompt.download_button.isVisibleTo(prompt)
    assert "not on this computer" in prompt.message.text()  # none is in use, and why
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(resnet18_weights), ""))
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT) as blocker:
        qtbot.mouseClick(prompt.choose_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].embedded == 9 and not win.setup.weights_dialog.isVisible()
    win.close()


def model_weights_dialog(qtbot, win: MainWindow):
    """Help > Model Weights, once its facts (read in a worker) are shown."""
    dialog = win.setup.show_weights_help()
    qtbot.waitUntil(lambda: dialog.prompt.message.text() != "…", timeout=10_000)
    return dialog


def test_help_model_weights_names_the_file_in_use_with_its_size(qtbot, folder, resnet18_weights):
    win = new_window(qtbot, model="resnet18", weights=str(resnet18_weights))
    open_and_scan(qtbot, win, folder)
    text = model_weights_dialog(qtbot, win).prompt.message.text()
    size = f"{resnet18_weights.stat().st_size / 1e6:.1f} MB"
    assert str(resnet18_weights) in text and size in text and "resnet18" in text
    win.close()


def test_a_wrong_file_chosen_in_the_weights_dialog_keeps_it_open_with_one_sentence(
    qtbot, folder, tmp_path, monkeypatch
):
    win = degraded_window(qtbot, folder)
    dialog = model_weights_dialog(qtbot, win)
    wrong = tmp_path / "holiday.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, wrong)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(wrong), ""))
    before = win.status.status_text.text()
    with qtbot.waitSignal(win.signals.similarity_unavailable, timeout=10_000):
        qtbot.mouseClick(dialog.prompt.choose_button, Qt.MouseButton.LeftButton)
    error = dialog.prompt.error.text()
    assert dialog.isVisible() and dialog.prompt.error.isVisibleTo(dialog)
    assert "holiday.pth" in error and "resnet18" in error and error.count(". ") == 0
    assert "--weights" not in error and win.status.status_text.text() == before
    assert win.state.library.model.weights is None and not app_settings().contains(
        "weights/resnet18"
    )
    win.close()


def test_a_moved_weights_file_says_what_to_do_in_the_apps_words(qtbot, folder, tmp_path):
    import shutil as sh

    weights = tmp_path / "mine" / "resnet18-mine.pth"
    weights.parent.mkdir()
    torch.save({}, weights)  # only its name matters: it is gone before it is read
    win = new_window(qtbot, model="resnet18", weights=str(weights))
    sh.move(weights, tmp_path / "elsewhere.pth")  # moved away after it was chosen
    open_and_scan(qtbot, win, folder)
    win.browser.select_path(str(folder / "photo3.jpg"))
    shown = [win.browser.strip.message.text(), win.setup.weights_prompt.message.toolTip(),
             model_weights_dialog(qtbot, win).prompt.message.text()]  # fmt: skip
    for text in shown:
        assert "--weights" not in text and "PHOTOSIM_WEIGHTS" not in text, text
    assert "no longer there" in shown[2] and "choose it again" in shown[2]
    assert str(weights) in shown[2]
    win.close()


def test_a_wrong_weights_file_gets_one_sentence_and_changes_nothing(
    qtbot, folder, tmp_path, monkeypatch
):
    win = degraded_window(qtbot, folder)
    wrong = tmp_path / "resnet50.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, wrong)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(wrong), ""))
    with qtbot.waitSignal(win.signals.similarity_unavailable, timeout=10_000):
        qtbot.mouseClick(win.setup.weights_prompt.choose_button, Qt.MouseButton.LeftButton)
    error = win.setup.weights_prompt.error.text()
    assert "resnet50.pth" in error and "resnet18" in error and error.count(". ") == 0
    assert win.setup.weights_prompt.error.isVisibleTo(win)
    assert (
        win.state.library.model.weights is None
        and win.state.model_error
        and not win.state.scanning()
    )
    assert not app_settings().contains("weights/resnet18")
    win.close()


def test_download_shows_progress_and_switches_similarity_on(
    qtbot, folder, resnet18_weights, monkeypatch
):
    win = degraded_window(qtbot, folder)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT):
        dialog = win.setup.download_weights(
            url=QUrl.fromLocalFile(str(resnet18_weights)).toString()
        )
    assert dialog.bar.value() == dialog.bar.maximum() > 0
    assert win.state.library.info()["embedded"] == 9 and win.state.library.model.weights is None
    assert win.state.library.model.current_key() == "resnet18:IMAGENET1K_V1"  # from torch's cache
    win.close()


@pytest.fixture
def slow_server():
    """A local HTTP server that trickles a 20 MB file, so a download can be cancelled."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(20_000_000))
            self.end_headers()
            try:
                for _ in range(20_000_000 // 65536):
                    self.wfile.write(b"\0" * 65536)
                    time.sleep(0.02)
            except OSError:
                pass  # the client went away: cancelled

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/resnet18-slow.pth"
    server.shutdown()


def test_cancelling_a_download_leaves_nothing_behind(qtbot, folder, slow_server):
    from photosim.models.weights import expected_weights_file

    win = degraded_window(qtbot, folder)
    dialog = win.setup.download_weights(url=slow_server)
    qtbot.waitUntil(lambda: dialog.bar.value() > 0, timeout=20_000)
    assert "MB" in dialog.label.text()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.worker.running(), timeout=20_000)  # stops in the background
    target = expected_weights_file("resnet18")
    assert not target.exists() and not list(target.parent.glob(".*.part"))
    assert (
        win.state.model_error
        and win.state.library.model.weights is None
        and not win.state.scanning()
    )
    win.close()


def test_download_without_network_says_so_in_one_sentence(qtbot, folder):
    win = degraded_window(qtbot, folder)
    dialog = win.setup.download_weights(url="http://127.0.0.1:9/resnet18-f37072fd.pth")
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=30_000)
    assert "could not be downloaded (no network?)" in dialog.error
    assert dialog.error.count(". ") == 0 and dialog.cancel_button.text() == "Close"
    dialog.reject()
    assert win.state.model_error and win.state.library.model.weights is None
    win.close()


# -- preferences --------------------------------------------------------------------
def test_preferences_change_the_neighbours_shown_and_prune_the_cache(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        window.browser.select_path(str(folder / "photo1.jpg"))
    assert len(blocker.args[1]) == 8
    cache = paths.thumbnail_dir() / "zz"
    cache.mkdir(parents=True, exist_ok=True)
    for i in range(5):  # 5 x 6 MB of old thumbnails (sparse files: cheap to make)
        with open(cache / f"{i}.jpg", "wb") as f:
            f.truncate(6_000_000)
        os.utime(cache / f"{i}.jpg", (1_000_000 + i, 1_000_000 + i))
    dialog = window.setup.show_preferences()
    qtbot.waitUntil(lambda: "Detected:" in dialog.device_label.text(), timeout=10_000)
    dialog.k_box.setValue(3)
    dialog.cache_box.setValue(20)
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        dialog.accept()
    assert len(blocker.args[1]) == 3 and window.browser.neighbours.rowCount() == 3
    qtbot.waitUntil(lambda: sorted(p.name for p in cache.iterdir()) == ["2.jpg", "3.jpg", "4.jpg"])
    assert thumbs.cache_size() <= 20_000_000
    prefs = Preferences.read(app_settings())
    assert (prefs.k, prefs.cache_mb) == (3, 20)


def test_preferences_say_a_models_weights_are_missing_and_offer_them_before_switching(
    qtbot, window, folder, resnet18_weights, tmp_path, monkeypatch
):
    open_and_scan(qtbot, window, folder)
    dialog = window.setup.show_preferences()
    qtbot.waitUntil(lambda: dialog.device_label.text() != "…", timeout=10_000)
    assert not dialog.weights_row.isVisibleTo(dialog)  # the model in use needs nothing
    dialog.model_box.setCurrentText("resnet18")
    qtbot.waitUntil(lambda: dialog.weights_row.isVisibleTo(dialog), timeout=10_000)
    note = dialog.weights_note.text()
    assert "resnet18" in note and "not on this computer" in note and "similarity is off" in note
    assert dialog.download_button.isVisibleTo(dialog) and dialog.choose_button.isVisibleTo(dialog)
    wrong = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, wrong)
    chosen = [str(wrong), str(resnet18_weights)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (chosen.pop(0), ""))
    qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "other.pth" in dialog.weights_note.text(), timeout=10_000)
    assert dialog.isVisible() and "--weights" not in dialog.weights_note.text()
    qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.weights_row.isVisibleTo(dialog), timeout=10_000)
    assert app_settings().value("weights/resnet18") == str(resnet18_weights.resolve())
    assert window.state.library.model.name != "resnet18"  # nothing switched before OK
    dialog.reject()


def test_changing_the_model_in_preferences_re_embeds_the_library(
    qtbot, folder, tmp_path, resnet18_weights
):
    import torchvision.models as tvm

    resnet34 = tmp_path / "resnet34-random.pth"
    torch.save(tvm.resnet34(weights=None).state_dict(), resnet34)
    app_settings().setValue("weights/resnet34", str(resnet34))
    win = new_window(qtbot, model="resnet18", weights=str(resnet18_weights))
    open_and_scan(qtbot, win, folder)
    assert win.state.library.model.current_key().startswith("resnet18:file-")
    prefs = Preferences.read(win.settings)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT) as blocker:
        win.setup.apply_preferences(Preferences(model="resnet34", device="cpu", k=prefs.k))
    assert blocker.args[0].embedded == 9 and not blocker.args[0].model_error
    assert win.state.library.model.current_key().startswith("resnet34:file-")
    assert win.state.library.info()["embedded"] == 9
    win.close()


# -- several folders ------------------------------------------------------------------
def test_adding_and_removing_a_folder_in_the_app_leaves_the_files_alone(
    qtbot, window, folder, tmp_path, monkeypatch
):
    phone = tmp_path / "Phone"
    for seed in range(20, 23):
        write_photo(phone / f"phone{seed}.jpg", seed=seed)
    before = snapshot(folder) | snapshot(phone)
    open_and_scan(qtbot, window, folder)
    assert window.browser.photos.rowCount() == 10
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(phone))
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Library")
    add = next(a for a in menu.actions() if a.text() == "&Add Folder…")
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        add.trigger()
    assert window.browser.photos.rowCount() == 13
    assert str(folder) in window.windowTitle() and str(phone) in window.windowTitle()
    removable = [a.text() for a in window.folders.remove_menu.actions()]
    assert removable == [str(folder), str(phone)] and window.folders.remove_menu.isEnabled()
    window.browser.select_path(str(phone / "phone21.jpg"))
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        with qtbot.waitSignal(window.folders.removed, timeout=SCAN_TIMEOUT):  # in a worker
            window.folders.remove_menu.actions()[1].trigger()
        status = window.status.status_text.text()
    assert "3 photos" in status and "untouched" in status
    qtbot.waitUntil(lambda: window.browser.photos.rowCount() == 10)
    assert window.browser.current is None and str(phone) not in window.windowTitle()
    assert window.state.library.index.status(window.state.library.model.current_key()) == "fresh"
    assert snapshot(folder) | snapshot(phone) == before  # nothing on disk changed
    window.folders.remove_menu.setEnabled(True)
    assert window.folders.remove_folder(str(folder)) == 0  # the last folder stays


def test_a_folder_of_a_library_with_several_opens_all_of_it(qtbot, window, folder, tmp_path):
    phone = tmp_path / "Phone"
    write_photo(phone / "phone1.jpg", seed=21)
    open_and_scan(qtbot, window, folder)
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        window.folders.add_folder(str(phone))
    db = window.state.library.db_path
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        window.state.open_library(str(folder))  # from Open Recent
    assert window.state.library.db_path == db and len(window.state.library.roots) == 2
    assert window.browser.photos.rowCount() == 11


# -- About and the log ------------------------------------------------------------------
def test_about_shows_versions_model_device_and_where_files_are(qtbot, window, folder, monkeypatch):
    open_and_scan(qtbot, window, folder)
    log = Path(os.environ["PHOTOSIM_HOME"]) / "photosim.core.log"
    log.write_text("hello\n")
    monkeypatch.setattr(paths, "log_file", lambda: log, raising=False)
    box = window.setup.show_about()
    qtbot.waitUntil(lambda: "…" not in box.text(), timeout=10_000)  # the model's rows: a worker's
    text = box.text()
    assert "Weights" in text and "handed to photosim" in text  # the injected test model
    for fact in ("photosim", "PyTorch", torch.__version__, "Qt", "Device", "Model",
                 str(window.state.library.db_path), str(paths.thumbnail_dir()), str(log)):  # fmt: skip
        assert fact in text, fact
    window.setup.about_box.close()
    opened = []
    monkeypatch.setattr("photosim.app.setup.actions.QDesktopServices.openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)  # fmt: skip
    assert window.setup.show_log() and opened == [str(log)]


# -- queries of several photos, and of pictures without a file ---------------------------
def test_similar_to_these_uses_the_selected_photos_together(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    window.browser.select_path(str(folder / "photo1.jpg"))
    second = window.browser.proxy.index(window.browser.proxy.row_of(str(folder / "photo6.jpg")), 0)
    window.browser.grid.selectionModel().select(
        second, window.browser.grid.selectionModel().SelectionFlag.Select
    )
    picks = window.browser.queries.selected_paths()
    assert sorted(picks) == [str(folder / "photo1.jpg"), str(folder / "photo6.jpg")]
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        window.browser.queries.many_action.trigger()
    query, matches = blocker.args
    assert query == "2 selected photos" and len(matches) == 7
    assert not {str(m.path) for m in matches} & set(picks)
    assert [m.path for m in matches] == [
        m.path for m in window.state.library.similar_to_many(picks, 7)
    ]
    assert "2 selected photos" in window.browser.strip.title.text()
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        window.browser.strip.k_box.setValue(2)  # asked again for the same selection
    assert blocker.args[0] == "2 selected photos" and len(blocker.args[1]) == 2


def test_a_drop_that_carries_only_image_data_is_queried(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    buffer = io.BytesIO()
    Image.open(folder / "photo5.jpg").save(buffer, "PNG")
    mime = QMimeData()
    mime.setData("image/png", buffer.getvalue())  # as a browser drags a picture: no file
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        drop(window, mime)
    query, matches = blocker.args
    assert query == DROPPED and matches[0].path == folder / "photo5.jpg"
    assert window.browser.preview.name.text() == "Dropped image"
    info = window.state.library.info()
    assert info["photos"] + info["skipped"] == 10  # nothing was added
    qimage = QImage(str(folder / "photo2.jpg"))
    mime = QMimeData()
    mime.setImageData(qimage)
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as blocker:
        drop(window, mime)
    assert blocker.args[1][0].path == folder / "photo2.jpg"


def test_a_bare_web_address_drop_gets_one_sentence(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    drop(window, mime)
    text = window.status.status_text.text()
    assert "does not download" in text and text.count(". ") == 0


# -- end to end: the degraded state on a real X server ------------------------------------
@pytest.mark.e2e
def test_real_app_without_weights_offers_to_choose_them_on_x_server(request, tmp_path):
    """A new user's first start (no weights, no network): it browses and offers the buttons."""
    import json
    import subprocess
    import sys

    display = request.getfixturevalue("xvfb")
    folder = tmp_path / "Photos"
    for seed in range(6):
        write_photo(folder / f"photo{seed}.jpg", size=(800, 600), seed=seed)
    shot, result, script = tmp_path / "degraded.png", tmp_path / "r.json", tmp_path / "s.json"
    script.write_text(json.dumps({"select": "photo2.jpg", "screenshot": str(shot),
                                  "result": str(result), "timeout_s": 120}))  # fmt: skip
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "PHOTOSIM_AUTOTEST": str(script)}  # fmt: skip
    command = [sys.executable, "-m", "photosim", "gui", str(folder), "--model", "resnet18"]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert outcome["error"] is None and outcome["photos"] == 6 and outcome["matches"] == []
    with Image.open(shot) as image:
        assert image.width >= 1000 and image.height >= 600
    keep = PROJECT / "screenshots"
    keep.mkdir(exist_ok=True)
    shutil.copy2(shot, keep / "e2e-degraded.png")


def test_preferences_choose_the_backend_and_about_names_the_one_that_ran(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    box = window.setup.show_about()
    qtbot.waitUntil(lambda: "…" not in box.text(), timeout=10_000)
    text = box.text()
    assert "Backend" in text and "torch fp32" in text
    window.setup.about_box.close()
    dialog = window.setup.show_preferences()
    choices = [dialog.backend_box.itemText(i) for i in range(dialog.backend_box.count())]
    assert choices == ["auto", "torch", "openvino"]
    dialog.backend_box.setCurrentText("torch")
    dialog.accept()
    assert Preferences.read(app_settings()).backend == "torch"
    assert window.state.library.model.backend == "torch"  # an injected model runs as given: torch

"""Rough edges a new user met in the app (issue 17), each as the user would see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import open_and_scan, write_photo

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLabel

from photosim.app.browse.panes import FailuresDialog
from photosim.app.dupes.compare import CompareView
from photosim.app.main_window import MainWindow
from photosim.core.text import camera_name
from photosim.library.decisions import Decisions

SCAN_TIMEOUT = 60_000


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "Pictures"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", size=(160, 120), seed=seed)
    return root


def test_after_switching_library_the_strip_forgets_the_old_one(qtbot, window, folder, tmp_path):
    open_and_scan(qtbot, window, folder)
    strip = window.browser.strip
    for name in ("p0.jpg", "p1.jpg"):
        with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000):
            window.browser.select_path(str(folder / name))
    assert "Similar to" in strip.title.text() and strip.back_button.isEnabled()
    other = tmp_path / "Other"
    write_photo(other / "x.jpg", size=(160, 120))
    open_and_scan(qtbot, window, other)
    assert "p1.jpg" not in strip.title.text() and not strip.back_button.isEnabled()
    assert strip.model.rowCount() == 0


def test_embedding_note_is_cleared_when_the_scan_ends(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    window.browser.strip.show_progress("Embedding the photos with the new weights…")
    with qtbot.waitSignal(window.signals.scan_finished, timeout=SCAN_TIMEOUT):
        window.state.start_scan()
    assert "Embedding" not in window.browser.strip.message.text()


def test_the_app_never_downloads_weights_without_a_click(qtbot, folder, monkeypatch):
    """No weights anywhere, downloads allowed: the app's scan lists photos and downloads nothing."""
    monkeypatch.delenv("PHOTOSIM_NO_DOWNLOAD")

    def no_download(*_a, **_k):
        raise AssertionError("the app downloaded without a click")

    monkeypatch.setattr("photosim.models.weights.download", no_download)
    win = MainWindow(model="resnet18")  # no injected model: the real loader runs
    qtbot.addWidget(win)
    open_and_scan(qtbot, win, folder)
    assert win.state.model_error is not None
    assert win.browser.photos.rowCount() == 4
    win.close()


def test_camera_names_do_not_repeat_the_make():
    assert camera_name("Canon", "Canon PowerShot S230") == "Canon PowerShot S230"
    assert camera_name("NIKON CORPORATION", "NIKON D70") == "NIKON D70"
    assert camera_name("Panasonic", "DMC-FX33") == "Panasonic DMC-FX33"
    assert camera_name(None, "iPhone 12") == "iPhone 12" and camera_name("Sony", None) == "Sony"


def test_skipped_files_dialog_says_one_file(qtbot):
    dialog = FailuresDialog([("/p/a.jpg", "not an image")])
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert any(t.startswith("1 file could not be read") for t in texts), texts


def test_compare_sharpness_shows_two_decimals(tmp_path):
    from PIL import Image

    from photosim.app.dupes.compare import Side, _facts

    path = write_photo(tmp_path / "a.jpg", size=(64, 48))
    with Image.open(path) as im:
        facts = _facts(Side(path, sharpness=0.587), im.convert("RGB"))
        other = _facts(Side(path, sharpness=0.31), im.convert("RGB"))
    assert facts["sharpness"] == "0.59"  # it was ":.0f": "1"
    text = CompareView._facts_text(facts, other)
    assert f"Sharpness: {facts['sharpness']} (sharper)" in text
    assert "Sharpness: 0.31\n" in CompareView._facts_text(other, facts) + "\n"


def test_keys_people_expect(qtbot, window, folder):
    open_and_scan(qtbot, window, folder)
    actions = {a.text().replace("&", ""): a for _menu, a in window.commands.actions()}
    assert actions["Preferences…"].shortcut() == QKeySequence("Ctrl+,")
    assert actions["Keyboard Shortcuts"].shortcut() == QKeySequence("F1")
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = [dialog.table.topLevelItem(i).text(2) for i in range(dialog.table.topLevelItemCount())]
    assert "Preferences" in rows and "Next photo" in rows
    browser = window.browser
    browser.filter_edit.setText("p1")
    assert browser.proxy.rowCount() == 1
    browser.grid.setFocus()
    qtbot.keyClick(browser.grid, Qt.Key.Key_Escape)
    assert browser.filter_edit.text() == "" and browser.proxy.rowCount() == 4


def test_grid_context_menu(qtbot, window, folder, monkeypatch):
    open_and_scan(qtbot, window, folder)
    grid = window.browser.grid
    texts = [a.text() for a in grid.actions() if not a.isSeparator()]
    assert texts == ["Open", "Open in Other Application", "Show in Folder", "Copy Path",
                     "Similar Photos", "Similar to &These", "Move to Trash"]  # fmt: skip
    window.browser.select_path(str(folder / "p2.jpg"))
    menu = window.browser.grid_menu
    menu.actions["copy"].trigger()
    assert QApplication.clipboard().text() == str(folder / "p2.jpg")
    menu.actions["open"].trigger()
    assert window.browser.pages.currentWidget() is window.browser.viewer
    window.browser.close_viewer(str(folder / "p2.jpg"))
    trashed = []

    def fake_trash(_decisions, paths):  # in place of Decisions.move_to_trash
        from photosim.dupes.trash import TrashRecord

        trashed.extend(paths)
        return TrashRecord("id", 0.0, tuple((p, None) for p in paths))

    monkeypatch.setattr(Decisions, "move_to_trash", fake_trash)
    with qtbot.waitSignal(window.signals.status_message, timeout=10_000,
                          check_params_cb=lambda t: t.startswith("Moved")) as blocker:  # fmt: skip
        menu.actions["trash"].trigger()
    assert trashed == [folder / "p2.jpg"] and blocker.args[0] == "Moved 1 photo to the trash."


def test_the_process_exits_within_a_second_of_the_window_closing(folder, tmp_path):
    """The real app, offscreen, scripted: from the window closing to the process gone."""
    import json
    import os
    import subprocess
    import sys
    import time

    result, script = tmp_path / "result.json", tmp_path / "script.json"
    script.write_text(json.dumps({"select": "p1.jpg", "result": str(result), "timeout_s": 60}))
    tests = Path(__file__).resolve().parent
    code = ("import sys; sys.path.insert(0, sys.argv[2]); from conftest import make_tiny_backbone; "
            "from photosim.app import run; sys.exit(run(root=sys.argv[1], "
            "backbone=make_tiny_backbone()))")  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PHOTOSIM_AUTOTEST": str(script),
           "PYTHONPATH": str(tests.parent)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), str(tests)], env=env)
    deadline = time.monotonic() + 120
    while not result.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    closed = time.monotonic()  # the result is written as the window closes
    proc.wait(timeout=30)
    assert json.loads(result.read_text())["error"] is None
    assert time.monotonic() - closed <= 1.0


def test_the_welcome_page_shows_no_dead_controls_and_one_hint(qtbot, window, folder):
    browser = window.browser
    assert browser.grid_stack.currentWidget() is browser.welcome
    for widget in (browser.bar, browser.preview, browser.strip, browser.sidebar):
        assert not widget.isVisible()
    open_and_scan(qtbot, window, folder)
    for widget in (browser.bar, browser.preview, browser.strip, browser.sidebar):
        assert widget.isVisible()
    hints = [w.text() for w in window.findChildren(QLabel) if w.isVisible()
             and w.text().startswith("Select a photo")]  # fmt: skip
    assert len(hints) == 1


def test_undo_is_enabled_only_with_a_move_to_undo(qtbot, window, folder):
    from photosim.dupes.trash import _append

    open_and_scan(qtbot, window, folder)
    view = window.duplicates
    qtbot.waitUntil(lambda: not view.cleanup.undo_runner.busy(), timeout=5_000)
    assert not view.undo_button.isEnabled()
    library = window.state.library
    _append(library.decisions.trash_journal, {"action": "trash", "id": "m1", "at": 0, "moved": []})
    assert library.decisions.can_undo()
    view.cleanup.check_undo()
    qtbot.waitUntil(view.undo_button.isEnabled, timeout=5_000)


def test_download_dialog_is_readable_and_leaves_no_empty_bar(qtbot, monkeypatch):
    from photosim.app.setup import weights as weights_ui

    def fail(*_a, **_k):
        raise OSError("no network")

    monkeypatch.setattr(weights_ui, "download", fail)
    dialog = weights_ui.DownloadDialog("resnet50")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=5_000)
    assert dialog.width() >= 460
    title = dialog.fontMetrics().horizontalAdvance(dialog.windowTitle())
    assert dialog.width() > title + 100  # the title is not cut
    assert not dialog.bar.isVisible() and dialog.label.text() == dialog.error
    assert dialog.label.height() >= dialog.label.heightForWidth(dialog.label.width())


def test_the_scan_summary_names_folders_reached_through_links():
    from photosim.app import messages
    from photosim.core.events import ScanKind, ScanProgress

    done = ScanProgress(ScanKind.DONE, found=3, new=3, linked=("/media/phone/DCIM",))
    text = messages.summary(done, None)
    assert text.startswith("Up to date: 3 photos, 3 new")
    assert "followed links to /media/phone/DCIM" in text


def test_grid_menu_open_with_show_in_folder_and_similar_photos(qtbot, window, folder, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from photosim.app.browse import viewer as viewer_module

    open_and_scan(qtbot, window, folder)
    path = str(folder / "p2.jpg")
    window.browser.select_path(path)
    menu = window.browser.grid_menu
    handed: list[str] = []
    monkeypatch.setattr(viewer_module, "desktop_open",
                        lambda url: handed.append(url.toLocalFile()) or False)  # fmt: skip
    with qtbot.waitSignal(window.signals.status_message, timeout=5_000) as said:
        menu.actions["open_with"].trigger()
    assert handed == [path] and said.args[0].startswith("No application on this desktop opens")
    shown_folders: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        lambda url: shown_folders.append(url.toLocalFile()) or True)  # fmt: skip
    menu.actions["folder"].trigger()
    assert shown_folders == [str(folder)]
    window.browser.select_path(str(folder / "p1.jpg"))
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000):
        window.browser.select_path(path)
    with qtbot.waitSignal(window.signals.neighbours_ready, timeout=10_000) as ready:
        menu.actions["similar"].trigger()
    assert ready.args[0] == path and window.browser.strip.isVisible()


def test_the_scan_summary_counts_a_broken_file_as_skipped_not_as_a_photo():
    from photosim.app import messages
    from photosim.core.events import ScanKind, ScanProgress

    done = ScanProgress(ScanKind.DONE, found=30, new=29, failed=1)
    assert messages.summary(done, None) == "Up to date: 29 photos, 29 new, 1 skipped"

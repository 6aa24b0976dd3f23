"""The Duplicates view and the compare view with pytest-qt (offscreen).

A real library (tiny injected model) on generated photos with planted copies;
waits are on signals or conditions, never blind sleeps. The trash is a
temporary one (XDG_DATA_HOME points into the test's folder).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, open_and_scan, rotated_copy, write_photo
from PIL import Image, ImageDraw

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel

from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.dupes.compare import CompareView, Side, difference, load_pair
from photosim.app.dupes.view import DuplicatesView
from photosim.library import Library

TIMEOUT = 30_000


@pytest.fixture
def folder(tmp_path) -> Path:
    """Originals with planted copies (byte copy, resized, PNG export), another shot of one scene."""
    root = tmp_path / "Photos"
    write_photo(root / "beach.jpg", size=(800, 600), seed=1, detail=True)
    (root / "backup").mkdir()
    shutil.copy2(root / "beach.jpg", root / "backup" / "beach.jpg")
    write_photo(root / "tree.jpg", size=(800, 600), seed=2, detail=True)
    Image.open(root / "tree.jpg").resize((400, 300)).save(root / "tree small.jpg", quality=80)
    write_photo(root / "dog.jpg", size=(640, 480), seed=3, detail=True)
    other_shot = Image.open(root / "dog.jpg").convert("RGB")  # the scene with a part changed
    ImageDraw.Draw(other_shot).rectangle([0, 0, 320, 240], fill=(30, 120, 200))
    other_shot.save(root / "dog 2.jpg", quality=90)
    write_photo(root / "originals" / "cat.jpg", size=(800, 600), seed=5, detail=True)
    Image.open(root / "originals" / "cat.jpg").save(root / "cat export.png")
    return root


@pytest.fixture
def library(folder, trash_home):
    lib = Library([folder], backbone=make_tiny_backbone())
    for _event in lib.scan():
        pass
    yield lib
    lib.close()


class Recorder:
    """The engine's DuplicateFinder, recording each grouping (arguments and thread)."""

    def __init__(self, finder) -> None:
        self.finder = finder
        self.calls: list[tuple] = []
        self.threads: list[threading.Thread] = []

    def group(self, kinds=("exact", "near", "similar"), near=None, similar=None):
        self.calls.append((tuple(kinds), near, similar))
        self.threads.append(threading.current_thread())
        return self.finder.group(kinds, near=near, similar=similar)


@pytest.fixture
def view(qtbot, library):
    """The view on the real engine: the finder is built (off the GUI thread) when it is shown."""
    widget = DuplicatesView(Thumbnails())
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.set_library(library)
    with qtbot.waitSignal(widget.regrouped, timeout=TIMEOUT):
        widget.show()
    widget.search.finder = Recorder(widget.search.finder)
    yield widget
    widget.release()


def refind(qtbot, view: DuplicatesView) -> None:
    """Build the finder again (after a decision or a change of reference folders)."""
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        view.refresh()
    view.search.finder = Recorder(view.search.finder)


def names(view: DuplicatesView) -> list[list[str]]:
    return [[m.path.name for m in g.photos] for g in view.groups]


def select(view: DuplicatesView, path: Path):
    """Make the group holding ``path`` the current one; returns it."""
    row = next(r for r, g in enumerate(view.groups) if path in [m.path for m in g.photos])
    view.select_row(row)
    assert view.current_group() is view.groups[row]
    return view.groups[row]


def group_of(view: DuplicatesView, path: Path):
    return next((g for g in view.groups if path in [m.path for m in g.photos]), None)


def slide(qtbot, slider, value: int):
    with qtbot.waitSignal(slider.window().regrouped, timeout=TIMEOUT) as blocker:
        slider.setValue(value)
    return blocker.args[0]


# -- regrouping -------------------------------------------------------------------------
def test_groups_of_planted_copies_and_the_calibrated_thresholds(view, folder):
    assert sorted(g.kind for g in view.groups) == ["exact", "near", "near", "similar"]
    assert group_of(view, folder / "tree small.jpg").keep == folder / "tree.jpg"
    assert group_of(view, folder / "cat export.png").keep == folder / "originals" / "cat.jpg"
    calibrated = view.result.thresholds
    assert view.near_slider.value() == round(calibrated.near * 1000)
    assert view.similar_slider.value() == round(calibrated.similar * 1000)
    assert view.group_model.rowCount() == 4


def test_the_slow_search_runs_in_a_worker_and_reports_its_steps(qtbot, library):
    widget = DuplicatesView(Thumbnails())
    qtbot.addWidget(widget)
    steps, texts = [], []
    widget.search.progressed.connect(lambda p: steps.append(p.step))
    widget.search.progressed.connect(lambda _p: texts.append(widget.total_label.text()))
    widget.set_library(library)
    with qtbot.waitSignal(widget.regrouped, timeout=TIMEOUT):
        widget.show()  # returns at once: the finder is built off the GUI thread
        assert widget.busy.isVisible()
    assert "pixels" in steps and any("Looking for duplicates: " in t for t in texts)
    assert not widget.busy.isVisible()
    widget.release()


def test_slider_regroups_off_the_gui_thread(qtbot, view, folder):
    slide(qtbot, view.similar_slider, 700)
    assert group_of(view, folder / "dog 2.jpg").kind == "similar"
    result = slide(qtbot, view.similar_slider, 950)  # above the other shot's score
    assert result.thresholds.similar == pytest.approx(0.95)
    assert group_of(view, folder / "dog 2.jpg") is None
    assert view.group_model.rowCount() == len(view.groups) == 3
    assert view.search.finder.calls and threading.main_thread() not in view.search.finder.threads
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        view.kind_boxes["near"].setChecked(False)
    assert [g.kind for g in view.groups] == ["exact"]


def test_slider_drag_is_debounced_into_one_grouping(qtbot, view):
    before = len(view.search.finder.calls)
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        for value in range(760, 900, 10):
            view.similar_slider.setValue(value)
    assert len(view.search.finder.calls) - before == 1
    assert view.search.finder.calls[-1][2] == pytest.approx(0.89)


# -- marks ------------------------------------------------------------------------------
def test_copies_are_marked_remove_and_keepers_and_other_shots_keep(qtbot, view, folder):
    slide(qtbot, view.similar_slider, 700)
    marked = set(view.marked_paths())
    beach = {folder / "beach.jpg", folder / "backup" / "beach.jpg"}
    assert len(marked & beach) == 1
    assert marked - beach == {folder / "tree small.jpg", folder / "cat export.png"}
    # similar shots are other photos: nothing in their group is marked until the user says so
    assert group_of(view, folder / "dog 2.jpg") is not None
    assert not marked & {folder / "dog.jpg", folder / "dog 2.jpg"}


def test_reference_folder_photos_are_never_marked_remove(qtbot, view, library, folder):
    backup = folder / "backup" / "beach.jpg"
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):  # what the button's dialog does
        view.cleanup.set_reference_folders([folder / "backup"])
    assert library.decisions.reference_folders() == [folder / "backup"]
    assert view.reference_button.text() == "Reference folders (1)…"
    group = select(view, backup)
    assert group.keep == backup  # a reference photo is the keeper
    assert view.marks[group.id][str(backup)] == "reference"
    assert folder / "beach.jpg" in view.marked_paths() and backup not in view.marked_paths()
    assert not view.mark(backup, remove=True)  # refused, with a sentence why
    assert "reference" in view.note.text()
    view.apply_suggested()
    assert backup not in view.marked_paths()


def test_a_group_always_keeps_one_photo_and_a_keep_mark_lasts(qtbot, view, folder):
    group = select(view, folder / "tree.jpg")
    assert not view.mark(folder / "tree.jpg", remove=True)  # the last one kept
    assert view.mark(folder / "tree small.jpg", remove=False)
    assert view.mark(folder / "tree.jpg", remove=True)
    assert view.marks[group.id] == {str(folder / "tree.jpg"): "remove",
                                    str(folder / "tree small.jpg"): "keep"}  # fmt: skip
    view.apply_suggested()  # the user's keep stays; the view says so
    assert view.marks[group.id][str(folder / "tree small.jpg")] == "keep"
    assert "you marked keep stay kept" in view.note.text()
    refind(qtbot, view)  # the keep mark is stored by the library: the engine now suggests it
    assert group_of(view, folder / "tree.jpg").keep == folder / "tree small.jpg"


def test_not_duplicates_hides_the_group_for_good(qtbot, view, folder):
    slide(qtbot, view.similar_slider, 700)
    select(view, folder / "dog.jpg")
    view.cleanup.confirm_dismiss = lambda group: False  # asked once: "no" keeps it
    view.not_duplicates()
    assert group_of(view, folder / "dog.jpg") is not None
    view.cleanup.confirm_dismiss = lambda group: True
    view.not_duplicates()
    assert group_of(view, folder / "dog.jpg") is None
    assert view.group_model.rowCount() == 3
    slide(qtbot, view.similar_slider, 650)  # regroup: the dismissed group stays away
    assert group_of(view, folder / "dog.jpg") is None
    refind(qtbot, view)  # and so it does for the engine, which stored the decision
    slide(qtbot, view.similar_slider, 640)
    assert group_of(view, folder / "dog.jpg") is None
    assert len(view.groups) == 3


def test_dismissed_groups_are_listed_and_restored_in_the_app(qtbot, view, folder):
    slide(qtbot, view.similar_slider, 700)
    select(view, folder / "dog.jpg")
    view.cleanup.confirm_dismiss = lambda group: True
    view.not_duplicates()
    assert group_of(view, folder / "dog.jpg") is None
    for write in view.writes.workers:
        write.join()
    opened = []
    cleanup = view.cleanup
    cleanup._open_dismissed = lambda groups, real=cleanup._open_dismissed: opened.append(
        real(groups)
    )
    cleanup.show_dismissed()
    qtbot.waitUntil(lambda: bool(opened), timeout=TIMEOUT)
    dialog = opened[0]
    assert dialog.list.count() == 1 and "dog.jpg" in dialog.list.item(0).text()
    dialog.list.item(0).setSelected(True)
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):  # restored: found again
        dialog.restore_selected()
    assert group_of(view, folder / "dog.jpg") is not None


def test_a_keep_mark_survives_trash_undo_regroup_and_apply(qtbot, view, library, folder):
    """The user keeps a greyscale copy beside the original: no later step marks either remove."""
    Image.open(folder / "tree.jpg").convert("L").save(folder / "tree grey.jpg", quality=92)
    for _event in library.scan():
        pass
    refind(qtbot, view)
    original, grey = str(folder / "tree.jpg"), str(folder / "tree grey.jpg")
    group = select(view, folder / "tree.jpg")
    assert {m.path.name for m in group.photos} == {"tree.jpg", "tree small.jpg", "tree grey.jpg"}
    assert view.mark(grey, remove=False)
    view.cleanup.confirm = lambda count, size, companions=0: True
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):  # trashed, then found again
        assert view.move_marked_to_trash()
    assert not (folder / "tree small.jpg").exists()
    marks = view.marks[group_of(view, folder / "tree.jpg").id]
    assert marks == {original: "keep", grey: "keep"}
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):  # undone, then found again
        view.cleanup.undo_last_move()
    assert (folder / "tree small.jpg").exists()
    marks = view.marks[group_of(view, folder / "tree.jpg").id]
    assert marks[original] == marks[grey] == "keep"
    slide(qtbot, view.similar_slider, 650)  # a regroup
    view.apply_suggested()
    marks = view.marks[group_of(view, folder / "tree.jpg").id]
    assert marks[original] == marks[grey] == "keep"
    assert view.marked_paths() and str(folder / "tree.jpg") not in map(str, view.marked_paths())


def test_the_trash_confirmation_lists_each_file_with_its_size(qtbot, view, folder):
    from photosim.app.dupes.dialogs import TrashDialog

    files = [(folder / "tree small.jpg", 12_345), (folder / "cat export.png", 2_000_000)]
    dialog = TrashDialog(files)
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 2
    assert (
        "12.3 KB" in dialog.list.item(0).text() and "tree small.jpg" in dialog.list.item(0).text()
    )
    assert "2 photos (2.0 MB)" in dialog.findChild(QLabel).text()


# -- trash and undo ---------------------------------------------------------------------
def test_move_marked_to_trash_moves_exactly_the_marked_files_and_undo_restores(
    qtbot, view, folder, trash_home
):
    slide(qtbot, view.similar_slider, 700)
    before = {p for p in folder.rglob("*") if p.is_file()}
    asked = []
    view.cleanup.confirm = lambda count, size, companions=0: asked.append((count, size)) or True
    marked = set(view.marked_paths())
    size = sum(os.path.getsize(p) for p in marked)
    with qtbot.waitSignal(view.trashed, timeout=TIMEOUT) as blocker:
        assert view.move_marked_to_trash()
    assert asked and asked[0][0] == len(marked) == 3
    assert asked[0][1] == size
    assert {Path(p) for p in blocker.args[0]} == marked
    assert {p for p in folder.rglob("*") if p.is_file()} == before - marked
    assert len(list((trash_home / "files").iterdir())) == 3  # in the test's trash
    assert [g.kind for g in view.groups] == ["similar"]  # the copies' groups are gone
    with qtbot.waitSignal(view.restored, timeout=TIMEOUT) as blocker:
        view.cleanup.undo_last_move()
    assert {Path(p) for p in blocker.args[0]} == marked
    assert {p for p in folder.rglob("*") if p.is_file()} == before


def test_declining_the_confirmation_moves_nothing(qtbot, view, folder):
    before = {p for p in folder.rglob("*") if p.is_file()}
    asked = []
    view.cleanup.confirm = lambda count, size, companions=0: asked.append(count) and False
    assert view.move_marked_to_trash()  # asks once the files going with them are counted
    qtbot.waitUntil(lambda: bool(asked), timeout=TIMEOUT)
    assert {p for p in folder.rglob("*") if p.is_file()} == before


# -- compare ----------------------------------------------------------------------------
def visible(pane) -> tuple[float, ...]:
    """The part of its image a pane shows, in normalised image coordinates."""
    r = pane.image_rect()
    return tuple(round(v, 3) for v in (-r.x() / r.width(), -r.y() / r.height(),
                                       pane.width() / r.width(), pane.height() / r.height()))  # fmt: skip


def test_double_click_compares_with_the_keeper_with_synchronised_zoom_and_pan(qtbot, view, folder):
    select(view, folder / "tree.jpg")
    row = next(i for i, m in enumerate(view.members.members) if m.path.name == "tree small.jpg")
    dialog = view.compare_member(row)
    compare: CompareView = dialog.view
    with qtbot.waitSignal(compare.loaded, timeout=TIMEOUT):
        pass
    left, right = compare.panes
    assert left.image.width() == 800 and right.image.width() == 400  # keeper on the left
    assert "800 × 600" in compare.facts[0].text() and "400 × 300" in compare.facts[1].text()
    assert "(more)" in compare.facts[0].text() and "Sharpness" in compare.facts[1].text()
    assert visible(left) == visible(right)
    centre = QPointF(left.width() / 4, left.height() / 4)
    wheel = QWheelEvent(centre, left.mapToGlobal(centre), QPoint(), QPoint(0, 360),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(left, wheel)
    assert compare.state.zoom == pytest.approx(1.25**3)
    assert visible(left) == visible(right) and visible(left)[2] < 0.6
    before = visible(right)
    for kind, pos in ((QEvent.Type.MouseButtonPress, QPointF(200, 200)),
                      (QEvent.Type.MouseMove, QPointF(150, 170)),
                      (QEvent.Type.MouseButtonRelease, QPointF(150, 170))):  # fmt: skip
        QApplication.sendEvent(left, QMouseEvent(kind, pos, left.mapToGlobal(pos),
                                                 Qt.MouseButton.LeftButton,
                                                 Qt.MouseButton.LeftButton,
                                                 Qt.KeyboardModifier.NoModifier))  # fmt: skip
    assert visible(right)[0] > before[0] and visible(right)[1] > before[1]  # dragged left and up
    assert visible(left) == visible(right)
    compare.diff_box.setChecked(True)
    assert right.image is compare.result["diff"]
    assert "Difference" in compare.titles[1].text()


def test_compare_aligns_an_exif_rotated_copy_upright(folder, tmp_path):
    copy = rotated_copy(folder / "tree.jpg", tmp_path / "turned.jpg")
    result = load_pair(Side.of(folder / "tree.jpg"), Side.of(copy))
    assert result["right"].width() == 800 and result["right"].height() == 600
    assert result["mean_diff"] < 0.03
    assert result["facts"][1]["pixels"] == "800 × 600"  # the upright size, from the header


def test_difference_of_a_resized_copy_is_small_and_of_another_photo_large(folder):
    a = Image.open(folder / "tree.jpg").convert("RGB")
    small = Image.open(folder / "tree small.jpg").convert("RGB")
    other = Image.open(folder / "dog.jpg").convert("RGB")
    shown, mean_same, turn = difference(a, small)
    assert shown.size == a.size and turn == 0
    assert mean_same < 0.03 < difference(a, other)[1]
    turned = a.transpose(Image.Transpose.ROTATE_90)  # turned in its pixels, no EXIF tag
    _shown, mean_turned, turn = difference(a, turned)
    assert turn == 270 and mean_turned < 0.03


def test_views_render_for_screenshots(qtbot, view, folder, tmp_path):
    """The Duplicates view and the compare view paint photos (PHOTOSIM_SHOTS=DIR keeps PNGs)."""
    select(view, folder / "tree.jpg")
    qtbot.waitUntil(lambda: view.thumbnails.pending() == 0, timeout=TIMEOUT)
    dialog = view.compare_member(1)
    with qtbot.waitSignal(dialog.view.loaded, timeout=TIMEOUT):
        pass
    out = Path(os.environ.get("PHOTOSIM_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    for name, widget in (("duplicates.png", view), ("compare.png", dialog)):
        image = widget.grab().toImage()
        assert image.width() > 600
        image.save(str(out / name))
        with Image.open(out / name) as shot:
            assert len(shot.convert("RGB").resize((64, 40)).getcolors(4096) or []) > 100


# -- in the main window -----------------------------------------------------------------
@pytest.fixture
def window(window, folder, trash_home, qtbot):
    """The shared window, with ``folder`` opened and scanned (opens in a worker; the scan
    follows)."""
    open_and_scan(qtbot, window, folder, timeout=TIMEOUT)
    return window


def test_duplicates_tab_finds_groups_when_opened_and_trash_updates_the_grid(
    qtbot, window, folder, trash_home
):
    assert window.tabs.tabText(1) == "Duplicates"
    with qtbot.waitSignal(window.duplicates.regrouped, timeout=TIMEOUT):
        window.show_duplicates()
    view = window.duplicates
    backup = folder / "backup" / "beach.jpg"
    exact = [g for g in view.groups if g.kind == "exact"]
    assert [sorted(m.path for m in g.photos) for g in exact] == [
        sorted([folder / "beach.jpg", backup])
    ]
    assert window.tabs.tabText(1) == f"Duplicates ({len(view.groups)})"
    before = window.browser.photos.rowCount()
    view.cleanup.confirm = lambda count, size, companions=0: True
    marked = view.marked_paths()
    with qtbot.waitSignal(window.signals.photos_changed, timeout=TIMEOUT):
        view.move_marked_to_trash()
    assert window.browser.photos.rowCount() == before - len(marked)
    assert len(list((trash_home / "files").iterdir())) == len(marked)
    assert all(window.browser.photos.row_of(str(p)) is None for p in marked)
    with qtbot.waitSignal(window.signals.photos_changed, timeout=TIMEOUT):
        view.cleanup.undo_last_move()  # restored files come back in the grid (scanned in if need be)
    qtbot.waitUntil(lambda: window.browser.photos.rowCount() == before, timeout=TIMEOUT)


def test_marking_keep_while_another_writer_holds_the_library_never_stalls(qtbot, view, folder):
    """The keep mark is written in a worker: a scan (here: another connection) holding the
    write lock for half a second never freezes the window."""
    from PySide6.QtCore import QTimer

    from photosim.storage.store import Store

    select(view, folder / "tree.jpg")
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        store = Store(view.library.db_path)
        with store.atomic():
            held.set()
            release.wait(0.5)
        store.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert held.wait(10)
    times = [time.monotonic()]
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: times.append(time.monotonic()))
    timer.start()
    assert view.mark(folder / "tree small.jpg", remove=False)
    qtbot.waitUntil(lambda: not view.writes.running(), timeout=TIMEOUT)
    timer.stop()
    gap = max(b - a for a, b in itertools.pairwise(times))
    print(f"mark keep: longest event-loop gap {gap * 1000:.0f} ms")
    thread.join(10)
    assert gap < 0.1
    refind(qtbot, view)  # written all the same: the engine now carries the keep mark
    group = group_of(view, folder / "tree.jpg")
    assert next(m for m in group.photos if m.path.name == "tree small.jpg").marked_keep


# -- issue 17: a count and Cancel, names, labels, plurals ---------------------------------
def gated_search(view: DuplicatesView) -> threading.Event:
    """Start a search that waits (in its worker) until the returned gate opens: a write still
    running holds it, as a keep mark being written would."""
    gate = threading.Event()
    view.writes.write(lambda: gate.wait(TIMEOUT / 1000), "test-gate")
    view.refresh()
    return gate


def test_the_search_counts_what_it_checks(qtbot, library):
    widget = DuplicatesView(Thumbnails())
    qtbot.addWidget(widget)
    texts, maxima = [], []
    widget.search.progressed.connect(lambda _p: texts.append(widget.total_label.text()))
    widget.search.progressed.connect(lambda _p: maxima.append(widget.busy.maximum()))
    widget.set_library(library)
    with qtbot.waitSignal(widget.regrouped, timeout=TIMEOUT):
        widget.show()
        assert widget.cancel_button.isVisible()
    counted = [t for t in texts if re.search(r"Checking pairs [\d,]+ of [\d,]+…$", t)]
    assert counted, texts
    assert any(m > 0 for m in maxima)  # a bar that fills, not only a busy one
    assert any(re.search(r"Reading photos [\d,]+ of [\d,]+", t) for t in texts), texts
    assert not widget.cancel_button.isVisible()
    widget.release()


def test_cancel_before_any_result_leaves_an_empty_state_with_a_sentence(qtbot, library):
    widget = DuplicatesView(Thumbnails())
    qtbot.addWidget(widget)
    widget.set_library(library)
    widget.stale = False  # shown without searching: the test starts the search itself
    widget.show()
    gate = gated_search(widget)
    assert widget.cancel_button.isVisible() and widget.busy.isVisible()
    with qtbot.waitSignal(widget.search.cancelled, timeout=TIMEOUT):
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert widget.result is None and widget.groups == [] and widget.group_model.rowCount() == 0
    assert "cancelled" in widget.group_title.text() and "Find again" in widget.group_title.text()
    assert "cancelled" in widget.note.text()
    assert not widget.busy.isVisible() and not widget.cancel_button.isVisible()
    assert widget.refresh_button.isEnabled()
    with qtbot.waitSignal(widget.regrouped, timeout=TIMEOUT):  # Find again finds them all
        qtbot.mouseClick(widget.refresh_button, Qt.MouseButton.LeftButton)
    assert len(widget.groups) == 4
    widget.release()


def test_cancel_keeps_the_last_result_shown_and_usable(qtbot, view, folder):
    before = names(view)
    gate = gated_search(view)
    with qtbot.waitSignal(view.search.cancelled, timeout=TIMEOUT):
        view.cancel_button.click()
        gate.set()
    assert names(view) == before and view.result is not None
    assert "the groups shown are from the last search" in view.note.text()
    slide(qtbot, view.similar_slider, 700)  # the last search's finder still regroups
    assert group_of(view, folder / "dog 2.jpg").kind == "similar"


def test_same_name_files_show_their_folder_on_the_cards(view, folder):
    group = select(view, folder / "beach.jpg")
    shown = {view.members.data(view.members.index(r)) for r in range(len(group.photos))}
    assert shown == {"Photos/beach.jpg", "backup/beach.jpg"}
    select(view, folder / "tree.jpg")
    shown = {view.members.data(view.members.index(r)) for r in range(2)}
    assert shown == {"tree.jpg", "tree small.jpg"}  # names alone where they differ


def test_identical_files_are_labelled_so_and_rows_keep_their_height(qtbot, view, folder):
    from photosim.app.dupes.models import ROW_HEIGHT

    group = select(view, folder / "beach.jpg")
    assert group.kind == "exact"  # what the CLI prints
    row = view.groups.index(group)
    assert view.group_model.data(view.group_model.index(row, 0)) == "Identical files"
    assert "Identical files" in view.group_title.text()
    assert view.kind_boxes["exact"].text() == "Identical files"
    heights = [view.tree.visualRect(view.group_model.index(r, 0)).height() for r in range(4)]
    qtbot.waitUntil(lambda: view.thumbnails.pending() == 0, timeout=TIMEOUT)
    slide(qtbot, view.similar_slider, 700)  # regrouped, the keepers' icons loaded now
    after = [view.tree.visualRect(view.group_model.index(r, 0)).height() for r in range(4)]
    assert heights == after == [ROW_HEIGHT] * 4


def test_counts_agree_in_number_and_undo_is_off_with_nothing_to_undo(qtbot, view, folder):
    select(view, folder / "tree.jpg")
    assert view.mark(folder / "tree small.jpg", remove=False)
    select(view, folder / "cat export.png")
    assert view.mark(folder / "cat export.png", remove=False)
    assert "4 groups · 1 photo marked for the trash" in view.total_label.text()
    view.cleanup.confirm = lambda count, size, companions=0: True
    with qtbot.waitSignal(view.trashed, timeout=TIMEOUT):
        view.move_marked_to_trash()
    assert view.note.text().startswith("Moved 1 photo to the trash;")
    qtbot.waitUntil(view.undo_button.isEnabled, timeout=TIMEOUT)
    with qtbot.waitSignal(view.restored, timeout=TIMEOUT):
        view.undo_button.click()
    assert view.note.text() == "Brought back 1 photo from the trash."
    qtbot.waitUntil(lambda: not view.undo_button.isEnabled(), timeout=TIMEOUT)


def test_the_compare_header_is_elided_with_the_whole_text_in_its_tooltip(qtbot, view, folder):
    long_name = "a holiday photo with a very long name that no header can show whole.jpg"
    shutil.copy2(folder / "tree small.jpg", folder / long_name)
    for _event in view.library.scan():
        pass
    refind(qtbot, view)
    group = select(view, folder / "tree.jpg")
    row = next(i for i, m in enumerate(group.photos) if m.path.name == long_name)
    dialog = view.compare_member(row)
    with qtbot.waitSignal(dialog.view.loaded, timeout=TIMEOUT):
        dialog.resize(700, 500)
    title = dialog.view.titles[1]
    qtbot.waitUntil(lambda: title.text().endswith("…"), timeout=TIMEOUT)
    assert title.toolTip().startswith(long_name) and title.toolTip() == title.full_text()
    assert title.fontMetrics().horizontalAdvance(title.text()) <= title.width()
    assert not title.text().startswith(long_name)
    path = dialog.view.paths[1]  # the path too: its start and its file name, "…" between
    assert "…" in path.text() and path.text().endswith(".jpg")
    assert path.toolTip() == f"Path: {folder / long_name}"
    dialog.resize(1800, 600)  # wider: more of it, the whole name
    qtbot.waitUntil(lambda: title.text().startswith(long_name), timeout=TIMEOUT)


def test_compare_names_photos_as_their_cards_and_calls_sharper_only_when_it_is(qtbot, view, folder):
    select(view, folder / "beach.jpg")
    dialog = view.compare_member(1)
    with qtbot.waitSignal(dialog.view.loaded, timeout=TIMEOUT):
        pass
    titles = {t.full_text().split(" · ")[0] for t in dialog.view.titles}
    assert titles == {"Photos/beach.jpg", "backup/beach.jpg"}
    facts = {"pixels": "800 × 600", "megapixels": 0.48, "size": "1 KB", "date": "d",
             "path": "p", "sharpness": "0.23", "sharp": 0.231}  # fmt: skip
    alike = CompareView._facts_text(facts, {**facts, "sharp": 0.229})
    assert "Sharpness: 0.23" in alike.splitlines() and "(sharper)" not in alike  # as shown
    assert "(sharper)" in CompareView._facts_text({**facts, "sharp": 0.3}, facts)

"""The Duplicates view and the compare view with pytest-qt (offscreen).

A real library (tiny injected model) on generated photos with planted copies;
waits are on signals or conditions, never blind sleeps. The trash is a
temporary one (XDG_DATA_HOME points into the test's folder).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, rotated_copy, write_photo
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from photosim.app.compare import CompareView, Side, difference, load_pair
from photosim.app.duplicates import DuplicatesView
from photosim.app.thumbnails import Thumbnails
from photosim.duplicates import DupGroup, DupKind, DupMember, DupResult, Thresholds
from photosim.library import Library

TIMEOUT = 30_000


@pytest.fixture
def trash_home(tmp_path, monkeypatch) -> Path:
    """A private freedesktop trash on the photos' filesystem, never the user's own."""
    from send2trash import plat_other

    data = tmp_path / "xdg-data"
    data.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    # Send2Trash reads XDG_DATA_HOME once, at import: point it at this test's trash.
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", bytes(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", bytes(data / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data / "Trash"))
    return data / "Trash"


@pytest.fixture
def folder(tmp_path) -> Path:
    """Originals, a byte copy, a resized copy, another shot, an original in a reference folder."""
    root = tmp_path / "Photos"
    write_photo(root / "beach.jpg", size=(800, 600), seed=1)
    (root / "backup").mkdir()
    shutil.copy2(root / "beach.jpg", root / "backup" / "beach.jpg")
    write_photo(root / "tree.jpg", size=(800, 600), seed=2)
    Image.open(root / "tree.jpg").resize((400, 300)).save(root / "tree small.jpg", quality=80)
    write_photo(root / "dog.jpg", size=(640, 480), seed=3)
    write_photo(root / "dog 2.jpg", size=(640, 480), seed=4)
    write_photo(root / "originals" / "cat.jpg", size=(800, 600), seed=5)
    Image.open(root / "originals" / "cat.jpg").save(root / "cat export.png")
    return root


@pytest.fixture
def library(folder, trash_home):
    lib = Library([folder], backbone=make_tiny_backbone())
    for _event in lib.scan():
        pass
    yield lib
    lib.close()


class FakeFinder:
    """Stands in for the engine's DuplicateFinder: fixed groups filtered by kind and threshold."""

    def __init__(self, library: Library, folder: Path) -> None:
        self.calls: list[tuple] = []
        self.threads: list[threading.Thread] = []
        self.groups = [
            self._group(library, "exact", [folder / "beach.jpg", folder / "backup" / "beach.jpg"], 1.0),
            self._group(library, "near", [folder / "tree.jpg", folder / "tree small.jpg"], 0.95),
            self._group(library, "near", [folder / "originals" / "cat.jpg", folder / "cat export.png"], 0.97),
            self._group(library, "similar", [folder / "dog.jpg", folder / "dog 2.jpg"], 0.80),
        ]  # fmt: skip

    @staticmethod
    def _group(library: Library, kind: str, paths: list[Path], score: float) -> DupGroup:
        refs = library.reference_folders()
        members = []
        for i, path in enumerate(paths):
            photo = library.photo(path)
            members.append(DupMember(path=photo.path, score=1.0 if i == 0 else score,
                                     reason="keeper" if i == 0 else f"{kind} match", size=photo.size,
                                     width=photo.width, height=photo.height, taken=None,
                                     hash=photo.hash, reference=any(photo.path.is_relative_to(r)
                                                                    for r in refs)))  # fmt: skip
        return DupGroup(id=f"{kind}-{paths[0].name}", kind=DupKind(kind), keep=members[0].path,
                        keep_reason="more pixels", photos=tuple(members),
                        reclaimable=sum(m.size for m in members[1:]))  # fmt: skip

    def group(self, kinds=("exact", "near", "similar"), near=None, similar=None) -> DupResult:
        self.calls.append((tuple(kinds), near, similar))
        self.threads.append(threading.current_thread())
        t = Thresholds(
            near=0.9 if near is None else near, similar=0.75 if similar is None else similar
        )
        groups = tuple(g for g in self.groups if g.kind in kinds and (g.kind == "exact" or
                       min(m.score for m in g.photos) >= (t.near if g.kind == "near" else t.similar)))  # fmt: skip
        return DupResult(groups, sum(g.reclaimable for g in groups), t)


@pytest.fixture
def view(qtbot, library, folder):
    widget = DuplicatesView(Thumbnails())
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.library = library
    widget.stale = False
    finder = FakeFinder(library, folder)
    with qtbot.waitSignal(widget.regrouped, timeout=TIMEOUT):
        widget.set_finder(finder)
    widget.show()
    yield widget
    widget.release()


def names(view: DuplicatesView) -> list[list[str]]:
    return [[m.path.name for m in g.photos] for g in view.groups]


def select_group(view: DuplicatesView, first_name: str):
    row = next(r for r, g in enumerate(view.groups) if g.photos[0].path.name == first_name)
    view.select_row(row)
    assert view.current_group() is view.groups[row]
    return view.groups[row]


# -- regrouping -------------------------------------------------------------------------
def test_slider_regroups_off_the_gui_thread(qtbot, view):
    assert len(view.groups) == 4
    assert view.similar_slider.value() == 750  # the calibrated threshold is shown
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT) as blocker:
        view.similar_slider.setValue(850)  # above the dogs' 0.80
    assert blocker.args[0].thresholds.similar == pytest.approx(0.85)
    assert threading.main_thread() not in view.finder.threads  # never on the GUI thread
    assert ["dog.jpg", "dog 2.jpg"] not in names(view)
    assert view.group_model.rowCount() == 3
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        view.kind_boxes["near"].setChecked(False)
    assert [g.kind for g in view.groups] == ["exact"]


def test_slider_drag_is_debounced_into_one_grouping(qtbot, view):
    finder = view.finder
    before = len(finder.calls)
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        for value in range(760, 900, 10):
            view.similar_slider.setValue(value)
    assert len(finder.calls) - before == 1
    assert finder.calls[-1][2] == pytest.approx(0.89)


# -- marks ------------------------------------------------------------------------------
def test_suggested_keeper_is_marked_keep_and_the_rest_remove(view, folder):
    marked = {p.name for p in view.marked_paths()}
    assert marked == {"beach.jpg", "tree small.jpg", "cat export.png"}
    # similar shots are other photos: nothing in their group is marked until the user says so
    assert folder / "dog 2.jpg" not in view.marked_paths()
    assert folder / "beach.jpg" not in view.marked_paths()  # the keeper of the exact group


def test_reference_folder_photos_are_never_marked_remove(qtbot, view, library, folder):
    library.set_reference_folders([folder / "backup"])
    view.finder = FakeFinder(library, folder)
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        view.regroup()
    group = select_group(view, "beach.jpg")
    backup = folder / "backup" / "beach.jpg"
    assert view.marks[group.id][str(backup)] == "reference"
    assert backup not in view.marked_paths()
    assert not view.mark(backup, remove=True)  # refused, with a sentence why
    assert "reference" in view.note.text()
    view.apply_suggested()
    assert backup not in view.marked_paths()
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):  # the button's dialog stores them
        view.set_reference_folders([folder / "originals"])
    assert library.reference_folders() == [folder / "originals"]
    assert view.reference_button.text() == "Reference folders (1)…"


def test_a_group_always_keeps_one_photo_and_marks_toggle(view, folder):
    group = select_group(view, "tree.jpg")
    assert not view.mark(folder / "tree.jpg", remove=True)  # the last one kept
    assert view.mark(folder / "tree small.jpg", remove=False)
    assert view.mark(folder / "tree.jpg", remove=True)
    assert view.marks[group.id] == {str(folder / "tree.jpg"): "remove",
                                    str(folder / "tree small.jpg"): "keep"}  # fmt: skip
    view.apply_suggested()
    assert view.marks[view.current_group().id][str(folder / "tree small.jpg")] == "remove"


def test_not_duplicates_hides_the_group_for_good(qtbot, view, library, folder):
    select_group(view, "dog.jpg")
    view.not_duplicates()
    assert ["dog.jpg", "dog 2.jpg"] not in names(view)
    assert view.group_model.rowCount() == 3
    with qtbot.waitSignal(view.regrouped, timeout=TIMEOUT):
        view.similar_slider.setValue(600)  # regroup: the dismissed group stays away
    assert ["dog.jpg", "dog 2.jpg"] not in names(view)


# -- trash and undo ---------------------------------------------------------------------
def test_move_marked_to_trash_moves_exactly_the_marked_files_and_undo_restores(
    qtbot, view, folder, trash_home
):
    before = {p for p in folder.rglob("*") if p.is_file()}
    asked = []
    view.confirm = lambda count, size: asked.append((count, size)) or True
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
        view.undo_last_move()
    assert {Path(p) for p in blocker.args[0]} == marked
    assert {p for p in folder.rglob("*") if p.is_file()} == before


def test_declining_the_confirmation_moves_nothing(view, folder):
    before = {p for p in folder.rglob("*") if p.is_file()}
    view.confirm = lambda count, size: False
    assert not view.move_marked_to_trash()
    assert {p for p in folder.rglob("*") if p.is_file()} == before


# -- compare ----------------------------------------------------------------------------
def visible(pane) -> tuple[float, ...]:
    """The part of its image a pane shows, in normalised image coordinates."""
    r = pane.image_rect()
    return tuple(round(v, 3) for v in (-r.x() / r.width(), -r.y() / r.height(),
                                       pane.width() / r.width(), pane.height() / r.height()))  # fmt: skip


def test_double_click_compares_with_the_keeper_with_synchronised_zoom_and_pan(qtbot, view, folder):
    select_group(view, "tree.jpg")
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


def test_views_render_for_screenshots(qtbot, view, tmp_path):
    """The Duplicates view and the compare view paint photos (PHOTOSIM_SHOTS=DIR keeps PNGs)."""
    select_group(view, "tree.jpg")
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
def window(qtbot, folder, trash_home):
    from photosim.app.window import MainWindow

    win = MainWindow(backbone=make_tiny_backbone())
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.signals.scan_finished, timeout=TIMEOUT):
        assert win.open_library(str(folder))
    yield win
    win.close()


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
    before = window.photos.rowCount()
    view.confirm = lambda count, size: True
    marked = view.marked_paths()
    with qtbot.waitSignal(window.signals.photos_changed, timeout=TIMEOUT):
        view.move_marked_to_trash()
    assert window.photos.rowCount() == before - len(marked)
    assert len(list((trash_home / "files").iterdir())) == len(marked)
    assert all(window.photos.row_of(str(p)) is None for p in marked)
    with qtbot.waitSignal(window.signals.photos_changed, timeout=TIMEOUT):
        view.undo_last_move()  # restored files come back in the grid (scanned in if need be)
    qtbot.waitUntil(lambda: window.photos.rowCount() == before, timeout=TIMEOUT)

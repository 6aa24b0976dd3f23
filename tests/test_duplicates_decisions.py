"""Decisions that stick: KEEP marks never flip, dismissed groups are listed and restored,
near groups hold only photos confirmed against their keeper (no chains)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo
from PIL import Image

from photosim.cli import main
from photosim.dupes.finder import DuplicateFinder
from photosim.dupes.keep import (
    MarkRefused,
    change_mark,
    marked_for_removal,
    regroup_marks,
    suggested_marks,
)
from photosim.dupes.types import (
    LANE_PIXELS,
    SAME,
    Candidates,
    DupGroup,
    DupKind,
    DupMember,
    Mark,
    Node,
    Thresholds,
)
from photosim.library import Library


def _member(name: str, marked: bool = False) -> DupMember:
    return DupMember(Path(f"/p/{name}"), 1.0, "", 100, 10, 10, None, name, marked_keep=marked)


def _group(keep: str, *names: str, kind=DupKind.NEAR, marked=()) -> DupGroup:
    photos = tuple(_member(n, n in marked) for n in (keep, *names))
    return DupGroup("g", kind, Path(f"/p/{keep}"), "why", photos, 0)


def test_the_marks_policy_keeps_references_and_one_photo_of_each_group():
    """One policy for the app's badges (issue 14): what a click may change, and what it frees."""
    marks = {"/p/a.jpg": Mark.KEEP, "/p/b.jpg": Mark.REMOVE, "/p/ref.jpg": Mark.REFERENCE}
    assert change_mark(marks, "/p/ref.jpg", remove=True) == (marks, MarkRefused.REFERENCE)
    two = {"/p/a.jpg": Mark.KEEP, "/p/b.jpg": Mark.REMOVE}
    assert change_mark(two, "/p/a.jpg", remove=True) == (two, MarkRefused.LAST_KEPT)
    swapped, refused = change_mark({**two, "/p/b.jpg": Mark.KEEP}, "/p/a.jpg", remove=True)
    assert refused is None and swapped == {"/p/a.jpg": Mark.REMOVE, "/p/b.jpg": Mark.KEEP}
    group = _group("a.jpg", "b.jpg", "c.jpg")
    link = DupMember(Path("/p/c.jpg"), 1.0, "", 100, 10, 10, None, "c", hardlink_of=Path("/p/b"))
    group = DupGroup("g", DupKind.NEAR, group.keep, "why", (*group.photos[:2], link), 0)
    removed = {"/p/a.jpg": Mark.KEEP, "/p/b.jpg": Mark.REMOVE, "/p/c.jpg": Mark.REMOVE}
    assert marked_for_removal(group, removed) == (2, 100)  # the hard link frees nothing


def test_a_keep_mark_never_turns_into_remove_when_the_keeper_changes():
    before = {"/p/colour.jpg": Mark.KEEP, "/p/grey.jpg": Mark.KEEP, "/p/copy.jpg": Mark.REMOVE}
    # found again after a trash and an undo: the marked greyscale copy is the keeper now
    again = _group("grey.jpg", "colour.jpg", "copy.jpg", marked={"grey.jpg"})
    marks = regroup_marks(again, before, kept={"/p/colour.jpg", "/p/grey.jpg"})
    assert marks == before
    # a new search with no marks in memory: the stored keep marks still hold
    fresh = suggested_marks(_group("grey.jpg", "colour.jpg", marked={"grey.jpg", "colour.jpg"}))
    assert fresh == {"/p/grey.jpg": Mark.KEEP, "/p/colour.jpg": Mark.KEEP}
    # similar shots are never marked for removal
    similar = _group("a.jpg", "b.jpg", kind=DupKind.SIMILAR)
    assert set(suggested_marks(similar).values()) == {Mark.KEEP}


def test_near_groups_are_stars_around_the_keeper_not_chains():
    """a~b and b~c confirmed, a~c not: the group is the keeper and what matches it directly."""
    nodes = [Node(h, [f"/p/{h}.jpg"], 10, 100 - i, 100 - i, [None], [0.0]) for i, h in
             enumerate("abc")]  # fmt: skip
    a, b = np.array([0, 1, 0], np.int32), np.array([1, 2, 2], np.int32)
    cands = Candidates(
        nodes, a, b, cos=np.full(3, 0.9, np.float32), pix=np.full(3, 0.9, np.float32),
        turns=np.zeros(3, np.int8), lanes=np.full(3, LANE_PIXELS, np.uint8),
        floors=Thresholds(0.5, 0.4), verdict=np.array([SAME, SAME, 2], np.uint8),
        residual=np.zeros(3, np.float32),
    )  # fmt: skip
    result = DuplicateFinder(cands, Thresholds(0.8, 0.6)).group(kinds=("near",))
    assert [[m.path.name for m in g.photos] for g in result.groups] == [["a.jpg", "b.jpg"]]


def test_a_confirmed_copy_turned_in_its_pixels_is_near_whatever_its_cnn_cosine():
    """The CNN is not rotation-invariant: a pair the check confirmed at a quarter turn is near
    even when the CNN alone proposed it below the near threshold; an upright one is not."""
    from photosim.dupes.types import LANE_CNN

    nodes = [Node(h, [f"/p/{h}.jpg"], 10, 100, 100, [None], [0.0]) for h in "abcd"]
    a, b = np.array([0, 2], np.int32), np.array([1, 3], np.int32)
    cands = Candidates(
        nodes, a, b, cos=np.full(2, 0.7, np.float32), pix=np.full(2, 0.9, np.float32),
        turns=np.array([1, 0], np.int8), lanes=np.full(2, LANE_CNN, np.uint8),
        floors=Thresholds(0.5, 0.4), verdict=np.array([SAME, SAME], np.uint8),
        residual=np.zeros(2, np.float32),
    )  # fmt: skip
    result = DuplicateFinder(cands, Thresholds(0.8, 0.6)).group(kinds=("near",))
    assert [sorted(m.path.name for m in g.photos) for g in result.groups] == [["a.jpg", "b.jpg"]]


@pytest.fixture
def lib(tmp_path) -> Library:
    root = tmp_path / "Pictures"
    for seed in range(3):
        write_photo(root / f"photo{seed}.jpg", size=(640, 480), seed=seed, detail=True)
    Image.open(root / "photo1.jpg").resize((320, 240)).save(root / "small.jpg", quality=90)
    shutil.copy2(root / "photo2.jpg", root / "photo2-copy.jpg")
    library = Library([root], backbone=make_tiny_backbone())
    assert list(library.scan())[-1].kind == "done"
    library.calibrate(sample=3)
    return library


def test_dismissed_groups_are_listed_and_restored(lib, capsys):
    [near] = lib.duplicates(kind="near").groups
    lib.decisions.mark_not_duplicates([m.path for m in near.photos])
    assert lib.duplicates(kind="near").groups == ()
    [dismissed] = lib.decisions.dismissed_groups()
    assert set(dismissed.paths) == {m.path for m in near.photos}
    db = str(lib.db_path)
    assert main(["duplicates", "--db", db, "--dismissed"]) == 0
    out = capsys.readouterr().out
    assert "1 dismissed" in out and str(near.keep) in out
    assert main(["duplicates", "--db", db, "--restore", str(near.keep)]) == 0
    assert "Restored 1 dismissed group" in capsys.readouterr().out
    assert lib.decisions.dismissed_groups() == []
    assert [g.id for g in lib.duplicates(kind="near").groups] == [near.id]


def test_unmarking_a_keep_lets_the_suggestion_decide_again(lib):
    [near] = lib.duplicates(kind="near").groups
    copy = next(m.path for m in near.photos if m.path != near.keep)
    lib.decisions.mark_keep(copy)
    [marked] = lib.duplicates(kind="near").groups
    assert next(m for m in marked.photos if m.path == copy).marked_keep
    lib.decisions.unmark_keep(copy)
    [again] = lib.duplicates(kind="near").groups
    assert not any(m.marked_keep for m in again.photos)


def test_cli_keeper_line_says_why_and_similar_frees_nothing(lib, capsys):
    assert main(["duplicates", "--db", str(lib.db_path)]) == 0
    out = capsys.readouterr().out
    assert "(kept: " in out and "keep 1.000" not in out
    result = lib.duplicates()
    assert all(g.reclaimable == 0 for g in result.groups if g.kind == DupKind.SIMILAR)


def test_the_best_shot_of_similar_photos_is_the_sharpest_then_the_best_exposed():
    from photosim.dupes.keep import BEST_SHOT_RULES, Candidate, choose_keeper

    def cand(i: int, sharp: float, clipped: float, size: int) -> Candidate:
        node = Node(f"h{i}", [f"/p/{i}.jpg"], 10, size, size, [None], [0.0],
                    sharpness=sharp, exposure=clipped)  # fmt: skip
        return Candidate(i, 0, Path(f"/p/{i}.jpg"), node, False, False)

    shots = [cand(0, 0.5, 0.30, 200), cand(1, 0.52, 0.01, 100), cand(2, 0.2, 0.0, 300)]
    best, why = choose_keeper(shots, BEST_SHOT_RULES)
    assert best.path.name == "1.jpg" and why == "sharpest, then best exposed"

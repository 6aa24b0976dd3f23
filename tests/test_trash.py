"""Moving marked photos to a temporary freedesktop trash, the journal, and undo."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.dupes.trash import journal
from photosim.library import Library


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def library(tmp_path) -> Library:
    root = tmp_path / "Pictures"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    shutil.copy(root / "p0.jpg", root / "copy of p0.jpg")
    write_photo(root / "originals" / "orig.jpg", seed=9)
    lib = Library([root], backbone=make_tiny_backbone())
    list(lib.scan())
    return lib


def test_move_to_trash_moves_exactly_the_marked_files_and_undo_restores_them(library, trash_home):
    root = library.roots[0]
    before = {p: digest(p) for p in root.rglob("*.jpg")}
    marked = [root / "copy of p0.jpg", root / "p2.jpg"]
    record = library.decisions.move_to_trash(marked)
    assert [m[0] for m in record.moved] == marked and not record.failed
    assert record.freed > 0
    left = set(root.rglob("*.jpg"))
    assert left == set(before) - set(marked)  # exactly the marked files left the folder
    assert all(digest(p) == before[p] for p in left)  # the others untouched
    for _, where in record.moved:  # they are in the trash, with their .trashinfo
        assert where is not None and where.parent == trash_home / "files" and where.exists()
        assert (trash_home / "info" / f"{where.name}.trashinfo").exists()
    assert {p.path for p in library.photos()} == left  # the library updated
    assert journal(library.decisions.trash_journal)[-1]["action"] == "trash"

    restored = library.decisions.undo_last_move().restored
    assert sorted(restored) == sorted(marked)
    assert {p: digest(p) for p in root.rglob("*.jpg")} == before  # byte-identical
    assert not list((trash_home / "files").iterdir())
    assert not list((trash_home / "info").iterdir())
    assert {p.path for p in library.photos()} == set(before)
    assert all(p.has_vector for p in library.photos())  # rows back as they were
    assert library.decisions.undo_last_move().restored == ()  # one undo per move


def test_reference_folders_and_strangers_are_never_moved(library, trash_home, tmp_path):
    root = library.roots[0]
    library.decisions.set_reference_folders([root / "originals"])
    outsider = write_photo(tmp_path / "elsewhere.jpg", seed=3)
    record = library.decisions.move_to_trash([root / "originals" / "orig.jpg", outsider])
    assert record.moved == () and len(record.failed) == 2
    assert (root / "originals" / "orig.jpg").exists() and outsider.exists()
    assert journal(library.decisions.trash_journal) == []


def test_same_name_twice_in_the_trash_undo_takes_the_right_one(library, trash_home):
    root = library.roots[0]
    first = library.decisions.move_to_trash([root / "p1.jpg"])
    write_photo(root / "p1.jpg", seed=42)  # a new file under the same name
    list(library.scan())
    second = library.decisions.move_to_trash([root / "p1.jpg"])
    assert first.moved[0][1] != second.moved[0][1]
    library.decisions.undo_last_move()
    assert (
        write_photo(root.parent / "check.jpg", seed=42).read_bytes()
        == (root / "p1.jpg").read_bytes()
    )


def test_finder_forgets_trashed_files_without_a_rebuild(library, trash_home):
    root = library.roots[0]
    finder = library.duplicate_finder()
    [exact] = [g for g in finder.group().groups if g.kind == "exact"]
    assert {m.path.name for m in exact.photos} == {"p0.jpg", "copy of p0.jpg"}
    record = library.decisions.move_to_trash([root / "copy of p0.jpg"])
    finder.forget([path for path, _ in record.moved])
    assert not [g for g in finder.group().groups if g.kind == "exact"]
    assert library.duplicate_finder().group(kinds=["exact"]).groups == ()

"""The trash journal and the library are data, not instructions (issue 18, findings 5 and 6):
undo moves a file only from where photosim put it in the trash back to a free place inside
the library's folders; trash acts only on photos inside them. Edited journals and rows."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.dupes import trash
from photosim.library import Library


@pytest.fixture
def library(tmp_path) -> Library:
    root = tmp_path / "Pictures"
    for seed in range(4):
        write_photo(root / "album" / f"p{seed}.jpg", size=(96, 64), seed=seed)
    lib = Library([root], tmp_path / "lib" / "library.db", backbone=make_tiny_backbone())
    list(lib.scan())
    return lib


def edit_last(lib: Library, edit) -> None:
    """Rewrite the journal's last record through ``edit(record)`` (what a tamperer does)."""
    path = lib.decisions.trash_journal
    lines = path.read_text().splitlines()
    record = json.loads(lines[-1])
    edit(record)
    path.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n")


def trashed(lib: Library, names: list[str]) -> dict:
    root = lib.roots[0]
    record = lib.decisions.move_to_trash([root / "album" / n for n in names])
    assert len(record.moved) == len(names) and not record.failed
    return {n: where for (_, where), n in zip(record.moved, names, strict=True)}


def rows(lib: Library) -> set[str]:
    return {p.path.name for p in lib.photos()}


def test_an_edited_journal_moves_nothing_outside_the_library(library, trash_home, tmp_path):
    root = library.roots[0]
    where = trashed(library, ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"])
    user = write_photo(tmp_path / "Documents" / "mine.jpg", seed=7)  # never trashed
    (tmp_path / "Documents" / "folder").mkdir()
    os.symlink(tmp_path / "nowhere.jpg", root / "album" / "link.jpg")  # a dangling symlink
    os.symlink(tmp_path / "Documents", root / "escape")  # a folder leading out
    cwd = Path.cwd()

    def tamper(record):
        moved = record["moved"]
        moved[0]["path"] = str(tmp_path / "new" / "deep" / "p0.jpg")  # outside, new folders
        moved[1]["path"] = str(root / ".." / "victim.jpg")  # ../
        moved[2]["path"] = "relative.jpg"  # into the current folder
        moved[3]["path"] = str(root / "escape" / "p3.jpg")  # through a symlink out
        for i, (path, trash_at) in enumerate([
            (root / "album" / "stranger.jpg", user),  # a user photo never trashed
            (root / "album" / "folder", tmp_path / "Documents" / "folder"),  # a folder
            (root / "album" / "link.jpg", where["p0.jpg"]),  # replace the dangling link
        ]):  # fmt: skip
            row = {**moved[0]["row"], "path": str(path)}
            moved.append({"path": str(path), "trash": str(trash_at), "row": row, "n": i})

    edit_last(library, tamper)
    before = sorted(p for p in tmp_path.rglob("*") if "Trash" not in p.parts)
    result = library.decisions.undo_last_move()
    assert result.restored == ()
    assert len(result.skipped) == 7 and all(reason for _, reason in result.skipped)
    after = sorted(p for p in tmp_path.rglob("*") if "Trash" not in p.parts)
    assert after == before  # nothing created, moved or replaced outside the trash
    assert user.exists() and os.path.islink(root / "album" / "link.jpg")
    assert not (cwd / "relative.jpg").exists() and not (tmp_path / "new").exists()
    assert all(p.exists() for p in where.values())  # still in the trash
    assert rows(library) == set()


def test_malformed_lines_are_skipped_and_the_rest_restored_with_rows(
    library, trash_home, monkeypatch
):
    root = library.roots[0]
    trashed(library, ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"])
    (root / "album" / "p1.jpg.d").write_bytes(b"a file, not a folder")

    def tamper(record):
        moved = record["moved"]
        moved[1]["row"]["nonsense; drop table photos"] = 1  # an unknown column
        del moved[2]["row"]  # no row
        moved[3]["path"] = str(root / "album" / "p1.jpg.d" / "p3.jpg")  # the parent is a file
        moved.append([1, 2, 3])

    edit_last(library, tamper)
    path = library.decisions.trash_journal
    text = path.read_text()
    path.write_text('[1, 2]\n42\n{"action": "trash", "moved": []}\nnot json\n' + text)
    result = library.decisions.undo_last_move()
    assert result.restored == (root / "album" / "p0.jpg",)
    assert rows(library) == {"p0.jpg"}
    reasons = dict(result.skipped)
    assert "unknown fields" in reasons[str(root / "album" / "p1.jpg")]
    assert "row is missing" in reasons[str(root / "album" / "p2.jpg")]
    assert "a file now" in reasons[str(root / "album" / "p1.jpg.d" / "p3.jpg")]
    assert len(result.skipped) == 4 + 3  # four entries, three lines that are no record
    assert {"photos"} <= set(library.store.db.table_names())

    # A move without an id is skipped (the one before it was undone already).
    trashed(library, ["p0.jpg"])
    edit_last(library, lambda record: record.pop("id"))
    result = library.decisions.undo_last_move()
    assert result.restored == () and "without its id" in result.skipped[-1][1]

    # A rename the file system refuses (another disk) is reported, never a crash.
    write_photo(root / "album" / "p9.jpg", size=(96, 64), seed=9)
    list(library.scan())
    where = trashed(library, ["p9.jpg"])

    def cross_device(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(trash.os, "link", cross_device)
    monkeypatch.setattr(trash.os, "rename", cross_device)
    result = library.decisions.undo_last_move()
    assert result.restored == () and "cross-device" in result.skipped[-1][1]
    assert where["p9.jpg"].exists() and "p9.jpg" not in rows(library)


def test_trash_acts_only_on_photos_inside_the_library(library, trash_home, tmp_path):
    root = library.roots[0]
    outside = write_photo(tmp_path / "outside.jpg", seed=5)
    victim = write_photo(tmp_path / "victim.jpg", seed=6)
    sneaky = f"{root}{os.sep}..{os.sep}victim.jpg"
    row = {"size": 1, "mtime_ns": 1, "hash": "x", "seen": 0}
    library.store.upsert_photo({**row, "path": str(outside)})  # a crafted library
    library.store.upsert_photo({**row, "path": sneaky})
    record = library.decisions.move_to_trash([outside, Path(sneaky)])
    assert record.moved == () and len(record.failed) == 2
    assert outside.exists() and victim.exists()
    shutil.rmtree(trash_home, ignore_errors=True)

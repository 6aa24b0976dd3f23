"""Unusable library locations (issue 18, finding 9; issue 15, item 5): ``--db`` naming a photo,
a text file, a folder, a FIFO, a device, a path inside a file, a read-only file or a library
on a read-only disk, and a library folder whose name is not UTF-8.

Refused with one sentence and exit 2, byte-for-byte untouched and nothing created beside it;
a valid library on a read-only disk still answers ``info`` and ``similar`` (opened
read-only), while ``scan`` says it cannot write there. The read-only disk (and the
read-only file) is a real read-only bind mount in a private mount namespace (needs root and ``unshare``; skipped
otherwise: chmod does not stop root, so it cannot be simulated with permissions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import write_photo

from hostile.helpers import can_mount, run_mounted


def _refused(rc: int, err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return rc == 2 and len(lines) == 1 and lines[0].startswith("photosim:")


def _state(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.iterdir()):
        out[p.name] = p.read_bytes() if p.is_file() and not p.is_fifo() else "special"
    return out


@pytest.mark.parametrize("kind", ["photo", "text", "folder", "fifo", "inside-a-file", "wal-db"])
def test_a_db_that_is_not_a_library_is_refused_untouched(kind, tmp_path, cli):
    root = tmp_path / "photos"
    write_photo(root / "p.jpg")
    place = tmp_path / "place"
    place.mkdir()
    if kind == "photo":
        db = write_photo(place / "holiday.jpg", seed=3)
    elif kind == "text":
        db = place / "notes.txt"
        db.write_text("shopping list\n")
    elif kind == "folder":
        db = place / "album"
        db.mkdir()
        (db / "inside.jpg").write_bytes(b"x")
    elif kind == "fifo":
        db = place / "pipe.db"
        os.mkfifo(db)
    elif kind == "inside-a-file":
        (place / "file").write_text("I am a file")
        db = place / "file" / "library.db"
    else:  # another program's database in WAL mode: opening it must make no -wal/-shm
        import sqlite3

        db = place / "other.db"
        conn = sqlite3.connect(db)
        conn.execute("pragma journal_mode=wal")
        conn.execute("create table notes (x)")
        conn.commit()
        conn.close()
    before = _state(place)
    for argv in (["info", "--db", db], ["similar", root / "p.jpg", "--db", db],
                 ["duplicates", "--db", db], ["scan", root, "--db", db]):  # fmt: skip
        rc, err = cli(*argv)
        assert _refused(rc, err), (argv[0], rc, err)
    assert _state(place) == before


def test_a_device_as_db_is_refused(tmp_path, cli):
    root = tmp_path / "photos"
    write_photo(root / "p.jpg")
    for argv in (["info", "--db", "/dev/null"], ["scan", root, "--db", "/dev/null"]):
        rc, err = cli(*argv)
        assert _refused(rc, err) and "not a regular file" in err, err


def test_a_library_in_a_folder_whose_name_is_not_utf8(tmp_path, cli):
    root = tmp_path / "photos"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/libs-\xe9t\xe9"))
    db = folder / "library.db"
    assert cli("scan", root, "--db", db) == (0, "")
    rc, err = cli("similar", root / "p1.jpg", "--db", db, "-k", "2", "--json")
    assert rc == 0, err
    assert cli("info", "--db", db)[0] == 0
    assert any(p.name.endswith(".index") for p in folder.iterdir())  # Annoy saved and loaded


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare for a read-only mount")
def test_read_only_disk_and_read_only_file(tmp_path):
    root = tmp_path / "photos"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    lib = tmp_path / "lib"
    db = lib / "library.db"
    script = f"""
root, lib, db = {str(root)!r}, {str(lib)!r}, {str(db)!r}
results = {{"setup": run(["scan", root, "--db", db])}}
before = sorted(os.listdir(lib))
subprocess.run(["mount", "--bind", lib, lib], check=True)
subprocess.run(["mount", "-o", "remount,bind,ro", lib, lib], check=True)
for name, argv in {{
    "info": ["info", "--db", db, "--json"],
    "similar": ["similar", root + "/p1.jpg", "--db", db, "-k", "2"],
    "scan": ["scan", root, "--db", db],
    "duplicates": ["duplicates", "--db", db],
    "new-library": ["scan", root, "--db", lib + "/other.db"],
}}.items():
    results[name] = run(argv)
results["files"] = [before, sorted(os.listdir(lib))]
db2 = {str(tmp_path / "lib2" / "library.db")!r}
results["setup-file"] = run(["scan", root, "--db", db2])
subprocess.run(["mount", "--bind", db2, db2], check=True)  # the file alone read-only
subprocess.run(["mount", "-o", "remount,bind,ro", db2, db2], check=True)
results["file-info"] = run(["info", "--db", db2, "--json"])
results["file-scan"] = run(["scan", root, "--db", db2])
print(json.dumps(results))
"""
    done = run_mounted(script, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["setup"][0] == 0, results["setup"]
    for name in ("info", "similar"):  # answered from the read-only library
        assert results[name][0] == 0, (name, results[name])
    assert json.loads(results["info"][2])["embedded"] == 4
    for name in ("scan", "duplicates", "new-library"):  # one sentence: cannot write there
        rc, err, _ = results[name]
        assert _refused(rc, err) and "cannot write" in err, (name, results[name])
    assert results["files"][0] == results["files"][1]
    assert results["setup-file"][0] == 0 and results["file-info"][0] == 0, results
    rc, err, _ = results["file-scan"]
    assert _refused(rc, err) and "cannot write" in err, err

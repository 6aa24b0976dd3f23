"""Robust storage: any file name, typed errors, summaries that add up, read-only queries,
corrupt / foreign / newer / read-only library files, photos never modified."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import _TinyNet, make_tiny_backbone, write_photo

from photosim.cli import main
from photosim.core.errors import (
    FolderMissing,
    LibraryCorrupt,
    ModelMismatch,
    NotEmbedded,
    NotInLibrary,
    ReadOnlyLocation,
    SchemaTooNew,
)
from photosim.core.events import FailKind
from photosim.library import Library
from photosim.models.embed import Backbone, model_key
from photosim.storage import migrations
from photosim.storage.store import SCHEMA_VERSION, Store


def _fake_load(name="resnet50", weights=None, device="auto", download=None, **_options) -> Backbone:
    return Backbone(module=_TinyNet(), key=model_key(name, weights), input_size=64)


@pytest.fixture
def fake_weights(monkeypatch):
    """`photosim` CLI runs get a tiny model under the ResNet's key (no weights, no network)."""
    monkeypatch.setattr("photosim.models.embed.load_backbone", _fake_load)


def odd_names_folder(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A root whose own name is not UTF-8, holding files named with odd bytes."""
    root = Path(os.fsdecode(os.fsencode(tmp_path) + b"/photos-\xe9t\xe9"))
    names = [b"latin1-\xe9t\xe9.jpg", b"new\nline.jpg", b"-dash.jpg", b"a" * 251 + b".jpg"]
    files = []
    for seed, name in enumerate(names):
        path = Path(os.fsdecode(os.fsencode(root) + b"/" + name))
        write_photo(path, seed=seed)
        files.append(path)
    return root, files


def test_names_of_any_bytes_scan_and_answer(tmp_path, fake_weights, capsys):
    root, files = odd_names_folder(tmp_path)
    assert main(["scan", str(root)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"new\s+4\b", out) and "\\xe9" in out  # shown readably, no crash
    assert main(["info", "--json", "--failed"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["photos"], info["embedded"], info["failed"]) == (4, 4, 0)
    for path in files:
        assert main(["similar", str(path), "--json", "-k", "3"]) == 0
        results = json.loads(capsys.readouterr().out)
        assert len(results) == 3
        assert main(["similar", str(path), "-k", "1"]) == 0
        assert capsys.readouterr().out.strip()
    with Library([root]) as lib:  # every name round-trips exactly
        assert sorted(os.fsencode(p.path) for p in lib.photos()) == sorted(map(os.fsencode, files))
        assert all(lib.similar(p.path, k=1) for p in lib.photos())


def test_old_text_paths_are_migrated_to_bytes(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    migrations._m001_initial(conn)
    conn.execute("INSERT INTO _migrations VALUES ('001_initial', 0)")
    conn.execute("INSERT INTO photos (path, size, mtime_ns) VALUES ('/p/été.jpg', 1, 1)")
    conn.commit()
    conn.close()
    store = Store(db)
    assert store.photos.photo("/p/été.jpg") is not None
    assert store.db.execute("select typeof(path) from photos").fetchone()[0] == "blob"
    assert store.db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_failing_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("stop")

    Store(tmp_path / "lib.db").close()
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("999_b", broken)])
    with pytest.raises(RuntimeError):
        Store(tmp_path / "lib.db")
    conn = sqlite3.connect(tmp_path / "lib.db")
    tables = {r[0] for r in conn.execute("select name from sqlite_master")}
    assert "half_done" not in tables
    assert "999_b" not in {r[0] for r in conn.execute("select name from _sqlite_migrations")}


def _snapshot(db: Path) -> dict[str, bytes]:
    files = [db, Path(f"{db}-wal"), db.parent.parent.parent / "libraries.json"]
    return {str(f): f.read_bytes() if f.exists() else b"" for f in files}


def test_queries_write_nothing(tmp_path, fake_weights, capsys):
    root = tmp_path / "photos"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    (root / "broken.jpg").write_bytes(b"not an image")
    assert main(["scan", str(root)]) == 0
    outside = write_photo(tmp_path / "outside.jpg", seed=1)
    db = Path(Library([root], read_only=True).db_path)
    before = _snapshot(db)
    for argv in (["info"], ["info", "--json", "--failed"], ["similar", str(root / "p1.jpg")],
                 ["similar", str(outside), "--json"]):  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    assert _snapshot(db) == before


def test_summaries_add_up_after_a_weights_less_first_scan(tmp_path, monkeypatch, capsys):
    root = tmp_path / "photos"
    for seed in range(29):
        write_photo(root / f"p{seed:02}.jpg", size=(64, 48), seed=seed)
    (root / "broken.jpg").write_bytes(b"not an image")

    def counts(out: str) -> dict[str, int]:
        photos, skipped = re.search(r": (\d+) photos?(?:, (\d+) skipped)?", out).groups()
        found = int(photos) + int(skipped or 0)
        parts = {k: int(v) for k, v in re.findall(r"^\s+(\w+)\s+(\d+)", out, re.M)}
        assert found == sum(
            parts.get(k, 0) for k in ("unchanged", "new", "moved", "updated", "failed")
        )
        return {"found": found, **parts}

    assert main(["scan", str(root)]) == 2  # no weights: listed, not embedded
    captured = capsys.readouterr()
    assert captured.err.count("photosim:") == 1
    c = counts(captured.out)  # the broken file is decoded even without a model: a skip
    assert (c["new"], c["failed"]) == (
        29,
        1,
    ) and "29 photos listed without a vector" in captured.out
    assert ": 29 photos, 1 skipped" in captured.out
    monkeypatch.setattr("photosim.models.embed.load_backbone", _fake_load)
    assert main(["scan", str(root)]) == 0
    out = capsys.readouterr().out
    c = counts(out)
    assert (c["found"], c["updated"], c["failed"], c["new"], c["unchanged"]) == (30, 29, 0, 0, 1)
    assert ": 29 photos, 1 skipped" in out  # skipped in the first scan, still not a photo
    assert "Embedded 29 photos" in out
    assert main(["scan", str(root)]) == 0
    assert counts(capsys.readouterr().out)["unchanged"] == 30


def test_typed_errors_for_queries(tmp_path, monkeypatch, capsys):
    root = tmp_path / "photos"
    for seed in range(3):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    lib = Library([root], model="resnet18")  # no weights for it in the library's first scan
    list(lib.scan())
    with pytest.raises(NotEmbedded) as info:
        lib.similar(root / "p0.jpg")
    assert info.value.path == str(root / "p0.jpg")
    with pytest.raises(NotInLibrary):
        lib.similar(tmp_path / "elsewhere.jpg")
    with pytest.raises(FolderMissing):
        next(Library([tmp_path / "gone"]).scan())
    lib.close()
    monkeypatch.setattr("photosim.models.embed.load_backbone", _fake_load)
    assert main(["scan", str(root), "--model", "resnet50"]) == 0
    capsys.readouterr()
    assert main(["similar", str(root / "p0.jpg"), "--model", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert err.count("photosim:") == 1 and "resnet50" in err and "resnet18" in err
    with pytest.raises(ModelMismatch):
        Library([root], model="resnet18", read_only=True).similar(root / "p0.jpg")


def test_failures_are_typed_and_stored_with_their_kind(tmp_path):
    root = tmp_path / "photos"
    write_photo(root / "good.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    lib = Library([root], backbone=make_tiny_backbone())
    done = list(lib.scan())[-1]
    assert [f.path.name for f in done.failures] == ["broken.jpg"]
    assert isinstance(done.failures[0].kind, FailKind)
    stored = lib.failures()
    assert stored == done.failures
    assert lib.photo(root / "broken.jpg").fail_kind == done.failures[0].kind


@pytest.mark.parametrize("content", ["garbage", "foreign"])
def test_a_file_not_ours_is_refused_and_left_untouched(tmp_path, fake_weights, capsys, content):
    root = tmp_path / "photos"
    write_photo(root / "p.jpg")
    db = tmp_path / "lib" / "library.db"
    db.parent.mkdir()
    if content == "garbage":
        db.write_bytes(b"this is not SQLite at all" * 100)
    else:
        conn = sqlite3.connect(db)
        conn.execute("create table someone_elses (x)")
        conn.commit()
        conn.close()
    original = db.read_bytes()
    for argv in (["info", "--db", str(db)], ["scan", str(root), "--db", str(db)],
                 ["duplicates", "--db", str(db)]):  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("photosim:") == 1 and "left it untouched" in err, err
    assert db.read_bytes() == original
    assert sorted(p.name for p in db.parent.iterdir()) == ["library.db"]


def test_a_damaged_library_of_ours_is_moved_aside(tmp_path, fake_weights, capsys):
    root = tmp_path / "photos"
    write_photo(root / "p.jpg")
    db = tmp_path / "lib" / "library.db"
    assert main(["scan", str(root), "--db", str(db)]) == 0
    data = bytearray(db.read_bytes())
    data[100:] = b"\xee" * (len(data) - 100)  # our header (application_id), pages destroyed
    db.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    original = db.read_bytes()
    capsys.readouterr()
    assert main(["info", "--db", str(db)]) == 2  # a query never moves anything
    assert "damaged or not a photosim library" in capsys.readouterr().err
    assert db.read_bytes() == original
    assert main(["scan", str(root), "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert err.count("photosim:") == 1 and "moved to" in err
    aside = [p for p in db.parent.iterdir() if p.name.startswith("library.db.damaged-")]
    aside = [p for p in aside if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == original
    with Library(db_path=db, read_only=True) as lib:
        assert lib.info()["embedded"] == 1 and lib.store.integrity_ok()
    other = tmp_path / "other.db"
    other.write_bytes(original)
    with Library([root], other) as lib:  # the app gets the error object to show
        assert isinstance(lib.recovered, LibraryCorrupt)
        assert Path(lib.recovered.moved_to).read_bytes() == original


def test_newer_schema_is_refused(tmp_path, capsys):
    db = tmp_path / "lib.db"
    store = Store(db)
    with store.atomic() as conn:
        conn.execute(
            "insert into _sqlite_migrations (migration_set, name, applied_at) "
            "values ('photosim', '999_from_the_future', '0')"
        )
        conn.execute("pragma user_version = 999")
    store.close()
    with pytest.raises(SchemaTooNew) as info:
        Store(db)
    assert info.value.version == 999 and info.value.supported == SCHEMA_VERSION
    assert main(["info", "--db", str(db)]) == 2
    assert "newer photosim" in capsys.readouterr().err


def test_read_only_location_is_reported(tmp_path, monkeypatch):
    def refuse(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ReadOnlyLocation):
        Store(tmp_path / "ro" / "lib.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_folder_is_reported(tmp_path):
    Store(tmp_path / "lib.db").close()
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(ReadOnlyLocation):
            Store(tmp_path / "other.db")
    finally:
        os.chmod(tmp_path, 0o700)


def test_interrupt_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys):
    root = tmp_path / "photos"
    write_photo(root / "p.jpg")

    scan = Library.scan

    def interrupted(self, *a, **k):
        yield next(scan(self, *a, **k))
        raise KeyboardInterrupt

    monkeypatch.setattr(Library, "scan", interrupted)
    assert main(["scan", str(root)]) == 130
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert "Interrupted" in err and "Traceback" not in err


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_photos_are_never_modified_and_files_go_only_to_our_dirs(tmp_path, fake_weights, capsys):
    root = tmp_path / "photos"
    for seed in range(4):
        write_photo(root / "sub" / f"p{seed}.jpg", seed=seed, orientation=6)
    (root / "broken.jpg").write_bytes(b"not an image")
    outside = write_photo(tmp_path / "outside.jpg", seed=7)
    db = tmp_path / "db" / "library.db"
    before = _tree(tmp_path)
    commands = [
        ["scan", str(root), "--db", str(db)],
        ["scan", str(root), "--db", str(db)],
        ["info", "--db", str(db)],
        ["info", "--db", str(db), "--failed"],
        ["info", "--db", str(db), "--failed", "--json"],
        ["similar", str(root / "sub" / "p1.jpg"), "--db", str(db)],
        ["similar", str(root / "sub" / "p1.jpg"), "--db", str(db), "--json"],
        ["similar", str(outside), "--db", str(db), "--json"],
    ]
    for argv in commands:
        assert main(argv) == 0, argv
    capsys.readouterr()
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith(str(db.parent))} == before

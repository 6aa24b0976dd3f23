"""A crafted or damaged library (issue 18, finding 7): every command on every variant ends in
a correct answer (bad rows skipped) or one ``photosim:`` sentence and exit 2, never a
traceback. The variants are rows a damaged disk, an old bug or a hand edit could leave."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import _TinyNet, write_photo

from photosim.cli import main
from photosim.models.embed import Backbone, model_key

VARIANTS: dict[str, list[str]] = {
    "vector-wrong-size": ["update vectors set vector = zeroblob(10) where rowid = 1"],
    "vector-odd-length": ["update vectors set vector = zeroblob(7) where rowid = 2"],
    "vector-huge": ["update vectors set vector = zeroblob(8000000) where rowid = 1"],
    "vector-null": ["update vectors set vector = null where rowid = 1"],
    "vector-text": ["update vectors set vector = 'not a vector' where rowid = 1"],
    "vector-empty": ["update vectors set vector = x'' where rowid = 1"],
    "vectors-all-null": ["update vectors set vector = null"],
    "vector-hash-null": ["update vectors set hash = null where rowid = 1"],
    "library-version-text": ["update meta set value = 'many' where key = 'library_version'"],
    "scan-generation-text": ["update meta set value = '1.5x' where key = 'scan_generation'"],
    "roots-garbage": ["update meta set value = '[not json' where key = 'roots'"],
    "roots-object": ["""update meta set value = '{"a": 1}' where key = 'roots'"""],
    "roots-numbers": ["update meta set value = '[1, null, 2.5]' where key = 'roots'"],
    "roots-null": ["update meta set value = null where key = 'roots'"],
    "references-garbage": [
        "insert or replace into meta values ('reference_folders', '{{{')",
    ],
    "references-numbers": ["insert or replace into meta values ('reference_folders', '[3]')"],
    "calibration-garbage": [
        "insert or replace into dup_calibration values ((select value from meta where "
        "key = 'model_key'), 'garbage{')"
    ],
    "calibration-wrong-shape": [
        "insert or replace into dup_calibration values ((select value from meta where "
        """key = 'model_key'), '{"near": "high", "similar": [1]}')"""
    ],
    "decisions-text": ["insert or replace into meta values ('dup_decisions', 'lots')"],
    "path-integer": ["update photos set path = 12345 where id = 1"],
    "path-null": ["update photos set path = null where id = 2"],
    "size-text": ["update photos set size = 'big' where id = 1"],
    "mtime-text": ["update photos set mtime_ns = 'yesterday' where id = 1"],
    "dimensions-text": ["update photos set width = 'wide', height = x'00' where id = 1"],
    "taken-integer": ["update photos set taken = 20240101 where id = 1"],
    "hash-integer": ["update photos set hash = 7 where id = 1"],
    "fail-kind-garbage": ["update photos set error = 'x', fail_kind = 'nonsense' where id = 3"],
    "keep-path-integer": ["insert into dup_keep values ('h', 5, 'now')"],
    "not-pairs-null": ["insert into dup_not_pairs values (null, null)"],
    "fingerprint-garbage": ["update fingerprints set data = 'zz'"],
    "model-name-unknown": ["update meta set value = 'resnet9000' where key = 'model_name'"],
    "model-key-null": ["update meta set value = null where key = 'model_key'"],
    "orientation-text": ["update photos set orientation = 'sideways' where id = 1"],
    "lat-text": ["update photos set lat = 'north', lon = x'01' where id = 1"],
    "pending-text": ["update photos set pending = 'soon' where id = 1"],
}


def _fake_load(name="resnet50", weights=None, device="auto", download=None, **_options):
    return Backbone(module=_TinyNet(), key=model_key(name, weights), input_size=64)


@pytest.fixture(scope="module")
def library_template(tmp_path_factory) -> tuple[Path, Path]:
    """A scanned library of six photos (and its duplicates calibrated), made once."""
    base = tmp_path_factory.mktemp("template")
    root = base / "photos"
    for seed in range(6):
        write_photo(root / f"p{seed}.jpg", size=(96, 64), seed=seed)
    shutil.copy(root / "p0.jpg", root / "copy.jpg")
    db = base / "lib" / "library.db"
    mp = pytest.MonkeyPatch()
    mp.setattr("photosim.models.embed.load_backbone", _fake_load)
    mp.setenv("PHOTOSIM_HOME", str(base / "home"))
    try:
        assert main(["scan", str(root), "--db", str(db)]) == 0
        assert main(["duplicates", "--db", str(db)]) == 0
    finally:
        mp.undo()
    return root, db


COMMANDS = {
    "info": lambda root, db: ["info", "--db", db, "--failed", "--json"],
    "info-text": lambda root, db: ["info", "--db", db],
    "similar": lambda root, db: ["similar", str(root / "p1.jpg"), "--db", db, "-k", "3"],
    "similar-many": lambda root, db: [
        "similar",
        str(root / "p1.jpg"),
        str(root / "p2.jpg"),
        "--db",
        db,
        "-k",
        "2",
    ],
    "duplicates": lambda root, db: ["duplicates", "--db", db, "--json"],
    "scan": lambda root, db: ["scan", str(root), "--db", db],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_command_on_a_crafted_library(variant, library_template, tmp_path, monkeypatch,
                                            capsys):  # fmt: skip
    template_root, template_db = library_template
    monkeypatch.setattr("photosim.models.embed.load_backbone", _fake_load)
    monkeypatch.setenv("PHOTOSIM_HOME", str(tmp_path / "home"))
    outcomes = {}
    for command, argv in COMMANDS.items():
        db = tmp_path / command / "library.db"
        db.parent.mkdir()
        shutil.copy(template_db, db)
        conn = sqlite3.connect(db)
        for sql in VARIANTS[variant]:
            conn.execute(sql)
        conn.commit()
        conn.close()
        capsys.readouterr()
        try:
            rc = main(argv(template_root, str(db)))
        except BaseException as exc:  # the finding: a traceback
            pytest.fail(f"{command} on {variant}: {type(exc).__name__}: {exc}")
        err = capsys.readouterr().err
        assert rc in (0, 2), (command, rc, err)
        if rc == 2:
            lines = [line for line in err.splitlines() if line.startswith("photosim:")]
            assert len(lines) == 1 and "Traceback" not in err, (command, err)
        outcomes[command] = rc
    # the library's own sentence, or the answer: never a crash (recorded for the report)
    print(variant, json.dumps(outcomes))


def test_scans_repair_what_they_skipped(library_template, tmp_path, monkeypatch, capsys):
    """Damaged rows are skipped when read, and the next scans drop and redo them."""
    from photosim.library import Library

    root, template_db = library_template
    monkeypatch.setattr("photosim.models.embed.load_backbone", _fake_load)
    monkeypatch.setenv("PHOTOSIM_HOME", str(tmp_path / "home"))
    db = tmp_path / "lib" / "library.db"
    db.parent.mkdir()
    shutil.copy(template_db, db)
    conn = sqlite3.connect(db)
    for name in ("vector-null", "vector-odd-length", "size-text", "taken-integer", "path-null"):
        for sql in VARIANTS[name]:
            conn.execute(sql)
    conn.execute("update vectors set vector = zeroblob(10) where rowid = 3")  # wrong size
    conn.commit()
    conn.close()
    for _ in range(2):  # the first drops the damaged vectors, the second embeds those photos
        assert main(["scan", str(root), "--db", str(db)]) == 0
    capsys.readouterr()
    with Library(db_path=db, read_only=True) as lib:
        photos = lib.photos()
        assert len(photos) == 7 and all(p.has_vector and p.size for p in photos)
        assert all(
            lib.store.vectors.get_vector(p.hash, lib.model.current_key()) is not None
            for p in photos
        )
        assert lib.info()["embedded"] == 7

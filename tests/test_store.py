"""Storage: migrations, rows, vectors; against a temporary database."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photosim.storage.store import SCHEMA_VERSION, Store, migrate


def test_migrations_run_once_and_are_recorded(tmp_path):
    store = Store(tmp_path / "lib.db")
    names = [r["name"] for r in store.db["_sqlite_migrations"].rows]
    assert len(names) == SCHEMA_VERSION
    assert migrate(store.db) == SCHEMA_VERSION  # a second run applies nothing new
    assert [r["name"] for r in store.db["_sqlite_migrations"].rows] == names
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_photo_upsert_keeps_id_and_updates_fields(tmp_path):
    store = Store(tmp_path / "lib.db")
    pid = store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 5, "hash": "h1"})
    again = store.upsert_photo({"path": "/p/a.jpg", "size": 2, "mtime_ns": 6, "hash": "h2"})
    assert pid == again
    assert store.lookup(["/p/a.jpg"], None)["/p/a.jpg"][1:5] == (2, 6, "h2", None)


def test_vectors_roundtrip_float16_and_scope_by_model(tmp_path):
    store = Store(tmp_path / "lib.db")
    store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 1, "hash": "h"})
    v = np.arange(4, dtype=np.float32) / 10
    store.vectors.put_vectors("m1", [("h", v)])
    np.testing.assert_allclose(
        store.vectors.get_vector("h", "m1"), v, atol=1e-3
    )  # stored as float16
    assert store.vectors.get_vector("h", "m2") is None
    assert store.photos.all("m1")[0].has_vector and not store.photos.all("m2")[0].has_vector


def test_vectors_of_deleted_photos_are_dropped(tmp_path):
    store = Store(tmp_path / "lib.db")
    pid = store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 1, "hash": "h"})
    store.vectors.put_vectors("m", [("h", np.ones(3, np.float32))])
    store.delete_photos([pid])
    assert store.vectors.drop_orphan_vectors() == 1
    assert store.vectors.vector_models() == {}


def test_unseen_only_looks_under_the_scanned_roots(tmp_path):
    store = Store(tmp_path / "lib.db")
    store.upsert_photo({"path": "/a/x.jpg", "size": 1, "mtime_ns": 1, "seen": 1})
    store.upsert_photo({"path": "/ab/y.jpg", "size": 1, "mtime_ns": 1, "seen": 1})
    from pathlib import Path

    gone = store.unseen(2, [Path("/a")])
    assert [p for _, p, _ in gone] == ["/a/x.jpg"]


def test_atomic_writes_all_or_nothing(tmp_path):
    store = Store(tmp_path / "lib.db")
    with store.atomic():
        store.list_new("/p/a.jpg", 1, 1, 1)
        store.list_new("/p/b.jpg", 1, 1, 1)
    assert store.photos.count() == 2
    try:
        with store.atomic():
            store.list_new("/p/c.jpg", 1, 1, 1)
            raise RuntimeError("stop half-way")
    except RuntimeError:
        pass
    assert store.photos.count() == 2
    with store.atomic(), store.atomic():  # nested: a savepoint inside the outer transaction
        store.list_new("/p/d.jpg", 1, 1, 1)
    assert Store(tmp_path / "lib.db").photos.count() == 3


def test_paths_are_bytes_and_sweeps_match_byte_prefixes(tmp_path):
    import os

    store = Store(tmp_path / "lib.db")
    odd = os.fsdecode(b"/r\xe9/x.jpg")  # a folder name that is not UTF-8
    for path in (odd, "/r/a.jpg", "/r/locked/b.jpg", "/rr/c.jpg"):
        store.upsert_photo({"path": path, "size": 1, "mtime_ns": 1, "seen": 1})
    assert (
        store.db.execute("select count(*) from photos where typeof(path) = 'blob'").fetchone()[0]
        == 4
    )
    assert store.photos.photo(odd).path == Path(odd)
    gone = store.unseen(2, [Path("/r")], skip=["/r/locked"])
    assert [p for _, p, _ in gone] == ["/r/a.jpg"]
    assert [p for _, p, _ in store.unseen(2, [Path(os.fsdecode(b"/r\xe9"))])] == [odd]


def test_owed_work_is_recorded_and_paged_back(tmp_path):
    from photosim.storage.store import PENDING_UPDATE

    store = Store(tmp_path / "lib.db")
    generation = store.begin_scan()
    for i in range(5):
        store.list_new(f"/p/{i}.jpg", 1, 1, generation)
    pid = store.upsert_photo({"path": "/p/old.jpg", "size": 1, "mtime_ns": 1, "hash": "h"})
    store.mark_pending([pid], generation, PENDING_UPDATE)
    assert store.pending_count() == 6
    first = store.pending_jobs(limit=4)
    rest = store.pending_jobs(first[-1][0], limit=4)
    assert [j[1] for j in first + rest][-1] == "/p/old.jpg" and len(first + rest) == 6
    assert [j[5] for j in first + rest] == [True] * 5 + [False]
    assert store.begin_scan() == generation + 1 and store.pending_count() == 0


def test_failures_come_back_typed(tmp_path):
    from photosim.core.events import FailKind, Failure

    store = Store(tmp_path / "lib.db")
    store.upsert_photo(
        {"path": "/p/a.jpg", "size": 1, "mtime_ns": 1, "error": "no", "fail_kind": "too_large"}
    )
    store.upsert_photo({"path": "/p/b.jpg", "size": 1, "mtime_ns": 1, "error": "old row"})
    assert store.photos.failures() == [
        Failure(Path("/p/a.jpg"), FailKind.TOO_LARGE, "no"),
        Failure(Path("/p/b.jpg"), FailKind.OTHER, "old row"),
    ]
    assert store.photos.count_failed() == 2


def test_read_only_store_refuses_writes_and_missing_files(tmp_path):
    import sqlite3

    import pytest

    from photosim.core.errors import UnknownLibrary

    Store(tmp_path / "lib.db").upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 1})
    reader = Store(tmp_path / "lib.db", read_only=True)
    assert reader.photos.count() == 1
    with pytest.raises(sqlite3.OperationalError):
        reader.set_meta(x=1)
    with pytest.raises(UnknownLibrary):
        Store(tmp_path / "nope.db", read_only=True)


def test_sqlite_utils_does_the_migrations_and_loads_no_plugins(tmp_path, monkeypatch):
    """Migrations are sqlite-utils' (set "photosim"); an older library's own records are
    adopted; opening a store never makes sqlite-utils scan for plugins."""
    import sqlite3

    import sqlite_utils.db

    from photosim.storage import migrations

    def scan_for_plugins():
        raise AssertionError("sqlite-utils scanned the installed packages for plugins")

    monkeypatch.setattr(sqlite_utils.db, "ensure_plugins_loaded", scan_for_plugins)

    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    for name, step in migrations.MIGRATIONS[:2]:
        step(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, 0)", [name])
    conn.commit()
    conn.close()
    store = Store(old)
    applied = [m.name for m in migrations.migration_set().applied(store.db)]
    assert applied == [name for name, _ in migrations.MIGRATIONS]
    assert migrations.migration_set().pending(store.db) == []
    assert store.db.execute("pragma application_id").fetchone()[0] == migrations.APPLICATION_ID

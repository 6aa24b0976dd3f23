"""Storage: migrations, rows, vectors; against a temporary database."""

from __future__ import annotations

import numpy as np

from photosim.store import SCHEMA_VERSION, Store, migrate


def test_migrations_run_once_and_are_recorded(tmp_path):
    store = Store(tmp_path / "lib.db")
    names = [r["name"] for r in store.db["_migrations"].rows]
    assert len(names) == SCHEMA_VERSION
    assert migrate(store.db) == SCHEMA_VERSION  # a second run applies nothing new
    assert [r["name"] for r in store.db["_migrations"].rows] == names
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_photo_upsert_keeps_id_and_updates_fields(tmp_path):
    store = Store(tmp_path / "lib.db")
    pid = store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 5, "hash": "h1"})
    again = store.upsert_photo({"path": "/p/a.jpg", "size": 2, "mtime_ns": 6, "hash": "h2"})
    assert pid == again
    assert store.known_files()["/p/a.jpg"] == (2, 6, "h2", None)


def test_vectors_roundtrip_float16_and_scope_by_model(tmp_path):
    store = Store(tmp_path / "lib.db")
    store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 1, "hash": "h"})
    v = np.arange(4, dtype=np.float32) / 10
    store.put_vectors("m1", [("h", v)])
    np.testing.assert_allclose(store.get_vector("h", "m1"), v, atol=1e-3)  # stored as float16
    assert store.get_vector("h", "m2") is None
    assert store.photos("m1")[0].has_vector and not store.photos("m2")[0].has_vector


def test_vectors_of_deleted_photos_are_dropped(tmp_path):
    store = Store(tmp_path / "lib.db")
    pid = store.upsert_photo({"path": "/p/a.jpg", "size": 1, "mtime_ns": 1, "hash": "h"})
    store.put_vectors("m", [("h", np.ones(3, np.float32))])
    store.delete_photos([pid])
    assert store.drop_orphan_vectors() == 1
    assert store.vector_models() == {}


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
    assert store.count() == 2
    try:
        with store.atomic():
            store.list_new("/p/c.jpg", 1, 1, 1)
            raise RuntimeError("stop half-way")
    except RuntimeError:
        pass
    assert store.count() == 2
    with store.atomic(), store.atomic():  # nested: a savepoint inside the outer transaction
        store.list_new("/p/d.jpg", 1, 1, 1)
    assert Store(tmp_path / "lib.db").count() == 3

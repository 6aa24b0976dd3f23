"""The grid's light listing of a library (Store/Library.photo_listing), on temp databases."""

from __future__ import annotations

import os

import numpy as np
from conftest import make_tiny_backbone, write_photo

from photosim.library import Library
from photosim.storage.store import PhotoRow, Store


def test_listing_holds_what_the_grid_needs_of_every_photo(tmp_path):
    store = Store(tmp_path / "lib.db")
    odd = os.fsdecode(b"/p/caf\xe9.jpg")  # a name that is not UTF-8 round-trips
    store.upsert_photo({"path": "/p/a.jpg", "size": 10, "mtime_ns": 7, "hash": "h1",
                        "taken": "2020-01-02T03:04:05"})  # fmt: skip
    store.upsert_photo({"path": odd, "size": 20, "mtime_ns": 8, "hash": "h2"})
    store.upsert_photo({"path": "/p/bad.jpg", "size": 3, "mtime_ns": 9, "error": "truncated"})
    store.list_new("/p/new.jpg", 4, 5, 1)  # listed by a scan, not read yet
    store.vectors.put_vectors("m1", [("h1", np.ones(3, np.float32))])
    store.vectors.put_vectors("m2", [("h2", np.ones(3, np.float32))])

    rows = {row.path: row for row in store.photos.photo_listing("m1")}
    assert set(rows) == {"/p/a.jpg", odd, "/p/bad.jpg", "/p/new.jpg"}
    assert rows["/p/a.jpg"] == PhotoRow(rows["/p/a.jpg"].id, "/p/a.jpg", 10, 7,
                                        "2020-01-02T03:04:05", None, True)  # fmt: skip
    assert not rows[odd].has_vector  # embedded by another model only
    assert rows["/p/bad.jpg"].error == "truncated"
    assert rows["/p/new.jpg"][2:] == (4, 5, None, None, False)
    # the same facts as the full records, model by model
    for key in ("m1", "m2", None):
        full = {(p.id, str(p.path), p.size, p.taken, p.error, p.has_vector)
                for p in store.photos.all(key)}  # fmt: skip
        lean = {(r.id, r.path, r.size, r.taken, r.error, r.has_vector)
                for r in store.photos.photo_listing(key)}  # fmt: skip
        assert lean == full


def test_listing_of_a_scanned_library_and_its_skipped_count(tmp_path):
    root = tmp_path / "Pictures"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", seed=seed)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    lib = Library([root], tmp_path / "lib.db", backbone=make_tiny_backbone())
    assert lib.photo_listing() == [] and lib.failure_count() == 0
    list(lib.scan())
    rows = {os.path.basename(r.path): r for r in lib.photo_listing()}
    assert sorted(rows) == ["broken.jpg", "p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]
    assert all(r.has_vector for name, r in rows.items() if name != "broken.jpg")
    assert rows["broken.jpg"].error and not rows["broken.jpg"].has_vector
    assert lib.failure_count() == len(lib.failures()) == 1
    assert lib.photo_count() == 5
    assert {r.path for r in lib.photo_listing_earliest(1)} <= set(rows_by_path(lib))
    st = (root / "p0.jpg").stat()
    assert (rows["p0.jpg"].size, rows["p0.jpg"].mtime_ns) == (st.st_size, st.st_mtime_ns)
    lib.close()


def rows_by_path(lib: Library) -> dict[str, PhotoRow]:
    return {r.path: r for r in lib.photo_listing()}


def test_listing_inside_a_transaction_leaves_it_open(tmp_path):
    """Its own read snapshot never ends the caller's transaction (nothing committed early)."""
    store = Store(tmp_path / "lib.db")
    with store.atomic():
        store.list_new("/p/a.jpg", 1, 1, 1)
        assert [r.path for r in store.photos.photo_listing(None)] == ["/p/a.jpg"]
        assert store.db.conn.in_transaction
    assert Store(tmp_path / "lib.db").photos.count() == 1


def test_earliest_photos_by_date_taken_file_time_and_undated(tmp_path):
    store = Store(tmp_path / "lib.db")
    for i, taken in enumerate(
        ["2003-01-01T00:00:00", "2001-01-01T00:00:00", "2002-01-01T00:00:00"]
    ):
        store.upsert_photo({"path": f"/p/t{i}.jpg", "size": 1, "mtime_ns": 5, "taken": taken,
                            "hash": f"h{i}"})  # fmt: skip
    second = 10**9  # no date taken: by file time in whole seconds, then path (the app's key)
    for name, mtime_ns in [("m0", 30 * second), ("m2", 10 * second + 9), ("m1", 10 * second + 5),
                           ("m3", 20 * second)]:  # fmt: skip
        store.upsert_photo({"path": f"/p/{name}.jpg", "size": 1, "mtime_ns": mtime_ns})
    for name in ("u2", "u0", "u1"):  # neither: by path
        store.upsert_photo({"path": f"/p/{name}.jpg", "size": 1, "mtime_ns": 0})
    store.vectors.put_vectors("m", [("h1", np.ones(3, np.float32))])

    rows = {r.path: r for r in store.photos.photo_listing_earliest("m", 2)}
    assert sorted(rows) == sorted(["/p/t1.jpg", "/p/t2.jpg", "/p/m1.jpg", "/p/m2.jpg",
                                   "/p/u0.jpg", "/p/u1.jpg"])  # fmt: skip
    assert rows["/p/t1.jpg"].has_vector and not rows["/p/t2.jpg"].has_vector
    assert set(store.photos.photo_listing_earliest("m", 2)) <= set(store.photos.photo_listing("m"))
    assert store.photos.photo_listing_earliest(None, 0) == []

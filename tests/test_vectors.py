"""Vectors on disk: float16 storage, the migration from float32, rankings that hold."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from photosim.library import Library
from photosim.library.pipeline import model_image
from photosim.storage import migrations
from photosim.storage.store import Store


def test_vectors_round_trip_within_float16_tolerance(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 2048)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(tmp_path / "lib.db")
    store.vectors.put_vectors("m", [(f"h{i}", v) for i, v in enumerate(vectors)])
    back = store.vectors.get_vectors([f"h{i}" for i in range(20)], "m")
    for i, v in enumerate(vectors):
        assert back[f"h{i}"].dtype == np.float32
        np.testing.assert_allclose(back[f"h{i}"], v, atol=2e-4)
        assert float(back[f"h{i}"] @ v) == pytest.approx(1.0, abs=1e-4)
    blob = store.db.execute("select vector from vectors limit 1").fetchone()[0]
    assert len(blob) == 2048 * 2  # half the bytes of float32


def test_migration_converts_float32_rows(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    for name, step in migrations.MIGRATIONS[:3]:  # a library from before float16
        step(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, 0)", [name])
    v = np.linspace(-1, 1, 64, dtype=np.float32)
    conn.execute("insert into vectors values ('h', 'm', ?)", [v.tobytes()])
    conn.commit()
    conn.close()
    store = Store(path)
    np.testing.assert_allclose(store.vectors.get_vector("h", "m"), v, atol=1e-3)


def test_rankings_on_real_photos_hold_with_float16_and_projection(
    tmp_path, monkeypatch, effnet_backbone, classic_photos
):
    """The trained network's neighbours through the library equal exact float32 search."""
    import photosim.search.build as build_module

    monkeypatch.setattr(build_module, "INDEX_DIM", 8)  # force the projection on 30 photos
    monkeypatch.setattr(build_module, "REDUCE_FROM", 4)
    lib = Library([classic_photos], tmp_path / "lib.db", backbone=effnet_backbone)
    for _ in lib.scan():
        pass
    assert lib.index.state().index_dim == 8
    photos = [p for p in lib.photos() if p.has_vector]
    b = effnet_backbone
    exact = b.embed([b.prepare(model_image(p.path, b.input_size)) for p in photos])
    by_path = {p.path: i for i, p in enumerate(photos)}
    for i, p in enumerate(photos):
        matches = lib.similar(p, k=5)
        scores = exact @ exact[i]
        for m in matches:  # the scores people see: cosines of the full vectors
            assert m.score == pytest.approx(max(0.0, float(scores[by_path[m.path]])), abs=3e-3)
        want = [photos[j].path for j in np.argsort(-scores) if j != i and photos[j].hash != p.hash]
        got = [
            m.path for m in matches if m.path in by_path and photos[by_path[m.path]].hash != p.hash
        ]
        gaps = np.sort(-scores)  # ties within float16 rounding may swap; otherwise same order
        if np.min(np.abs(np.diff(gaps[:7]))) > 5e-3:
            assert got[:4] == want[:4]
    original = classic_photos / "transforms" / "ukbench00120.jpg"
    top = [f"{m.path.parent.name}/{m.path.name}" for m in lib.similar(original, k=6)]
    assert top[0] == "ukbench/ukbench00120.jpg"  # the same bytes elsewhere, then every edit
    assert set(top[1:]) == {
        f"transforms/ukbench00120{s}"
        for s in ("_hflip.jpg", "_resize.jpg", "_gray.jpg", "_rotation.jpg")
    } | {"transforms/alpha_channel_image.png"}

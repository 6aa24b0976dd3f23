"""Annoy index: scores, freshness, and photos added after the last build."""

from __future__ import annotations

import math

import numpy as np
import pytest

from photosim.index import VectorIndex, cosine_from_angular
from photosim.store import Store


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.0, math.pi / 2, math.pi])
def test_angular_distance_converts_to_clamped_cosine(angle):
    d = math.sqrt(2 - 2 * math.cos(angle))
    assert cosine_from_angular(d) == pytest.approx(max(0.0, math.cos(angle)), abs=1e-6)


def _store_with(tmp_path, vectors: dict[str, np.ndarray]) -> Store:
    store = Store(tmp_path / "lib.db")
    for i, (h, v) in enumerate(vectors.items()):
        store.upsert_photo({"path": f"/p/{i}.jpg", "size": 1, "mtime_ns": 1, "hash": h})
        store.put_vectors("m", [(h, v)])
    store.commit()
    return store


def test_query_ranks_by_cosine_and_new_vectors_are_found_before_rebuild(tmp_path):
    rng = np.random.default_rng(1)
    vectors = {f"h{i}": _unit(rng.normal(size=16)) for i in range(50)}
    store = _store_with(tmp_path, vectors)
    index = VectorIndex(store, tmp_path / "lib.db")
    assert index.status("m") == "missing"
    assert index.build("m") == 50
    assert index.status("m") == "fresh"
    hits = index.query(vectors["h7"], "m", 3)
    assert hits[0][0] == "h7" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)

    near = _unit(vectors["h7"] + 0.01)
    store.upsert_photo({"path": "/p/new.jpg", "size": 1, "mtime_ns": 1, "hash": "new"})
    store.put_vectors("m", [("new", near)])
    store.bump_version()
    store.commit()
    assert index.status("m") == "stale"
    top = [h for h, _ in index.query(vectors["h7"], "m", 2)]
    assert set(top) == {"h7", "new"}


def test_index_of_another_model_is_not_used(tmp_path):
    store = _store_with(tmp_path, {"a": _unit([1, 0]), "b": _unit([0, 1])})
    index = VectorIndex(store, tmp_path / "lib.db")
    index.build("m")
    assert index.status("other") == "missing"

"""Annoy index: scores, freshness, and photos added after the last build."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from photosim.search.index import VectorIndex
from photosim.search.knn import cosines_from_angular
from photosim.storage.store import Store


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.0, math.pi / 2, math.pi])
def test_angular_distance_converts_to_clamped_cosine(angle):
    d = math.sqrt(2 - 2 * math.cos(angle))
    assert cosines_from_angular([d])[0] == pytest.approx(max(0.0, math.cos(angle)), abs=1e-6)


def _store_with(tmp_path, vectors: dict[str, np.ndarray]) -> Store:
    store = Store(tmp_path / "lib.db")
    for i, (h, v) in enumerate(vectors.items()):
        store.upsert_photo({"path": f"/p/{i}.jpg", "size": 1, "mtime_ns": 1, "hash": h})
        store.vectors.put_vectors("m", [(h, v)])
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
    store.vectors.put_vectors("m", [("new", near)])
    store.bump_version()
    assert index.status("m") == "stale"
    top = [h for h, _ in index.query(vectors["h7"], "m", 2)]
    assert set(top) == {"h7", "new"}


def test_index_of_another_model_is_not_used(tmp_path):
    store = _store_with(tmp_path, {"a": _unit([1, 0]), "b": _unit([0, 1])})
    index = VectorIndex(store, tmp_path / "lib.db")
    index.build("m")
    assert index.status("other") == "missing"


# -- sizes, projection, atomic builds ---------------------------
def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres, like photos of a few subjects."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    v = centres[rng.integers(0, 50, n)] + 0.6 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _bulk_store(tmp_path, matrix: np.ndarray, model: str = "m") -> Store:
    store = Store(tmp_path / "lib.db")
    with store.atomic():
        for i in range(len(matrix)):
            store.upsert_photo({"path": f"/p/{i}.jpg", "size": 1, "mtime_ns": 1, "hash": f"h{i}"})
        store.vectors.put_vectors(model, [(f"h{i}", v) for i, v in enumerate(matrix)])
    return store


def _exact(matrix: np.ndarray, q: int, n: int) -> list[str]:
    order = np.argsort(-(matrix @ matrix[q]))
    return [f"h{i}" for i in order[:n]]


def test_wide_vectors_are_indexed_by_projection_and_rescored_exactly(tmp_path, monkeypatch):
    import photosim.search.build as build_module

    monkeypatch.setattr(build_module, "INDEX_DIM", 32)
    monkeypatch.setattr(build_module, "REDUCE_FROM", 100)
    matrix = _clustered(2000, 64)
    store = _bulk_store(tmp_path, matrix)
    index = VectorIndex(store, tmp_path / "lib.db")
    assert index.build("m") == 2000
    state = index.state()
    assert (state.dim, state.index_dim) == (64, 32) and state.recall >= 0.95
    found = total = 0
    stored = store.vectors.get_vectors([f"h{i}" for i in range(2000)], "m")
    for q in range(0, 2000, 40):
        hits = index.query(matrix[q], "m", 10)
        found += len({h for h, _ in hits} & set(_exact(matrix, q, 10)))
        total += 10
        for h, score in hits:  # scores are cosines of the full (stored) vectors
            assert score == pytest.approx(float(stored[h] @ matrix[q]), abs=2e-3)
    assert found / total >= 0.95


def test_two_builds_at_once_leave_one_sound_index(tmp_path):
    import threading

    matrix = _clustered(1500, 32)
    store = _bulk_store(tmp_path, matrix)
    indexes = [VectorIndex(store, tmp_path / "lib.db") for _ in range(2)]
    results, errors = [], []

    def build(ix):
        try:
            results.append(ix.build("m"))
        except Exception as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(ix,)) for ix in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [1500, 1500]
    folder = tmp_path / "lib.index"
    assert not list(folder.glob("tmp-*")) and len(list(folder.glob("build-*"))) == 1
    assert indexes[0].query(matrix[3], "m", 1)[0][0] == "h3"


def test_a_query_during_builds_sees_a_whole_index(tmp_path):
    """Queries while another thread rebuilds (and the library grows) always answer right."""
    import threading

    matrix = _clustered(3000, 32, seed=2)
    store = _bulk_store(tmp_path, matrix[:1000])
    reader = VectorIndex(store, tmp_path / "lib.db")
    reader.build("m")
    stop = threading.Event()
    errors: list[BaseException] = []

    def grow_and_build():
        try:
            writer = VectorIndex(store, tmp_path / "lib.db")
            for start in range(1000, 3000, 500):
                with store.atomic():
                    for i in range(start, start + 500):
                        store.upsert_photo(
                            {"path": f"/p/{i}.jpg", "size": 1, "mtime_ns": 1, "hash": f"h{i}"}
                        )
                    store.vectors.put_vectors(
                        "m", [(f"h{i}", matrix[i]) for i in range(start, start + 500)]
                    )
                    store.bump_version()
                writer.build("m", full=True)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=grow_and_build)
    thread.start()
    checked = 0
    while not stop.is_set() or checked < 20:
        q = (checked * 37) % 1000
        best, score = reader.query(matrix[q], "m", 3)[0]
        assert best == f"h{q}" and score == pytest.approx(1.0, abs=2e-3)
        checked += 1
    thread.join()
    assert not errors
    assert reader.status("m") == "fresh" and reader.state().count == 3000
    assert reader.query(matrix[2500], "m", 1)[0][0] == "h2500"


def test_new_vectors_are_read_once_not_on_every_query(tmp_path, monkeypatch):
    matrix = _clustered(300, 16)
    store = _bulk_store(tmp_path, matrix[:200])
    index = VectorIndex(store, tmp_path / "lib.db")
    index.build("m")
    with store.atomic():
        store.vectors.put_vectors("m", [(f"h{i}", matrix[i]) for i in range(200, 300)])
    read: list[int] = []
    original = store.vectors.vectors_after

    def spy(model_key, rowid):
        newest, hashes, m = original(model_key, rowid)
        read.append(len(hashes))
        return newest, hashes, m

    monkeypatch.setattr(store.vectors, "vectors_after", spy)
    assert index.query(matrix[250], "m", 1)[0][0] == "h250"
    assert index.query(matrix[260], "m", 1)[0][0] == "h260"
    assert read == [100, 0]


def test_search_k_and_trees_grow_with_the_library():
    from photosim.search.build import plan

    small, large = plan(300, 512), plan(1_000_000, 2048)
    assert small.trees < large.trees and small.index_dim == 512  # too few to learn a projection
    assert large.index_dim < 2048 and large.candidates > 1


def test_a_small_change_keeps_the_trees_and_a_large_one_rebuilds(tmp_path):
    matrix = _clustered(3000, 16, seed=4)
    store = _bulk_store(tmp_path, matrix[:1500])
    index = VectorIndex(store, tmp_path / "lib.db")
    index.build("m")

    def add(first, last):
        with store.atomic():
            for i in range(first, last):
                store.upsert_photo(
                    {"path": f"/p/{i}.jpg", "size": 1, "mtime_ns": 1, "hash": f"h{i}"}
                )
            store.vectors.put_vectors("m", [(f"h{i}", matrix[i]) for i in range(first, last)])
            store.bump_version()

    add(1500, 1600)
    assert index.status("m") == "stale"
    index.build("m")  # 100 new vectors: same trees, new version
    assert index.status("m") == "fresh" and index.state().count == 1500
    assert index.query(matrix[1550], "m", 1)[0][0] == "h1550"  # found by the exact search
    add(1600, 3000)
    index.build("m")
    assert index.status("m") == "fresh" and index.state().count == 3000


# -- query speed: re-scoring by rowid, calibration, warm-up ---------------------
def _projected_index(tmp_path, monkeypatch, matrix: np.ndarray | None = None):
    import photosim.search.build as build_module

    monkeypatch.setattr(build_module, "INDEX_DIM", 32)
    monkeypatch.setattr(build_module, "REDUCE_FROM", 100)
    matrix = _clustered(2000, 64) if matrix is None else matrix
    store = _bulk_store(tmp_path, matrix)
    index = VectorIndex(store, tmp_path / "lib.db")
    index.build("m")
    return store, index, matrix


def test_a_vector_rewritten_after_the_build_is_still_found_and_scored(tmp_path, monkeypatch):
    store, index, matrix = _projected_index(tmp_path, monkeypatch)
    before = index.query(matrix[5], "m", 10)
    loaded = index._load("m")
    old_rowid = int(loaded.rowids[list(loaded.items).index(b"h5")])
    with store.atomic():  # "insert or replace" gives the row a new rowid
        store.vectors.put_vectors("m", [("h5", matrix[5])])
    assert store.vectors.vectors_by_rowid([old_rowid], "m")[0] == []  # the build's rowid: nothing
    after = index.query(matrix[5], "m", 10)
    assert after[0][0] == "h5" and after[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [h for h, _ in after] == [h for h, _ in before]


def test_vectors_by_rowid_reads_only_rows_of_the_model(tmp_path):
    store = _store_with(tmp_path, {"a": _unit([1, 0]), "b": _unit([0, 1])})
    store.vectors.put_vectors("other", [("a", _unit([1, 1]))])
    hashes, matrix = store.vectors.vectors_by_rowid([1, 2, 3], "m")
    assert hashes == ["a", "b"] and matrix[1] == pytest.approx(_unit([0, 1]), abs=1e-3)


def test_search_k_is_the_smallest_that_reaches_the_target_recall(tmp_path, monkeypatch):
    import photosim.search.build as build_module
    import photosim.search.lookup as lookup_module

    rng = np.random.default_rng(0)  # 24 dimensions of spread in 64: hard for the trees,
    spread = rng.normal(size=(3000, 24)) @ rng.normal(size=(24, 64))  # easy for the PCA
    matrix = spread + 0.05 * rng.normal(size=spread.shape)
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    store, index, matrix = _projected_index(tmp_path, monkeypatch, matrix)
    state = index.state()
    assert state.recall >= build_module.TARGET_RECALL
    loaded = index._load("m")
    picks = np.linspace(0, len(matrix) - 1, 200).astype(int)
    recall = []
    for k in (state.search_k, int(state.search_k * 0.85)):
        found = 0
        for q in picks:
            got = {h for h, _ in lookup_module.nearest(loaded, store, "m", matrix[q], 11, k)}
            found += len(got & set(_exact(matrix, q, 11)[1:]))
        recall.append(found / (10 * len(picks)))
    assert recall[0] >= build_module.TARGET_RECALL - 0.02
    assert recall[1] < recall[0]  # a smaller search_k would have cost recall


def test_warm_maps_the_index_in_and_queries_answer_the_same(tmp_path, monkeypatch):
    _, index, matrix = _projected_index(tmp_path, monkeypatch)
    cold = index.query(matrix[9], "m", 5)
    assert index.warm("m") and index._loaded.prefault
    assert index.query(matrix[9], "m", 5) == cold
    assert not index.warm("other model")


def test_similar_still_gives_k_photos_when_near_ones_left_since_the_build(tmp_path):
    from photosim.library import Library

    matrix = _clustered(400, 16)
    store = _bulk_store(tmp_path, matrix)
    with store.atomic():
        store.set_meta(model_key="m", library_version=1)
    VectorIndex(store, tmp_path / "lib.db").build("m")
    nearest = _exact(matrix, 0, 12)[1:7]  # six of the query's ten nearest leave the library
    store.delete_photos([store.photos.photo(f"/p/{h[1:]}.jpg").id for h in nearest])
    store.close()
    with Library(db_path=tmp_path / "lib.db") as lib:
        matches = lib.similar(Path("/p/0.jpg"), k=10)
    names = [m.path.name for m in matches]
    assert len(names) == 10 and "0.jpg" not in names
    assert not {f"{h[1:]}.jpg" for h in nearest} & set(names)


def test_a_build_without_rowids_still_rescores_by_hash(tmp_path, monkeypatch):
    _, index, matrix = _projected_index(tmp_path, monkeypatch)
    before = index.query(matrix[3], "m", 10)
    index.close()
    name = index.current_path.read_text().strip()
    (index.dir / name / "rowids.npy").unlink()  # as builds made before it existed
    assert index.query(matrix[3], "m", 10) == before
    assert index._loaded.rowids is None

"""Writing one build of the index: how many trees and whether to index a PCA projection
(:func:`plan`), the Annoy file, item map and projection, and ``search_k`` calibrated against
exact search; or the same trees under a new library version."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.search.knn import top_axes
from photosim.search.lookup import IndexState, Loaded, annoy_name, nearest
from photosim.storage.store import Store

if TYPE_CHECKING:
    from annoy import AnnoyIndex

INDEX_DIM = 128  # wider vectors are indexed by their PCA projection to this many dimensions
REDUCE_FROM = 4 * INDEX_DIM  # ... once there are enough photos to learn the projection from
PCA_SAMPLE = 20_000  # vectors the projection is learnt from
CANDIDATES = 3  # with a projection, Annoy proposes this many times n, re-scored exactly
TARGET_RECALL = 0.965  # recall@10 against exact search that search_k is calibrated to
CALIBRATION_QUERIES = 200
BATCH = 4096


@dataclass(frozen=True)
class Plan:
    """How to index ``count`` vectors of ``dim`` dimensions."""

    trees: int
    index_dim: int  # == dim: the vectors themselves; smaller: their PCA projection
    candidates: int  # Annoy answers this many times n; > 1 only with a projection


def plan(count: int, dim: int) -> Plan:
    """Trees grow with the library (search_k is calibrated later); wide vectors get a PCA.

    Few trees: at a given search_k (what a query costs) recall@10 was as good or better
    with 10 trees as with 20-24, at 100k and 1M (bench/index.py), and the index is smaller.
    """
    trees = int(min(12, max(6, round(2 * math.log10(max(count, 10))))))
    reduce = dim > INDEX_DIM and count >= REDUCE_FROM
    return Plan(trees, INDEX_DIM if reduce else dim, CANDIDATES if reduce else 1)


def refresh_build(source: Path, folder: Path, state: IndexState, version: int) -> IndexState:
    """The same trees under a new library version: hard links (or copies) and a new meta."""
    for path in source.iterdir():
        if path.name != "meta.json":
            try:
                os.link(path, folder / path.name)
            except OSError:  # no hard links on this file system
                shutil.copy2(path, folder / path.name)
    fresh = IndexState(**{**asdict(state), "version": version, "build_seconds": 0.0})
    (folder / "meta.json").write_text(json.dumps(asdict(fresh)))
    return fresh


def write_build(
    folder: Path, store: Store, model_key: str, version: int, max_rowid: int
) -> IndexState | None:
    """Write the Annoy file, item map, projection and meta.json of one build into ``folder``."""
    started = time.perf_counter()
    count = store.vectors.count_vectors(model_key)
    if count == 0:
        return None
    every = max(1, count // PCA_SAMPLE)
    sample_hashes: list[str] = []
    samples = []
    for hashes, matrix in store.vectors.vector_batches(model_key, BATCH, every=every):
        sample_hashes += hashes
        samples.append(matrix)
    if not samples:  # rowids all skipped by `every`: take everything
        for hashes, matrix in store.vectors.vector_batches(model_key, BATCH):
            sample_hashes += hashes
            samples.append(matrix)
    sample = np.vstack(samples)
    dim = sample.shape[1]
    how = plan(count, dim)
    pca = top_axes(sample, how.index_dim) if how.index_dim < dim else None
    picks = np.linspace(0, len(sample) - 1, min(CALIBRATION_QUERIES, len(sample))).astype(int)
    queries, query_hashes = sample[picks], [sample_hashes[i] for i in picks]

    from annoy import AnnoyIndex

    annoy = AnnoyIndex(how.index_dim, "angular")
    items: list[str] = []
    rowids: list[np.ndarray] = []
    truth = TopK(queries, 11)
    for ids, hashes, matrix in store.vectors.vector_rows(model_key, BATCH):
        reduced = matrix @ pca if pca is not None else matrix
        for j, row in enumerate(reduced):
            annoy.add_item(len(items) + j, row.tolist())
        truth.add(matrix, len(items))
        items += hashes
        rowids.append(ids)
    annoy.build(how.trees, n_jobs=-1)
    save_annoy(annoy, folder / "vectors.annoy")
    width = max(len(h.encode()) for h in items)
    np.save(folder / "items.npy", np.array([h.encode() for h in items], dtype=f"S{width}"))
    item_rowids = np.concatenate(rowids)
    np.save(folder / "rowids.npy", item_rowids)
    if pca is not None:
        np.save(folder / "pca.npy", pca)
    state = IndexState(
        model=model_key, version=version, max_rowid=max_rowid, dim=dim,
        index_dim=how.index_dim, count=len(items), trees=how.trees, search_k=0,
        candidates=how.candidates, recall=0.0, build_seconds=0.0,
    )  # fmt: skip
    loaded = Loaded("", state, annoy, np.array([h.encode() for h in items]), pca, item_rowids)
    expected = [
        [items[i] for i in row if items[i] != query_hashes[q]][:10]
        for q, row in enumerate(truth.best())
    ]
    state.search_k, state.recall = _calibrate(loaded, store, model_key, queries, expected)
    annoy.unload()
    state.build_seconds = round(time.perf_counter() - started, 3)
    (folder / "meta.json").write_text(json.dumps(asdict(state)))
    return state


class TopK:
    """The exact ``k`` nearest items (by cosine) of a few queries, over streamed batches."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, np.float32)
        self.ids = np.zeros((len(queries), 0), np.int64)

    def add(self, matrix: np.ndarray, first_id: int) -> None:
        norms = np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
        scores = np.hstack([self.scores, (self.queries @ matrix.T) / norms])
        ids = np.hstack(
            [
                self.ids,
                np.broadcast_to(
                    first_id + np.arange(len(matrix)), (len(self.queries), len(matrix))
                ),
            ]
        )
        if scores.shape[1] > self.k:
            keep = np.argpartition(-scores, self.k, axis=1)[:, : self.k]
            scores = np.take_along_axis(scores, keep, 1)
            ids = np.take_along_axis(ids, keep, 1)
        self.scores, self.ids = scores, ids

    def best(self) -> np.ndarray:
        order = np.argsort(-self.scores, axis=1)
        return np.take_along_axis(self.ids, order, 1)


def _calibrate(
    loaded: Loaded, store: Store, model_key: str, queries: np.ndarray, expected: list[list[str]]
) -> tuple[int, float]:
    """The smallest search_k (within 10%) whose recall@10 against exact search reaches
    TARGET_RECALL: doubled until it does, then bisected, since query time grows with it."""
    state = loaded.state
    ceiling = state.count * state.trees  # Annoy then sees every item: exact on the index

    def recall_at(search_k: int) -> float:
        found = total = 0
        for query, want in zip(queries, expected, strict=True):
            got = {h for h, _ in nearest(loaded, store, model_key, query, 11, search_k)}
            found += len(got & set(want))
            total += len(want)
        return found / total if total else 1.0

    low, high = 0, state.trees * 10 * state.candidates
    recall = recall_at(high)
    while recall < TARGET_RECALL and high < ceiling:
        low, high = high, min(ceiling, high * 2)
        recall = recall_at(high)
    while low and high - low > high // 10:
        middle = (low + high) // 2
        got = recall_at(middle)
        if got >= TARGET_RECALL:
            high, recall = middle, got
        else:
            low = middle
    return high, round(recall, 4)


def save_annoy(annoy: AnnoyIndex, path: Path) -> None:
    """``annoy.save``, its failures as an OSError with an errno (Annoy puts it in the text:
    "Unable to write: No space left on device (28)"), so a full disk is said as such."""
    try:
        with annoy_name(path) as name:
            annoy.save(name)
    except OSError as exc:
        if exc.errno is None and (code := re.search(r"\((\d+)\)\s*$", str(exc))):
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from exc
        raise

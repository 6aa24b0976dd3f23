"""One build of the index, opened and searched: its state (``meta.json``), its Annoy file
and item map (memory-mapped), and Annoy's candidates re-scored with the stored full
vectors when the build indexes a PCA projection."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.search.knn import cosines_from_angular
from photosim.storage.store import Store

if TYPE_CHECKING:
    from annoy import AnnoyIndex


@dataclass
class IndexState:
    """What one build was made from and how it answers (its ``meta.json``)."""

    model: str
    version: int
    max_rowid: int
    dim: int
    index_dim: int
    count: int
    trees: int
    search_k: int
    candidates: int
    recall: float
    build_seconds: float


@dataclass
class Loaded:
    """One build, opened: Annoy memory-maps its file, the item map is memory-mapped too."""

    name: str
    state: IndexState
    annoy: AnnoyIndex
    items: np.ndarray  # item -> content hash (bytes)
    pca: np.ndarray | None  # (dim, index_dim) projection, or None
    rowids: np.ndarray | None = None  # item -> rowid of its full vector (re-scoring reads)
    prefault: bool = False  # mapped in whole at load (see VectorIndex.warm)


# Per-query products use einsum, not BLAS: with torch loaded, BLAS' thread pool turns a
# 0.05 ms matrix-vector product into 15 ms on a busy 2-core machine (measured).
def cosines(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine of each row with ``vector``, clamped to [0, 1]."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * max(
        float(np.linalg.norm(vector)), 1e-12
    )
    return np.clip(np.einsum("ij,j->i", matrix, vector) / np.maximum(norms, 1e-12), 0.0, 1.0)


def nearest(
    loaded: Loaded,
    store: Store,
    model_key: str,
    vector: np.ndarray,
    n: int,
    search_k: int | None,
) -> list[tuple[str, float]]:
    """Annoy's answer for ``vector``; with a projection, its candidates re-scored exactly."""
    state = loaded.state
    search_k = search_k or max(state.search_k, n * state.trees)
    query = np.einsum("i,ij->j", vector, loaded.pca) if loaded.pca is not None else vector
    count = min(n * state.candidates, state.count)
    items, distances = loaded.annoy.get_nns_by_vector(
        query.tolist(), count, search_k=search_k, include_distances=True
    )
    hashes = [loaded.items[i].decode() for i in items]
    if loaded.pca is None:
        return list(zip(hashes, cosines_from_angular(distances).tolist(), strict=True))
    found, matrix = full_vectors(loaded, store, model_key, items, hashes)
    if not found:
        return []
    cos = cosines(matrix, vector)
    order = np.argsort(-cos)[:n]
    return [(found[i], float(cos[i])) for i in order]


def full_vectors(
    loaded: Loaded, store: Store, model_key: str, items: list[int], hashes: list[str]
) -> tuple[list[str], np.ndarray]:
    """The stored full vectors of Annoy's candidates, in a matrix, and their hashes.

    Read by rowid (one b-tree walk each: half the time of a look-up by hash); a vector
    rewritten since the build has another rowid, so those few (and every candidate of a
    build without rowids) are looked up by hash.
    """
    found: list[str] = []
    matrix = np.zeros((0, 0), np.float32)
    if loaded.rowids is not None:
        found, matrix = store.vectors.vectors_by_rowid(loaded.rowids[items].tolist(), model_key)
    wanted = set(hashes)
    if not wanted.issuperset(found):  # a rowid reused by another photo's vector
        keep = [i for i, h in enumerate(found) if h in wanted]
        found, matrix = [found[i] for i in keep], matrix[keep]
    if missing := wanted.difference(found):
        more = store.vectors.get_vectors(missing, model_key)
        if more:
            found = found + list(more)
            rows = [matrix] if len(matrix) else []
            matrix = np.vstack([*rows, np.stack(list(more.values()))])
    return found, matrix


@contextlib.contextmanager
def annoy_name(path: Path) -> Iterator[str]:
    """A file name Annoy can take for ``path``. Annoy takes only text it can encode as UTF-8,
    so a library in a folder whose name is not (an old camera's Latin-1 ``été``) is reached
    through its open folder on Linux (``/proc/self/fd/N/vectors.annoy``), the only systems
    where such names exist."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            yield f"/proc/self/fd/{fd}/{path.name}"
        finally:
            os.close(fd)
        return
    yield text

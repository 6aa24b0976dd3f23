"""Nearest-neighbour search over the library's vectors with Annoy.

The index is a folder beside the database (``library.index/``). Each build writes a
new sub-folder (Annoy file, item -> content hash map, projection, ``meta.json``) under a
unique temporary name, renames it into place and then points ``CURRENT`` at it with one
atomic file replace, all under a lock file: two builds never collide and a query sees
the old index or the new one, never half of each. Vectors wider than ``INDEX_DIM`` are
indexed by a PCA projection learnt on the library; the candidates are re-scored with the
stored full vectors, so scores stay cosines of the full vectors. The number of trees
follows the library's size, and ``search_k`` is calibrated at build time against exact
search. Vectors written after the build are found by an exact search over just those,
cached in memory and topped up by rowid, so new photos are searchable before a rebuild,
and a scan that changes few photos keeps the trees. Nothing proportional to the library
is read per query.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.paths import atomic_write_bytes
from photosim.search.knn import cosine_from_angular, top_axes
from photosim.storage.store import Store

if TYPE_CHECKING:
    from annoy import AnnoyIndex

INDEX_DIM = 128  # wider vectors are indexed by their PCA projection to this many dimensions
REDUCE_FROM = 4 * INDEX_DIM  # ... once there are enough photos to learn the projection from
PCA_SAMPLE = 20_000  # vectors the projection is learnt from
CANDIDATES = 3  # with a projection, Annoy proposes this many times n, re-scored exactly
TARGET_RECALL = 0.965  # recall@10 against exact search that search_k is calibrated to
CALIBRATION_QUERIES = 200
# A scan that adds or removes at most max(1000, 2% of the index), capped at 10,000, keeps the
# trees (a rebuild of 100k takes a minute; exact search over 10k new vectors a few ms).
REFRESH_LIMIT = (1_000, 10_000, 0.02)
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
class _Loaded:
    """One build, opened: Annoy memory-maps its file, the item map is memory-mapped too."""

    name: str
    state: IndexState
    annoy: AnnoyIndex
    items: np.ndarray  # item -> content hash (bytes)
    pca: np.ndarray | None  # (dim, index_dim) projection, or None
    rowids: np.ndarray | None = None  # item -> rowid of its full vector (re-scoring reads)
    prefault: bool = False  # mapped in whole at load (see VectorIndex.warm)


class VectorIndex:
    """The Annoy index of one library (``base`` is the database path) for one model."""

    def __init__(self, store: Store, base: Path) -> None:
        self.store = store
        self.dir = Path(base).with_suffix(".index")
        self.current_path = self.dir / "CURRENT"
        self.lock_path = Path(base).with_suffix(".index.lock")
        self._legacy = [Path(base).with_suffix(".annoy"), Path(base).with_suffix(".annoy.json")]
        self._lock = threading.RLock()  # queries (GUI thread) and builds (a worker) share this
        self._meta_key: tuple | None = None
        self._meta: tuple[str, IndexState] | None = None
        self._loaded: _Loaded | None = None
        self._extra: tuple[str, int, int, list[str], np.ndarray | None] | None = None

    # -- state ---------------------------------------------------------------
    def state(self) -> IndexState | None:
        """The current build's description, or None when there is no usable index."""
        current = self._current()
        return current[1] if current else None

    def status(self, model_key: str) -> str:
        """``missing``, ``stale`` (library changed since the build) or ``fresh``."""
        state = self.state()
        if state is None or state.model != model_key:
            return "missing"
        current = self.store.meta_int("library_version")
        return "fresh" if state.version == current else "stale"

    def _current(self) -> tuple[str, IndexState] | None:
        """(build name, state) that CURRENT points at; re-read only when CURRENT changed."""
        with self._lock:
            for _ in range(3):
                try:
                    st = self.current_path.stat()
                    key = (st.st_ino, st.st_mtime_ns, st.st_size)
                    if key == self._meta_key:
                        return self._meta
                    name = self.current_path.read_text().strip()
                    data = json.loads((self.dir / name / "meta.json").read_text())
                    self._meta_key, self._meta = key, (name, IndexState(**data))
                    return self._meta
                except FileNotFoundError:
                    if not self.current_path.exists():
                        return None
                except (OSError, ValueError, TypeError):
                    return None
            return None

    # -- build ---------------------------------------------------------------
    def build(self, model_key: str, full: bool = False) -> int:
        """Build from every present vector of ``model_key``; returns the item count.

        Waits for another build of this library (thread or process) to finish first; when
        that one already covers every vector, it is kept as it is. Unless ``full``, a small
        change (see ``REFRESH_LIMIT``) keeps the Annoy trees and only records the library's
        new version: the photos added since are found by the exact search over new vectors.
        """
        from filelock import FileLock  # imported here: queries never take the lock

        self.dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.lock_path)):
            self._remove_leftovers()
            version = self.store.meta_int("library_version")
            max_rowid = self.store.vectors.max_vector_rowid()
            current = self._current()
            state = current[1] if current else None
            if state and (state.model, state.version, state.max_rowid) == (
                model_key,
                version,
                max_rowid,
            ):
                return state.count
            tmp = self.dir / f"tmp-{os.getpid()}-{uuid.uuid4().hex}"
            tmp.mkdir()
            try:
                built: IndexState | None
                if not full and current and self._small_change(current[1], model_key):
                    built = _refresh_build(self.dir / current[0], tmp, current[1], version)
                else:
                    built = _write_build(tmp, self.store, model_key, version, max_rowid)
                if built is None:
                    shutil.rmtree(tmp)
                    self.current_path.unlink(missing_ok=True)
                    return 0
                name = f"build-{uuid.uuid4().hex}"
                os.rename(tmp, self.dir / name)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            previous = self._current()
            atomic_write_bytes(self.current_path, name.encode())
            self._prune(keep={name, previous[0] if previous else ""})
            return built.count

    def _small_change(self, state: IndexState, model_key: str) -> bool:
        """Few vectors added or removed since ``state`` was built (same model)."""
        if state.model != model_key:
            return False
        added = self.store.vectors.count_vectors_after(model_key, state.max_rowid)
        removed = max(0, state.count + added - self.store.vectors.count_vectors(model_key))
        return added + removed <= min(
            REFRESH_LIMIT[1], max(REFRESH_LIMIT[0], REFRESH_LIMIT[2] * state.count)
        )

    def _remove_leftovers(self) -> None:
        """Temporary folders of builds that died (we hold the lock: nobody else is building)."""
        for path in self.dir.glob("tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for path in self._legacy:
            path.unlink(missing_ok=True)

    def _prune(self, keep: set[str]) -> None:
        """Delete old builds; the previous one stays for queries that are opening it now."""
        for path in self.dir.glob("build-*"):
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)  # Windows: still mapped, next time

    def close(self) -> None:
        with self._lock:
            if self._loaded is not None:
                self._loaded.annoy.unload()
            self._loaded, self._extra = None, None
            self._meta_key, self._meta = None, None

    def warm(self, model_key: str) -> bool:
        """Map the whole index into memory now, so that no query waits for page faults.

        For long-lived processes (the app), off the GUI thread: a query's first touch of
        each page of the mapped trees costs a fault, which at 1M photos adds 10-30 ms to
        the first queries. A one-shot ``photosim similar`` does better without it.
        """
        with self._lock:
            return self._load(model_key, prefault=True) is not None

    def _load(self, model_key: str, prefault: bool = False) -> _Loaded | None:
        current = self._current()
        if current is None or current[1].model != model_key:
            return None
        name, state = current
        loaded = self._loaded
        if loaded is not None and loaded.name == name and (loaded.prefault or not prefault):
            return loaded
        folder = self.dir / name
        try:
            from annoy import AnnoyIndex  # imported here: `photosim info` never needs it

            annoy = AnnoyIndex(state.index_dim, "angular")
            with annoy_name(folder / "vectors.annoy") as name:
                annoy.load(name, prefault=prefault)
            items = np.load(folder / "items.npy", mmap_mode="r")
            pca = np.load(folder / "pca.npy") if state.index_dim != state.dim else None
            rowids_path = folder / "rowids.npy"  # older builds lack it: look up by hash
            rowids = np.load(rowids_path, mmap_mode="r") if rowids_path.exists() else None
        except OSError:  # pruned by a build in between: the next query opens the new one
            self._meta_key = None
            return None
        if loaded is not None:
            loaded.annoy.unload()
        self._loaded = _Loaded(name, state, annoy, items, pca, rowids, prefault)
        return self._loaded

    # -- query ---------------------------------------------------------------
    def query(self, vector: np.ndarray, model_key: str, n: int) -> list[tuple[str, float]]:
        """Up to ``n`` (hash, cosine) pairs nearest to ``vector``, best first."""
        vector = np.asarray(vector, np.float32)
        with self._lock:
            loaded = self._load(model_key)
            scores: dict[str, float] = {}
            if loaded is not None:
                scores.update(_search(loaded, self.store, model_key, vector, n, None))
            after = loaded.state.max_rowid if loaded else 0
            hashes, matrix = self._vectors_after(model_key, after)
            if matrix is not None:
                cos = _cosines(matrix, vector)
                for i in np.argsort(-cos)[:n]:
                    scores[hashes[i]] = float(cos[i])
        return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:n]

    def _vectors_after(self, model_key: str, after: int) -> tuple[list[str], np.ndarray | None]:
        """Vectors written since the build, cached; only rows newer than the cache are read."""
        if self._extra is None or self._extra[:2] != (model_key, after):
            self._extra = (model_key, after, after, [], None)
        _, _, seen, hashes, matrix = self._extra
        newest, new_hashes, new_matrix = self.store.vectors.vectors_after(model_key, seen)
        if new_matrix is not None:
            hashes = hashes + new_hashes
            matrix = new_matrix if matrix is None else np.vstack([matrix, new_matrix])
            self._extra = (model_key, after, newest, hashes, matrix)
        return hashes, matrix


# Per-query products use einsum, not BLAS: with torch loaded, BLAS' thread pool turns a
# 0.05 ms matrix-vector product into 15 ms on a busy 2-core machine (measured).
def _cosines(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine of each row with ``vector``, clamped to [0, 1]."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * max(
        float(np.linalg.norm(vector)), 1e-12
    )
    return np.clip(np.einsum("ij,j->i", matrix, vector) / np.maximum(norms, 1e-12), 0.0, 1.0)


def _search(
    loaded: _Loaded,
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
        return [(h, cosine_from_angular(d)) for h, d in zip(hashes, distances, strict=True)]
    found, matrix = _full_vectors(loaded, store, model_key, items, hashes)
    if not found:
        return []
    cos = _cosines(matrix, vector)
    order = np.argsort(-cos)[:n]
    return [(found[i], float(cos[i])) for i in order]


def _full_vectors(
    loaded: _Loaded, store: Store, model_key: str, items: list[int], hashes: list[str]
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


# -- writing one build ---------------------------------------------------------
def _refresh_build(source: Path, folder: Path, state: IndexState, version: int) -> IndexState:
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


def _write_build(
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
    truth = _TopK(queries, 11)
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
    loaded = _Loaded("", state, annoy, np.array([h.encode() for h in items]), pca, item_rowids)
    expected = [
        [items[i] for i in row if items[i] != query_hashes[q]][:10]
        for q, row in enumerate(truth.best())
    ]
    state.search_k, state.recall = _calibrate(loaded, store, model_key, queries, expected)
    annoy.unload()
    state.build_seconds = round(time.perf_counter() - started, 3)
    (folder / "meta.json").write_text(json.dumps(asdict(state)))
    return state


class _TopK:
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
    loaded: _Loaded, store: Store, model_key: str, queries: np.ndarray, expected: list[list[str]]
) -> tuple[int, float]:
    """The smallest search_k (within 10%) whose recall@10 against exact search reaches
    TARGET_RECALL: doubled until it does, then bisected, since query time grows with it."""
    state = loaded.state
    ceiling = state.count * state.trees  # Annoy then sees every item: exact on the index

    def recall_at(search_k: int) -> float:
        found = total = 0
        for query, want in zip(queries, expected, strict=True):
            got = {h for h, _ in _search(loaded, store, model_key, query, 11, search_k)}
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


def save_annoy(annoy, path: Path) -> None:
    """``annoy.save``, its failures as an OSError with an errno (Annoy puts it in the text:
    "Unable to write: No space left on device (28)"), so a full disk is said as such."""
    try:
        with annoy_name(path) as name:
            annoy.save(name)
    except OSError as exc:
        if exc.errno is None and (code := re.search(r"\((\d+)\)\s*$", str(exc))):
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from exc
        raise

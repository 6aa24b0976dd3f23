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
is read per query. Writing a build lives in :mod:`photosim.search.build`, opening and
searching one in :mod:`photosim.search.lookup`; this module keeps the folder, its lock
and what is current.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import numpy as np

from photosim.core.paths import atomic_write_bytes
from photosim.search.build import refresh_build, write_build
from photosim.search.lookup import IndexState, Loaded, annoy_name, cosines, nearest
from photosim.storage.store import Store

# A scan that adds or removes at most max(1000, 2% of the index), capped at 10,000, keeps the
# trees (a rebuild of 100k takes a minute; exact search over 10k new vectors a few ms).
REFRESH_LIMIT = (1_000, 10_000, 0.02)


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
        self._loaded: Loaded | None = None
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
                    built = refresh_build(self.dir / current[0], tmp, current[1], version)
                else:
                    built = write_build(tmp, self.store, model_key, version, max_rowid)
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

    def _load(self, model_key: str, prefault: bool = False) -> Loaded | None:
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
        self._loaded = Loaded(name, state, annoy, items, pca, rowids, prefault)
        return self._loaded

    # -- query ---------------------------------------------------------------
    def query(self, vector: np.ndarray, model_key: str, n: int) -> list[tuple[str, float]]:
        """Up to ``n`` (hash, cosine) pairs nearest to ``vector``, best first."""
        vector = np.asarray(vector, np.float32)
        with self._lock:
            loaded = self._load(model_key)
            scores: dict[str, float] = {}
            if loaded is not None:
                scores.update(nearest(loaded, self.store, model_key, vector, n, None))
            after = loaded.state.max_rowid if loaded else 0
            hashes, matrix = self._vectors_after(model_key, after)
            if matrix is not None:
                cos = cosines(matrix, vector)
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

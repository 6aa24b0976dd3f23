"""Nearest-neighbour search over the library's vectors with Annoy.

The index lives beside the database (``library.annoy`` plus a JSON sidecar that
maps Annoy items to content hashes and records which library version and model
it was built from). Vectors added after the last build are found by an exact
search over just those rows, merged with Annoy's answer, so new photos are
searchable before the next rebuild.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from photosim.paths import atomic_write_bytes
from photosim.store import Store

N_TREES = 24


def cosine_from_angular(distance: float) -> float:
    """Annoy's angular distance d = sqrt(2 - 2 cos): cos = 1 - d^2 / 2, clamped to [0, 1]."""
    return float(min(1.0, max(0.0, 1.0 - distance * distance / 2.0)))


@dataclass
class IndexState:
    """What the index on disk was built from."""

    model: str
    version: int
    max_rowid: int
    dim: int
    hashes: list[str]


class VectorIndex:
    """Annoy index + sidecar for one library and one model."""

    def __init__(self, store: Store, base: Path) -> None:
        self.store = store
        self.annoy_path = base.with_suffix(".annoy")
        self.meta_path = base.with_suffix(".annoy.json")
        self._annoy: AnnoyIndex | None = None
        self._state: IndexState | None = None
        self._loaded_mtime: int | None = None
        # The app queries on the GUI thread while a scan rebuilds in a worker.
        self._lock = threading.RLock()

    # -- state ---------------------------------------------------------------
    def state(self) -> IndexState | None:
        """The sidecar on disk, or None when there is no usable index."""
        try:
            data = json.loads(self.meta_path.read_text())
            return IndexState(**data)
        except (OSError, ValueError, TypeError):
            return None

    def status(self, model_key: str) -> str:
        """``missing``, ``stale`` (library changed since the build) or ``fresh``."""
        state = self.state()
        if state is None or state.model != model_key or not self.annoy_path.exists():
            return "missing"
        current = int(self.store.get_meta("library_version", "0"))
        return "fresh" if state.version == current else "stale"

    # -- build ---------------------------------------------------------------
    def build(self, model_key: str) -> int:
        """Build from every present vector of ``model_key``; returns the item count."""
        version = int(self.store.get_meta("library_version", "0"))
        max_rowid = self.store.db.execute("select coalesce(max(rowid), 0) from vectors").fetchone()[
            0
        ]
        hashes: list[str] = []
        index: AnnoyIndex | None = None
        dim = 0
        for h, vector in self.store.iter_vectors(model_key):
            if index is None:
                dim = len(vector)
                index = AnnoyIndex(dim, "angular")
            index.add_item(len(hashes), vector)
            hashes.append(h)
        self.close()
        if index is None:
            self._remove_files()
            return 0
        index.build(N_TREES, n_jobs=1)
        tmp = self.annoy_path.with_name(f".{self.annoy_path.name}.{os.getpid()}.tmp")
        index.save(str(tmp))
        index.unload()
        os.replace(tmp, self.annoy_path)
        state = IndexState(model_key, version, int(max_rowid), dim, hashes)
        atomic_write_bytes(self.meta_path, json.dumps(state.__dict__).encode())
        return len(hashes)

    def _remove_files(self) -> None:
        for path in (self.annoy_path, self.meta_path):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._annoy is not None:
                self._annoy.unload()
            self._annoy, self._state, self._loaded_mtime = None, None, None

    def _load(self, model_key: str) -> tuple[AnnoyIndex, IndexState] | None:
        state = self.state()
        if state is None or state.model != model_key or not self.annoy_path.exists():
            return None
        mtime = self.annoy_path.stat().st_mtime_ns
        if self._annoy is None or self._loaded_mtime != mtime:
            self.close()
            index = AnnoyIndex(state.dim, "angular")
            index.load(str(self.annoy_path))
            self._annoy, self._state, self._loaded_mtime = index, state, mtime
        return self._annoy, state

    # -- query ---------------------------------------------------------------
    def query(self, vector: np.ndarray, model_key: str, n: int) -> list[tuple[str, float]]:
        """Up to ``n`` (hash, cosine) pairs nearest to ``vector``, best first."""
        scores: dict[str, float] = {}
        max_rowid = 0
        with self._lock:
            loaded = self._load(model_key)
            if loaded is not None:
                index, state = loaded
                max_rowid = state.max_rowid
                count = min(n, index.get_n_items())
                items, distances = index.get_nns_by_vector(
                    vector, count, search_k=max(count * N_TREES * 4, 2000), include_distances=True
                )
                for item, distance in zip(items, distances, strict=True):
                    scores[state.hashes[item]] = cosine_from_angular(distance)
        for h, score in self._exact_new(vector, model_key, max_rowid):
            scores[h] = score
        return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:n]

    def _exact_new(self, vector: np.ndarray, model_key: str, after_rowid: int):
        """Exact cosine against vectors written after the index was built."""
        rows = self.store.db.execute(
            "select hash, vector from vectors where model = ? and rowid > ?",
            [model_key, after_rowid],
        ).fetchall()
        if not rows:
            return []
        matrix = np.stack([np.frombuffer(blob, np.float32) for _, blob in rows])
        cos = np.clip(matrix @ np.asarray(vector, np.float32), 0.0, 1.0)
        return [(h, float(c)) for (h, _), c in zip(rows, cos, strict=True)]

"""Benchmark the vector index: build time, size on disk, query p50/p99 and recall@10.

    PYTHONPATH=. .venv/bin/python bench/index.py [--sizes 10000 100000] [--dims 512 2048]

For each size and dimension, generated unit vectors (clustered, with a decaying spectrum
like CNN features) are written straight through ``Store`` into a fresh library; then the
index is built, and ``Library.similar()`` is timed on random photos of it: the first
queries (a one-shot ``photosim similar`` maps the index in as it goes) are reported apart,
then the index is warmed as the app does after opening a library, and the rest are timed.
Recall@10 is measured against exact search over the stored vectors. With ``--tmp``, the
generated libraries are kept there and reused by later runs (the index is rebuilt). Results go to ``bench/results/index-<host>.json``.
Asserts nothing; timings on a shared machine are noisy: repeat them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))

from machine import SHARED, machine

from photosim.library import Library
from photosim.search.build import CALIBRATION_QUERIES, TopK
from photosim.search.index import VectorIndex
from photosim.storage.store import Store

RESULTS = Path(__file__).resolve().parent / "results"
CHUNK = 10_000
MODEL = "bench:generated"


class Generator:
    """Unit vectors of photos in bursts (scenes) on a 128-d subspace with a power-law spectrum.

    Real libraries hold series of photos of one scene, so true neighbours are close; the
    remaining spread is high-dimensional noise, which is what makes ANN search hard.
    """

    def __init__(self, dim: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.basis = rng.normal(size=(128, dim)).astype(np.float32) / np.sqrt(dim)
        self.scale = (np.arange(1, 129) ** -0.8).astype(np.float32)
        self.centres = rng.normal(size=(5000, 128)).astype(np.float32)
        self.mean = np.abs(rng.normal(size=dim)).astype(np.float32) * 0.02

    def chunk(self, index: int, n: int) -> np.ndarray:
        rng = np.random.default_rng(1000 + index)
        z = self.centres[rng.integers(0, len(self.centres), n)]
        z = (z + 0.5 * rng.normal(size=z.shape).astype(np.float32)) * self.scale
        v = z @ self.basis + self.mean + 0.01 * rng.normal(size=(n, self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def write_library(db: Path, n: int, dim: int) -> float:
    """A library of ``n`` photo rows with generated vectors; returns seconds taken."""
    start = time.perf_counter()
    store = Store(db)
    gen = Generator(dim)
    for c, first in enumerate(range(0, n, CHUNK)):
        m = min(CHUNK, n - first)
        vectors = gen.chunk(c, m)
        with store.atomic():
            for i in range(first, first + m):
                store.upsert_photo(
                    {"path": f"/photos/{i // 1000:04}/IMG_{i:07}.jpg", "size": 3_000_000,
                     "mtime_ns": 1_600_000_000_000_000_000 + i, "hash": f"{i:032x}"}
                )  # fmt: skip
            store.vectors.put_vectors(
                MODEL, [(f"{first + j:032x}", v) for j, v in enumerate(vectors)]
            )
    with store.atomic():
        store.set_meta(model_key=MODEL, library_version=1)
    store.db.execute("pragma wal_checkpoint(truncate)")
    store.close()
    return time.perf_counter() - start


def exact_neighbours(store: Store, ids: list[int]) -> list[set[str]]:
    """The exact 10 nearest (cosine, self excluded) of photos ``ids`` over the stored vectors."""
    hashes = [f"{i:032x}" for i in ids]
    got = store.vectors.get_vectors(hashes, MODEL)
    top = TopK(np.stack([got[h] for h in hashes]), 11)
    names: list[str] = []
    for batch_hashes, matrix in store.vectors.vector_batches(MODEL, 8192):
        top.add(matrix, len(names))
        names += batch_hashes
    return [
        {names[j] for j in row if names[j] != h}
        for h, row in zip(hashes, top.best().tolist(), strict=True)
    ]


def disk_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(n: int, dim: int, queries: int, keep: Path | None) -> dict:
    if keep is None:
        folder = Path(tempfile.mkdtemp(prefix=f"idx-{n}-{dim}-"))
    else:
        folder = keep / f"idx-{n}-{dim}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder / "library.index", ignore_errors=True)
    db = folder / "library.db"
    print(f"-- {n:,} vectors x {dim}", flush=True)
    gen_s = None if db.exists() else write_library(db, n, dim)  # None: reused
    db_bytes = disk_size(folder)
    print(f"   generated and stored in {gen_s} s, db {db_bytes / 2**20:.0f} MiB", flush=True)
    store = Store(db)
    index = VectorIndex(store, db)
    start = time.perf_counter()
    count = index.build(MODEL)
    build_s = time.perf_counter() - start
    state = index.state()
    index_bytes = disk_size(folder / "library.index")
    print(f"   built {count:,} in {build_s:.1f} s: {state}", flush=True)
    index.close()
    store.close()

    rng = np.random.default_rng(7)
    ids = sorted(rng.choice(n, size=min(queries, n), replace=False).tolist())
    lib = Library(db_path=db)
    photo_ids = {
        p: lib.store.photos.photo(f"/photos/{p // 1000:04}/IMG_{p:07}.jpg").id for p in ids
    }
    cold = []
    for p in ids[:5]:
        t = time.perf_counter()
        lib.similar(photo_ids[p], k=10)
        cold.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    lib.warm_index()  # what the app does after opening a library, off its GUI thread
    warm_s = time.perf_counter() - t
    times, results = [], {}
    for p in ids:
        t = time.perf_counter()
        matches = lib.similar(photo_ids[p], k=10)
        times.append((time.perf_counter() - t) * 1000)
        results[p] = {int(m.path.stem.split("_")[1]) for m in matches}
    truth = exact_neighbours(lib.store, ids)
    recall = np.mean(
        [
            len({f"{i:032x}" for i in results[p]} & want) / max(1, len(want))
            for p, want in zip(ids, truth, strict=True)
        ]
    )
    lib.close()
    row = {
        "n": n, "dim": dim, "generate_store_s": gen_s and round(gen_s, 1), "build_s": round(build_s, 1),
        "db_mib": round(db_bytes / 2**20, 1), "index_mib": round(index_bytes / 2**20, 1),
        "total_mib": round((db_bytes + index_bytes) / 2**20, 1),
        "index_dim": state.index_dim, "trees": state.trees, "search_k": state.search_k,
        "candidates": state.candidates, "build_recall_estimate": state.recall,
        "similar_ms_p50": round(float(np.percentile(times, 50)), 2),
        "similar_ms_p99": round(float(np.percentile(times, 99)), 2),
        "similar_ms_first5": [round(c, 1) for c in cold], "warm_index_s": round(warm_s, 2),
        "queries": len(ids),
        "recall_at_10": round(float(recall), 4), "calibration_queries": CALIBRATION_QUERIES,
    }  # fmt: skip
    print("   " + json.dumps(row), flush=True)
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the libraries")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or RESULTS / f"index-{platform.node() or 'machine'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {"runs": []}
    report = {"machine": machine(note=SHARED), "runs": previous.get("runs", [])}
    for n in args.sizes:
        for dim in args.dims:
            row = run(n, dim, args.queries, args.tmp)
            row["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            report["runs"] = [r for r in report["runs"] if (r["n"], r["dim"]) != (n, dim)]
            report["runs"].append(row)
            out.write_text(json.dumps(report, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()

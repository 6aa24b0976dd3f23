"""Time duplicate grouping on a generated 100k-photo library, and regrouping at new thresholds.

    PYTHONPATH=. .venv/bin/python bench/duplicates.py [--photos 100000] [--dim 2048]

The library is generated straight into a temporary database, as a scan would
leave it: photo rows, one vector per content (``--dim``, 2048 like resnet50),
the Annoy index, a stored calibration and a pixel fingerprint per content (a
generated 32x32 thumbnail). Of the photos, 10% are byte-identical copies, 10%
near copies (re-encoded, brightened, a third turned 90/180/270 degrees in their
pixels), 10% other shots of a scene (similar vector, different detail), the rest
unrelated. Timed: ``Library.duplicate_finder()`` (kNN candidates from the index,
rotation proposals, pixel checks) plus the first ``group()``, then ``group()``
at other thresholds (what the app's slider does). Results go to
bench/results/duplicates.json. The machine is shared: repeat and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from photosim.library import Library
from photosim.media import pixels
from photosim.storage.store import Store

KEY = "bench:generated"
LATENT = 256
RESULTS = Path(__file__).resolve().parent / "results" / "duplicates.json"


def thumbs_like(rng, n: int) -> np.ndarray:
    """(n, 32, 32) uint8 'photos': smooth shapes plus fine detail, all different."""
    coarse = rng.normal(128, 50, (n, 8, 8)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)
    detail = rng.normal(0, 18, (n, 32, 32)).astype(np.float32)
    return np.clip(smooth + detail, 0, 255).astype(np.uint8)


def unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def generate(store: Store, n: int, dim: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n_exact, n_near, n_similar = n // 10, n // 10, n // 10
    n_content = n - n_exact  # distinct contents
    n_orig = n_content - n_near - n_similar
    # CNN features are not isotropic: most of their variance lies in a few hundred axes.
    # Vectors are drawn in a LATENT-dim space, mapped to ``dim``, plus isotropic noise.
    mix = rng.normal(0, 1, (LATENT, dim)).astype(np.float32) / np.sqrt(LATENT)

    def embed(z: np.ndarray) -> np.ndarray:
        return z @ mix + rng.normal(0, 0.3 / np.sqrt(dim), (len(z), dim)).astype(np.float32)

    common = rng.normal(0, 1, LATENT).astype(np.float32)  # features share a direction
    latent = rng.normal(0, 1, (n_orig, LATENT)).astype(np.float32) + 0.65 * common
    latent /= np.linalg.norm(latent, axis=1, keepdims=True)
    base = unit(embed(latent))
    thumbs = thumbs_like(rng, n_orig)
    src_near = rng.choice(n_orig, n_near, replace=False)
    src_sim = rng.choice(n_orig, n_similar, replace=False)
    near_vec = unit(
        embed(latent[src_near] + rng.normal(0, 0.2 / np.sqrt(LATENT), (n_near, LATENT)))
    )
    turns = np.where(rng.random(n_near) < 1 / 3, rng.integers(1, 4, n_near), 0)
    near_thumbs = []
    for i, src in enumerate(src_near):
        t = thumbs[src].astype(np.float32) * rng.uniform(0.8, 1.2) + rng.normal(0, 3, (32, 32))
        near_thumbs.append(np.rot90(np.clip(t, 0, 255), turns[i]).astype(np.uint8))
    # turned copies: a CNN is not rotation-invariant, their vectors are far apart
    near_vec[turns > 0] = unit(
        near_vec[turns > 0] + rng.normal(0, 1.2 / np.sqrt(dim), ((turns > 0).sum(), dim))
    )
    sim_vec = unit(base[src_sim] + rng.normal(0, 0.7 / np.sqrt(dim), (n_similar, dim)))
    sim_thumbs = np.roll(thumbs[src_sim], 3, axis=2) // 2 + thumbs_like(rng, n_similar) // 2
    vectors = np.concatenate([base, near_vec, sim_vec])
    all_thumbs = np.concatenate([thumbs, np.stack(near_thumbs), sim_thumbs])
    hashes = [f"{i:032x}" for i in range(n_content)]
    head = pixels._HEADER
    with store.atomic():
        store.put_vectors(KEY, zip(hashes, vectors, strict=True))
        store.put_fingerprints(
            (h, head.pack(pixels.VERSION, 4 / 3, 0.5) + t.tobytes())
            for h, t in zip(hashes, all_thumbs, strict=True)
        )
        rows = [(f"/bench/photos/{i:06d}.jpg", h) for i, h in enumerate(hashes)]
        rows += [
            (f"/bench/backup/{i:06d}.jpg", hashes[i])
            for i in rng.choice(n_content, n_exact, replace=False)
        ]
        store.db.conn.executemany(
            "insert into photos (path, size, mtime_ns, hash, width, height) values (?, 2000000, 0, ?, 4000, 3000)",
            rows,
        )
        store.set_meta(model_key=KEY, roots=json.dumps(["/bench"]))
        store.put_calibration(KEY, {"near": 0.9, "similar": 0.75})
        store.bump_version()
    cos_near = float(np.median(np.einsum("ij,ij->i", near_vec, base[src_near])))
    cos_sim = float(np.median(np.einsum("ij,ij->i", sim_vec, base[src_sim])))
    return {"photos": len(rows), "contents": n_content, "exact_copies": n_exact,
            "near_copies": n_near, "turned_copies": int((turns > 0).sum()), "similar_shots": n_similar,
            "median_cos_near": round(cos_near, 3), "median_cos_similar": round(cos_sim, 3),
            "truth": {"near": [(n_orig + i, int(s)) for i, s in enumerate(src_near)],
                      "similar": [(n_orig + n_near + i, int(s)) for i, s in enumerate(src_sim)]}}  # fmt: skip


def recall(result, truth: dict) -> dict:
    """Share of planted near copies grouped with their source, and of similar shots."""
    path = "/bench/photos/{:06d}.jpg".format
    near_of: dict[str, frozenset] = {}
    for g in result.groups:
        if g.kind in ("near", "exact"):
            members = frozenset(str(m.path) for m in g.photos)
            near_of.update(dict.fromkeys(members, members))
    near_hits = sum(near_of.get(path(c), ()) is near_of.get(path(s)) and path(c) in near_of
                    for c, s in truth["near"])  # fmt: skip
    together: dict[str, set] = {}
    for g in result.groups:
        if g.kind == "similar":
            wide = set().union(*(near_of.get(str(m.path), {str(m.path)}) for m in g.photos))
            for p in wide:
                together.setdefault(p, set()).update(wide)
    sim_hits = sum(path(s) in together.get(path(c), ()) for c, s in truth["similar"])
    return {"near_copies_found": round(near_hits / len(truth["near"]), 4),
            "similar_shots_found": round(sim_hits / len(truth["similar"]), 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=2048)
    args = ap.parse_args()
    out: dict = {"machine": platform.platform(), "cpus": os.cpu_count(), "dim": args.dim,
                 "load_average": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "library.db"
        t = time.perf_counter()
        out["library"] = generate(Store(db), args.photos, args.dim)
        out["generate_s"] = round(time.perf_counter() - t, 1)
        lib = Library(db_path=db)
        steps: list[tuple[str, float]] = []
        last = [time.perf_counter()]

        def progress(step: str) -> None:
            now = time.perf_counter()
            steps.append((step, now))
            last[0] = now

        t = time.perf_counter()
        finder = lib.duplicate_finder(progress=progress)
        result = finder.group()
        total = time.perf_counter() - t
        marks = [("start", t), *steps, ("group", time.perf_counter() - 0)]
        out["phases_s"] = {
            marks[i][0]: round(marks[i + 1][1] - marks[i][1], 2) for i in range(len(marks) - 1)
        }
        out["group_100k_s"] = round(total, 1)
        out["groups"] = {
            k: sum(g.kind == k for g in result.groups) for k in ("exact", "near", "similar")
        }
        out["recall"] = recall(result, out["library"].pop("truth"))
        regroup = []
        for near, similar in ((0.85, 0.7), (0.95, 0.8), (0.8, 0.65), (0.9, 0.75)):
            t = time.perf_counter()
            r = finder.group(near=near, similar=similar)
            regroup.append({"near": near, "similar": similar, "s": round(time.perf_counter() - t, 3),
                            "groups": len(r.groups)})  # fmt: skip
        out["regroup"] = regroup
        out["regroup_max_s"] = max(r["s"] for r in regroup)
        lib.close()
    print(json.dumps(out, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

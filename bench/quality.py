"""Ranking quality on real photos before and after float16 storage and the index's projection.

    PYTHONPATH=.:tests .venv/bin/python bench/quality.py

Embeds ../shared/photos with the trained EfficientNet-Lite0 of the tests (1280-d) and
compares, for every photo, the exact float32 ranking ("before") with what
``Library.similar()`` answers from float16 vectors and an index built on a PCA projection
forced down to 8 or 128 dimensions ("after"): top-5 agreement (ties of identical files count as agreeing), the largest score
difference, and where each edited copy of ukbench00120 ranks. Results go to
``bench/results/quality-<host>.json``. Asserts nothing.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import photosim.search.build as build_module  # noqa: E402
from photosim.library import Library  # noqa: E402
from photosim.media.decode import load_image  # noqa: E402

PHOTOS = HERE.parents[1] / "shared" / "photos"
COPIES = ["_hflip.jpg", "_resize.jpg", "_gray.jpg", "_rotation.jpg"]


def measure(backbone, index_dim: int) -> dict:
    build_module.INDEX_DIM, build_module.REDUCE_FROM = index_dim, 4
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library([PHOTOS], Path(tmp) / "lib.db", backbone=backbone)
        for _ in lib.scan():
            pass
        photos = [p for p in lib.photos() if p.has_vector]
        exact = backbone.embed(
            [backbone.prepare(load_image(p.path, backbone.input_size)) for p in photos]
        )
        agree, worst = [], 0.0
        for i, p in enumerate(photos):
            scores = exact @ exact[i]
            others = [j for j in np.argsort(-scores) if photos[j].path != p.path]
            fifth = scores[others[4]]  # photos tied with the 5th (same bytes) count as agreeing
            after = lib.similar(p, k=5)
            by_path = {q.path: j for j, q in enumerate(photos)}
            agree.append(sum(scores[by_path[m.path]] >= fifth - 1e-4 for m in after) / 5)
            worst = max(worst, *(abs(m.score - max(0.0, scores[by_path[m.path]])) for m in after))
        original = PHOTOS / "transforms" / "ukbench00120.jpg"
        ranked = [m.path.name for m in lib.similar(original, k=8)]
        i = next(j for j, q in enumerate(photos) if q.path == original)
        order = [
            photos[j].path.name
            for j in np.argsort(-(exact @ exact[i]))
            if photos[j].path != original
        ]
        state = lib.index.state()
        lib.close()
    return {
        "index_dim": state.index_dim, "dim": state.dim, "photos": len(photos),
        "top5_agreement_mean": round(float(np.mean(agree)), 4),
        "max_score_difference": round(float(worst), 5),
        "copies_rank_after": {c: ranked.index("ukbench00120" + c) + 1 for c in COPIES},
        "copies_rank_before": {c: order.index("ukbench00120" + c) + 1 for c in COPIES},
    }  # fmt: skip


def main() -> None:
    from effnet import load_effnet_backbone
    from machine import SHARED, machine

    backbone = load_effnet_backbone()
    report = {
        "machine": machine(note=SHARED),
        "model": backbone.key,
        "storage": "float16",
        "runs": [],
    }
    for dim in (8, 128):
        row = measure(backbone, dim)
        print(json.dumps(row), flush=True)
        report["runs"].append(row)
    report["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = HERE / "results" / f"quality-{platform.node() or 'machine'}.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()

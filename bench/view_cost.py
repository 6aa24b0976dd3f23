"""What the verification view costs the scan: ms and bytes per photo, against the scan's ms per photo.

    PYTHONPATH=.:tests .venv/bin/python bench/view_cost.py [--rounds 5]

The scan decodes each photo once (to 256 px for the fingerprint) and makes the duplicates'
fingerprint from that decode; the view (``pixels.view``: the greyscale frame at 256 px,
JPEG q75) is the part the geometric check reads. Measured on the real photos of
../shared/photos (8 MP camera shots, 400-px holiday photos, HEIC/AVIF/JPEG XL): per photo,
the view alone, the whole fingerprint, and the scan's own work on that photo (read, hash,
metadata, decode, fingerprint, model input: ``pipeline.process``) plus the model's share of
a batch (the trained EfficientNet-Lite0 of the tests, lighter than the default ResNet-50, so
the view's share comes out larger than it is). Rounds alternate the three in one process;
medians. Results go to bench/results/view-cost.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from photosim.library import pipeline  # noqa: E402
from photosim.media import pixels  # noqa: E402
from photosim.media.decode import load_image  # noqa: E402

SHARED = HERE.parents[1] / "shared" / "photos"
RESULTS = HERE / "results" / "view-cost.json"


def main() -> None:
    from effnet import load_effnet_backbone
    from machine import SHARED as NOTE
    from machine import machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = (
        sorted((SHARED / "camera").glob("*.jpg")) + sorted((SHARED / "holidays").glob("*.jpg"))[:60]
    )
    files += [
        p
        for p in sorted((SHARED / "modern").iterdir())
        if p.suffix.lower() in (".heic", ".avif", ".jxl")
    ]
    backbone = load_effnet_backbone()
    side = pipeline.decode_side(backbone.input_size)
    images = [load_image(p, max_side=side) for p in files]
    greys = [im.convert("L") for im in images]
    jobs = [type("Job", (), {"path": str(p), "size": p.stat().st_size,
                             "mtime_ns": p.stat().st_mtime_ns, "hash": None})() for p in files]  # fmt: skip
    view_ms, fp_ms, scan_ms = [], [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        views = [pixels.view(g) for g in greys]
        view_ms.append(1000 * (time.perf_counter() - t) / len(files))
        t = time.perf_counter()
        for im in images:
            pixels.fingerprint(im)
        fp_ms.append(1000 * (time.perf_counter() - t) / len(files))
        t = time.perf_counter()
        done = [pipeline.process(j, frozenset(), backbone) for j in jobs]
        batch = [d.pixels for d in done if d.pixels is not None]
        for start in range(0, len(batch), 32):
            backbone.embed(batch[start : start + 32])
        scan_ms.append(1000 * (time.perf_counter() - t) / len(files))
    sizes = [len(v) for v in views]
    per = {"view_ms": statistics.median(view_ms), "fingerprint_ms": statistics.median(fp_ms),
           "scan_ms": statistics.median(scan_ms)}  # fmt: skip
    out = {
        "machine": machine(note=NOTE),
        "photos": len(files),
        "model": backbone.key,
        **{k: round(v, 3) for k, v in per.items()},
        "view_share_of_scan": round(per["view_ms"] / per["scan_ms"], 4),
        "view_bytes_mean": round(statistics.mean(sizes)),
        "view_bytes_max": max(sizes),
        "fingerprint_bytes_mean": round(statistics.mean(sizes)) + pixels.SIZE,
        "rounds": {"view_ms": view_ms, "fingerprint_ms": fp_ms, "scan_ms": scan_ms},
    }
    print(json.dumps(out, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

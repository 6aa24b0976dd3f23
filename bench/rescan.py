"""Benchmark scans of a big library: first scan, unchanged rescan, 1% changed, 1% moved.

    PYTHONPATH=. .venv/bin/python bench/rescan.py [--photos 100000] [--folder /tmp/rescan]

Writes N small distinct JPEGs (generation is timed apart and kept in ``--folder`` for the
next run), then scans them through ``Library`` with a nearly free model (8x8 colour
layout, 192-d), so the figures are photosim's own bookkeeping: walking, stat, hashing,
the store and the index. Results go to ``bench/results/rescan-<host>.json``. Asserts
nothing; timings on a shared machine are noisy: repeat them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import SHARED, machine

from photosim.library import Library
from photosim.models.embed import Backbone

RESULTS = Path(__file__).resolve().parent / "results"


def tiny_backbone() -> Backbone:
    """8x8 average pooling: a colour layout vector that costs next to nothing."""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 8), 1)

    return Backbone(module=Tiny(), key="tiny:bench", input_size=64)


def write_jpeg(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (4, 4, 3), np.uint8)
    img = Image.fromarray(blocks).resize((96, 72), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=85)


def photo_path(root: Path, i: int) -> Path:
    return root / f"{2000 + i // 10_000}" / f"{i // 500 % 20:02}" / f"IMG_{i:06}.jpg"


def generate(root: Path, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        path = photo_path(root, i)
        if not path.exists():
            write_jpeg(path, i)
    return time.perf_counter() - start


def timed_scan(lib: Library) -> dict:
    start = time.perf_counter()
    phases: dict[str, float] = {}
    last = None
    for event in lib.scan():
        kind = str(event.kind)
        if kind != last:
            phases[kind] = round(time.perf_counter() - start, 2)
            last = kind
    return {"seconds": round(time.perf_counter() - start, 2), "phase_starts_s": phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "rescan")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--keep-library", action="store_true", help="reuse the last run's scanned library"
    )
    args = parser.parse_args()
    n, root = args.photos, args.folder / f"photos-{args.photos}"
    gen_s = generate(root, n)
    print(f"generated {n:,} JPEGs in {gen_s:.1f} s", flush=True)
    db = args.folder / f"library-{n}.db"
    reuse = args.keep_library and db.exists()
    for path in [] if reuse else args.folder.glob(f"library-{n}.*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    lib = Library([root], db, backbone=tiny_backbone())
    report = {"machine": machine(note=SHARED), "photos": n, "generate_s": round(gen_s, 1)}
    report["first_scan"] = "reused the last run's library" if reuse else timed_scan(lib)
    print("first scan", report["first_scan"], flush=True)
    report["unchanged_rescan"] = timed_scan(lib)
    print("unchanged", report["unchanged_rescan"], flush=True)

    changed = range(0, n, 100)  # 1%: new content under the same name
    for i in changed:
        write_jpeg(photo_path(root, i), 10_000_000 + i)
    report["changed_1pct"] = timed_scan(lib)
    print("1% changed", report["changed_1pct"], flush=True)

    moved = range(50, n, 100)  # 1%: the same bytes under a new folder
    for i in moved:
        src = photo_path(root, i)
        dst = root / "moved" / src.name
        dst.parent.mkdir(exist_ok=True)
        src.rename(dst)
    report["moved_1pct"] = timed_scan(lib)
    print("1% moved", report["moved_1pct"], flush=True)
    for i in moved:  # put them back, so the folder serves the next run unchanged
        (root / "moved" / photo_path(root, i).name).rename(photo_path(root, i))
    for i in changed:
        write_jpeg(photo_path(root, i), i)

    report["photos_in_library"] = lib.info()["photos"]
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["db_mib"] = round(
        sum(p.stat().st_size for p in args.folder.glob(f"library-{n}.db*") if p.is_file()) / 2**20,
        1,
    )
    lib.close()
    report["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = args.out or RESULTS / f"rescan-{platform.node() or 'machine'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

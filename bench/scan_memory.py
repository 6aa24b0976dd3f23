"""Peak memory of a scan of many tiny files: does the scan stream, or hold the library?

    .venv/bin/python bench/scan_memory.py [--files 100000] [--folder DIR] [--keep]

Writes N distinct 8x8 PNGs (100 per folder; reused from --folder when it is
there), then scans them twice (a first scan and an unchanged rescan) with a tiny
colour-layout model, each in a fresh process, and prints the peak RSS of each
and how much of it the scan added over the imports, before the Annoy index build (which
holds every vector, by design) and overall. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
from torch import nn
from photosim.models.embed import Backbone
from photosim.library import Library

class Tiny(nn.Module):
    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 4), 1)

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

base = peak_mb()
lib = Library([sys.argv[1]], sys.argv[2], backbone=Backbone(Tiny(), "tiny:bench", 32))
start = time.perf_counter()
last, before_index = None, None
for last in lib.scan(batch_size=256):
    if last.kind == "indexing":
        before_index = peak_mb()
print(json.dumps({"after_imports_mb": base, "peak_mb": peak_mb(), "found": last.found,
                  "before_index_mb": before_index or peak_mb(),
                  "embedded": last.embedded, "seconds": time.perf_counter() - start}))
"""


def make_files(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    have = sum(1 for _ in folder.rglob("*.png")) if folder.is_dir() else 0
    if have >= n:
        return
    for i in range(have, n):
        rng = np.random.default_rng(i)
        sub = folder / f"d{i // 100:05d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(sub / f"{i}.png")


def run(folder: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(db)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--folder", type=Path, default=None, help="reuse generated files here")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="photosim-mem-")) / "files"
    t = time.perf_counter()
    make_files(folder, args.files)
    print(f"{args.files} files in {folder} ({time.perf_counter() - t:.0f} s to make)")
    work = Path(tempfile.mkdtemp(prefix="photosim-mem-db-"))
    os.environ["PHOTOSIM_HOME"] = str(work / "home")
    try:
        for label in ("first scan", "unchanged rescan"):
            r = run(folder, work / "library.db")
            base = r["after_imports_mb"]
            print(f"{label:>17}: peak RSS {r['peak_mb']:.0f} MB ({r['peak_mb'] - base:.0f} MB over the "
                  f"{base:.0f} MB of imports; {r['before_index_mb'] - base:.0f} MB before the index "
                  f"build); {r['found']} found, {r['embedded']} embedded in {r['seconds']:.1f} s")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep and args.folder is None:
            shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()

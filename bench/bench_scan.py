"""Measure what a scan waits on: decode (full vs draft) and end-to-end photos/s.

    .venv/bin/python bench/bench_scan.py [--photos N] [--model resnet50] [--device auto]

Makes N distinct camera-sized JPEGs from ../shared/photos/camera (or synthetic
ones), a random-weights ResNet state dict, and scans them into a temporary
library. Prints figures; asserts nothing (timings are never asserted in tests).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
import torchvision.models as tvm
from PIL import Image

from photosim.decode import load_image
from photosim.library import Library

SHARED = Path(__file__).resolve().parents[2] / "shared" / "photos" / "camera"


def make_photos(folder: Path, n: int) -> list[Path]:
    sources = sorted(SHARED.glob("*.jpg")) if SHARED.is_dir() else []
    out = []
    for i in range(n):
        if sources:
            img = Image.open(sources[i % len(sources)])
            exif = img.info.get("exif", b"")
            img = img.convert("RGB")
        else:
            rng = np.random.default_rng(i)
            img = Image.fromarray(rng.integers(0, 255, (3000, 4000, 3), np.uint8))
            exif = b""
        # A different crop each time so every file has its own content.
        w, h = img.size
        img = img.crop((i % 17, i % 13, w - (i % 11), h - (i % 7)))
        path = folder / f"p{i:04d}.jpg"
        img.save(path, quality=90, exif=exif)
        out.append(path)
    return out


def time_decode(paths: list[Path]) -> None:
    for label, max_side in (("full decode", None), ("draft decode (224)", 224)):
        start = time.perf_counter()
        for p in paths[:10]:
            load_image(p, max_side=max_side)
        ms = (time.perf_counter() - start) / min(10, len(paths)) * 1000
        print(f"{label:<22}{ms:8.1f} ms/photo")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="photosim-bench-"))
    try:
        photos = (
            make_photos(tmp / "photos", args.photos) if (tmp / "photos").mkdir() is None else []
        )
        size = Image.open(photos[0]).size
        print(f"{len(photos)} photos of {size[0]}x{size[1]}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")  # fmt: skip
        time_decode(photos)
        weights = tmp / "weights.pth"
        torch.save(tvm.get_model(args.model, weights=None).state_dict(), weights)
        lib = Library(
            [tmp / "photos"], tmp / "lib.db", model=args.model, weights=weights, device=args.device
        )
        start = time.perf_counter()
        done = deque(lib.scan(batch_size=args.batch_size), maxlen=1)[0]
        elapsed = time.perf_counter() - start
        print(f"scan ({args.model}, {lib.ensure_backbone().device}): {done.embedded} photos in "
              f"{elapsed:.1f} s = {done.embedded / elapsed:.1f} photos/s (model load included)")  # fmt: skip
        start = time.perf_counter()
        deque(lib.scan(), maxlen=1)
        print(f"rescan, nothing changed: {(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        for p in photos[:20]:
            lib.similar(p, k=12)
        print(f"similar (cache + index): {(time.perf_counter() - start) / 20 * 1000:.1f} ms/query")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""What a camera RAW costs to scan, against a JPEG of the same pixel count.

    .venv/bin/python bench/raw_vs_jpeg.py [--n 8] [--repeat 4] [--out bench/results]

Writes 12-megapixel photos three ways, from the same pictures: JPEGs; DNGs with the
full-size JPEG preview a camera embeds (the common case: photosim embeds from it);
and DNGs with only a mosaic (LibRaw must demosaic, at half size). Measured twice:
the scan's worker step alone (``pipeline.process``: one read, hash, metadata, decode to
the model's side, letterbox; one thread; the model's cost, the same for every format,
left out, so this ratio is the strictest), and a whole ``Library.scan`` with a resnet18
(random weights: speed does not depend on their values) on all cores. Writes
``bench/results/raw-<machine>.json``; asserts nothing (timings are never tests).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from dngs import write_dng_with_preview as write_dng  # noqa: E402  (the tests' DNG writer)

from bench.machine import machine  # noqa: E402

SHARED = ROOT.parent / "shared" / "photos" / "camera"
SIZE = (4000, 3000)


# -- the measurement -----------------------------------------------------------------------
def pictures(n: int) -> list[np.ndarray]:
    """``n`` distinct 12 MP pictures: the shared camera photos (else noise), shifted apart."""
    bases = sorted(SHARED.glob("*.jpg"))
    out = []
    for i in range(n):
        if bases:
            with Image.open(bases[i % len(bases)]) as im:
                im = im.convert("RGB").resize(SIZE)
        else:
            im = Image.fromarray(
                np.random.default_rng(i).integers(0, 255, (*SIZE[::-1], 3), np.uint8)
            )
        arr = np.asarray(im)
        out.append(np.roll(arr, 7 * i, axis=1))
    return out


def jpeg_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def decode_seconds(paths: list[Path], repeat: int) -> float:
    """Seconds per file of the decode alone (bytes in memory to the model's upright image)."""
    from photosim.library.pipeline import decode_side
    from photosim.media.decode import decode_bytes

    data = [(p.read_bytes(), p.name) for p in paths]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for raw, name in data:
            decode_bytes(raw, name, max_side=decode_side(224))
        best = min(best, (time.perf_counter() - start) / len(paths))
    return best


def stage_ms(path: Path, backbone) -> dict[str, float]:
    """Milliseconds of each stage of one file's scan step, in the order the worker runs them
    (``pipeline._process``), then the app's thumbnail. For a RAW, the decode's own parts:
    LibRaw's open, the preview's extraction, its draft decode and turning it upright."""
    from photosim.library.pipeline import decode_side, hash_bytes, photo_extras
    from photosim.media import raw
    from photosim.media.decode import decode_bytes, read_photo_bytes, shrink
    from photosim.media.metadata import read_metadata
    from photosim.media.thumbs import THUMB_SIDE

    out: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        out[stage] = (now - clock) * 1000
        clock = now

    side = decode_side(backbone.input_size)
    data = read_photo_bytes(path)
    lap("open+read")
    hash_bytes(data, path.name)
    lap("hash")
    read_metadata(io.BytesIO(data), path.name)
    lap("metadata")
    image = decode_bytes(data, path.name, max_side=side)
    lap("decode")
    photo_extras(image)
    lap("fingerprint (duplicates' view)")
    backbone.prepare(shrink(image, backbone.input_size))
    lap("letterbox")
    if path.suffix == ".dng":  # the decode's parts, as decode_raw runs them
        rawpy = raw._rawpy()
        with rawpy.imread(io.BytesIO(data)) as handle:
            lap("  decode: LibRaw open")
            thumb = handle.extract_thumb()
            lap("  decode: preview extraction")
            if thumb.format == rawpy.ThumbFormat.JPEG:
                with Image.open(io.BytesIO(thumb.data)) as im:
                    im.draft("RGB", (side, side))
                    preview = im.convert("RGB")
                lap("  decode: preview draft decode")
                raw._upright(preview, handle.sizes.flip)
                lap("  decode: orientation")
    clock = time.perf_counter()
    shrink(decode_bytes(data, path.name, max_side=THUMB_SIDE), THUMB_SIDE)
    lap("thumbnail (app, cached after)")
    return out


def scan_seconds(paths: list[Path], repeat: int) -> float:
    """Seconds per photo of a whole ``Library.scan`` of the files (a random-weights resnet18,
    all cores, the model loaded beforehand), best of ``repeat`` scans into fresh libraries."""
    import shutil

    import torch
    import torchvision.models as tvm

    from photosim.library import Library
    from photosim.models.embed import Backbone

    torch.manual_seed(0)
    net = tvm.resnet18(weights=None)
    net.fc = torch.nn.Identity()
    backbone = Backbone(module=net, key="bench:resnet18-random", input_size=224)
    best = float("inf")
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "photos"
            folder.mkdir()
            for p in paths:
                shutil.copy(p, folder / p.name)
            os.sync()  # the copies' write-back must not land inside the timed scan
            lib = Library([folder], db_path=Path(tmp) / f"lib{i}.db", backbone=backbone)
            start = time.perf_counter()
            done = list(lib.scan())[-1]
            best = min(best, (time.perf_counter() - start) / len(paths))
            assert done.embedded == len(paths) and not done.failed, done
            lib.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--no-scan", action="store_true", help="skip the whole-scan runs")
    args = parser.parse_args()

    import torch

    from photosim.library.pipeline import process
    from photosim.models.embed import Backbone

    torch.set_num_threads(1)
    backbone = Backbone(module=torch.nn.Identity(), key="bench:none", input_size=224)

    def per_file(paths: list[Path]) -> float:
        """Seconds per file of the scan's worker step, one pass over ``paths``."""
        start = time.perf_counter()
        for p in paths:
            st = p.stat()
            job = SimpleNamespace(path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns, hash=None)
            work = process(job, set(), backbone)
            assert work.error is None and work.pixels is not None, work.error
        return (time.perf_counter() - start) / len(paths)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kinds: dict[str, list[Path]] = {"jpeg": [], "raw_preview": [], "raw_demosaic": []}
        for i, arr in enumerate(pictures(args.n)):
            data = jpeg_bytes(arr)
            (folder / f"p{i}.jpg").write_bytes(data)
            kinds["jpeg"].append(folder / f"p{i}.jpg")
            write_dng(arr, folder / f"p{i}-preview.dng", data)
            kinds["raw_preview"].append(folder / f"p{i}-preview.dng")
            write_dng(arr, folder / f"p{i}-mosaic.dng", None)
            kinds["raw_demosaic"].append(folder / f"p{i}-mosaic.dng")
        # interleaved, best of ``repeat`` each: a shared machine's load hits every kind alike
        seconds, decode, scan = {}, {}, {}
        stages: dict[str, dict[str, list[float]]] = {"jpeg": {}, "raw_preview": {}}
        for _ in range(args.repeat):
            for k, v in kinds.items():
                seconds[k] = min(seconds.get(k, 1e9), per_file(v))
                decode[k] = min(decode.get(k, 1e9), decode_seconds(v, 1))
                if not args.no_scan:
                    scan[k] = min(scan.get(k, 1e9), scan_seconds(v, 1))
            for i in range(args.n):  # a JPEG, then its RAW: alternating, one thread
                for k in stages:
                    for stage, ms in stage_ms(kinds[k][i], backbone).items():
                        stages[k].setdefault(stage, []).append(ms)
        sizes = {k: round(float(np.mean([p.stat().st_size for p in v]))) for k, v in kinds.items()}
    rates = {k: round(1 / s, 2) for k, s in seconds.items()}
    scan_rates = {k: round(1 / s, 2) for k, s in scan.items()}
    result = {
        "machine": machine(note="worker step and decode on one thread, scans on all cores"),
        "pixels": SIZE[0] * SIZE[1],
        "files_per_kind": args.n,
        "photos_per_s": rates,
        "raw_preview_cost_vs_jpeg": round(seconds["raw_preview"] / seconds["jpeg"], 2),
        "raw_demosaic_cost_vs_jpeg": round(seconds["raw_demosaic"] / seconds["jpeg"], 2),
        "decode_only_ms": {k: round(v * 1000, 1) for k, v in decode.items()},
        "decode_raw_preview_cost_vs_jpeg": round(decode["raw_preview"] / decode["jpeg"], 2),
        "stages_median_ms": {
            k: {stage: round(float(np.median(v)), 2) for stage, v in per.items()}
            for k, per in stages.items()
        },
        "bytes_per_file": sizes,
    }
    if scan:
        result |= {
            "scan_resnet18_photos_per_s": scan_rates,
            "scan_raw_preview_cost_vs_jpeg": round(scan["raw_preview"] / scan["jpeg"], 2),
            "scan_raw_demosaic_cost_vs_jpeg": round(scan["raw_demosaic"] / scan["jpeg"], 2),
        }
    print(json.dumps(result, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "raw-vs-jpeg.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

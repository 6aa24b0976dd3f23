"""Agreement and model-alone speed of each backend and precision against torch fp32 eager.

    .venv/bin/python bench/backends.py agreement [--limit N]    # trained EfficientNet-Lite0
    .venv/bin/python bench/backends.py groups                  # libraries on each backend
    .venv/bin/python bench/backends.py speed [--model resnet50] [--rounds 5] [--batch 16]

``agreement`` embeds the shared photos (../shared/photos) with the trained test network
(tests/effnet.py) in torch fp32, torch bf16 and OpenVINO fp32/bf16, and reports the cosine
of each to fp32 (mean / min) and how many queries keep their top-5 neighbours (a swap of
neighbours whose fp32 scores are within 0.002 of each other is a tie, not a change: tests/agreement.py).
``groups`` scans the same photos into one library per backend and precision and compares what
people see: ``similar`` top-5 and the duplicate groups, against the torch fp32 library.
``speed`` times the model alone (random weights), alternating the runtimes round by round
so that a busy shared machine slows them alike; the ratios are what count. Writes
``bench/results/backends-<what>-<machine>.json``; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
SHARED = ROOT.parent / "shared" / "photos"
TIE = 0.002


# The photo set: the holidays and the classic folders (tests/conftest.py).
FOLDERS = ("holidays", "camera", "ukbench", "transforms", "formats")


def shared_files(folders=FOLDERS) -> list[Path]:
    return sorted(p for f in folders for p in (SHARED / f).rglob("*")
                  if p.is_file() and p.suffix.lower() not in (".md", ".json"))  # fmt: skip


def photo_pixels(backbone, limit: int | None) -> tuple[list[str], np.ndarray]:
    """The shared photos decoded as the scan decodes them, prepared for ``backbone``."""
    from photosim.library.pipeline import model_image
    from photosim.media.decode import DecodeError

    names, arrays = [], []
    files = shared_files()
    for path in files[:limit]:
        try:
            arrays.append(backbone.prepare(model_image(path, backbone.input_size)))
        except (DecodeError, OSError, ValueError):
            continue
        names.append(str(path.relative_to(SHARED)))
    return names, np.stack(arrays)


def embed_all(backbone, pixels: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate(
        [backbone.embed(pixels[i : i + batch]) for i in range(0, len(pixels), batch)]
    )


def top5_near_fifth(reference: np.ndarray, other: np.ndarray, k: int = 5) -> float:
    """The looser count of earlier runs: a neighbour not in fp32's top-k is a tie when fp32
    scores it within TIE of its k-th (whichever neighbour it displaced)."""
    ref_sim, other_sim = reference @ reference.T, other @ other.T
    np.fill_diagonal(ref_sim, -2)
    np.fill_diagonal(other_sim, -2)
    same = 0
    for q in range(len(reference)):
        ref_top = np.argsort(-ref_sim[q])[:k]
        kth = ref_sim[q, ref_top[-1]]
        got = np.argsort(-other_sim[q])[:k]
        same += all(g in ref_top or ref_sim[q, g] >= kth - TIE for g in got)
    return same / len(reference)


def agreement(args) -> dict:
    from agreement import top5_same
    from effnet import load_effnet_backbone

    from photosim.models import backends

    torch_bb = load_effnet_backbone()
    names, pixels = photo_pixels(torch_bb, args.limit)
    torch_bb.precision = "fp32"
    reference = embed_all(torch_bb, pixels)
    rows = {}
    torch_bb.precision = "bf16"
    candidates = {"torch bf16": lambda: torch_bb}
    root = Path(tempfile.mkdtemp(prefix="photosim-bench-ov-"))
    for precision in args.precisions.split(","):

        def build(precision=precision):
            torch_bb.precision = "fp32"
            t0 = time.perf_counter()
            choice = backends.choose(torch_bb, "openvino", precision, root=root)
            print(f"openvino {precision}: built in {time.perf_counter() - t0:.1f} s", flush=True)
            assert choice.notice is None, choice.notice
            return choice.backbone

        candidates[f"openvino {precision}"] = build
    for label, make in candidates.items():
        vectors = embed_all(make(), pixels)
        cos = (vectors * reference).sum(axis=1)
        rows[label] = {"cosine_mean": round(float(cos.mean()), 5),
                       "cosine_min": round(float(cos.min()), 5),
                       "top5_same": round(top5_same(reference, vectors), 4),
                       "top5_near_fifth": round(top5_near_fifth(reference, vectors), 4),
                       "worst": names[int(cos.argmin())]}  # fmt: skip
        print(label, rows[label], flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return {"network": "efficientnet-lite0 (trained)", "photos": len(names), "tie": TIE,
            "against": "torch fp32 eager", "results": rows}  # fmt: skip


def groups(args) -> dict:
    """Libraries of the same photos scanned on each backend and precision: do they answer
    ``similar`` (top 5, ties aside) and ``duplicates`` as the torch fp32 library does?"""
    import os

    from agreement import same_up_to_ties
    from effnet import load_effnet_backbone

    from photosim.library import Library
    from photosim.models.embed import Backbone

    effnet = load_effnet_backbone()
    tmp = Path(tempfile.mkdtemp(prefix="photosim-bench-groups-"))
    os.environ["PHOTOSIM_HOME"] = str(tmp / "home")
    os.environ["TORCH_HOME"] = str(tmp / "torch")  # conversions of this run only
    roots = [SHARED / f for f in FOLDERS]
    seen, rows, thresholds, calibration = {}, {}, None, None
    specs = ["torch:fp32", "torch:bf16", *(f"openvino:{p}" for p in args.precisions.split(","))]
    for spec in specs:
        backend, _, precision = spec.partition(":")
        source = Backbone(module=effnet.module, key=effnet.key, input_size=224, mean=effnet.mean,
                          std=effnet.std, precision=precision if backend == "torch" else "fp32")  # fmt: skip
        t0 = time.perf_counter()
        with Library(roots, tmp / f"{backend}-{precision}.db", backbone=source, backend=backend,
                     precision=precision) as lib:  # fmt: skip
            list(lib.scan())
            ran_on = lib.info()["backend"]
            photos = sorted(p.path for p in lib.photos() if p.has_vector)
            vectors = np.stack([lib.vector_of(p) for p in photos])
            top5 = {p: [m.path for m in lib.similar(p, k=5)] for p in photos}
            # One calibration (torch fp32's) for every library: the scan stores photos in
            # completion order, so calibrating again samples other photos and moves the
            # thresholds by ~2e-4, enough to join a chain of similar shots.
            key = lib.model.current_key()
            if thresholds is None:
                thresholds = lib.calibrate(sample=24)
                calibration = lib.store.dupes.get_calibration(key)
            else:
                lib.store.dupes.put_calibration(key, calibration)
            result = lib.duplicates()
            found = {(str(g.kind), frozenset(m.path for m in g.photos)) for g in result.groups}
        seen[spec] = (photos, vectors, top5, found)
        print(f"{spec}: {ran_on}, {len(photos)} photos, {len(found)} groups, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    photos, fp32, want, want_groups = seen["torch:fp32"]
    sims = fp32 @ fp32.T
    index = {p: i for i, p in enumerate(photos)}
    for spec, (got_photos, vectors, got, found) in seen.items():
        assert got_photos == photos
        same = [same_up_to_ties({n: sims[index[p], index[n]] for n in {*want[p], *got[p]}},
                                want[p], got[p]) for p in photos]  # fmt: skip
        cos = (fp32 * vectors).sum(axis=1)
        rows[spec] = {"cosine_mean": round(float(cos.mean()), 5),
                      "cosine_min": round(float(cos.min()), 5),
                      "similar_top5_same": round(float(np.mean(same)), 4),
                      "groups": len(found), "groups_same": found == want_groups,
                      "groups_only_here": len(found - want_groups),
                      "groups_only_in_fp32": len(want_groups - found)}  # fmt: skip
        print(spec, rows[spec], flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"network": "efficientnet-lite0 (trained)", "photos": len(photos), "tie": TIE,
            "against": "a library scanned on torch fp32 eager", "thresholds": str(thresholds),
            "results": rows}  # fmt: skip


def speed(args) -> dict:
    import torch
    import torchvision

    from photosim.models import backends
    from photosim.models.embed import Backbone

    torch.set_num_threads(args.threads)
    module = torchvision.models.get_model(args.model, weights=None)
    module.fc = torch.nn.Identity()
    runs = {}
    for precision in ("fp32", "bf16"):
        runs[f"torch {precision}"] = Backbone(module=module, key=args.model, precision=precision)
    root = Path(tempfile.mkdtemp(prefix="photosim-bench-ov-"))
    source = Backbone(module=module, key=args.model, precision="fp32")
    for precision in args.precisions.split(","):
        t0 = time.perf_counter()
        choice = backends.choose(source, "openvino", precision, root=root, threads=args.threads)
        print(f"openvino {precision}: first build {time.perf_counter() - t0:.1f} s", flush=True)
        runs[f"openvino {precision}"] = choice.backbone
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch, 224, 224, 3), dtype=np.uint8)
    rates: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.rounds):
        for label, bb in runs.items():
            bb.embed(images)
            t0 = time.perf_counter()
            bb.embed(images)
            bb.embed(images)
            rates[label].append(2 * args.batch / (time.perf_counter() - t0))
    rows = {label: {"median": round(float(np.median(r)), 1), "runs": [round(x, 1) for x in r]}
            for label, r in rates.items()}  # fmt: skip
    base = rates["torch bf16"]
    for label, r in rates.items():
        rows[label]["ratio_to_torch_bf16"] = round(float(np.median(np.divide(r, base))), 2)
        print(label, rows[label], flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return {"model": args.model, "batch": args.batch, "threads": args.threads, "results": rows}


def main() -> None:
    from machine import SHARED as NOTE
    from machine import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("agreement", "groups", "speed"))
    parser.add_argument("--limit", type=int, default=None, help="first N shared photos")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precisions", default="fp32,bf16,fp16", help="OpenVINO's, comma-separated"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    result = {"agreement": agreement, "groups": groups, "speed": speed}[args.what](args)
    result["machine"] = machine(note=NOTE)
    args.out.mkdir(parents=True, exist_ok=True)
    host = result["machine"]["host"]
    out = args.out / f"backends-{args.what}-{host}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

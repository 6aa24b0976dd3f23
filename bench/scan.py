"""photosim's scan on each backend vs the tutorials' naive pipeline vs the compute limit.

    .venv/bin/python bench/scan.py [--models resnet50,resnet18] [--photos 96] [--rounds 3]
                                   [--pipelines naive,torch:bf16,torch:fp32,auto,openvino:bf16]
                                   [--plans 1x2,2x1] [--out bench/results]

On generated 12-megapixel JPEGs with camera EXIF (a third stored on their side with an
orientation tag) and the same random-weights model file for every pipeline (speed does not
depend on the weights' values), one run measures, per model:

- in every round, first the model alone on all cores per backend and precision, and the decode
  work per photo on one core: what a scan worker does (read, hash, EXIF, draft decode,
  fingerprint, letterbox: ``photosim.library.pipeline.process``), so each backend's compute
  limit ``cores / (work + cores / model rate)`` is measured beside the scans it bounds;
- whole scans, each a fresh process and library, the pipelines alternating round by round:
  the naive pipeline, photosim on each ``BACKEND[:PRECISION]`` (``auto``: photosim's default),
  and the default again under other thread plans (``TxW``: T model threads, W decoders).

A scan's steady rate is its photos over the time from the model loaded to the last photo
embedded (start-up, imports and model load apart); ratios are the medians of
the rounds' ratios, so a busy minute on a shared machine slows both sides of a ratio alike.
The compiled backend's first conversion is timed apart (``conversion_s``); the scans reuse its
cache (one TORCH_HOME for the run). Writes ``bench/results/scan-<machine>.json``; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SHARED = ROOT.parent / "shared" / "photos" / "camera"
PYTHON = sys.executable
SIZE = (4000, 3000)  # 12 MP, as phones shoot
BATCH = 16  # images per timed batch of the model alone


# -- photos -----------------------------------------------------------------------------
def _exif_segment(i: int, orientation: int) -> bytes:
    """A JPEG APP1 segment with camera EXIF, unique per photo (so every file is new content)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "Model 12"  # Model
    exif[0x0112] = orientation
    exif[0x0132] = f"2024:05:{1 + i % 28:02d} 12:{i // 60 % 60:02d}:{i % 60:02d}"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = exif[0x0132]  # DateTimeOriginal
    payload = exif.tobytes()
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def make_photos(folder: Path, n: int, bases: int = 6) -> list[Path]:
    """``n`` distinct 12 MP JPEGs: ``bases`` encoded images, each file with its own EXIF."""
    import numpy as np
    from PIL import Image

    sources = sorted(SHARED.glob("*.jpg")) if SHARED.is_dir() else []
    rng = np.random.default_rng(0)
    encoded = []
    for b in range(bases):
        if sources:
            img = Image.open(sources[b % len(sources)]).convert("RGB")
            w, h = img.size
            if h > w:
                img = img.transpose(Image.Transpose.ROTATE_90)
            img = img.crop((b * 7, b * 5, img.width - b * 3, img.height - b * 2)).resize(SIZE)
            arr = np.asarray(img, dtype=np.int16)
        else:
            yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
            arr = np.stack([(xx + b * 50) % 256, (yy + b * 30) % 256, (xx + yy) // 30 % 256], -1)
        # Sensor-like noise: real phone JPEGs are 3-6 MB, smooth upscales far smaller.
        noise = rng.normal(0, 3.0, arr.shape).astype(np.int16)
        arr = np.clip(arr + noise, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=92)
        encoded.append(buf.getvalue())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        data = encoded[i % bases]
        orientation = 6 if i % 3 == 2 else 1
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(data[:2] + _exif_segment(i, orientation) + data[2:])
        paths.append(path)
    return paths


def subset(photos: list[Path], n: int, folder: Path) -> Path:
    """A folder holding the first ``n`` photos (hard links: the same bytes, the same cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in photos[:n]:
        os.link(p, folder / p.name)
    return folder


# -- the pipelines, each a whole process ------------------------------------------------
def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run this file in ``--child`` mode; its last line of output is a JSON result."""
    out = subprocess.run([PYTHON, __file__, *args], env={**os.environ, **(env or {})},
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def rate(start: float, times: list[float]) -> float:
    """Photos per second from ``start`` (the model loaded) to the last photo done."""
    return len(times) / (max(times) - start) if times else float("nan")


def photosim_child(folder: Path, model: str, weights: Path, home: Path, spec: str,
                   plan: str | None) -> dict:  # fmt: skip
    """``photosim``'s library scan of ``folder`` on ``spec`` (``BACKEND[:PRECISION]``)."""
    backend, _, precision = spec.partition(":")
    env = {"PHOTOSIM_HOME": str(home), "PHOTOSIM_NO_DOWNLOAD": "1",
           "TORCH_HOME": str(home / "torch"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    args = ["--child", "photosim", str(folder), "--models", model, "--weights", str(weights),
            "--db", str(home / f"{time.time_ns()}.db"), "--backend", backend,
            "--precision", precision or "auto"]  # fmt: skip
    if plan:
        threads, workers = plan.split("x")
        env["PHOTOSIM_MODEL_THREADS"] = threads
        args += ["--workers", workers]
    return run_child(args, env)


def child_photosim(args) -> dict:
    """In the child: scan as ``photosim scan`` does, timing each embedded photo."""
    start = time.perf_counter()
    from photosim.core.events import ScanKind
    from photosim.library import Library

    os.environ.pop("PHOTOSIM_BACKEND", None)
    done = []
    with Library([args.child_folder], args.db, model=args.models, weights=args.weights,
                 device="cpu", precision=args.precision, backend=args.backend,
                 lock_owner="bench") as lib:  # fmt: skip
        lib.model.ensure_backbone()  # loaded (and converted) before the clock starts: start-up apart
        begin = time.perf_counter()
        for event in lib.scan(workers=args.workers):
            if event.kind == ScanKind.EMBEDDED:
                done.append(time.perf_counter())
        backend = lib.info()["backend"]
    return {"steady": rate(begin, done), "wall_s": time.perf_counter() - start,
            "embedded": len(done), "ran_on": backend}  # fmt: skip


def child_naive(args) -> dict:
    """The tutorials' pipeline: full-size decode, EXIF transpose, resize and centre crop to
    224, fp32 batches of 16, one process, one thread of Python."""
    start = time.perf_counter()
    import torch
    import torchvision.models as tvm
    from PIL import Image, ImageOps
    from torchvision import transforms

    net = tvm.get_model(args.models, weights=None)
    net.load_state_dict(torch.load(args.weights, weights_only=True))
    net.fc = torch.nn.Identity()
    net.eval()
    prep = transforms.Compose([
        transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])  # fmt: skip
    paths = sorted(Path(args.child_folder).glob("*.jpg"))
    done, begin = [], time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), 16):
            images = [
                ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in paths[i : i + 16]
            ]
            out = net(torch.stack([prep(im) for im in images]))
            done += [time.perf_counter()] * len(out)
    return {"steady": rate(begin, done), "wall_s": time.perf_counter() - start,
            "embedded": len(done), "ran_on": "torch fp32 (naive)"}  # fmt: skip


# -- the compute limit ------------------------------------------------------------------
def work_per_photo_s(photos: list[Path], input_size: int = 224) -> float:
    """Core-seconds per photo of a scan worker's part (``pipeline.process``) on one thread."""
    from types import SimpleNamespace

    from conftest import make_tiny_backbone

    from photosim.library.pipeline import process

    backbone = make_tiny_backbone(input_size)  # prepare() is the letterbox every model uses

    def job(p: Path) -> SimpleNamespace:
        st = p.stat()
        return SimpleNamespace(path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns, hash=None)

    for p in photos[:3]:  # warm the page cache and Pillow
        process(job(p), set(), backbone)
    start = time.process_time()  # this thread's CPU time: what the decoders cost the cores
    for p in photos:
        work = process(job(p), set(), backbone)
        assert work.pixels is not None, work.error
    return (time.process_time() - start) / len(photos)


def model_runners(model: str, weights: Path, specs: list[str], tmp: Path) -> tuple[dict, dict]:
    """The model on each ``BACKEND:PRECISION``, by what it runs on, and the seconds each
    compiled one took to convert the first time."""
    import torch

    from photosim.models import backends
    from photosim.models.embed import load_backbone

    torch.set_num_threads(os.cpu_count() or 1)
    runners, conversion = {}, {}
    for spec in specs:
        name, _, precision = spec.partition(":")
        source = load_backbone(model, weights, device="cpu", precision=precision or "auto")
        root = Path(tempfile.mkdtemp(prefix="convert-", dir=tmp))  # removed with the run
        start = time.perf_counter()
        runner = backends.choose(source, name, precision or "auto", root=root).backbone
        if runner.backend != "torch":
            conversion[spec] = round(time.perf_counter() - start, 1)
        runners[f"{runner.backend} {runner.precision}"] = runner
    return runners, conversion


def model_rates(runners: dict, batch: int = BATCH) -> dict[str, float]:
    """Images/s of each runner alone on all cores, one after the other (one round)."""
    import numpy as np

    x = np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), np.uint8)
    rates = {}
    for label, runner in runners.items():
        runner.embed(x[:2])
        start = time.perf_counter()
        runner.embed(x)
        rates[label] = batch / (time.perf_counter() - start)
    return rates


# -- the run ----------------------------------------------------------------------------
def bench_model(model: str, photos: list[Path], tmp: Path, args) -> dict:
    import torch
    import torchvision.models as tvm

    weights = tmp / f"{model}-random.pth"
    torch.manual_seed(0)
    torch.save(tvm.get_model(model, weights=None).state_dict(), weights)
    home = tmp / f"home-{model}"
    folder = photos[0].parent
    specs = ["torch:fp32", "torch:bf16", "openvino:fp32", "openvino:bf16"]
    runners, conversion = model_runners(model, weights, specs, tmp)
    cores = os.cpu_count() or 1
    pipelines: dict = {"naive": lambda: run_child(["--child", "naive", str(folder), "--models",
                                                   model, "--weights", str(weights)])}  # fmt: skip
    for spec in [s for s in args.pipelines.split(",") if s != "naive"]:
        pipelines[spec] = lambda s=spec: photosim_child(folder, model, weights, home, s, None)
    for plan in [p for p in args.plans.split(",") if p]:
        pipelines[f"auto {plan}"] = lambda p=plan: photosim_child(folder, model, weights, home,
                                                                  "auto", p)  # fmt: skip
    warm = tmp / f"warm-{model}"  # the compiled backends convert once, before any timing
    warm.mkdir()
    os.link(photos[0], warm / photos[0].name)
    for spec in pipelines:
        if spec != "naive" and " " not in spec:
            photosim_child(warm, model, weights, home, spec, None)
    runs: dict[str, list[dict]] = {name: [] for name in pipelines}
    loads, rates, works, limits = [], [], [], []
    for r in range(args.rounds):  # interleaved: a busy minute hits every pipeline alike
        loads.append(round(os.getloadavg()[0], 1))
        rates.append(model_rates(runners))  # the limit of this round, beside its scans
        works.append(work_per_photo_s(photos[:16]))
        limits.append({k: cores / (works[-1] + cores / v) for k, v in rates[-1].items()})
        print(f"{model} round {r + 1} model alone "
              f"{ {k: round(v, 1) for k, v in rates[-1].items()} } img/s, decode "
              f"{works[-1] * 1000:.1f} ms/photo, limits "
              f"{ {k: round(v, 1) for k, v in limits[-1].items()} }", flush=True)  # fmt: skip
        for name, run in pipelines.items():
            runs[name].append(run())
            got = runs[name][-1]
            print(f"  {model} round {r + 1} {name:<16} {got['steady']:6.2f} photos/s "
                  f"(wall {got['wall_s']:5.1f} s, {got['ran_on']})", flush=True)  # fmt: skip
    base = args.base

    def median_of(rows: list[dict]) -> dict:
        return {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]}

    result: dict = {"model_alone_images_per_s": median_of(rates), "conversion_s": conversion,
                    "model_alone_per_round": [{k: round(v, 1) for k, v in r.items()}
                                              for r in rates],
                    "decode_work_ms_per_photo": [round(w * 1000, 1) for w in works],
                    "compute_limit_photos_per_s": median_of(limits), "load_1min_per_round": loads,
                    "scans": {}}  # fmt: skip
    for name, got in runs.items():
        ran_on = got[-1]["ran_on"]
        row = {"ran_on": ran_on,
               "steady_photos_per_s": round(statistics.median(g["steady"] for g in got), 2),
               "runs": [round(g["steady"], 2) for g in got],
               "wall_s": [round(g["wall_s"], 1) for g in got]}  # fmt: skip
        for other in [o for o in ("naive", base) if o in runs]:
            ratios = [g["steady"] / b["steady"] for g, b in zip(got, runs[other], strict=True)]
            row[f"vs_{other}"] = round(statistics.median(ratios), 2)
        if ran_on in limits[0]:  # against the limit measured in the same round
            shares = [g["steady"] / lim[ran_on] for g, lim in zip(got, limits, strict=True)]
            row["share_of_limit"] = round(statistics.median(shares), 2)
        result["scans"][name] = row
        print(f"{model} {name}: {row}", flush=True)
    return result


def main() -> None:
    from machine import SHARED as NOTE
    from machine import machine

    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="resnet50,resnet18")
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipelines", default="naive,torch:bf16,torch:fp32,auto,openvino:bf16",
                        help="naive and photosim's scans, each BACKEND[:PRECISION]")  # fmt: skip
    parser.add_argument("--base", default="torch:bf16",
                        help="the pipeline ratios are to (today's photosim on a bf16 CPU)")  # fmt: skip
    parser.add_argument("--plans", default="1x2,2x1", help="the default's scan again with "
                        "T model threads x W decoders (photosim's own plan: cores x cores)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--machine", default=None, help="name for the result file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("child_folder", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT / "tests"))
        result = child_naive(args) if args.child == "naive" else child_photosim(args)
        print(json.dumps(result))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    info = machine(note=NOTE, load_start=round(os.getloadavg()[0], 2))
    print(f"{info['cpu']}, {info['cores']} cores, load {info['load_start']}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="photosim-bench-"))
    try:
        start = time.perf_counter()
        photos = make_photos(tmp / "photos", args.photos)
        mb = sum(p.stat().st_size for p in photos) / len(photos) / 2**20
        print(f"{len(photos)} photos of {SIZE[0]}x{SIZE[1]}, {mb:.1f} MB each, made in "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
        results = {model: bench_model(model, photos, tmp, args)
                   for model in args.models.split(",")}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_end"] = round(os.getloadavg()[0], 2)
    name = args.machine or re.sub(r"[^a-z0-9]+", "-", f"{info['cpu']} {info['cores']}c".lower())
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"scan-{name.strip('-')}.json"
    record = {"machine": info, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "photos": {"count": args.photos, "size": list(SIZE), "mb_each": round(mb, 2)},
              "base": args.base, "results": results}  # fmt: skip
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""photosim's scan on each backend vs the tutorials' naive pipeline vs the compute limit.

    .venv/bin/python bench/scan.py [--models resnet50,resnet18] [--small 40 --large 120]
                                   [--backends torch,openvino,openvino:bf16]
                                   [--repeat 1] [--splits 2x2,1x1] [--out bench/results]

On generated 12-megapixel JPEGs with camera EXIF (a third stored on their side
with an orientation tag), with the same random-weights model file for every
pipeline (speed does not depend on the weights' values), each pipeline runs as a
whole process on the first ``small`` and on all ``large`` photos: the steady rate
is ``(large - small) / (t_large - t_small)``, so start-up (imports, model load,
index) is measured apart. The compute limit is what the cores could do at best:

    cores / (read + hash + draft decode of one photo on one core + cores / model rate)

with each backend's model rate on all cores at its default precision (torch: the CPU's best
native one; the compiled backend: the one that agrees with fp32, photosim.models.backends),
so each backend has its own limit. The compiled backend's first-run conversion is timed
apart (``conversion_s``); the scans reuse its cache (one TORCH_HOME for the run). Writes
``bench/results/scan-<machine>.json``; asserts nothing (timings are never tests).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "photos" / "camera"
PYTHON = sys.executable
SIZE = (4000, 3000)  # 12 MP, as phones shoot


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
def run_photosim(folder: Path, model: str, weights: Path, home: Path, split: str | None,
                 backend: str = "torch") -> float:  # fmt: skip
    """Wall seconds of ``photosim scan`` on ``folder`` in a fresh library, on ``backend``
    (``openvino:bf16``: a backend and a precision)."""
    env = {**os.environ, "PHOTOSIM_HOME": str(home), "PHOTOSIM_NO_DOWNLOAD": "1",
           "TORCH_HOME": str(home / "torch"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("PHOTOSIM_BACKEND", None)
    name, _, precision = backend.partition(":")
    args = [PYTHON, "-m", "photosim", "scan", str(folder), "--model", model,
            "--weights", str(weights), "--device", "cpu", "--db", str(home / f"{time.time_ns()}.db"),
            "--backend", name, "--precision", precision or "auto"]  # fmt: skip
    if split:
        threads, workers = split.split("x")
        env["PHOTOSIM_TORCH_THREADS"] = threads
        args += ["--workers", workers]
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_naive(folder: Path, model: str, weights: Path) -> float:
    """Wall seconds of the tutorials' pipeline (``--naive``) on ``folder``."""
    start = time.perf_counter()
    subprocess.run([PYTHON, __file__, "--naive", str(folder), "--models", model,
                    "--weights", str(weights)], check=True)  # fmt: skip
    return time.perf_counter() - start


def naive_main(folder: Path, model: str, weights: Path) -> None:
    """Full-size decode, EXIF transpose, resize to 224, fp32 batches of 16, one process."""
    import torch
    import torchvision.models as tvm
    from PIL import Image, ImageOps
    from torchvision import transforms

    net = tvm.get_model(model, weights=None)
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.fc = torch.nn.Identity()
    net.eval()
    prep = transforms.Compose([
        transforms.Resize(224), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])  # fmt: skip
    paths = sorted(folder.glob("*.jpg"))
    out = []
    with torch.no_grad():
        for i in range(0, len(paths), 16):
            images = [
                ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in paths[i : i + 16]
            ]
            out.append(net(torch.stack([prep(im) for im in images])))
    assert sum(len(o) for o in out) == len(paths)


# -- the compute limit ------------------------------------------------------------------
def per_photo_work_s(photos: list[Path], input_size: int = 224) -> float:
    """Seconds per photo on one core: read, blake2b hash and draft decode to the model's size."""
    from photosim.library.pipeline import hash_bytes
    from photosim.media.decode import decode_bytes

    for p in photos[:3]:  # warm the page cache and Pillow
        decode_bytes(p.read_bytes(), p.name, input_size)
    start = time.perf_counter()
    for p in photos:
        data = p.read_bytes()
        hash_bytes(data)
        decode_bytes(data, p.name, input_size)
    return (time.perf_counter() - start) / len(photos)


def model_rates(model: str, weights: Path, backends_: list[str], rounds: int = 4,
                batch: int = 32) -> tuple[dict, float | None]:  # fmt: skip
    """Images/s of the model alone on all cores, per backend at its precision (torch also
    fp32), alternating round by round; and the seconds of the compiled backend's first
    conversion (None when no compiled backend runs)."""
    import numpy as np
    import torch

    from photosim.models import backends
    from photosim.models.embed import load_backbone

    torch.set_num_threads(os.cpu_count() or 1)
    runners, conversion = {}, None
    for backend in ["torch:fp32", *backends_]:
        name, _, precision = backend.partition(":")
        source = load_backbone(model, weights, device="cpu", precision=precision or "auto")
        start = time.perf_counter()
        root = Path(tempfile.mkdtemp(prefix="photosim-bench-convert-"))
        runner = backends.choose(source, name, precision or "auto", root=root).backbone
        if runner.backend != "torch" and conversion is None:
            conversion = time.perf_counter() - start
        runners[backend] = runner  # e.g. "openvino" (its default precision) or "torch:fp32"
    x = np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), np.uint8)
    seen: dict[str, list[float]] = {label: [] for label in runners}
    for _ in range(rounds):
        for label, runner in runners.items():
            runner.embed(x)
            start = time.perf_counter()
            runner.embed(x)
            seen[label].append(batch / (time.perf_counter() - start))
    rates = {f"{spec} ({r.backend} {r.precision})": float(np.median(seen[spec]))
             for spec, r in runners.items()}  # fmt: skip
    return rates, conversion


# -- the run ----------------------------------------------------------------------------
def machine_info() -> dict:
    import torch

    from photosim.models.embed import cpu_bf16_native

    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"model name\s*:\s*(.+)", text).group(1).strip()
    except (OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "bf16_native": cpu_bf16_native(),
            "platform": platform.platform()}  # fmt: skip


def bench_model(model, photos, tmp, small, large, repeat, splits, backends_) -> dict:
    import torch
    import torchvision.models as tvm

    weights = tmp / f"{model}-random.pth"
    torch.manual_seed(0)
    torch.save(tvm.get_model(model, weights=None).state_dict(), weights)
    folders = {n: tmp / f"photos{n}" for n in (small, large)}
    home = tmp / "home"
    rates, conversion = model_rates(model, weights, backends_)
    pipelines = {"naive": lambda f: run_naive(f, model, weights)}
    for backend in backends_:
        for split in [None, *splits]:
            label = f"photosim {backend}" + (f" {split}" if split else "")
            pipelines[label] = lambda f, s=split, b=backend: run_photosim(f, model, weights,
                                                                        home, s, b)  # fmt: skip
    # The first compiled scan would convert: convert before timing (conversion_s says how long).
    warm = subset(photos, 1, tmp / f"warm-{model}")
    for backend in backends_:
        run_photosim(warm, model, weights, home, None, backend)
    times: dict[str, dict[int, list[float]]] = {k: {small: [], large: []} for k in pipelines}
    for _ in range(repeat):  # interleaved, so a noisy minute hits every pipeline alike
        for name, run in pipelines.items():
            for n in (small, large):
                times[name][n].append(run(folders[n]))
                print(f"  {model} {name:<14} {n:>4} photos {times[name][n][-1]:6.1f} s", flush=True)
    result = {}
    for name, t in times.items():
        ts, tl = min(t[small]), min(t[large])
        result[name] = {"steady_photos_per_s": round((large - small) / (tl - ts), 2),
                        "startup_s": round(ts - small * (tl - ts) / (large - small), 2),
                        "wall_s": {str(small): t[small], str(large): t[large]}}  # fmt: skip
    work = per_photo_work_s(photos[:40])
    cores = os.cpu_count() or 1
    limits = {label: round(cores / (work + cores / rate), 2) for label, rate in rates.items()}
    result["compute_limit"] = {"photos_per_s": limits,
                               "read_hash_draft_decode_ms": round(work * 1000, 1),
                               "model_images_per_s": {k: round(v, 1) for k, v in rates.items()}}  # fmt: skip
    result["conversion_s"] = round(conversion, 1) if conversion is not None else None
    naive = result["naive"]["steady_photos_per_s"]
    base = result[f"photosim {backends_[0]}"]["steady_photos_per_s"]
    summary = {}
    for backend in backends_:
        ours = result[f"photosim {backend}"]["steady_photos_per_s"]
        label = next(k for k in rates if k.split(" (")[0] == backend)
        summary[backend] = {"photos_per_s": ours, "vs_naive": round(ours / naive, 2),
                            f"vs_{backends_[0]}": round(ours / base, 2),
                            "vs_own_limit": round(ours / limits[label], 3)}  # fmt: skip
    result["summary"] = summary
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="resnet50,resnet18")
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--large", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=1, help="runs per pipeline (best kept)")
    parser.add_argument("--splits", default="", help="also try torch threads x decode workers, "
                        "e.g. 2x2,1x1,2x1 (photosim's own choice always runs)")  # fmt: skip
    parser.add_argument(
        "--backends",
        default="torch,openvino",
        help="photosim's scans, each BACKEND[:PRECISION] (the first is the base)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--machine", default=None, help="name for the result file")
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        return naive_main(args.naive, args.models, args.weights)
    sys.path.insert(0, str(ROOT))
    info = machine_info()
    load_start = round(os.getloadavg()[0], 2)  # other work on the machine makes figures noisy
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, "
          f"bf16 native: {info['bf16_native']}", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="photosim-bench-"))
    try:
        start = time.perf_counter()
        photos = make_photos(tmp / "all", args.large)
        mb = sum(p.stat().st_size for p in photos) / len(photos) / 2**20
        print(f"{len(photos)} photos of {SIZE[0]}x{SIZE[1]}, {mb:.1f} MB each, made in "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
        subset(photos, args.small, tmp / f"photos{args.small}")
        subset(photos, args.large, tmp / f"photos{args.large}")
        splits = [s for s in args.splits.split(",") if s]
        results = {}
        for model in args.models.split(","):
            results[model] = bench_model(model, photos, tmp, args.small, args.large,
                                         args.repeat, splits, args.backends.split(","))  # fmt: skip
            r = results[model]
            print(f"{model}: naive {r['naive']['steady_photos_per_s']} photos/s; "
                  f"{json.dumps(r['summary'])}; limits {r['compute_limit']['photos_per_s']}; "
                  f"conversion {r['conversion_s']} s", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    machine = args.machine or re.sub(r"[^a-z0-9]+", "-", f"{info['cpu']} {info['cores']}c".lower())
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"scan-{machine.strip('-')}.json"
    info["load_average_1min"] = {"start": load_start, "end": round(os.getloadavg()[0], 2)}
    record = {"machine": info, "photos": {"size": list(SIZE), "small": args.small,
              "large": args.large, "mb_each": round(mb, 2)}, "date": time.strftime("%Y-%m-%d"),
              "results": results}  # fmt: skip
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

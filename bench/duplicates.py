"""Time duplicate finding on a realistic generated 100k-photo library, stage by stage.

    PYTHONPATH=. .venv/bin/python bench/duplicates.py [--photos 100000] [--dim 2048] [--keep DIR]

The library is written straight into a database as a scan leaves it: photo rows, one
2048-d vector per content (a CNN-like spectrum) and a fingerprint per content *made by
photosim* (``pixels.fingerprint``: the 32x32 thumbnail and the 256-px greyscale view the
geometric check reads) from images derived from the real photos in ../shared/photos, so
the check (ORB + RANSAC + tile residual + ECC angle) does real work on every pair it sees:

  - scenes: a crop (50-75% of the frame) of a real photo, turned -6..6 degrees, maybe
    mirrored, its own tone; scenes of one trip are CNN-close (cosine ~0.6-0.8);
  - bursts (30% of the photos, 2-5 frames): the scene shot again a moment later, the
    camera moved 2-6% and turned 0.5-2 degrees, a part of the frame changed (a subject
    moved); CNN cosine to the first frame 0.84-0.97, so most reach the ``near`` lane;
  - near copies (7%): a scene re-encoded q35-95, resized to 1/4-3/4, cropped up to 10% a
    side, brighter/darker/more contrast/gamma, greyscale, a third turned 90/180/270 degrees
    in the pixels (their CNN cosine then drops to 0.55-0.85: the pixel lane finds them);
  - exact copies (5%): more files with the bytes of another photo.

The geometric check's features are made as the scan makes them (``pipeline.photo_extras``,
timed per photo) before the search; ``--without-kept-features`` makes the search compute
them, as for a library scanned before the scan kept them.

Timed: ``Library.duplicate_finder()`` stage by stage (its progress steps), the first
``group()``, then regrouping at other thresholds (the app's slider), and the same
finder again from ``library.dupes.npz``. Also counted: pairs proposed, checked and
confirmed, photos whose features were computed, and the recall of the planted copies.
Results go to bench/results/duplicates.json. The machine is shared: repeat and compare.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import shutil
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from photosim.library import Library
from photosim.media import pixels
from photosim.media.decode import decode_bytes
from photosim.storage.store import Store

KEY = "bench:generated"
LATENT = 256
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "duplicates.json"
SHARED = HERE.parents[1] / "shared" / "photos"
GENERATOR = 3
OUT = 512  # generated photos' longer side (a copy resized to half still has a full view)  # bump when the generated library changes (a kept one is made again)


# -- images -----------------------------------------------------------------------------
_SOURCES: list[Image.Image] = []


def _sources() -> list[Image.Image]:
    if not _SOURCES:
        files = sorted((SHARED / "holidays").glob("*.jpg")) + sorted(
            (SHARED / "ukbench").glob("*.jpg")
        )
        for p in files:
            with Image.open(p) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.thumbnail((480, 480))
                _SOURCES.append(im)
    return _SOURCES


def _render(spec: dict) -> Image.Image:
    """A scene or a burst frame: a turned crop of a source photo, its tone, a moved part."""
    src = _sources()[spec["src"]]
    w, h = src.size
    cw, ch = spec["scale"] * w, spec["scale"] * h
    cx, cy = spec["cx"] * w, spec["cy"] * h
    a = np.radians(spec["angle"])
    out_w, out_h = round(cw * OUT / max(cw, ch)), round(ch * OUT / max(cw, ch))
    zoom = max(cw, ch) / OUT
    # output pixel (x, y) -> source: turn about the crop's centre
    cos, sin = np.cos(a), np.sin(a)
    ox, oy = out_w / 2, out_h / 2
    cos, sin = cos * zoom, sin * zoom
    coeffs = (cos, -sin, cx - cos * ox + sin * oy, sin, cos, cy - sin * ox - cos * oy)
    im = src.transform((out_w, out_h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    if spec.get("mirror"):
        im = ImageOps.mirror(im)
    g = spec.get("gamma", 1.0)
    if g != 1.0:
        im = im.point(lambda v: round(255 * (v / 255) ** g))
    moved = spec.get("moved")
    if moved:  # a part of the frame changed between the frames: a subject moved
        x0, y0, pw, ph, dx, dy = (
            round(v * s) for v, s in zip(moved, (out_w, out_h) * 3, strict=True)
        )
        patch = im.crop((x0, y0, x0 + pw, y0 + ph))
        im.paste(patch, (x0 + dx, y0 + dy))
    return im


def _edit(im: Image.Image, edit: dict) -> Image.Image:
    """A near copy of ``im``: what people do to a photo before it comes back as a file."""
    w, h = im.size
    c = edit["crop"]
    im = im.crop((round(c[0] * w), round(c[1] * h), round(w - c[2] * w), round(h - c[3] * h)))
    if edit["resize"] < 1:
        im = im.resize(
            (max(8, round(im.width * edit["resize"])), max(8, round(im.height * edit["resize"])))
        )
    tone = edit["tone"]
    if tone == "bright":
        im = ImageEnhance.Brightness(im).enhance(1.3)
    elif tone == "dark":
        im = ImageEnhance.Brightness(im).enhance(0.7)
    elif tone == "contrast":
        im = ImageEnhance.Contrast(im).enhance(1.4)
    elif tone == "gamma":
        im = im.point(lambda v: round(255 * (v / 255) ** 0.7))
    elif tone == "grey":
        im = ImageOps.grayscale(im).convert("RGB")
    if edit["turns"]:
        im = im.rotate(90 * edit["turns"], expand=True)
    return im


def _fingerprint(job: tuple) -> bytes:
    """The fingerprint the scan would store for this generated photo (JPEG bytes decoded)."""
    spec, edit, quality = job
    im = _render(spec)
    if edit is not None:
        im = _edit(im, edit)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return pixels.fingerprint(
        decode_bytes(buf.getvalue(), "x.jpg", max_side=pixels.FINGERPRINT_SIDE)
    )


# -- the library ------------------------------------------------------------------------
def plan(n: int, rng: np.random.Generator, near_share: float = 0.05) -> dict:
    """What each content is: scene, burst frame or near copy, and what it is made from."""
    n_exact = n * 5 // 100
    contents = n - n_exact
    n_copies = round(n * near_share)
    in_bursts = n * 25 // 100
    n_sources = len(_sources())
    specs: list[dict] = []
    kind: list[str] = []
    parent: list[int] = []  # the content a burst frame or copy comes from (-1: none)
    edits: list[dict | None] = []
    bursts: list[list[int]] = []

    def scene() -> dict:
        scale = rng.uniform(0.5, 0.75)
        angle = rng.uniform(-6, 6)
        reach = scale / 2 * 1.15 + 0.02  # the turned crop stays inside the photo
        return {"src": int(rng.integers(n_sources)), "scale": scale, "angle": angle,
                "cx": rng.uniform(reach, 1 - reach), "cy": rng.uniform(reach, 1 - reach),
                "mirror": bool(rng.random() < 0.5), "gamma": rng.uniform(0.8, 1.25)}  # fmt: skip

    while sum(len(b) for b in bursts) < in_bursts:
        base = scene()
        first = len(specs)
        frames = [first]
        specs.append(base), kind.append("burst"), parent.append(-1), edits.append(None)
        tight = rng.random() < 0.5  # a burst (the camera barely moved) or a retake
        for _ in range(int(rng.integers(2, 6)) - 1):
            s = dict(base)
            sign = rng.choice([-1, 1], 3)
            shift, turn = ((0.01, 0.04), (0.5, 1.5)) if tight else ((0.06, 0.2), (1.0, 6.0))
            s["cx"] += sign[0] * rng.uniform(*shift) * base["scale"]
            s["cy"] += sign[1] * rng.uniform(0.0, shift[1] / 2) * base["scale"]
            s["angle"] += sign[2] * rng.uniform(*turn)
            s["scale"] *= rng.uniform(0.97, 1.03) if tight else rng.uniform(0.9, 1.1)
            pw, ph = rng.uniform(0.2, 0.35, 2)
            s["moved"] = (rng.uniform(0.1, 0.9 - pw), rng.uniform(0.1, 0.9 - ph), pw, ph,
                          rng.uniform(0.05, 0.1) * sign[0], rng.uniform(-0.05, 0.05))  # fmt: skip
            frames.append(len(specs))
            specs.append(s), kind.append("burst"), parent.append(first), edits.append(None)
        bursts.append(frames)
    while len(specs) < contents - n_copies:
        specs.append(scene()), kind.append("scene"), parent.append(-1), edits.append(None)
    originals = rng.choice(len(specs), n_copies, replace=False)
    for o in originals:
        turned = rng.random() < 1 / 3
        crop = rng.uniform(0, 0.1, 4) * (rng.random(4) < 0.4)
        edit = {"crop": [float(x) for x in crop], "turns": int(rng.integers(1, 4)) if turned else 0,
                "resize": float(rng.choice([1, 1, 0.75, 0.5])),
                "tone": str(rng.choice(["none", "none", "bright", "dark", "contrast", "gamma", "grey"]))}  # fmt: skip
        specs.append(specs[o]), kind.append("copy"), parent.append(int(o)), edits.append(edit)
    quality = rng.integers(35, 96, len(specs))
    return {"specs": specs, "kind": kind, "parent": parent, "edits": edits, "bursts": bursts,
            "quality": quality.tolist(), "n_exact": n_exact}  # fmt: skip


def vectors(p: dict, dim: int, rng: np.random.Generator) -> np.ndarray:
    """CNN-like vectors: trips of CNN-close scenes, bursts and copies close to their source."""
    n = len(p["specs"])
    mix = rng.normal(0, 1, (LATENT, dim)).astype(np.float32) / np.sqrt(LATENT)
    common = rng.normal(0, 1, LATENT).astype(np.float32)
    common /= np.linalg.norm(common)

    def unit(m):
        return m / np.linalg.norm(m, axis=-1, keepdims=True)

    def near(z, cos):  # a unit latent at about this cosine to z
        noise = unit(rng.normal(0, 1, z.shape).astype(np.float32))
        noise = unit(noise - (noise * z).sum(-1, keepdims=True) * z)
        return unit(cos[:, None] * z + np.sqrt(1 - cos[:, None] ** 2) * noise)

    z = np.zeros((n, LATENT), np.float32)
    roots = [i for i in range(n) if p["parent"][i] < 0]
    # trips: 8-30 scenes around one centre (cosine ~0.6-0.8 among them), unrelated ~0.3
    centres = unit(
        rng.normal(0, 1, (len(roots) // 15 + 1, LATENT)).astype(np.float32) + 1.2 * common
    )
    trip = rng.integers(0, len(centres), len(roots))
    z[roots] = near(centres[trip], rng.uniform(0.8, 0.9, len(roots)).astype(np.float32))
    for i in range(n):
        if p["parent"][i] >= 0 and p["kind"][i] == "burst":
            z[i] = near(z[p["parent"][i]][None], np.array([rng.uniform(0.84, 0.97)], np.float32))[0]
    for i in range(n):
        if p["kind"][i] == "copy":
            turned = p["edits"][i]["turns"] > 0
            c = rng.uniform(0.55, 0.85) if turned else rng.uniform(0.93, 0.995)
            z[i] = near(z[p["parent"][i]][None], np.array([c], np.float32))[0]
    v = z @ mix + rng.normal(0, 0.05 / np.sqrt(dim), (n, dim)).astype(np.float32)
    return unit(v).astype(np.float32)


def generate(db: Path, n: int, dim: int, near_share: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    p = plan(n, rng, near_share)
    vec = vectors(p, dim, rng)
    jobs = [(s, e, q) for s, e, q in zip(p["specs"], p["edits"], p["quality"], strict=True)]
    with get_context("fork").Pool(2) as pool:
        fps = pool.map(_fingerprint, jobs, chunksize=256)
    hashes = [f"{i:032x}" for i in range(len(jobs))]
    store = Store(db)
    with store.atomic():
        store.vectors.put_vectors(KEY, zip(hashes, vec, strict=True))
        store.dupes.put_fingerprints(zip(hashes, fps, strict=True))
        rows = [(f"/bench/photos/{i:06d}.jpg", h, None) for i, h in enumerate(hashes)]
        for frames in p["bursts"]:
            for k, f in enumerate(frames):
                # ISO 8601, as a scan stores it (exif.taken)
                rows[f] = (rows[f][0], rows[f][1], f"2024-01-01T10:00:{k:02d}")
        rows += [(f"/bench/backup/{i:06d}.jpg", hashes[i], None)
                 for i in rng.choice(len(hashes), p["n_exact"], replace=False)]  # fmt: skip
        store.db.conn.executemany(
            "insert into photos (path, size, mtime_ns, hash, width, height, taken) "
            "values (?, 2000000, 0, ?, 4000, 3000, ?)",
            rows,
        )
        store.set_meta(model_key=KEY, roots=json.dumps(["/bench"]))
        store.dupes.put_calibration(KEY, {"near": 0.9, "similar": 0.75})
        store.bump_version()
    store.close()
    kind = np.array(p["kind"])
    parent = np.array(p["parent"])
    pc = parent >= 0
    cos = np.full(len(kind), np.nan)
    cos[pc] = np.einsum("ij,ij->i", vec[pc], vec[parent[pc]])
    turned = np.array([e is not None and e["turns"] > 0 for e in p["edits"]])
    summary = {
        "photos": len(rows), "contents": len(hashes), "exact_copies": p["n_exact"],
        "near_copies": int((kind == "copy").sum()), "turned_copies": int(turned.sum()),
        "bursts": len(p["bursts"]), "burst_frames": int(sum(len(b) for b in p["bursts"])),
        "view_bytes_mean": round(float(np.mean([len(f) - pixels.SIZE for f in fps]))),
        "median_cos": {
            "copy": round(float(np.nanmedian(cos[(kind == "copy") & ~turned])), 3),
            "turned_copy": round(float(np.nanmedian(cos[turned])), 3),
            "burst_frame": round(float(np.nanmedian(cos[(kind == "burst") & pc])), 3),
        },
    }  # fmt: skip
    truth = {"copies": [(int(i), int(parent[i])) for i in np.flatnonzero(kind == "copy")],
             "bursts": p["bursts"]}  # fmt: skip
    return {"summary": summary, "truth": truth}


def score(result, truth: dict) -> dict:
    """Planted copies grouped with their source; bursts (other shots) claimed the same picture."""
    path = "/bench/photos/{:06d}.jpg".format
    group_of: dict[str, int] = {}
    for n, g in enumerate(result.groups):
        if g.kind in ("near", "exact"):
            for m in g.photos:
                group_of[str(m.path)] = n
    found = sum(path(c) in group_of and group_of[path(c)] == group_of.get(path(s))
                for c, s in truth["copies"])  # fmt: skip
    wrong = sum(group_of.get(path(a), -1) == group_of.get(path(b), -2)
                for frames in truth["bursts"] for i, a in enumerate(frames)
                for b in frames[i + 1:])  # fmt: skip
    return {"near_copies_found": round(found / max(1, len(truth["copies"])), 4),
            "burst_pairs_claimed_near": int(wrong)}  # fmt: skip


def pair_verdicts(c, truth: dict) -> dict:
    """Where the planted pairs stand, grouping aside: copies proposed (a candidate pair) and
    confirmed by the pixel check; burst pairs the pixels alone confirmed (the finder then
    keeps two shots stamped seconds apart out of ``near``)."""
    node = {n.hash: i for i, n in enumerate(c.nodes)}
    edge = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(c.a, c.b, strict=True))}

    def verdict(x: int, y: int) -> int | None:
        a, b = node[f"{x:032x}"], node[f"{y:032x}"]
        e = edge.get((min(a, b), max(a, b)))
        return None if e is None else int(c.verdict[e])

    copies = [verdict(x, y) for x, y in truth["copies"]]
    bursts = [verdict(x, y) for frames in truth["bursts"] for i, x in enumerate(frames)
              for y in frames[i + 1:]]  # fmt: skip
    n = max(1, len(copies))
    return {"copies_proposed": round(sum(v is not None for v in copies) / n, 4),
            "copies_checked": round(sum(v not in (None, 0) for v in copies) / n, 4),
            "copies_confirmed": round(sum(v == 1 for v in copies) / n, 4),
            "burst_pairs_confirmed_by_pixels": sum(v == 1 for v in bursts)}  # fmt: skip


def _iso_dates(db: Path) -> None:
    """A library kept from before stored the bursts' dates as EXIF writes them; a scan stores
    ISO 8601 (``exif.taken``), which is what the duplicate finder reads."""
    import sqlite3

    con = sqlite3.connect(db)
    with con:
        con.execute(
            "update photos set taken = substr(taken, 1, 4) || '-' || substr(taken, 6, 2) || '-' "
            "|| substr(taken, 9, 2) || 'T' || substr(taken, 12) where taken like '____:__:__ %'"
        )
    con.close()


def _scan_features(data: bytes) -> bytes:
    from photosim.dupes import verify

    return verify.pack(verify.view_features(pixels.decode(data).view))


def add_scan_features(db: Path) -> dict:
    """The geometric check's features of every photo, as the scan makes them beside each
    fingerprint (``pipeline.photo_extras``); a library generated before they were kept gets
    them here. Returns their cost per photo (one core) and their size."""
    store = Store(db)
    have = set(store.dupes.check_features(store.dupes.fingerprints()))
    todo = [(h, d) for h, d in store.dupes.fingerprints().items() if h not in have]
    if todo:
        t = time.perf_counter()
        with get_context("fork").Pool(2) as pool:
            packed = pool.map(_scan_features, [d for _, d in todo], chunksize=256)
        spent = time.perf_counter() - t
        store.dupes.put_check_features(zip([h for h, _ in todo], packed, strict=True))
        store.set_meta(scan_features_ms=str(round(1000 * spent * 2 / len(todo), 3)))
    sizes = store.db.execute("select avg(length(data)), count(*) from check_features").fetchone()
    out = {"ms_per_photo_one_core": float(store.get_meta("scan_features_ms") or "nan"),
           "bytes_per_photo": round(sizes[0]), "photos": sizes[1]}  # fmt: skip
    store.close()
    return out


def run(db: Path, truth: dict, kept_features: bool = True) -> dict:
    from photosim.dupes import batch
    from photosim.dupes import cache as dupcache
    from photosim.storage.dupes import DuplicateRows

    out: dict = {}
    _iso_dates(db)
    if not kept_features:  # as a library scanned before the scan kept them: computed in the search
        DuplicateRows.check_features = lambda self, hashes: {}  # type: ignore[method-assign]
    for kept in (dupcache.cache_path(db), dupcache.verdicts_path(dupcache.cache_path(db))):
        if kept is not None:
            kept.unlink(missing_ok=True)
    lib = Library(db_path=db)
    steps: list[tuple[str, float, float]] = []

    def progress(step) -> None:  # a name, or the search's DupProgress: each step's start
        step = str(getattr(step, "step", step))
        if not steps or steps[-1][0] != step:
            steps.append((step, time.perf_counter(), time.process_time()))

    progress("start")
    finder = lib.duplicate_finder(progress=progress)
    progress("grouping")
    result = finder.group()
    progress("end")
    names = {"start": "load", "fingerprints": "fingerprints", "neighbours": "proposals: CNN kNN",
             "rotations": "proposals: rotations", "pixels": "fingerprint agreement",
             "verify": "geometric check", "grouping": "grouping"}  # fmt: skip
    out["stages_s"] = {names.get(a[0], a[0]): round(b[1] - a[1], 2)
                       for a, b in itertools.pairwise(steps)}  # fmt: skip
    out["stages_cpu_s"] = {names.get(a[0], a[0]): round(b[2] - a[2], 2)
                           for a, b in itertools.pairwise(steps)}  # fmt: skip
    out["first_grouping_s"] = round(steps[-1][1] - steps[0][1], 1)
    c = finder.c
    out["pairs"] = {"candidates": len(c.a), "checked": int((c.verdict != 0).sum()),
                    "same": int((c.verdict == 1).sum())}  # fmt: skip
    stats = dict(getattr(c, "stats", None) or {})
    out["stats"] = {k: round(v, 2) if isinstance(v, float) else v for k, v in stats.items()}
    if stats.get("features"):
        out["per_photo_features_ms"] = round(1000 * stats["features_s"] / stats["features"], 2)
        out["per_pair_check_ms"] = round(1000 * stats["checks_s"] / stats["checks"], 2)
        # on a quiet machine: the parent's stages one after the other, the pool's and the crop
        # search's threads on every core
        cpu = out["stages_cpu_s"]
        pool = (stats["features_s"] + stats["checks_s"]) / batch.workers()
        threads = cpu.get("fingerprint agreement", 0) / batch.workers()
        serial = sum(cpu.values()) - cpu.get("fingerprint agreement", 0)
        out["quiet_estimate_s"] = round(serial + threads + pool, 1)
    out["groups"] = {
        k: sum(g.kind == k for g in result.groups) for k in ("exact", "near", "similar")
    }
    out["quality"] = score(result, truth)
    out["quality"].update(pair_verdicts(c, truth))
    regroup = []
    for near, similar in ((0.85, 0.7), (0.95, 0.8), (0.8, 0.65), (0.9, 0.75)):
        t = time.perf_counter()
        r = finder.group(near=near, similar=similar)
        regroup.append({"near": near, "similar": similar, "s": round(time.perf_counter() - t, 3),
                        "groups": len(r.groups)})  # fmt: skip
    out["regroup"] = regroup
    out["regroup_max_s"] = max(r["s"] for r in regroup)
    lib.close()
    lib = Library(db_path=db)  # the next run: the candidates come from library.dupes.npz
    t = time.perf_counter()
    lib.duplicates()
    out["again_from_cache_s"] = round(time.perf_counter() - t, 2)
    lib.close()
    return out


def main() -> None:
    from machine import SHARED as NOTE
    from machine import machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--near-share", type=float, default=0.05, help="share of near copies")
    ap.add_argument("--keep", type=Path, help="keep the generated library here, reuse it next time")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--without-kept-features", action="store_true",
                    help="the search computes the check's features (a library scanned before "
                         "the scan kept them)")  # fmt: skip
    args = ap.parse_args()
    out: dict = {"machine": machine(note=NOTE, load_average=os.getloadavg()), "dim": args.dim}
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        db = where / f"bench-{args.photos}-{args.dim}-{args.near_share}-g{GENERATOR}.db"
        meta = db.with_suffix(".json")
        if not (db.exists() and meta.exists()):
            for old in (db, meta):
                old.unlink(missing_ok=True)
            t = time.perf_counter()
            made = generate(db, args.photos, args.dim, args.near_share)
            made["summary"]["generate_s"] = round(time.perf_counter() - t, 1)
            meta.write_text(json.dumps(made))
            shutil.rmtree(where / "unused", ignore_errors=True)
        made = json.loads(meta.read_text())
        if args.generate_only:
            return
        out["library"] = made["summary"]
        out["scan_features"] = add_scan_features(db)
        out.update(run(db, made["truth"], kept_features=not args.without_kept_features))
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""``near`` precision and recall, and how many of the scenes' other takes are ``similar``, on real photos.

    PYTHONPATH=.:tests .venv/bin/python bench/holidays_duplicates.py [--copies 2] [--out FILE]

The whole of ``../shared/photos/holidays`` (405 different shots of 150 scenes, three
byte-identical pairs) plus the camera burst, with planted copies made like the tests do
(``tests/planted.py``): ``--copies`` edits per photo (cycling through every edit) and one
hard negative (mirrored, cropped 25%) per third photo. Scanned with the trained
EfficientNet-Lite0 of the tests, calibrated, then grouped by ``Library.duplicates()``.

Measured (a pair = two files):
  - ``near`` precision: pairs inside exact/near groups that show one picture / all such pairs;
  - ``near`` recall: pairs of files that show one picture (bytes differ) found in one group;
  - every false claim, with the reason the group gives;
  - the scenes' other takes (truth.json, bytes differ) that land in one ``similar`` group:
    their share of all such pairs, and among the pairs the CNN ranks close (cosine at or
    above the similar threshold; each in the other's 5 nearest).
Results go to ``bench/results/holidays-duplicates.json``. Asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from PIL import Image, ImageOps  # noqa: E402
from planted import COPIES, OTHERS  # noqa: E402

from photosim.library import Library  # noqa: E402

SHARED = HERE.parents[1] / "shared" / "photos"
RESULTS = HERE / "results" / "holidays-duplicates.json"


def plant(root: Path, copies: int) -> dict[Path, str]:
    """Copy holidays/ and camera/ into ``root`` with planted copies: file -> picture it shows."""
    (root / "copies").mkdir(parents=True)
    origin: dict[Path, str] = {}
    first: dict[str, str] = {}
    files = sorted((SHARED / "holidays").glob("*.jpg")) + sorted((SHARED / "camera").glob("*.jpg"))
    edits, others = list(COPIES), list(OTHERS)
    for i, src in enumerate(files):
        dst = root / src.parent.name / src.name
        dst.parent.mkdir(exist_ok=True)
        shutil.copy2(src, dst)
        digest = hashlib.blake2b(src.read_bytes(), digest_size=16).hexdigest()
        origin[dst] = first.setdefault(digest, src.name)
        if src.parent.name != "holidays":
            continue
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for k in range(copies):
            edit = edits[(copies * i + k) % len(edits)]
            suffix, data = COPIES[edit](im)
            path = root / "copies" / f"{src.stem}-{edit}{suffix}"
            path.write_bytes(data)
            origin[path] = origin[dst]  # 1039xx shows the picture of 1031xx
        if i % 3 == 0:
            edit = others[(i // 3) % len(others)]
            suffix, data = OTHERS[edit](im)
            path = root / "copies" / f"{src.stem}-{edit}{suffix}"
            path.write_bytes(data)
            origin[path] = f"{src.name}-{edit}"  # another picture
    return origin


def measure(lib: Library, origin: dict[Path, str], scene_of: dict[str, str]) -> dict:
    t = time.perf_counter()
    result = lib.duplicates()
    grouping_s = time.perf_counter() - t
    claimed_pairs, false = 0, []
    together: set[frozenset] = set()
    for g in result.groups:
        if g.kind not in ("exact", "near"):
            continue
        names = [m.path for m in g.photos]
        for a, b in itertools.combinations(names, 2):
            claimed_pairs += 1
            together.add(frozenset((a, b)))
            if origin[a] != origin[b]:
                reason = next(m.reason for m in g.photos if m.path == b)
                false.append({"kind": str(g.kind), "a": a.name, "b": b.name, "reason": reason})
    by_picture: dict[str, list[Path]] = {}
    for p, o in origin.items():
        by_picture.setdefault(o, []).append(p)
    truth = [frozenset(pair) for ps in by_picture.values() for pair in itertools.combinations(ps, 2)
             if pair[0].read_bytes() != pair[1].read_bytes()]  # fmt: skip
    found = [pair for pair in truth if pair in together]
    missed = sorted(tuple(sorted(p.name for p in pair)) for pair in truth if pair not in together)
    planted = [p for p in origin if p.parent.name == "copies" and origin[p].endswith(".jpg")]
    holidays = next(p for p in origin if p.parent.name == "holidays").parent
    grouped_with_original = sum(
        frozenset((p, holidays / f"{p.name.split('-')[0]}.jpg")) in together for p in planted
    )
    # the scenes' other takes: in one similar group (a member of a near group stands for it)
    near_of: dict[Path, frozenset] = {}
    for g in result.groups:
        if g.kind in ("exact", "near"):
            members = frozenset(m.path for m in g.photos)
            near_of.update(dict.fromkeys(members, members))
    similar_with: dict[Path, set] = {}
    for g in result.groups:
        if g.kind == "similar":
            wide = set().union(*(near_of.get(m.path, {m.path}) for m in g.photos))
            for p in wide:
                similar_with.setdefault(p, set()).update(wide)
    originals = [p for p in origin if p.parent.name == "holidays"]
    takes = [(a, b) for a, b in itertools.combinations(originals, 2)
             if scene_of[a.name] == scene_of[b.name] and origin[a] != origin[b]]  # fmt: skip
    vec = {p.path: v for p, v in zip(*_vectors(lib), strict=True)}
    mat = np.stack([vec[p] for p in originals])
    sims = mat @ mat.T
    rank = {p: i for i, p in enumerate(originals)}
    top5 = {p: set(np.argsort(-sims[i])[1:6].tolist()) for i, p in enumerate(originals)}
    threshold = result.thresholds.similar
    rows = []
    for a, b in takes:
        cos = float(sims[rank[a], rank[b]])
        close_top = rank[b] in top5[a] and rank[a] in top5[b]
        rows.append((b in similar_with.get(a, ()), cos >= threshold, close_top, cos))
    rows_a = np.array([r[:3] for r in rows], bool)

    def share(mask: np.ndarray) -> dict:
        n = int(mask.sum())
        return {"pairs": n, "in_similar_group": int(rows_a[mask, 0].sum()),
                "share": round(float(rows_a[mask, 0].mean()), 3) if n else None}  # fmt: skip

    return {
        "files": len(origin),
        "thresholds": vars(result.thresholds),
        "grouping_s": round(grouping_s, 2),
        "groups": {
            k: sum(g.kind == k for g in result.groups) for k in ("exact", "near", "similar")
        },
        "near_precision": round(1 - len(false) / claimed_pairs, 4) if claimed_pairs else None,
        "claimed_pairs": claimed_pairs,
        "near_recall": round(len(found) / len(truth), 4) if truth else None,
        "same_picture_pairs": len(truth),
        "planted_copies_with_original": f"{grouped_with_original}/{len(planted)}",
        "false_claims": false,
        "missed_pairs": missed[:50],
        "other_takes": {
            "all": share(np.ones(len(rows_a), bool)),
            "cnn_at_or_above_similar_threshold": share(rows_a[:, 1]),
            "cnn_mutual_top5": share(rows_a[:, 2]),
            "median_cos": round(float(np.median([r[3] for r in rows])), 3),
        },
    }


def _vectors(lib: Library):
    photos = [p for p in lib.photos() if p.has_vector]
    key = lib.model.current_key()
    vectors = [lib.store.vectors.get_vector(p.hash, key) for p in photos]
    vs = np.stack(vectors).astype(np.float32)
    return photos, vs / np.linalg.norm(vs, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--work", type=Path, help="keep the photos and library here (reused if there)")
    args = ap.parse_args()
    from effnet import load_effnet_backbone
    from machine import SHARED as SHARED_NOTE
    from machine import machine

    truth = json.loads((SHARED / "holidays" / "truth.json").read_text())
    scene_of = {name: scene for scene, names in truth["scenes"].items() for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        root, names = work / "photos", work / "origin.json"
        if names.is_file():  # made by an earlier run: the same photos, scanned already
            origin = {root / k: v for k, v in json.loads(names.read_text()).items()}
        else:
            origin = plant(root, args.copies)
        lib = Library([root], work / "library.db", backbone=load_effnet_backbone())
        t = time.perf_counter()
        last = list(lib.scan())[-1]
        scan_s = time.perf_counter() - t
        names.write_text(json.dumps({str(p.relative_to(root)): v for p, v in origin.items()}))
        lib.calibrate()
        report = {"machine": machine(note=SHARED_NOTE), "scan_s": round(scan_s, 1),
                  "scan_failed": last.failed, **measure(lib, origin, scene_of)}  # fmt: skip
        lib.close()
    report["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps({k: v for k, v in report.items() if k != "missed_pairs"}, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()

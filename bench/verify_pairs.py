"""Measure the geometric check (photosim.dupes.verify) on real photos: planted copies vs other shots.

    PYTHONPATH=. .venv/bin/python bench/verify_pairs.py [N]   # N: originals to plant copies of

Positives: planted copies of each photo (tests/planted.py). Negatives: every pair of different shots of
one Holidays scene, mirrored copies, 25% crops, the camera burst. Prints verdicts and timings.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import Counter
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from planted import COPIES as POSITIVE
from planted import OTHERS as NEGATIVE

from photosim.dupes import verify
from photosim.media import pixels
from photosim.media.decode import decode_bytes

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "photos"


def feats(data: bytes):
    image = decode_bytes(data, "x", max_side=pixels.FINGERPRINT_SIDE)
    return verify.features(pixels.decode(pixels.fingerprint(image)))


def main(limit: int | None = None) -> None:
    holidays = sorted((SHARED / "holidays").glob("*.jpg"))
    scenes: dict[str, list[Path]] = {}
    for p in holidays:
        scenes.setdefault(p.stem[:4], []).append(p)
    chosen = holidays if limit is None else holidays[:limit]
    f = {p: feats(p.read_bytes()) for p in holidays}
    results: dict[str, list] = {}
    t0, n_checks = time.perf_counter(), 0
    fails = []
    for p in chosen:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for name, edit in {**POSITIVE, **NEGATIVE}.items():
            c = verify.check(f[p], feats(edit(im)[1]))
            n_checks += 1
            results.setdefault(name, []).append(c)
            if (name in POSITIVE) != (c.verdict is verify.Verdict.SAME):
                fails.append(
                    (
                        name,
                        p.name,
                        c.verdict.value,
                        round(c.residual, 1),
                        c.why,
                        c.inliers,
                        round(c.detail, 2),
                    )
                )
    # different shots: of one Holidays scene, and the camera burst (one loop for both)
    cam = sorted((SHARED / "camera").glob("*.jpg"))
    f.update({p: feats(p.read_bytes()) for p in cam})
    neg = []
    for label, group in [*(("scene", ps) for ps in scenes.values()), ("burst", cam)]:
        for a, b in itertools.combinations(group, 2):
            if a.read_bytes() == b.read_bytes():
                continue
            c = verify.check(f[a], f[b])
            n_checks += 1
            neg.append(c)
            where = (label, a.name, b.name, c.verdict.value, round(c.residual, 1), c.why,
                     c.inliers, round(c.detail, 2), round(c.angle, 2))  # fmt: skip
            if c.verdict is verify.Verdict.SAME:
                fails.append(where)
            elif c.inliers >= verify.MIN_INLIERS:
                print("aligned other shot", *where)
    results["scene pairs"] = neg
    elapsed = time.perf_counter() - t0
    summary = {k: dict(Counter(c.verdict.value for c in v)) for k, v in results.items()}
    import numpy as np

    for k, v in summary.items():
        r = np.array([c.residual for c in results[k] if np.isfinite(c.residual)])
        q = np.round(np.quantile(r, [0, 0.05, 0.5, 0.95, 1]), 1) if len(r) else []
        an = np.array([abs(c.angle) for c in results[k] if np.isfinite(c.residual)])
        qa = np.round(np.quantile(an, [0.5, 0.95, 1]), 2) if len(an) else []
        print(f"{k:12s} {v} residuals {q} angle {qa}")
    for x in fails:
        print("FAIL", x)
    print(f"{n_checks} checks, {elapsed:.1f} s incl. decoding copies")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)

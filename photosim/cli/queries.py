"""``photosim similar`` and ``photosim info``: answers from a library's cache, opened
read-only (no model unless a photo outside the library must be embedded)."""

from __future__ import annotations

import argparse
import json

from photosim.cli.shared import open_for_query, warn_if_untrained
from photosim.core.errors import PhotosimError, printable, shown
from photosim.core.text import plural


def cmd_similar(args: argparse.Namespace) -> int:
    folders = [p for p in args.image if p.expanduser().is_dir()]
    if len(folders) > 1:
        raise PhotosimError("Name one library folder (after the photos), not several.")
    args.folder = folders[0] if folders else None
    args.image = [p for p in args.image if p not in folders]
    if not args.image:
        raise PhotosimError(
            "Pass the photo to compare (a file), then optionally the library's folder."
        )
    if len(args.image) > 1:
        return cmd_similar_many(args)
    args.image = args.image[0]
    image = args.image.expanduser()
    if not image.is_file():
        raise PhotosimError(f"{shown(args.image)} is not a file; pass the photo to compare.")
    if args.k < 1:
        raise PhotosimError("-k must be at least 1.")
    with open_for_query(args, near=image) as lib:
        matches = lib.similar_to_file(image, k=args.k)
        warn_if_untrained(lib)
    if args.json:
        print(
            json.dumps(
                [{"path": shown(m.path), "score": round(m.score, 4)} for m in matches], indent=1
            )
        )
    else:
        for m in matches:
            print(f"{m.score:.3f}  {printable(m.path)}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    with open_for_query(args) as lib:
        info = lib.info()
        failures = lib.failures() if args.failed else []
        warn_if_untrained(lib)
    info["roots"], info["db"] = [shown(r) for r in info["roots"]], shown(info["db"])
    if args.failed:
        info["failures"] = [
            {"path": shown(f.path), "kind": str(f.kind), "reason": f.reason} for f in failures
        ]
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    for key in ("roots", "db", "photos", "skipped", "embedded", "model", "backend", "index"):
        value = ", ".join(info[key]) if key == "roots" else info[key]
        if value is None:
            continue
        print(f"{key:<10}{printable(str(value))}")
    others, companions = info["other_files"], info["companions"]
    print(f"{'others':<10}{plural(others, 'other file')} (videos, documents; not photos)")
    print(
        f"{'companion':<10}{plural(companions, 'companion file')} (sidecars, Live Photo videos, "
        "RAW+JPEG halves)"
    )
    for item in info.get("failures", []):
        print(f"  {printable(item['path'])}: {printable(item['reason'])}")
    return 0


def cmd_similar_many(args: argparse.Namespace) -> int:
    """``photosim similar A B C``: photos like all of them (their mean), the picks left out."""
    images = [image.expanduser() for image in args.image]
    for image in images:
        if not image.is_file():
            raise PhotosimError(f"{image} is not a file; pass the photos to compare.")
    if args.k < 1:
        raise PhotosimError("-k must be at least 1.")
    with open_for_query(args, near=images[0]) as lib:
        matches = lib.similar_to_many(images, k=args.k)
        warn_if_untrained(lib)
    rows = [{"path": shown(m.path), "score": round(m.score, 4)} for m in matches]
    if args.json:
        print(json.dumps(rows, indent=1))
    for m in [] if args.json else matches:
        print(f"{m.score:.3f}  {printable(m.path)}")
    return 0

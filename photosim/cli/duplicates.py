"""``photosim duplicates``: print duplicate groups (text, JSON or CSV; never deletes), and
list or restore the groups marked "not duplicates"."""

from __future__ import annotations

import argparse
import json
import sys

from photosim.cli.shared import open_for_query
from photosim.core.errors import PhotosimError


def cmd_duplicates(args: argparse.Namespace) -> int:
    """Print duplicate groups, largest reclaimable space first; nothing is deleted."""
    from photosim.dupes.finder import result_to_dict, write_csv, write_text

    for name in ("threshold", "similar_threshold"):
        value = getattr(args, name)
        if value is not None and not 0 < value <= 1:
            flag = "--" + name.replace("_", "-")
            raise PhotosimError(f"{flag} must be a cosine similarity above 0 and at most 1 "
                                f"(for example 0.92), not {value:g}.")  # fmt: skip
    for folder in args.reference:
        if not folder.expanduser().is_dir():
            raise PhotosimError(f"{folder} is not a folder; pass a folder of originals.")
    if args.dismissed or args.restore:
        return _dismissed(args)
    with open_for_query(args, read_only=False) as lib:
        if lib.calibration_loads_model():
            print("Calibrating the thresholds for this model (once; it loads the model)...",
                  file=sys.stderr)  # fmt: skip
        result = lib.duplicates(
            kind=args.kind,
            threshold=args.threshold,
            references=[r.expanduser().absolute() for r in args.reference],
            similar_threshold=args.similar_threshold,
        )
    if args.json:
        print(json.dumps(result_to_dict(result), indent=1))
    elif args.csv:
        write_csv(result, sys.stdout)
    else:
        write_text(result, sys.stdout)
    return 0


def _dismissed(args: argparse.Namespace) -> int:
    """List the dismissed groups, or restore those holding the --restore photos."""
    with open_for_query(args, read_only=not args.restore) as lib:
        groups = lib.decisions.dismissed_groups()
        if args.restore:
            wanted = {p.expanduser().absolute() for p in args.restore}
            chosen = [g for g in groups if wanted & set(g.paths)]
            missing = wanted - {p for g in chosen for p in g.paths}
            if missing:
                raise PhotosimError(f"{sorted(missing)[0]} is in no dismissed group; "
                                    "see photosim duplicates --dismissed.")  # fmt: skip
            for g in chosen:
                lib.decisions.restore_dismissed(g.hashes)
            print(f"Restored {len(chosen)} dismissed group{'s' if len(chosen) != 1 else ''}: "
                  "they are found as duplicates again.")  # fmt: skip
            return 0
    if args.json:
        print(json.dumps([{"hashes": list(g.hashes), "paths": [str(p) for p in g.paths]}
                          for g in groups], indent=1))  # fmt: skip
        return 0
    if not groups:
        print('No groups are marked "not duplicates".')
        return 0
    for i, g in enumerate(groups, 1):
        print(f"{i}. not duplicates ({len(g.paths)} photos)")
        for p in g.paths:
            print(f"     {p}")
    print(f'{len(groups)} dismissed; "photosim duplicates --restore PHOTO" finds one again.')
    return 0

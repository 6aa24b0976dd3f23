"""The ``photosim`` command: a thin layer over :mod:`photosim.library`.

Exit codes: 0 success (unreadable photos are reported, not failures), 2 bad
arguments, missing model weights or any other error photosim explains (one
``photosim: <message>`` line), 130 interrupted (Ctrl+C). Paths are printed with
``errors.shown`` so a name of any bytes prints instead of crashing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from photosim import __version__, terminal
from photosim.core.errors import FolderMissing, PhotosimError, printable, shown
from photosim.core.log import setup_logging
from photosim.core.text import plural
from photosim.models.registry import BACKENDS, DEFAULT_MODEL, MODELS, PRECISIONS

if TYPE_CHECKING:  # the library (numpy, SQLite) is imported by the commands that open one
    from photosim.core.events import ScanProgress, WeightsDownload
    from photosim.library import Library


def _model_options(p: argparse.ArgumentParser, model_default: str | None = DEFAULT_MODEL) -> None:
    p.add_argument(
        "--model",
        choices=MODELS,
        default=model_default,
        help=f"ResNet to embed with (default: the library's, {DEFAULT_MODEL} for a new one)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        help="local state-dict file (else PHOTOSIM_WEIGHTS, else torchvision's cache)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument(
        "--offline",
        action="store_true",
        help="never download the model weights (as PHOTOSIM_OFFLINE=1 does)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="model arithmetic (default auto: fp32 on a CPU, the vectors of fp32; fp16/bf16 on GPUs)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where the model runs on a CPU (default auto: OpenVINO when installed, the same "
        "vectors faster; PHOTOSIM_BACKEND sets another default)",
    )


def _folder_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder",
        nargs="?",
        type=Path,
        metavar="FOLDER",
        help="a folder of the library (default: the library used last)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosim",
        description="Find similar photos and near-duplicates in your own photo library.",
    )
    parser.add_argument("--version", action="version", version=f"photosim {__version__}")
    sub = parser.add_subparsers(dest="command")

    scan = sub.add_parser("scan", help="scan folders and cache every photo's vector")
    scan.add_argument("roots", nargs="+", type=Path, metavar="ROOT")
    scan.add_argument(
        "--db", type=Path, help="library database file (default: one per folder in your data dir)"
    )
    _model_options(scan, model_default=None)
    scan.add_argument("--batch-size", type=int, default=32, metavar="N")
    scan.add_argument("--workers", type=int, default=None, metavar="N", help="parallel decoders")

    similar = sub.add_parser(
        "similar",
        help="list the photos most similar to IMAGE (or to all); a FOLDER names the library",
    )
    similar.add_argument("image", type=Path, nargs="+", metavar="IMAGE")  # several: their mean
    similar.add_argument("--db", type=Path)
    similar.add_argument("-k", type=int, default=10, help="how many (default 10)")
    similar.add_argument("--json", action="store_true", help="print JSON")
    _model_options(similar, model_default=None)

    info = sub.add_parser("info", help="what a library holds")
    _folder_option(info)
    info.add_argument("--db", type=Path)
    info.add_argument("--json", action="store_true")
    info.add_argument(
        "--failed", action="store_true", help="list photos that could not be read, with the reason"
    )

    dup = sub.add_parser(
        "duplicates", help="list duplicate photos (exact, near, similar); never deletes"
    )
    _folder_option(dup)
    dup.add_argument("--db", type=Path)
    _model_options(dup, model_default=None)
    dup.add_argument("--kind", choices=("exact", "near", "similar", "all"), default="all")
    dup.add_argument(
        "--threshold", type=float, metavar="T", help="near threshold (cosine; default calibrated)"
    )
    dup.add_argument(
        "--similar-threshold", type=float, metavar="T", help="similar threshold (cosine)"
    )
    dup.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of originals: never proposed for removal (repeatable)",
    )
    dup.add_argument(
        "--dismissed", action="store_true", help='list the groups marked "not duplicates"'
    )
    dup.add_argument(
        "--restore",
        type=Path,
        action="append",
        default=[],
        metavar="PHOTO",
        help='undo "not duplicates" for the dismissed group holding PHOTO (repeatable)',
    )
    out = dup.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--csv", action="store_true", help="print CSV (one row per photo)")
    # the applications-menu entry
    desktop = sub.add_parser(
        "install-desktop", help="add photosim to your applications menu (and folders' Open with)"
    )
    desktop.add_argument("--uninstall", action="store_true", help="remove it again")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("root", nargs="?", type=Path, metavar="ROOT")
    gui.add_argument("--db", type=Path)
    _model_options(gui, model_default=None)
    for command in sub.choices.values():
        command.add_argument(
            "-v", "--verbose", action="store_true", help="also print the log (warnings) to stderr"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "gui"
    setup_logging(verbose=getattr(args, "verbose", False))
    if command == "gui":  # the app closes its window on these signals itself
        return _run(command, args)
    with terminal.signals_as_interrupts():
        code = _run(command, args)
        signalled = terminal.interrupted_code()
    if signalled is not None:  # SIGTERM 143, SIGHUP 129, Ctrl+C 130; never hang on a thread
        return terminal.end_promptly(signalled)
    return code


def _run(command: str, args: argparse.Namespace) -> int:
    """The command's exit status; every way it can end is one line, never a traceback."""
    try:
        if command == "gui" and not hasattr(args, "root"):
            args = build_parser().parse_args(["gui"])
        commands = {"scan": cmd_scan, "similar": cmd_similar, "info": cmd_info, "gui": cmd_gui,
                    "duplicates": cmd_duplicates, "install-desktop": cmd_install_desktop}  # fmt: skip
        code = commands[command](args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except PhotosimError as exc:
        _say(exc)
        return 2
    except BrokenPipeError:
        return terminal.pipe_closed()
    except (sqlite3.Error, OSError) as exc:  # a full disk, a read-only place, a damaged file
        from photosim.storage.faults import explain

        explained = explain(exc, getattr(args, "db", None) or "your library")
        if explained is None:
            raise
        _say(explained)
        return 2
    except KeyboardInterrupt:
        print(
            "\nInterrupted: what was done is kept; run the command again to finish.",
            file=sys.stderr,
        )
        return 130


def _say(message: object) -> None:
    """The one place the CLI prints an error: ``photosim: <message>``, once."""
    print(f"photosim: {printable(str(message))}", file=sys.stderr)


UNTRAINED = (
    "these weights look untrained (every pair of photos scores about 99% alike), so similar "
    "photos are noise; scan again with trained weights: leave --weights out for torchvision's "
    "pretrained ones, or pass a trained state-dict file."
)


def _warn_if_untrained(lib: Library) -> None:
    """Say once, after the answer, when the library's vectors come from untrained weights."""
    if lib.weights_look_untrained():
        _say(UNTRAINED)


def _open_for_query(
    args: argparse.Namespace, near: Path | None = None, read_only: bool = True
) -> Library:
    """The library for a query, opened read-only: a query writes nothing.

    ``read_only=False`` for commands that cache what they compute in the library
    (``duplicates`` keeps pixel fingerprints, calibration and reference folders).
    """
    from photosim.library import Library, find_library_db, library_for_folder

    folder = getattr(args, "folder", None)
    if args.db is not None:
        db = args.db
    elif folder is not None:
        if not folder.expanduser().is_dir():
            raise FolderMissing(folder)
        db = library_for_folder(folder)
    else:
        db = find_library_db(near)
    if not db.exists():
        raise PhotosimError(
            f"No library database at {shown(db)}; run `photosim scan FOLDER --db {shown(db)}` first."
        )
    return Library(db_path=db, device=getattr(args, "device", "auto"), read_only=read_only,
                   precision=getattr(args, "precision", "auto"), announce=_announce,
                   download=_download(args), backend=getattr(args, "backend", None),
                   model=getattr(args, "model", None),
                   weights=getattr(args, "weights", None))  # fmt: skip


def _download(args: argparse.Namespace) -> bool | None:
    """False with ``--offline``; else None: allowed unless PHOTOSIM_OFFLINE=1 says no."""
    return False if getattr(args, "offline", False) else None


def _announce(download: WeightsDownload) -> None:
    """Say what a first-use weights download fetches, how big, and where it goes."""
    size = f" ({download.megabytes:.0f} MB)" if download.megabytes else ""
    print(f"photosim: downloading the {download.model} weights{size} once, from "
          f"{download.url} to {printable(download.target)}; --offline or PHOTOSIM_OFFLINE=1 "
          f"forbids it.", file=sys.stderr)  # fmt: skip


def cmd_scan(args: argparse.Namespace) -> int:
    for root in args.roots:
        if not root.expanduser().is_dir():
            raise FolderMissing(root)
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        raise PhotosimError("--batch-size and --workers must be at least 1.")
    from photosim.library import Library

    lib = Library(args.roots, args.db, model=args.model, weights=args.weights, device=args.device,
                  precision=args.precision, backend=args.backend, lock_owner="photosim scan",
                  announce=_announce, download=_download(args))  # fmt: skip
    if lib.recovered is not None:
        _say(lib.recovered)
    events = lib.scan(batch_size=args.batch_size, workers=args.workers)
    bar = _progress_bar()
    last: ScanProgress | None = None
    untrained = False
    try:
        for last in events:
            _show(bar, last)
        untrained = lib.weights_look_untrained()
    except KeyboardInterrupt:  # Ctrl+C, SIGTERM or SIGHUP (see photosim.terminal)
        bar.close()
        print(
            "Interrupted: the photos embedded so far are kept; run the scan again to finish.",
            file=sys.stderr,
        )
        events.close()  # stops the pipeline's threads; a second signal leaves at once
        return 130
    finally:
        lib.close()
    bar.close()
    if last is not None:
        _summary(lib, last)
        if untrained:
            _say(UNTRAINED)
        if last.model_error:
            _say(last.model_error)
            return 2
    return 0


def _progress_bar():
    from tqdm import tqdm

    return tqdm(
        total=0,
        unit="photo",
        desc="Scanning",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def _show(bar, ev: ScanProgress) -> None:
    from photosim.core.events import ScanKind

    if ev.kind == ScanKind.WALKED:
        bar.reset(total=ev.total)
        bar.set_description("Embedding")
    elif ev.kind == ScanKind.INDEXING:
        bar.set_description("Indexing")
    elif ev.kind == ScanKind.PREPARING:
        bar.set_description("Preparing the model")
        bar.write(f"photosim: {ev.reason}", file=sys.stderr)
    elif ev.kind == ScanKind.NOTICE:
        bar.write(f"photosim: {printable(ev.reason or '')}", file=sys.stderr)
    elif ev.kind in (ScanKind.EMBEDDED, ScanKind.REUSED, ScanKind.FAILED, ScanKind.LISTED):
        bar.n = ev.done
        bar.refresh() if ev.done % 8 == 0 or ev.done == ev.total else None


# What every file found turned out to be: these add up to the number found.
OUTCOMES = (
    ("unchanged", "already up to date"),
    ("new", "first seen"),
    ("moved", "moved or renamed; kept its vector"),
    ("updated", "changed, or waiting for a vector before"),
    ("failed", "could not be read"),
)


def _summary(lib: Library, ev: ScanProgress) -> None:
    """What the scan did; the outcome lines add up to the photos found."""
    roots = ", ".join(printable(r) for r in lib.roots)
    # Files that could not be read are skipped, not photos: those of this scan and earlier ones.
    failed = ev.failed if ev.cancelled else max(ev.failed, min(ev.found, lib.failure_count()))
    counts = plural(ev.found - failed, "photo")
    skipped = f", {failed:,} skipped (could not be read)" if failed else ""
    print(f"Scanned {roots}: {counts}{skipped}{' (cancelled)' if ev.cancelled else ''}")
    for label, meaning in OUTCOMES:
        print(f"  {label:<10}{getattr(ev, label):>7}  {meaning}")
    if ev.removed:
        print(f"  {'removed':<10}{ev.removed:>7}  gone from disk; left the library")
    if ev.retried:
        print(f"  {'retried':<10}{ev.retried:>7}  could not be read last time; tried again")
    for failure in ev.failures:
        print(f"    {printable(failure.path)}: {printable(failure.reason)}")
    for folder in ev.linked:
        print(f"  followed a link to {printable(folder)} (its photos are in the library)")
    if ev.companions:
        print(
            f"  {ev.companions} sidecars, Live Photo videos and RAW+JPEG halves travel with their photos"
        )
    if ev.others:
        print(f"  {ev.others} other files (videos, documents): not photos, not listed")
    if ev.embedded:
        # The model that embedded them is still loaded: no read of the (closed) library.
        print(
            f"Embedded {plural(ev.embedded, 'photo')} with {lib.model.key} on {lib.model.running_backend()}."
        )
    if ev.waiting:
        print(
            f"Waiting for the model weights: {plural(ev.waiting, 'photo')} listed without a vector."
        )
    print(f"Library: {printable(lib.db_path)}")


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
    with _open_for_query(args, near=image) as lib:
        matches = lib.similar_to_file(image, k=args.k)
        _warn_if_untrained(lib)
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
    with _open_for_query(args) as lib:
        info = lib.info()
        failures = lib.failures() if args.failed else []
        _warn_if_untrained(lib)
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
    print(f"{'others':<10}{info['other_files']} other files (videos, documents; not photos)")
    print(f"{'companion':<10}{info['companions']} sidecars, Live Photo videos, RAW+JPEG halves")
    for item in info.get("failures", []):
        print(f"  {printable(item['path'])}: {printable(item['reason'])}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    if args.root is not None and not args.root.expanduser().is_dir():
        raise FolderMissing(args.root)
    try:
        from photosim.app import run
    except ImportError as exc:
        raise PhotosimError(
            f"The desktop app could not start ({exc}); reinstall photosim with its PySide6 dependency."
        ) from None
    return run(
        root=args.root, db=args.db, model=args.model, weights=args.weights, device=args.device
    )


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
    with _open_for_query(args, read_only=False) as lib:
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
    with _open_for_query(args, read_only=not args.restore) as lib:
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


# -- the applications-menu entry --------------------------------------------------
def cmd_install_desktop(args: argparse.Namespace) -> int:
    """Write (or remove) the .desktop entry and icon under the user's XDG data dir."""
    from photosim import desktop

    if args.uninstall:
        removed = desktop.uninstall()
        print("Removed " + ", ".join(map(str, removed)) if removed else "Nothing to remove.")
        return 0
    for path in desktop.install():
        print(f"Wrote {path}")
    print("photosim is in your applications menu now (log out and in if it does not show).")
    return 0


def cmd_similar_many(args: argparse.Namespace) -> int:
    """``photosim similar A B C``: photos like all of them (their mean), the picks left out."""
    images = [image.expanduser() for image in args.image]
    for image in images:
        if not image.is_file():
            raise PhotosimError(f"{image} is not a file; pass the photos to compare.")
    if args.k < 1:
        raise PhotosimError("-k must be at least 1.")
    with _open_for_query(args, near=images[0]) as lib:
        matches = lib.similar_to_many(images, k=args.k)
        _warn_if_untrained(lib)
    rows = [{"path": shown(m.path), "score": round(m.score, 4)} for m in matches]
    if args.json:
        print(json.dumps(rows, indent=1))
    for m in [] if args.json else matches:
        print(f"{m.score:.3f}  {printable(m.path)}")
    return 0

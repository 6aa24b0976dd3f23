"""``photosim scan``: bring a library up to date, with a progress bar and a summary of what
every file found turned out to be."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from photosim.cli.shared import UNTRAINED, announce_download, download_allowed, say
from photosim.core.errors import FolderMissing, PhotosimError, printable
from photosim.core.text import plural

if TYPE_CHECKING:
    from tqdm import tqdm

    from photosim.core.events import ScanProgress
    from photosim.library import Library


def cmd_scan(args: argparse.Namespace) -> int:
    for root in args.roots:
        if not root.expanduser().is_dir():
            raise FolderMissing(root)
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1):
        raise PhotosimError("--batch-size and --workers must be at least 1.")
    from photosim.library import Library

    lib = Library(args.roots, args.db, model=args.model, weights=args.weights, device=args.device,
                  precision=args.precision, backend=args.backend, lock_owner="photosim scan",
                  announce=announce_download, download=download_allowed(args))  # fmt: skip
    if lib.recovered is not None:
        say(lib.recovered)
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
            say(UNTRAINED)
        if last.model_error:
            say(last.model_error)
            return 2
    return 0


def _progress_bar() -> tqdm:
    from tqdm import tqdm

    return tqdm(
        total=0,
        unit="photo",
        desc="Scanning",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def _show(bar: tqdm, ev: ScanProgress) -> None:
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
        what = plural(ev.companions, "companion file")
        print(f"  {what} (sidecars, Live Photo videos, RAW+JPEG halves): kept with their photos")
    if ev.others:
        print(f"  {plural(ev.others, 'other file')} (videos, documents): not photos, not listed")
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

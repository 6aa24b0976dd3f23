"""What every command shares: opening its library (read-only for a query), the download
notice, the untrained-weights warning and the one ``photosim: <message>`` error line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core.errors import FolderMissing, PhotosimError, printable, shown

if TYPE_CHECKING:  # the library (numpy, SQLite) is imported by the commands that open one
    from photosim.core.events import WeightsDownload
    from photosim.library import Library


def say(message: object) -> None:
    """The one place the CLI prints an error: ``photosim: <message>``, once."""
    print(f"photosim: {printable(str(message))}", file=sys.stderr)


UNTRAINED = (
    "these weights look untrained (every pair of photos scores about 99% alike), so similar "
    "photos are noise; scan again with trained weights: leave --weights out for torchvision's "
    "pretrained ones, or pass a trained state-dict file."
)


def warn_if_untrained(lib: Library) -> None:
    """Say once, after the answer, when the library's vectors come from untrained weights."""
    if lib.weights_look_untrained():
        say(UNTRAINED)


def open_for_query(
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
                   precision=getattr(args, "precision", "auto"), announce=announce_download,
                   download=download_allowed(args), backend=getattr(args, "backend", None),
                   model=getattr(args, "model", None),
                   weights=getattr(args, "weights", None))  # fmt: skip


def download_allowed(args: argparse.Namespace) -> bool | None:
    """False with ``--offline``; else None: allowed unless PHOTOSIM_OFFLINE=1 says no."""
    return False if getattr(args, "offline", False) else None


def announce_download(download: WeightsDownload) -> None:
    """Say what a first-use weights download fetches, how big, and where it goes."""
    size = f" ({download.megabytes:.0f} MB)" if download.megabytes else ""
    print(f"photosim: downloading the {download.model} weights{size} once, from "
          f"{download.url} to {printable(download.target)}; --offline or PHOTOSIM_OFFLINE=1 "
          f"forbids it.", file=sys.stderr)  # fmt: skip

"""The registry of known libraries: which database holds a folder, so that ``photosim
similar`` and the app find a library without being told its file."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from photosim.core import paths
from photosim.core.errors import UnknownLibrary, shown
from photosim.core.paths import is_under

log = logging.getLogger(__name__)


def known_libraries() -> list[dict]:
    """Known libraries, most recently used first: ``{"roots": [...], "db": "..."}``."""
    try:
        data = json.loads(paths.registry_path().read_text())
        return [d for d in data if isinstance(d, dict) and "db" in d]
    except (OSError, ValueError):
        return []


def remember(roots: Sequence[Path], db_path: Path) -> None:
    """Put the library of ``roots`` in ``db_path`` first in the registry. Only a convenience
    (what ``similar`` without ``--db`` opens): when its disk is full or read-only, the library
    works on without it."""
    entry = {"roots": [str(r) for r in roots], "db": str(db_path)}
    entries = [entry] + [d for d in known_libraries() if d["db"] != entry["db"]]
    data = json.dumps(entries[:50], indent=1).encode("utf-8", "surrogateescape")
    try:
        paths.atomic_write_bytes(paths.registry_path(), data)
    except OSError as exc:
        log.warning("Could not record the library in %s: %s", paths.registry_path(), exc)


def known_db_for(root: str | os.PathLike) -> Path | None:
    """The library a folder already belongs to (say, as its second folder), if any."""
    folder = str(Path(root).expanduser().resolve())
    for entry in known_libraries():
        if folder in entry.get("roots", []) and Path(entry["db"]).is_file():
            return Path(entry["db"])
    return None


def find_library_db(near: Path | None = None) -> Path:
    """The library holding ``near`` if any, else the most recently used one."""
    entries = [e for e in known_libraries() if Path(e["db"]).exists()]
    if not entries:
        raise UnknownLibrary("No library yet: run `photosim scan FOLDER` first, or pass --db FILE.")
    if near is not None:
        near = near.expanduser().absolute()
        for entry in entries:
            if is_under(near, entry["roots"]):
                return Path(entry["db"])
    return Path(entries[0]["db"])


def library_for_folder(folder: Path) -> Path:
    """The library whose folders hold ``folder`` (one of its roots or inside one).

    Unlike :func:`find_library_db` it never falls back to another library: a folder
    named on purpose that no library holds is an :class:`UnknownLibrary`.
    """
    own = paths.default_db_path([folder])
    if own.is_file():
        return own
    for candidate in dict.fromkeys((folder.expanduser().absolute(), folder.expanduser().resolve())):
        for entry in known_libraries():
            if Path(entry["db"]).is_file() and is_under(candidate, entry["roots"]):
                return Path(entry["db"])
    raise UnknownLibrary(
        f"No library holds {shown(folder)}; run `photosim scan {shown(folder)}` first."
    )

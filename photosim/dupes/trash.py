"""Moving photos to the system trash, with a journal and an undo of the last move.

photosim never deletes: a user's explicit "move to trash" goes through Send2Trash
(the freedesktop trash on Linux, the Recycle Bin, the macOS Trash). Every move is
appended to a JSON-lines journal in the library's folder (what went where, when,
and the library rows, so an undo puts the photos back without re-embedding), and
the last move can be undone where the trash keeps the files in a known place (the
freedesktop trash: ``files/`` plus ``info/*.trashinfo``).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from send2trash import send2trash

from photosim.core.paths import is_under
from photosim.media import formats

JOURNAL_NAME = "trash-journal.jsonl"


@dataclass(frozen=True)
class TrashRecord:
    """One move to the trash: the files moved, where they went, and when."""

    id: str
    at: float
    moved: tuple[tuple[Path, Path | None], ...]  # (original path, path in the trash if known)
    failed: tuple[tuple[Path, str], ...] = ()  # (path, reason) of files that were not moved
    freed: int = 0
    companions: int = 0  # of ``moved``: files that went with their photo (sidecars, videos)


def journal_path(library) -> Path:
    """The journal of moves, beside the library's database."""
    return Path(library.db_path).parent / JOURNAL_NAME


def move_to_trash(library, paths: Sequence[Path]) -> TrashRecord:
    """Send ``paths`` to the system trash, journal the move, and remove their rows.

    Only photos of the library move, never one under a reference folder; each takes
    its companions along (``formats.companions_on_disk``: the JPEG of a RAW+JPEG pair,
    sidecars, a Live Photo's video), journalled beside it so an undo brings all back. A
    file that cannot move is reported in ``failed`` with the reason, the others still move.
    """
    refs = library.reference_folders()
    moved, failed, entries, freed, gone_ids, companions = [], [], [], 0, [], 0
    for raw in dict.fromkeys(Path(p).expanduser().absolute() for p in paths):
        text = str(raw)
        if is_under(text, refs):
            failed.append((raw, "in a reference folder: photosim never removes those"))
            continue
        record = library.store.photo_record(text)
        if record is None:
            failed.append((raw, "not a photo of this library"))
            continue
        travelling = formats.companions_on_disk(raw)  # listed while the photo is still there
        try:
            where = _send(raw)
        except OSError as exc:
            failed.append((raw, f"could not move it to the trash ({exc.strerror or exc})"))
            continue
        moved.append((raw, where))
        freed += record.get("size") or 0
        gone_ids.append(record.pop("id"))
        entries.append({"path": text, "trash": str(where) if where else None, "row": record})
        for companion in map(Path, travelling):  # sidecars, Live Photo video, the pair's JPEG
            try:
                size, where = companion.stat().st_size, _send(companion)
            except OSError as exc:
                failed.append(
                    (companion, f"could not move it to the trash ({exc.strerror or exc})")
                )
                continue
            moved.append((companion, where))
            freed += size
            companions += 1
            entries.append({"path": str(companion), "trash": str(where) if where else None,
                            "row": None, "companion_of": text})  # fmt: skip
    rec = TrashRecord(secrets.token_hex(8), time.time(), tuple(moved), tuple(failed), freed,
                      companions)  # fmt: skip
    if moved:
        _append(library, {"action": "trash", "id": rec.id, "at": rec.at, "moved": entries,
                          "failed": [[str(p), r] for p, r in failed]})  # fmt: skip
        with library.store.atomic():
            library.store.delete_photos(gone_ids)
            library.store.bump_version()
    return rec


def undo_last(library) -> list[Path]:
    """Restore the files of the last move from the trash; returns the paths restored.

    A file is put back only when it is still in the trash and nothing took its old
    place; its library row comes back as it was, so nothing is embedded again.
    """
    last = _last_undoable(library)
    if last is None:
        return []
    restored, rows = [], []
    for entry in last["moved"]:
        original, trashed = Path(entry["path"]), entry.get("trash")
        if not trashed or not Path(trashed).exists() or original.exists():
            continue
        original.parent.mkdir(parents=True, exist_ok=True)
        os.rename(trashed, original)
        info = _info_file(Path(trashed))
        if info is not None:
            info.unlink(missing_ok=True)
        restored.append(original)
        if entry.get("row"):  # a companion has no row of its own
            rows.append(entry["row"])
    _append(library, {"action": "undo", "of": last["id"], "at": time.time(),
                      "restored": [str(p) for p in restored]})  # fmt: skip
    if rows:
        with library.store.atomic():
            for row in rows:
                library.store.upsert_photo(row)
            library.store.bump_version()
    return restored


def journal(library) -> list[dict]:
    """Every record of the journal, oldest first (a damaged line is skipped)."""
    try:
        lines = journal_path(library).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _last_undoable(library) -> dict | None:
    records = journal(library)
    undone = {r.get("of") for r in records if r.get("action") == "undo"}
    for record in reversed(records):
        if record.get("action") == "trash":
            return None if record["id"] in undone else record
    return None


def _append(library, record: dict) -> None:
    """One JSON line appended and flushed to disk: a crash leaves whole lines only."""
    path = journal_path(library)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record) + "\n").encode("ascii")  # non-UTF-8 names stay escaped
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _send(path: Path) -> Path | None:
    """Move one file to the trash; returns where it went when the trash says (freedesktop)."""
    if not path.is_file():
        raise FileNotFoundError(2, "the file is gone")
    started = time.time()
    send2trash(str(path))
    if sys.platform in ("win32", "darwin"):
        return None
    return _find_in_trash(path, started)


def _trash_dirs(path: Path) -> list[Path]:
    """Freedesktop trash folders that may hold ``path`` now: home trash, then the volume's."""
    try:
        from send2trash import plat_other

        home = Path(os.fsdecode(plat_other.HOMETRASH_B))
    except ImportError:  # pragma: no cover - not on a freedesktop system
        home = Path(os.environ.get("XDG_DATA_HOME", "~/.local/share")).expanduser() / "Trash"
    out = [home]
    mount = path.parent
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    out += [mount / ".Trash" / str(os.getuid()), mount / f".Trash-{os.getuid()}"]
    return out


def _find_in_trash(path: Path, since: float) -> Path | None:
    """The newest entry of the trash whose .trashinfo names ``path``."""
    best, best_time = None, since - 2
    stem, ext = os.path.splitext(path.name)
    for trash in _trash_dirs(path):
        info_dir = trash / "info"
        for n in range(10_000):
            name = path.name if n == 0 else f"{stem} {n}{ext}"
            info = info_dir / f"{name}.trashinfo"
            if not info.exists():
                break
            if _info_path(info, trash) == path and info.stat().st_mtime >= best_time:
                best, best_time = trash / "files" / name, info.stat().st_mtime
    return best


def _info_path(info: Path, trash: Path) -> Path | None:
    try:
        for line in info.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            if line.startswith("Path="):
                value = Path(os.fsdecode(unquote(line[5:], errors="surrogateescape")))
                if value.is_absolute():
                    return value
                # relative to the trash's top folder: the volume, or XDG_DATA_HOME
                top = trash.parent.parent if trash.parent.name == ".Trash" else trash.parent
                return top / value
    except OSError:
        return None
    return None


def _info_file(trashed: Path) -> Path | None:
    info = trashed.parent.parent / "info" / f"{trashed.name}.trashinfo"
    return info if info.exists() else None

"""Moving photos to the system trash, with a journal and an undo of the last move.

photosim never deletes: a user's explicit "move to trash" goes through Send2Trash
(the freedesktop trash on Linux, the Recycle Bin, the macOS Trash). Every move is
appended to a JSON-lines journal in the library's folder (what went where, when,
and the library rows, so an undo puts the photos back without re-embedding), and
the last move can be undone where the trash keeps the files in a known place (the
freedesktop trash: ``files/`` plus ``info/*.trashinfo``).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from send2trash import send2trash

from photosim.core.paths import is_under
from photosim.media import pairs
from photosim.storage.store import PHOTO_COLUMNS, Store

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


def journal_path(db_path: Path | str) -> Path:
    """The journal of moves, beside the library's database ``db_path``."""
    return Path(db_path).parent / JOURNAL_NAME


@dataclass(frozen=True)
class UndoResult:
    """What an undo brought back, and every journal entry it would not act on, with why."""

    restored: tuple[Path, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (the path as the journal has it, reason)


def move_to_trash(
    store: Store,
    roots: Sequence[Path],
    journal: Path,
    paths: Sequence[Path],
    references: Sequence[Path] = (),
) -> TrashRecord:
    """Send ``paths`` to the system trash, journal the move in ``journal``, and remove
    their rows from ``store``.

    Only photos of the library move: a path must be a row of ``store`` and lie inside
    one of its folders ``roots`` (checked again here, by name and through symlinks: a row
    saying ``/elsewhere/x.jpg`` or ``root/../x.jpg`` is refused), never under one of the
    ``references`` folders.
    Each takes its companions along (``pairs.companions_on_disk``: the JPEG of a RAW+JPEG
    pair, sidecars, a Live Photo's video), journalled beside it so an undo brings all back.
    A file that cannot move is reported in ``failed`` with the reason, the others still move.
    """
    refs = list(references)
    moved, failed, entries, freed, gone_ids, companions = [], [], [], 0, [], 0
    for raw in dict.fromkeys(Path(p).expanduser().absolute() for p in paths):
        text = str(raw)
        outside = _outside_roots(text, roots)
        if outside:
            failed.append((raw, outside))
            continue
        if is_under(text, refs):
            failed.append((raw, "in a reference folder: photosim never removes those"))
            continue
        record = store.photos.photo_record(text)
        if record is None:
            failed.append((raw, "not a photo of this library"))
            continue
        travelling = pairs.companions_on_disk(raw)  # listed while the photo is still there
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
            if _outside_roots(str(companion), roots):
                continue
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
        _append(journal, {"action": "trash", "id": rec.id, "at": rec.at, "moved": entries,
                          "failed": [[str(p), r] for p, r in failed]})  # fmt: skip
        with store.atomic():
            store.delete_photos(gone_ids)
            store.bump_version()
    return rec


def _outside_roots(path: str, roots: Sequence[Path]) -> str | None:
    """Why ``path`` is not a file photosim may act on inside the library's ``roots`` (None: it is).

    By name (absolute, no ``..``, under a root) and on disk: the folders on its way must
    not lead out of the roots through a symlink.
    """
    if not os.path.isabs(path) or os.path.normpath(path) != path:
        return "not a plain absolute path inside the library's folders"
    real_roots = [os.path.realpath(r) for r in roots]
    if not is_under(path, [os.fspath(r) for r in roots]) and not is_under(path, real_roots):
        return "outside the library's folders: photosim only moves its own photos"
    folder = _existing_ancestor(os.path.dirname(path))
    if folder is None:
        return "its folder is gone or is a file now"
    if not is_under(os.path.realpath(folder), real_roots):
        return "its folder leads outside the library's folders (a symlink)"
    return None


def _existing_ancestor(folder: str) -> str | None:
    """``folder`` or its nearest ancestor that exists (as a folder, or a symlink to one)."""
    while not os.path.lexists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    return folder if os.path.isdir(folder) else None


def undo_last(store: Store, roots: Sequence[Path], journal: Path) -> UndoResult:
    """Restore the files of the last move in ``journal`` from the trash, and their rows to
    ``store``; says what came back and what not.

    The journal is data, not instructions: a file is moved only from the place in the
    trash the move recorded (a file there whose ``.trashinfo`` names its old path) back to
    that path, which must lie inside the library's folders and not exist; a folder is
    created only inside them, and no symlink is followed. Every other entry, and every
    malformed line, is skipped and reported. A photo's row comes back as it was, so
    nothing is embedded again.
    """
    last, skipped = _last_undoable(journal)
    if last is None:
        return UndoResult(skipped=tuple(skipped))
    restored, rows = [], []
    for entry in last.get("moved") or []:
        problem = _check_entry(entry, roots)
        if problem:
            skipped.append(_skip(entry, problem))
            continue
        try:
            _restore(entry["trash"], entry["path"], roots)
        except OSError as exc:
            skipped.append(_skip(entry, f"could not be moved back ({exc.strerror or exc})"))
            continue
        restored.append(Path(entry["path"]))
        if entry.get("row") is not None:  # a companion has no row of its own
            rows.append(entry["row"])
    _append(journal, {"action": "undo", "of": last["id"], "at": time.time(),
                      "restored": [str(p) for p in restored],
                      "skipped": [list(s) for s in skipped]})  # fmt: skip
    if rows:
        with store.atomic():
            for row in rows:
                store.upsert_photo(row)
            store.bump_version()
    return UndoResult(tuple(restored), tuple(skipped))


def _skip(entry: object, reason: str) -> tuple[str, str]:
    path = entry.get("path") if isinstance(entry, dict) else None
    return (path if isinstance(path, str) else repr(entry)[:200], reason)


def _check_file(entry: object, roots: Sequence[Path]) -> str | None:
    """Why a journal's ``{"path", "trash"}`` may not be moved back (None: it may)."""
    if not isinstance(entry, dict):
        return "not a journal entry"
    path, trashed = entry.get("path"), entry.get("trash")
    if not isinstance(path, str) or not isinstance(trashed, str):
        return "the journal does not say where the file went"
    outside = _outside_roots(path, roots)
    if outside:
        return outside
    if os.path.lexists(path):
        return "something else is at its old place now"
    if not _is_trashed(Path(trashed), Path(path)):
        return "not in the trash where photosim put it (emptied, restored or edited)"
    return None


def _check_entry(entry: object, roots: Sequence[Path]) -> str | None:
    """Why a journal entry may not be undone: the file, then its library row (a companion
    file, ``companion_of`` a photo, has none)."""
    problem = _check_file(entry, roots)
    if problem or not isinstance(entry, dict):  # _check_file said so already; narrows entry
        return problem or "not a journal entry"
    row = entry.get("row")
    if row is None and isinstance(entry.get("companion_of"), str):
        return None
    if not isinstance(row, dict) or row.get("path") != entry["path"]:
        return "its library row is missing from the journal"
    unknown = set(row) - set(PHOTO_COLUMNS) - {"id"}
    if unknown:
        return f"its library row has unknown fields ({', '.join(sorted(map(str, unknown)))})"
    if not all(v is None or type(v) in (int, float, str) for v in row.values()):
        return "its library row holds values of the wrong kind"
    return None


def _is_trashed(trashed: Path, original: Path) -> bool:
    """Whether ``trashed`` is a regular file in a trash's ``files/`` whose ``.trashinfo`` names
    ``original``: the place photosim's move put it, not any path a journal line names."""
    if os.path.normpath(trashed) != os.fspath(trashed) or not trashed.is_absolute():
        return False
    try:
        if not stat.S_ISREG(os.lstat(trashed).st_mode):
            return False
    except OSError:
        return False
    top = trashed.parent.parent
    if trashed.parent.name != "files" or top not in _trash_dirs(original):
        return False
    info = top / "info" / f"{trashed.name}.trashinfo"
    return info.is_file() and not info.is_symlink() and _info_path(info, top) == original


def _restore(trashed: str, original: str, roots: Sequence[Path]) -> None:
    """Move one checked file back: folders made only inside the roots, nothing replaced."""
    parent = os.path.dirname(original)
    if not os.path.isdir(parent):
        os.makedirs(parent)  # checked by _outside_roots: the missing folders lie inside a root
    problem = _outside_roots(original, roots)  # again, now that the folders exist
    if problem:
        raise OSError(errno.EPERM, problem)
    try:  # a hard link fails if the name was taken meanwhile (rename would replace it)
        os.link(trashed, original, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(original):
            raise FileExistsError(errno.EEXIST, "something else is at its old place now") from None
        os.rename(trashed, original)
    else:
        os.unlink(trashed)
    info = _info_file(Path(trashed))
    if info is not None:
        info.unlink(missing_ok=True)


def journal(path: Path) -> list[dict]:
    """Every record of the journal at ``path``, oldest first (a damaged line is skipped)."""
    return _read_journal(path)[0]


def _read_journal(path: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """The journal's records, and the lines skipped as damaged (line number, reason)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return [], []
    out, bad = [], []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("action"), str):
            out.append(record)
        elif line.strip():
            bad.append((f"journal line {number}", "not a journal record; skipped"))
    return out, bad


def can_undo(journal: Path) -> bool:
    """Whether the last move in ``journal`` can be undone now (Undo is disabled otherwise)."""
    return _last_undoable(journal)[0] is not None


def _last_undoable(journal: Path) -> tuple[dict | None, list[tuple[str, str]]]:
    """The last move, unless undone already; and the journal lines skipped on the way."""
    records, skipped = _read_journal(journal)
    undone = {r.get("of") for r in records if r.get("action") == "undo"}
    for record in reversed(records):
        if record.get("action") != "trash":
            continue
        if not isinstance(record.get("id"), str) or not isinstance(record.get("moved"), list):
            skipped.append(("journal", "a move without its id or its files; skipped"))
            continue
        return (None if record["id"] in undone else record), skipped
    return None, skipped


def _append(path: Path, record: dict) -> None:
    """One JSON line appended to the journal at ``path`` and flushed to disk: a crash
    leaves whole lines only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record) + "\n").encode("ascii")  # non-UTF-8 names stay escaped
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new and os.name == "posix":  # the new file's name is durable only once its folder is
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


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

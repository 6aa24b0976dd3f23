"""Moving photos to the system trash, with a journal and an undo of the last move.

photosim never deletes: a user's explicit "move to trash" goes through Send2Trash
(the freedesktop trash on Linux, the Recycle Bin, the macOS Trash). Every move is
appended to a JSON-lines journal in the library's folder (what went where, when),
and the last move can be undone where the trash keeps the files (freedesktop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrashRecord:
    """One move to the trash: the files moved, where they went, and when."""

    id: str
    at: float
    moved: tuple[tuple[Path, Path | None], ...]  # (original path, path in the trash if known)
    failed: tuple[tuple[Path, str], ...] = ()  # (path, reason) of files that were not moved
    freed: int = 0


def move_to_trash(library, paths: Sequence[Path]) -> TrashRecord:
    """Send ``paths`` to the system trash, journal the move, and remove their rows."""
    raise NotImplementedError


def undo_last(library) -> list[Path]:
    """Restore the files of the last move from the trash; returns the paths restored."""
    raise NotImplementedError

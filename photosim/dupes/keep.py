"""Which photo of a duplicate group to keep, and why: an editable list of rules.

Each rule narrows the candidates and says why in words; the first rules that
decide give the group's ``keep_reason``. Edit :data:`KEEP_RULES` to change the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from photosim.core.paths import is_under
from photosim.dupes.types import DupGroup, DupKind, Mark, Node
from photosim.media import formats


@dataclass(frozen=True)
class Candidate:
    """One file of a group while its keeper is chosen."""

    node_index: int
    index: int  # which of the node's paths
    path: Path
    node: Node
    marked_keep: bool
    reference: bool

    @property
    def pixels(self) -> int:
        return (self.node.width or 0) * (self.node.height or 0)

    @property
    def when(self) -> float:
        taken = when_taken(self.node.taken[self.index])
        return taken if taken is not None else self.node.mtime[self.index]

    @property
    def format(self) -> str:
        return self.path.suffix.lower().lstrip(".") or "?"


KeepRule = Callable[[list[Candidate]], tuple[list[Candidate], str | None]]


def _best(
    cands: list[Candidate], value: Callable[[Candidate], float], tolerance: float
) -> list[Candidate]:
    values = [value(x) for x in cands]
    top = max(values)
    return [x for x, v in zip(cands, values, strict=True) if v >= top - abs(top) * tolerance]


def keep_reference(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    refs = [x for x in cands if x.reference]
    return (refs, "in a reference folder") if refs else (cands, None)


def keep_marked(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    marked = [x for x in cands if x.marked_keep]
    return (marked, "marked to keep") if marked else (cands, None)


def keep_raw(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    """A camera RAW over any rendering of it (the camera's JPEG, an export): the original a
    photographer keeps, even where a demosaic looks softer or a JPEG was upscaled."""
    raws = [x for x in cands if formats.is_raw(x.path)]
    return (raws, "camera RAW original") if raws else (cands, None)


def keep_more_pixels(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    best = _best(cands, lambda x: x.pixels, 0.02)
    x = best[0]
    return best, f"most pixels ({x.node.width}x{x.node.height})"


# sharpness values closer than this share are alike (measure noise, a re-encode)
SHARPER_BY = 0.10


def is_sharper(a: float, b: float) -> bool:
    """Whether sharpness ``a`` is clearly above ``b`` (the keep rule's tolerance)."""
    return a > b + abs(b) * SHARPER_BY


def keep_sharper(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    if any(x.node.sharpness is None for x in cands):
        return cands, None
    return _best(cands, lambda x: x.node.sharpness or 0.0, SHARPER_BY), "sharpest"


def keep_exposed(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    """Fewer blown-out or crushed pixels (a burst's best-exposed frame)."""
    exposures = [x.node.exposure for x in cands]
    known = [e for e in exposures if e is not None]
    if len(known) < len(cands):
        return cands, None
    lowest = min(known)
    best = [x for x, e in zip(cands, known, strict=True) if e <= lowest + 0.02]
    return best, "best exposed"


def keep_original(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    """Camera RAW, then HEIC/AVIF/JXL/TIFF, then JPEG, over PNG or other exports (the format
    table's ``original`` rank); camera EXIF; a much larger file."""
    best = _best(cands, lambda x: formats.original_rank(x.path), 0.0)
    if len(best) < len(cands):
        return best, f"original format ({best[0].format.upper()})"
    best = [x for x in cands if x.node.camera] or cands
    if len(best) < len(cands):
        return best, "has the camera's EXIF"
    # a re-encode at a higher quality is larger too: only a clearly smaller file is an export
    return _best(cands, lambda x: x.node.size, 0.33), "largest file (least re-compressed)"


def keep_older(cands: list[Candidate]) -> tuple[list[Candidate], str | None]:
    best = _best(cands, lambda x: -x.when, 0.0)
    return best, f"oldest ({datetime.fromtimestamp(best[0].when):%Y-%m-%d %H:%M})"


# In order; each narrows the candidates and says why. Edit this list to change the policy.
KEEP_RULES: list[KeepRule] = [
    keep_reference,
    keep_marked,
    keep_raw,
    keep_more_pixels,
    keep_sharper,
    keep_original,
    keep_older,
]


# The suggested best shot of a similar group (other photos, none a copy): the one you marked,
# then the sharpest, the best exposed, the largest.
BEST_SHOT_RULES: list[KeepRule] = [
    keep_reference,
    keep_marked,
    keep_sharper,
    keep_exposed,
    keep_more_pixels,
    keep_older,
]


def choose_keeper(cands: list[Candidate], rules: Sequence[KeepRule]) -> tuple[Candidate, str]:
    """The file to keep and why (the reasons of the rules that decided, in order)."""
    left, reasons = list(cands), []
    for rule in rules:
        if len(left) == 1:
            break
        narrowed, reason = rule(left)
        if reason and len(narrowed) < len(left):
            reasons.append(reason)
        left = narrowed or left
    left.sort(key=lambda x: (len(str(x.path)), str(x.path)))
    if len(left) > 1:
        reasons.append("first by name" if reasons else "all alike; first by name")
    return left[0], ", then ".join(reasons)


def differences(keeper: Candidate, x: Candidate) -> list[str]:
    out = []
    if x.pixels and keeper.pixels and x.pixels < keeper.pixels * 0.95:
        out.append(f"smaller ({x.node.width}x{x.node.height})")
    elif x.pixels > keeper.pixels * 1.05:
        out.append(f"larger ({x.node.width}x{x.node.height})")
    if x.format != keeper.format:
        out.append(f"{x.format.upper()} instead of {keeper.format.upper()}")
    elif x.node.size < keeper.node.size * 0.8:
        out.append("re-encoded (smaller file)")
    return out


@lru_cache(maxsize=65536)
def when_taken(taken: str | None) -> float | None:
    if not taken:
        return None
    try:
        return datetime.fromisoformat(taken).timestamp()
    except ValueError:
        return None


def time_gap(taken: list[str | None]) -> float | None:
    times = [t for t in (when_taken(x) for x in taken) if t is not None]
    return max(times) - min(times) if len(times) >= 2 else None


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


# -- marks: what "Move marked to trash" removes (the app's keep/remove badges) ----------
def suggested_marks(
    group: DupGroup, references: Sequence[Path] = (), kept: Collection[str] = ()
) -> dict[str, Mark]:
    """The suggestion for a group: copies of the keeper REMOVE, everything else KEEP.

    Similar shots are different photos: all KEEP. A photo the user marked to keep
    (``kept`` paths, or stored by content: ``marked_keep``) is always KEEP, and one in a
    reference folder REFERENCE.
    """
    out: dict[str, Mark] = {}
    for m in group.photos:
        path = str(m.path)
        if m.reference or (references and is_under(m.path, references)):
            out[path] = Mark.REFERENCE
        elif group.kind == DupKind.SIMILAR or m.path == group.keep or m.marked_keep or path in kept:
            out[path] = Mark.KEEP
        else:
            out[path] = Mark.REMOVE
    return out


def regroup_marks(
    group: DupGroup,
    previous: dict[str, Mark] | None,
    references: Sequence[Path] = (),
    kept: Collection[str] = (),
) -> dict[str, Mark]:
    """The marks of a group found again (a regroup, a new search after a trash or an undo).

    The user's KEEP (``kept`` paths, ``marked_keep`` contents) is never turned into REMOVE,
    whatever the new keeper is; a similar shot the user marked REMOVE stays so; the rest
    follows the suggestion (a new keeper, a reference folder, new members).
    """
    suggested = suggested_marks(group, references, kept)
    if not previous:
        return suggested
    out: dict[str, Mark] = {}
    for path, mark in suggested.items():
        before = previous.get(path)
        if before == Mark.REMOVE and group.kind == DupKind.SIMILAR:
            out[path] = Mark.REMOVE  # a similar shot the user marked: as they said
        else:
            out[path] = mark
    if all(m == Mark.REMOVE for m in out.values()):  # a group always keeps one photo
        out[str(group.keep)] = Mark.KEEP
    return out


class MarkRefused(StrEnum):
    """Why a photo's mark cannot be changed as asked."""

    REFERENCE = "reference"  # a photo in a reference folder is always kept
    LAST_KEPT = "last kept"  # a group keeps at least one photo


def change_mark(
    marks: Mapping[str, Mark], path: str, remove: bool
) -> tuple[dict[str, Mark], MarkRefused | None]:
    """The group's marks with ``path`` marked REMOVE (or KEEP), or the marks unchanged and
    why not: a reference photo stays REFERENCE, and a group never loses its last kept photo
    (dismissing the whole group is "not duplicates", not a removal)."""
    if marks.get(path) == Mark.REFERENCE:
        return dict(marks), MarkRefused.REFERENCE
    if remove and not any(m != Mark.REMOVE for p, m in marks.items() if p != path):
        return dict(marks), MarkRefused.LAST_KEPT
    return {**marks, path: Mark.REMOVE if remove else Mark.KEEP}, None


def marked_for_removal(group: DupGroup, marks: Mapping[str, Mark]) -> tuple[int, int]:
    """(photos marked REMOVE, bytes moving them to the trash frees): a hard link of another
    member frees nothing."""
    removed = [m for m in group.photos if marks.get(str(m.path)) == Mark.REMOVE]
    return len(removed), sum(m.size for m in removed if m.hardlink_of is None)

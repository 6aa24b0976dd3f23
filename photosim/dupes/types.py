"""The duplicates' shared types: kinds, thresholds, groups and their members, marks.

Every dupes module imports these from here, so no two dupes modules import each other
both ways (finder, candidates, cache and calibrate all need them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

# which proposal found a candidate pair (bit mask); CLOSURE: checked because both are
# confirmed copies of a third photo
LANE_CNN, LANE_PIXELS, LANE_CLOSURE = 1, 2, 4
# verdicts of the geometric check, per candidate edge (uint8)
UNCHECKED, SAME, DIFFERENT, WEAK = 0, 1, 2, 3


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
    marked_keep: bool = False  # the user marked this photo's content to keep


class Mark(StrEnum):
    """A photo's mark in a group: what "Move marked to trash" does with it."""

    KEEP = "keep"
    REMOVE = "remove"
    REFERENCE = "reference"  # in a reference folder: always kept


@dataclass(frozen=True)
class Dismissed:
    """Photos the user said are not duplicates (a group or a pair), by content."""

    hashes: tuple[str, ...]
    paths: tuple[Path, ...]  # the library's files with those contents now


@dataclass(frozen=True)
class DupGroup:
    """Photos that are copies of one another (or similar shots), keeper first."""

    id: str  # stable, from the members' content hashes (for decisions)
    kind: DupKind
    keep: Path
    keep_reason: str
    photos: tuple[DupMember, ...]  # keeper first
    reclaimable: int  # bytes freed by the suggested marks (copies; hard links and similar: 0)
    gap_s: float | None = None  # similar: largest EXIF time gap between the shots


@dataclass(frozen=True)
class DupResult:
    """All groups, the largest reclaimable space first."""

    groups: tuple[DupGroup, ...]
    reclaimable: int
    thresholds: Thresholds


@dataclass
class Node:
    """One content (hash) of the library and the files that hold it."""

    hash: str
    paths: list[str]
    size: int
    width: int | None
    height: int | None
    taken: list[str | None]
    mtime: list[float]
    camera: bool = False  # camera EXIF (make): originals have it, exports often lose it
    inode: list[tuple[int, int] | None] = field(default_factory=list)
    sharpness: float | None = None
    exposure: float | None = None  # share of clipped (black or white) pixels: lower is better


@dataclass
class Candidates:
    """Nodes and checked edges: everything :class:`DuplicateFinder` regroups from."""

    nodes: list[Node]
    a: np.ndarray  # int32 node index, a < b
    b: np.ndarray
    cos: np.ndarray  # float32 CNN cosine (nan: not known)
    pix: np.ndarray  # float32 pixel agreement (nan: not checked)
    turns: np.ndarray  # int8 quarter turns that bring b onto a
    lanes: np.ndarray  # uint8 bit mask of the proposals that found the pair
    floors: Thresholds  # the lowest thresholds these edges support
    reduced: np.ndarray | None = None  # (nodes, 128) unit vectors: approximate cosines
    verdict: np.ndarray | None = None  # uint8 UNCHECKED / SAME / DIFFERENT / WEAK per edge
    residual: np.ndarray | None = None  # float32 worst tile's difference (grey levels), or nan
    stats: dict | None = None  # how the search went (bench/duplicates.py): counts and seconds

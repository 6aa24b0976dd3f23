"""Duplicate photos: exact copies, the same picture altered (near), and similar shots.

The CNN only *proposes* pairs; for ``near`` the geometric check must *confirm* that
two files are the same picture (see :mod:`photosim.dupes.verify`), and every member
of a group is confirmed directly against the group's keeper (no chains). The slow part (kNN
candidates and pixel checks) runs once in :meth:`Library.duplicate_finder`;
:meth:`DuplicateFinder.group` then regroups in well under a second for any
thresholds, so the app's slider can move live. Qt-free and torch-free.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from photosim.core.cancel import CancelFlag
from photosim.core.errors import printable
from photosim.core.paths import is_under
from photosim.core.text import plural
from photosim.dupes.graph import components, split_components
from photosim.dupes.keep import (
    BEST_SHOT_RULES,
    KEEP_RULES,
    Candidate,
    KeepRule,
    choose_keeper,
    differences,
    duration,
    time_gap,
    when_taken,
)
from photosim.dupes.types import (
    LANE_CLOSURE,
    LANE_PIXELS,
    SAME,
    Candidates,
    Dismissed,
    DupGroup,
    DupKind,
    DupMember,
    DupProgress,
    DupResult,
    Thresholds,
)

if TYPE_CHECKING:
    from photosim.storage.store import Store

MAX_SIMILAR = 24  # a similar group larger than this is split at a higher threshold
SHOTS_APART_S = 600  # files stamped taken this close, but not at once, are two shots


class DuplicateFinder:
    """Candidates and pixel checks computed once; :meth:`group` regroups fast (<= 1 s at 100k).

    ``defaults`` are the calibrated thresholds; ``floors`` the lowest ones this
    finder can regroup at (pairs below were never checked): the app's slider range.
    """

    def __init__(
        self,
        candidates: Candidates,
        defaults: Thresholds,
        references: Sequence[Path] = (),
        not_pairs: set[tuple[str, str]] | None = None,
        keep: dict[str, str] | None = None,
        rules: Sequence[KeepRule] | None = None,
    ) -> None:
        self.c = candidates
        self.defaults = defaults
        self.floors = candidates.floors
        self.references = tuple(str(Path(r)).rstrip("/\\") for r in references)
        self.rules = list(KEEP_RULES if rules is None else rules)
        self._forgotten = np.zeros(len(candidates.a), bool)  # edges of files gone since
        self.decisions: Callable[[DuplicateFinder], None] | None = None  # reloads the marks
        self._multi = [i for i, n in enumerate(candidates.nodes) if len(n.paths) > 1]
        self._decisions_seen: object = None
        self.set_decisions(not_pairs or set(), keep or {})
        # each pair's CNN cosine by (lower node, higher node); the first edge of a pair wins
        known = np.flatnonzero(~np.isnan(candidates.cos))[::-1]
        lo = np.minimum(candidates.a[known], candidates.b[known]).tolist()
        hi = np.maximum(candidates.a[known], candidates.b[known]).tolist()
        self._cos = dict(zip(zip(lo, hi, strict=True), candidates.cos[known].tolist(), strict=True))
        self._same = _same(candidates)
        self._same_edge = {
            (int(candidates.a[e]), int(candidates.b[e])): int(e) for e in np.flatnonzero(self._same)
        }

    def set_decisions(self, not_pairs: set[tuple[str, str]], keep: dict[str, str]) -> None:
        """The user's marks: pairs of hashes that are not duplicates; hash -> path to keep."""
        candidates = self.c
        self.keep = dict(keep)
        self._cache: dict = {}  # groups and keepers depend on the marks: computed again
        self._reps: dict[int, tuple[int, int]] = {}  # a photo's keeper among its own files
        nodes = candidates.nodes
        self._allowed = np.ones(len(candidates.a), bool)
        involved = {h for pair in not_pairs for h in pair}
        marked = np.array([n.hash in involved for n in nodes], bool)
        if len(nodes) and marked.any():
            for e in np.flatnonzero(marked[candidates.a] & marked[candidates.b]):
                ha, hb = nodes[candidates.a[e]].hash, nodes[candidates.b[e]].hash
                self._allowed[e] = (min(ha, hb), max(ha, hb)) not in not_pairs
        self._dismissed_exact = {a for a, b in not_pairs if a == b}

    def forget(self, paths: Sequence[Path | str]) -> None:
        """Leave out files that are gone (moved to the trash): regrouping needs no rebuild."""
        gone = {str(p) for p in paths}
        empty = np.zeros(len(self.c.nodes), bool)
        for i, node in enumerate(self.c.nodes):
            keep = [j for j, p in enumerate(node.paths) if p not in gone]
            if len(keep) == len(node.paths):
                continue
            for name in ("paths", "taken", "mtime", "inode"):
                values = getattr(node, name)
                if values:
                    setattr(node, name, [values[j] for j in keep])
            empty[i] = not keep
        if len(self.c.a):
            self._forgotten |= empty[self.c.a] | empty[self.c.b]
        self._multi = [i for i, n in enumerate(self.c.nodes) if len(n.paths) > 1]
        self._cache, self._reps = {}, {}

    # -- grouping ---------------------------------------------------------------
    def group(
        self,
        kinds: Sequence[str] = ("exact", "near", "similar"),
        near: float | None = None,
        similar: float | None = None,
    ) -> DupResult:
        """Groups of the given kinds at these cosine thresholds (None: the calibrated ones)."""
        with _gc_paused():
            return self._group(kinds, near, similar)

    def _group(self, kinds: Sequence[str], near: float | None, similar: float | None) -> DupResult:
        t = Thresholds(
            near=self.defaults.near if near is None else float(near),
            similar=self.defaults.similar if similar is None else float(similar),
        )
        if self.decisions is not None:
            self.decisions(self)
        wanted = {DupKind(k) for k in kinds}
        c, n = self.c, len(self.c.nodes)
        allowed = self._allowed & ~self._forgotten
        # pixel-proposed pairs, and copies turned in their pixels, whose CNN cosine means
        # nothing (the CNN is not rotation-invariant), are near when the check confirmed them
        lanes = ((c.lanes & (LANE_PIXELS | LANE_CLOSURE)) > 0) | (c.turns != 0)
        is_near = allowed & self._same & (lanes | (c.cos >= t.near))
        units = self._star_groups(n, is_near)
        root = np.arange(n)
        for keeper, members in units.items():
            root[members] = keeper
        groups: list[DupGroup] = []
        if DupKind.NEAR in wanted:
            groups += [self._near_group(members) for members in units.values()]
        if DupKind.EXACT in wanted:
            in_near = DupKind.NEAR in wanted
            for i in self._multi:
                absorbed = in_near and root[i] in units  # shown inside its near group
                if c.nodes[i].hash not in self._dismissed_exact and not absorbed:
                    groups.append(self._exact_group(i))
        if DupKind.SIMILAR in wanted:
            groups += self._similar_groups(t, allowed, root, units)
        groups.sort(key=lambda g: (-g.reclaimable, _KIND_ORDER[g.kind], g.id))
        return DupResult(tuple(groups), sum(g.reclaimable for g in groups), t)

    def _star_groups(self, n: int, is_near: np.ndarray) -> dict[int, list[int]]:
        """Near groups as stars: each member confirmed directly against the group's keeper.

        Confirmed copies form components; in each, the keeper rules pick a keeper, the
        photos confirmed against it join it, and the rest start over among themselves.
        A photo that matches only another member is never pulled in by that link.
        """
        c = self.c
        a, b = c.a[is_near], c.b[is_near]
        root = components(n, a, b)
        linked = set(zip(a.tolist(), b.tolist(), strict=True))
        comps: dict[int, list[int]] = {}
        for node in np.unique(np.concatenate([a, b])):
            comps.setdefault(int(root[node]), []).append(int(node))
        units: dict[int, list[int]] = {}
        for left in comps.values():
            while len(left) > 1:
                keeper, _ = self._unit_keeper(left)
                members = [keeper] + [
                    x for x in left if x != keeper and (min(x, keeper), max(x, keeper)) in linked
                ]
                if len(members) > 1:
                    units[keeper] = members
                left = [x for x in left if x not in members]
        return units

    def _similar_groups(
        self,
        t: Thresholds,
        candidates: np.ndarray,
        root: np.ndarray,
        units: dict[int, list[int]],
    ) -> list[DupGroup]:
        c = self.c
        pick = candidates & (c.cos >= t.similar)
        a, b, cos = root[c.a[pick]], root[c.b[pick]], c.cos[pick]
        keep = a != b
        a, b, cos = a[keep], b[keep], cos[keep]
        out = []
        for members in split_components(a, b, cos, t.similar, MAX_SIMILAR):
            reps = [
                self._rep(m) if m not in units else self._unit_keeper(units[m]) for m in members
            ]
            out.append(self._make(DupKind.SIMILAR, reps))
        return out

    def _rep(self, node: int) -> tuple[int, int]:
        """The keeper among one photo's own (byte-identical) files. Kept by node besides
        _unit_keeper's cache: a regroup asks for every photo of every similar group, and the
        tuple keys of that cache cost ~50 ms of a 0.15-0.4 s regroup at 100k photos."""
        found = self._reps.get(node)
        if found is None:
            one = len(self.c.nodes[node].paths) == 1
            found = self._reps[node] = (node, 0) if one else self._unit_keeper([node])
        return found

    def _unit_keeper(self, nodes: Sequence[int]) -> tuple[int, int]:
        key = ("keeper", tuple(nodes))
        found = self._cache.get(key)
        if found is None:
            cands = [self._cand(i, j) for i in nodes for j in range(len(self.c.nodes[i].paths))]
            best, _ = choose_keeper(cands, self.rules)
            found = self._cache[key] = (best.node_index, best.index)
        return found

    def _exact_group(self, i: int) -> DupGroup:
        return self._make(DupKind.EXACT, [(i, j) for j in range(len(self.c.nodes[i].paths))])

    def _near_group(self, nodes: list[int]) -> DupGroup:
        pairs = [(i, j) for i in nodes for j in range(len(self.c.nodes[i].paths))]
        return self._make(DupKind.NEAR, pairs)

    # -- one group -----------------------------------------------------------------
    def _cand(self, i: int, j: int) -> Candidate:
        found = self._cache.get((i, j))
        if found is None:
            found = self._cache[(i, j)] = self._new_cand(i, j)
        return found

    def _new_cand(self, i: int, j: int) -> Candidate:
        node = self.c.nodes[i]
        text = node.paths[j]
        path = Path(text)
        ref = is_under(text, self.references)
        marked = node.hash in self.keep
        if marked and len(node.paths) > 1 and self.keep[node.hash] in node.paths:
            marked = self.keep[node.hash] == text  # the marked one of byte-identical copies
        return Candidate(i, j, path, node, marked, ref)

    def _make(self, kind: DupKind, members: list[tuple[int, int]]) -> DupGroup:
        """The group of these members; the same members give the same (cached) object."""
        key = (kind, tuple(members))
        group = self._cache.get(key)
        if group is None:
            group = self._cache[key] = self._build_group(kind, members)
        return group

    def _build_group(self, kind: DupKind, members: list[tuple[int, int]]) -> DupGroup:
        cands = [self._cand(i, j) for i, j in members]
        rules = BEST_SHOT_RULES if kind == DupKind.SIMILAR else self.rules
        keeper, keep_reason = choose_keeper(cands, rules)
        ordered = [keeper] + [x for x in cands if x is not keeper]
        photos: list[DupMember] = []
        seen_inodes: dict[tuple[int, int], Path] = {}
        freed = 0
        for x in ordered:
            inode = x.node.inode[x.index] if x.node.inode else None
            link = seen_inodes.get(inode) if inode else None
            if inode and link is None:
                seen_inodes[inode] = x.path
            if x is keeper:
                photos.append(_member(x, 1.0, keep_reason, link))
                continue
            if kind != DupKind.SIMILAR and not x.reference and link is None:
                freed += x.node.size  # similar shots are never marked: they free nothing
            # a member against its keeper reads the same in every group (a regroup makes
            # thousands of new groups from the same pairs)
            key = (kind, keeper.node_index, keeper.index, x.node_index, x.index, link)
            member = self._cache.get(key)
            if member is None:
                member = self._cache[key] = _member(x, *self._evidence(kind, keeper, x, link), link)
            photos.append(member)
        hashes = sorted({x.node.hash for x in cands})
        gid = hashlib.sha1(f"{kind}:{','.join(hashes)}".encode()).hexdigest()[:16]
        gap = time_gap([x.node.taken[x.index] for x in cands]) if kind == DupKind.SIMILAR else None
        return DupGroup(gid, kind, keeper.path, keep_reason, tuple(photos), freed, gap)

    def _evidence(
        self, kind: DupKind, keeper: Candidate, x: Candidate, link: Path | None
    ) -> tuple[float, str]:
        """(score, reason) of member ``x`` against the group's keeper."""
        if x.node is keeper.node:
            if link is not None:
                return 1.0, f"same file as {link.name} (hard link): trashing it frees nothing"
            return 1.0, "identical bytes"
        cos = self._cosine(keeper.node_index, x.node_index)
        if kind == DupKind.SIMILAR:
            words = f"similar shot (CNN {cos:.2f})" if cos is not None else "similar shot"
            gap = time_gap([keeper.node.taken[keeper.index], x.node.taken[x.index]])
            return (cos or 0.0), words + (f", taken {duration(gap)} apart" if gap else "")
        a, b = sorted((keeper.node_index, x.node_index))
        edge = self._same_edge[(a, b)]
        turns = int(self.c.turns[edge])
        if keeper.node_index > x.node_index:  # turns bring b onto a: here a is the copy
            turns = (4 - turns) % 4
        parts = ["same picture"]
        if turns:
            parts.append(f"turned {90 * turns} degrees in its pixels")
        parts += differences(keeper, x)
        worst = self.c.residual[edge] if self.c.residual is not None else np.nan
        if not np.isnan(worst):
            parts.append(f"aligned, every part agrees (worst {worst:.1f}/255)")
        if cos is not None:
            parts.append(f"CNN {cos:.2f}")
        pix = float(self.c.pix[edge])
        return (pix if not np.isnan(pix) else 1.0), ", ".join(parts)

    def _cosine(self, a: int, b: int) -> float | None:
        """The CNN cosine of two nodes: exact from their edge, else from the reduced vectors."""
        found = self._cos.get((a, b) if a < b else (b, a))
        if found is not None:
            return found
        r = self.c.reduced
        if r is None or np.isnan(r[a, 0]) or np.isnan(r[b, 0]):
            return None
        return float(max(0.0, min(1.0, float(r[a] @ r[b]))))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic collector paused while groups are built: a regroup at 100k photos makes
    thousands of small objects (no cycles among them), and the full collections they set off
    walked every node and edge the finder holds (0.25 s of a 1.0 s regroup)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _same(c: Candidates) -> np.ndarray:
    """Edges the geometric check confirmed as the same picture, less those between two shots."""
    if c.verdict is None:
        return np.zeros(len(c.a), bool)
    return (c.verdict == SAME) & ~_other_shots(c)


def _other_shots(c: Candidates) -> np.ndarray:
    """Edges between files stamped taken at different moments seconds or minutes apart: two
    frames of a burst or a retake, never one capture, however alike their pixels (a still
    scene shot twice from where the camera stood, the moved subject where nothing shows it).

    Farther apart, one stamp may be an editor's (a file without its shot's date is dated by
    its last change), so that says nothing; an unknown or equal stamp says nothing either.
    """
    times = np.full(len(c.nodes), np.nan)
    for i, node in enumerate(c.nodes):
        known = {t for t in (when_taken(x) for x in node.taken) if t is not None}
        if len(known) == 1:  # byte-identical files: one stamp (two: not this node's to say)
            times[i] = known.pop()
    gap = np.abs(times[c.a] - times[c.b])
    with np.errstate(invalid="ignore"):
        return (gap > 0) & (gap <= SHOTS_APART_S)


def _member(x: Candidate, score: float, reason: str, link: Path | None) -> DupMember:
    n = x.node
    return DupMember(path=x.path, score=round(float(score), 4), reason=reason, size=n.size,
                     width=n.width, height=n.height, taken=n.taken[x.index], hash=n.hash,
                     sharpness=n.sharpness, hardlink_of=link, reference=x.reference,
                     marked_keep=x.marked_keep)  # fmt: skip


def dismissed_groups(not_pairs: set[tuple[str, str]], rows: Sequence[tuple]) -> list[Dismissed]:
    """Dismissed groups from the "not duplicates" pairs (connected contents) and the
    library's ``photo_rows`` (path first, hash second): the files they hold now."""
    hashes = sorted({h for pair in not_pairs for h in pair})
    if not hashes:
        return []
    index = {h: i for i, h in enumerate(hashes)}
    a = np.array([index[x] for x, _ in not_pairs], np.int64)
    b = np.array([index[y] for _, y in not_pairs], np.int64)
    root = components(len(hashes), a, b)
    paths: dict[str, list[Path]] = {}
    for row in rows:
        if row[1] in index:
            paths.setdefault(row[1], []).append(Path(row[0]))
    groups: dict[int, list[str]] = {}
    for h in hashes:
        groups.setdefault(int(root[index[h]]), []).append(h)
    out = [
        Dismissed(tuple(hs), tuple(sorted(p for h in hs for p in paths.get(h, ()))))
        for hs in groups.values()
    ]
    return [d for d in out if d.paths]


_KIND_ORDER = {DupKind.EXACT: 0, DupKind.NEAR: 1, DupKind.SIMILAR: 2}


def build_finder(
    store: Store,
    model_key: str | None,
    thresholds: Thresholds,
    references: Sequence[Path] = (),
    cache_file: Path | None = None,
    cancel: CancelFlag = None,
    progress: Callable[[DupProgress], None] | None = None,
) -> DuplicateFinder:
    """Compute candidates and pixel checks of ``store``'s photos (see Library.duplicate_finder);
    the finder reloads the user's decisions from ``store`` whenever they changed."""
    from photosim.dupes import candidates as dupcandidates

    candidates = dupcandidates.build(store, model_key, thresholds, cache_file, cancel, progress)
    finder = DuplicateFinder(candidates, thresholds, references)
    seen: dict[str, str | None] = {}

    def reload(f: DuplicateFinder) -> None:
        version = store.get_meta("dup_decisions", "0")
        if seen.get("v") != version:
            seen["v"] = version
            f.set_decisions(store.dupes.not_duplicate_pairs(), store.dupes.keep_hashes())

    finder.decisions = reload
    return finder


# -- output (CLI) ---------------------------------------------------------------
def _plain(value: object) -> object:
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


def write_csv(result: DupResult, out: TextIO) -> None:
    """One row per photo, the keeper first in each group."""
    import csv

    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for g in result.groups:
        for m in g.photos:
            row = {**vars(m), "group": g.id, "kind": g.kind, "keep": g.keep,
                   "reclaimable": g.reclaimable}  # fmt: skip
            writer.writerow(["" if row[f] is None else _plain(row[f]) for f in CSV_FIELDS])


def human_size(n: float) -> str:
    """Bytes in decimal units, as file managers show them: 3.9 MB (the CLI and the app)."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def write_text(result: DupResult, out: TextIO) -> None:
    """Groups for people: kind, what to keep and why, what the rest would free."""
    if not result.groups:
        print("No duplicates found.", file=out)
        return
    for g in result.groups:
        gap = f", shots {g.gap_s:.0f} s apart" if g.gap_s is not None else ""
        print(
            f"{g.kind} ({len(g.photos)} photos, frees {human_size(g.reclaimable)}{gap})", file=out
        )
        similar = g.kind == DupKind.SIMILAR
        for i, m in enumerate(g.photos):
            if i == 0:
                mark = "best" if similar else "keep"
                print(f"  {mark}  {printable(m.path)}  (kept: {g.keep_reason})", file=out)
            else:
                mark = "    " if similar else "copy"
                print(f"  {mark}  {printable(m.path)}  ({m.reason})", file=out)
    t = result.thresholds
    print(
        f"{plural(len(result.groups), 'group')}; removing the marked copies frees "
        f"{human_size(result.reclaimable)} (similar shots are never marked) "
        f"(thresholds: near {t.near:.3f}, similar {t.similar:.3f}). Nothing was deleted.",
        file=out,
    )

"""The slow half of duplicate finding: candidate pairs, and the pixel check of each.

Never all pairs: the lanes of :mod:`photosim.dupes.proposals` propose them (the CNN's
neighbours, and two pixel lanes for the copies the CNN scores low: greyscale, small,
turned in their pixels). Every pair that could be ``near`` at any threshold the finder
supports is then checked on pixels: first the cheap fingerprint agreement of every such
pair (:mod:`photosim.dupes.agreement`), then the geometric check
(:mod:`photosim.dupes.verify`, run by :mod:`photosim.dupes.batch`) of only those whose
fingerprints agree over some crop the check accepts: a pair that agrees nowhere (another
take, another view) never costs a check. Only that check can say "the same picture".
Copies of one photo are checked pairwise (each against each), so a group never rests on
a chain of links. The result is a table of edges that :class:`DuplicateFinder` filters in
milliseconds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from photosim.core.cancel import CancelFlag, check_cancel, is_cancelled
from photosim.core.errors import DecodeError
from photosim.dupes.agreement import Wholes, check_pairs, wide_agreement
from photosim.dupes.batch import Checker
from photosim.dupes.graph import components
from photosim.dupes.progress import Progress, teller
from photosim.dupes.proposals import cnn_pairs, rotation_pairs, turned_pairs
from photosim.dupes.types import (
    LANE_CLOSURE,
    LANE_CNN,
    LANE_PIXELS,
    SAME,
    Candidates,
    DupProgress,
    DupStep,
    Node,
    Thresholds,
)
from photosim.media import pixels

if TYPE_CHECKING:
    from photosim.storage.store import Store

NEAR_SPAN = 0.12  # the near slider reaches this far below the calibrated threshold
SIMILAR_SPAN = 0.12  # and the similar slider this far
VERIFY_GATE = 0.4  # fingerprint agreement that sends a pair to the geometric check (copies >= 0.8)
PIXELS_ONLY_GATE = 0.6  # and a pair the CNN did not propose (the pixel lanes' 92% are other shots)
CLOSURE_MAX = 24  # copies of one photo up to this many are checked each against each


def load_nodes(store: Store) -> list[Node]:
    """Readable photos grouped by content; hard links found by inode where content repeats."""
    by_hash: dict[str, Node] = {}
    for path, h, size, width, height, taken, mtime_ns, make in store.photos.photo_rows():
        node = by_hash.get(h)
        if node is None:
            node = by_hash[h] = Node(h, [], size or 0, width, height, [], [], camera=bool(make))
        node.paths.append(path)
        node.taken.append(taken)
        node.mtime.append((mtime_ns or 0) / 1e9)
    for node in by_hash.values():
        node.inode = [_inode(p) if len(node.paths) > 1 else None for p in node.paths]
    return list(by_hash.values())


def _inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def ensure_fingerprints(
    store: Store,
    nodes: list[Node],
    cancel: CancelFlag = None,
    workers: int = 2,
    progress: Progress = None,
) -> dict[str, bytes]:
    """Fingerprints of every node: stored ones, the rest decoded now and stored."""
    have = {h: d for h, d in store.dupes.fingerprints().items() if pixels.is_current(d)}
    missing = [n for n in nodes if n.hash not in have]
    tell = teller(progress, DupStep.FINGERPRINTS, len(nodes))
    tell(len(nodes) - len(missing))

    def compute(node: Node) -> tuple[str, bytes] | None:
        from photosim.media import decode  # PIL only when a photo must be decoded

        if is_cancelled(cancel):
            return None
        for path in node.paths:
            try:
                return node.hash, pixels.fingerprint(
                    decode.load_image(path, max_side=pixels.FINGERPRINT_SIDE)
                )
            except DecodeError:
                continue
        return None

    with ThreadPoolExecutor(workers, thread_name_prefix="photosim-fingerprint") as pool:
        for start in range(0, len(missing), 256):
            done = [r for r in pool.map(compute, missing[start : start + 256]) if r]
            with store.atomic():
                store.dupes.put_fingerprints(done)
            have.update(done)
            tell(len(nodes) - len(missing) + min(start + 256, len(missing)))
            check_cancel(cancel)
    check_cancel(cancel)  # a stop asked for while fingerprinting (or before) ends here
    return have


def build(
    store: Store,
    model_key: str | None,
    thresholds: Thresholds,
    cache_file: Path | None = None,
    cancel: CancelFlag = None,
    progress: Progress = None,
) -> Candidates:
    """All candidate pairs of ``store``'s photos with their CNN cosine (vectors of
    ``model_key``) and pixel check; kept between runs in ``cache_file``
    (:mod:`photosim.dupes.cache`) while nothing changed.

    BLAS runs on one thread here: the products are small or medium, and measured
    on a busy 2-core machine, threads made the pixel checks 20 times slower.
    """
    from photosim.dupes import cache as dupcache

    cached = dupcache.load(cache_file, dupcache.state_key(store, model_key, thresholds))
    if cached is not None:
        return cached
    with threadpool_limits(1, user_api="blas"):
        verdicts = dupcache.verdicts_path(cache_file)
        candidates = _build(store, model_key, thresholds, cancel, progress, verdicts)
    # the state after the build: it stored the fingerprints it had to make
    dupcache.save(cache_file, dupcache.state_key(store, model_key, thresholds), candidates)
    return candidates


def _build(
    store: Store,
    model_key: str | None,
    thresholds: Thresholds,
    cancel: CancelFlag,
    progress: Progress,
    verdicts_file: Path | None = None,
) -> Candidates:
    from photosim.dupes import cache as dupcache
    from photosim.dupes import verify  # OpenCV: only when duplicates are searched

    nodes = load_nodes(store)
    raw = ensure_fingerprints(store, nodes, cancel, progress=progress)
    fps: list[pixels.Fingerprint | None] = []
    for node in nodes:
        data = raw.get(node.hash)
        fp = _decode(data)
        fps.append(fp)
        node.sharpness = fp.sharpness if fp else None
        node.exposure = pixels.clipped_share(fp.thumb) if fp else None
    floors = Thresholds(
        near=max(0.0, thresholds.near - NEAR_SPAN),
        similar=max(0.0, min(thresholds.similar, thresholds.near) - SIMILAR_SPAN),
    )
    # the turned-frames lane (numpy and Annoy, which let go of the GIL for most of it) runs
    # beside the CNN's and the rotation descriptor's proposals
    with ThreadPoolExecutor(1, thread_name_prefix="photosim-turned") as aside:
        turned = aside.submit(turned_pairs, fps, cancel)
        reduced, cnn = cnn_pairs(store, model_key, nodes, floors.similar, cancel, progress)
        rot = rotation_pairs(fps, cancel, progress) + turned.result()
    pairs, cos, lanes = _merge_lanes(cnn, rot, len(nodes))
    if reduced is not None and len(pairs):  # pixel-lane pairs: an approximate CNN cosine
        todo = np.flatnonzero(np.isnan(cos))
        cos[todo] = np.einsum("ij,ij->i", reduced[pairs[todo, 0]], reduced[pairs[todo, 1]])
    need = ((lanes & LANE_PIXELS) > 0) | (cos >= floors.near)
    # the CNN is not rotation-invariant: its cosine says nothing against a copy turned in its
    # pixels. A pair whose whole frames agree best turned is checked, whatever the CNN says
    wholes = Wholes(fps)
    rest = np.flatnonzero(~need)
    _, agree, quarter = wholes.agreement(pairs[rest])
    need[rest[(quarter != 0) & (agree >= VERIFY_GATE)]] = True
    pix = np.full(len(pairs), np.nan, np.float32)
    turns = np.zeros(len(pairs), np.int8)
    order = np.flatnonzero(need)
    order = order[np.argsort(pairs[order, 0], kind="stable")]  # reuse each prepared photo
    pix[order], turns[order] = check_pairs(pairs[order], fps, cancel, progress, wholes)
    # crops beyond the fingerprint's narrow search (10% on both sides) still score high on the
    # CNN: such a pair is checked when its fingerprints agree over every crop the check accepts
    gate = pix >= np.where((lanes & LANE_CNN) > 0, VERIFY_GATE, PIXELS_ONLY_GATE)
    wide = np.flatnonzero(~gate & (cos >= thresholds.near) & ~np.isnan(pix))
    gate[wide] = wide_agreement(pairs[wide], fps, cancel, wholes) >= VERIFY_GATE
    todo = np.flatnonzero(gate)
    views = [fp.view if fp is not None and fp.view else None for fp in fps]
    verdict = np.zeros(len(pairs), np.uint8)
    residual = np.full(len(pairs), np.nan, np.float32)
    hashes = [n.hash for n in nodes]
    memo = dupcache.load_verdicts(verdicts_file, verify.SIGNATURE)
    on_pairs = None
    if progress is not None:  # the checker counts pairs as its chunks end (~1 s each)
        on_pairs = lambda done, total: progress(DupProgress(DupStep.VERIFY, done, total))  # noqa: E731

    def kept(photos: list[int]) -> dict[int, bytes]:
        """The features the scan kept of a chunk's photos (those scanned before it kept
        them have none: the check computes theirs)."""
        found = store.dupes.check_features(hashes[i] for i in photos)
        return {i: found[hashes[i]] for i in photos if hashes[i] in found}

    with Checker(views, cancel, kept, hashes=hashes, memo=memo, on_pairs=on_pairs) as checker:
        verdict[todo], residual[todo], turns[todo] = checker.pairs(pairs[todo])
        pairs, cos, pix, turns, lanes, verdict, residual = _closure(
            checker, pairs, cos, pix, turns, lanes, verdict, residual, reduced
        )
    if checker.stats["checks"]:  # something new was checked: kept for the next search
        dupcache.save_verdicts(verdicts_file, verify.SIGNATURE, memo, set(hashes))
    stats = {**checker.stats, "wide_gate": len(wide), "wide_passed": int(np.isin(wide, todo).sum())}
    return Candidates(nodes, pairs[:, 0].copy(), pairs[:, 1].copy(), cos, pix, turns, lanes,
                      floors, reduced, verdict, residual, stats)  # fmt: skip


def _merge_lanes(
    cnn: list[tuple[int, int, float]], rot: list[tuple[int, int, float]], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair once (lower node first), in the order first proposed: (pairs, CNN cosine
    (nan when only the pixels proposed it), lanes that proposed it)."""
    a = np.array([x[0] for x in cnn] + [x[0] for x in rot], np.int64)
    b = np.array([x[1] for x in cnn] + [x[1] for x in rot], np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys, first, inverse = np.unique(lo * n + hi, return_index=True, return_inverse=True)
    rank = np.empty(len(keys), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(keys))  # first proposed, first
    at = rank[inverse]
    pairs = np.empty((len(keys), 2), np.int32)
    pairs[at, 0], pairs[at, 1] = lo, hi
    cos = np.full(len(keys), np.nan, np.float32)
    cos[at[: len(cnn)]] = np.array([x[2] for x in cnn], np.float32)  # a pair's cosine either way
    lanes = np.zeros(len(keys), np.uint8)
    np.bitwise_or.at(lanes, at, np.repeat(np.array([LANE_CNN, LANE_PIXELS], np.uint8),
                                          [len(cnn), len(rot)]))  # fmt: skip
    return pairs, cos, lanes


def _closure(
    checker: Checker,
    pairs: np.ndarray,
    cos: np.ndarray,
    pix: np.ndarray,
    turns: np.ndarray,
    lanes: np.ndarray,
    verdict: np.ndarray,
    residual: np.ndarray,
    reduced: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check every pair of each set of confirmed copies that was not proposed itself, so
    the finder can verify each member against whichever keeper it chooses."""
    same = verdict == SAME
    if not same.any():
        return pairs, cos, pix, turns, lanes, verdict, residual
    n = int(pairs.max()) + 1
    root = components(n, pairs[same, 0], pairs[same, 1])
    known = {(int(a), int(b)) for a, b in pairs}
    members: dict[int, list[int]] = {}
    for node in np.unique(pairs[same]):
        members.setdefault(int(root[node]), []).append(int(node))
    extra = [
        (a, b)
        for group in members.values()
        if 2 < len(group) <= CLOSURE_MAX
        for i, a in enumerate(sorted(group))
        for b in sorted(group)[i + 1 :]
        if (a, b) not in known
    ]
    if not extra:
        return pairs, cos, pix, turns, lanes, verdict, residual
    more = np.array(extra, np.int32)
    v, r, t = checker.pairs(more)
    c = np.full(len(more), np.nan, np.float32)
    if reduced is not None:
        c = np.einsum("ij,ij->i", reduced[more[:, 0]], reduced[more[:, 1]]).astype(np.float32)
    return (
        np.concatenate([pairs, more]),
        np.concatenate([cos, c]),
        np.concatenate([pix, np.full(len(more), np.nan, np.float32)]),
        np.concatenate([turns, t]),
        np.concatenate([lanes, np.full(len(more), LANE_CLOSURE, np.uint8)]),
        np.concatenate([verdict, v]),
        np.concatenate([residual, r]),
    )


def _decode(data: bytes | None) -> pixels.Fingerprint | None:
    if not data:
        return None
    try:
        return pixels.decode(data)
    except ValueError:  # an older fingerprint version: treated as missing
        return None

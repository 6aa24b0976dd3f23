"""The slow half of duplicate finding: candidate pairs, and the pixel check of each.

Never all pairs. Candidates come from two proposals:
  - the CNN: each photo's nearest neighbours in the library's Annoy index;
  - the pixels: each photo's nearest neighbours by a rotation-invariant descriptor
    of its fingerprint (:func:`photosim.media.pixels.rotation_descriptor`), in a small
    in-memory Annoy index. CNN features are not rotation-invariant, so a copy
    turned 90 degrees in its pixels is found here.
Every pair that could be ``near`` at any threshold the finder supports is then
checked on pixels: first the cheap fingerprint agreement of every such pair, then
the geometric check (:mod:`photosim.dupes.verify`, run by :mod:`photosim.dupes.batch`)
of only those whose fingerprints agree at all over some crop the check accepts: a pair
that agrees nowhere (another take, another view) never costs a check. Only that check
can say "the same picture". Copies of one photo are checked pairwise (each against
each), so a group never rests on a chain of links. The result is a table of edges that
:class:`DuplicateFinder` filters in milliseconds.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from photosim.core.cancel import CancelFlag, check_cancel, is_cancelled
from photosim.core.errors import DecodeError
from photosim.dupes.batch import Checker, workers
from photosim.dupes.graph import components
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
from photosim.search.knn import angular_index, cosines_from_angular, top_axes

if TYPE_CHECKING:
    from annoy import AnnoyIndex

    from photosim.storage.store import Store

NEIGHBOURS = 8  # CNN neighbours asked per photo
REDUCED_DIMS = 128  # CNN vectors are searched in this many PCA dimensions
CNN_TREES = 10
ROTATION_NEIGHBOURS = 6  # descriptor neighbours asked per photo
ROTATION_MIN = 0.95  # descriptor cosine that proposes a pair for the pixel check
NEAR_SPAN = 0.12  # the near slider reaches this far below the calibrated threshold
SIMILAR_SPAN = 0.12  # and the similar slider this far
CROP_RUN = 256  # pairs a thread of the crop search takes at least
WHOLE_ACCEPT = 0.8  # whole frames agreeing this well need no crop search
VERIFY_GATE = 0.4  # fingerprint agreement that sends a pair to the geometric check (copies >= 0.8)
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


TELL_EVERY_S = 0.1
# hears how far the search is (the app's count); None: nobody listens
Progress = Callable[[DupProgress], None] | None


def _teller(progress: Progress, step: DupStep, total: int) -> Callable[[int], None]:
    """``tell(done)``: report ``done`` of ``total`` items of ``step`` to ``progress``, at the
    step's start and end and at most every ``TELL_EVERY_S`` between (a GUI hears a count, not
    a flood)."""
    if progress is None:
        return lambda _done: None
    last = [-TELL_EVERY_S]

    def tell(done: int) -> None:
        now = time.monotonic()
        if done <= 0 or done >= total or now - last[0] >= TELL_EVERY_S:
            last[0] = now
            progress(DupProgress(step, done, total))

    return tell


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
    tell = _teller(progress, DupStep.FINGERPRINTS, len(nodes))
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


def reduce(matrix: np.ndarray, dims: int = REDUCED_DIMS, sample: int = 10_000) -> np.ndarray:
    """Unit vectors projected on the ``dims`` main axes of the library's vectors (PCA).

    CNN features are far from isotropic: 128 axes keep the neighbourhoods that
    matter here, and make each distance 16 times cheaper than at 2048.
    """
    if matrix.shape[1] <= dims:
        return matrix
    if len(matrix) <= dims:  # n vectors span n axes at most: the projection keeps every cosine,
        # so the unit vectors themselves are the same answer without the d x d products (~80 ms)
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    reduced = matrix @ top_axes(matrix[:: max(1, len(matrix) // sample)], dims)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)


def cnn_pairs(
    store: Store,
    key: str | None,
    nodes: list[Node],
    floor: float,
    cancel: CancelFlag = None,
    progress: Progress = None,
) -> tuple[np.ndarray | None, list[tuple[int, int, float]]]:
    """(reduced vectors per node or None, [(a, b, exact cosine)] of CNN neighbours >= floor).

    Neighbours are looked up in a temporary Annoy index over PCA-reduced vectors
    (the library's own index holds full 2048-d vectors: ~1 ms a query, too slow
    for 100k queries); each candidate's cosine is then computed on the full vectors.
    """
    if not key:
        return None, []
    node_of = {n.hash: i for i, n in enumerate(nodes)}
    have: list[int] = []
    parts = []
    for hashes, matrix in store.vectors.vector_batches(key, only_present=False):
        rows = [j for j, h in enumerate(hashes) if h in node_of]
        have += [node_of[hashes[j]] for j in rows]
        parts.append(matrix if len(rows) == len(hashes) else matrix[rows])
    if len(have) < 2:
        return None, []
    full = np.concatenate(parts)
    del parts
    reduced = reduce(full)
    check_cancel(cancel)
    index = angular_index(reduced, CNN_TREES)
    k = min(NEIGHBOURS + 1, len(have))
    tell = _teller(progress, DupStep.NEIGHBOURS, len(have))
    found, _ = _query(index, len(have), k, k * CNN_TREES * 2, cancel, tell)
    index.unload()
    ij = _neighbour_pairs(found)
    if not len(ij):
        return None, []
    # exact cosines, in chunks, for the pairs whose reduced cosine is anywhere close
    approx = np.einsum("ij,ij->i", reduced[ij[:, 0]], reduced[ij[:, 1]])
    ij = ij[approx >= floor - 0.05]
    cos = np.concatenate(
        [
            np.einsum("ij,ij->i", full[c[:, 0]], full[c[:, 1]])
            for c in np.array_split(ij, 1 + len(ij) // 20_000)
        ]
    )
    node = np.array(have, np.int64)
    keep = cos >= floor
    per_node = np.full((len(nodes), reduced.shape[1]), np.nan, np.float32)
    per_node[node] = reduced
    near = zip(
        node[ij[keep, 0]].tolist(), node[ij[keep, 1]].tolist(), cos[keep].tolist(), strict=True
    )
    return per_node, list(near)


def rotation_pairs(
    fps: list[pixels.Fingerprint | None], cancel: CancelFlag = None, progress: Progress = None
) -> list[tuple[int, int, float]]:
    """(a, b, descriptor cosine) of photos whose rotation-invariant descriptors are close."""
    present = [i for i, f in enumerate(fps) if f is not None]
    if len(present) < 2:
        return []
    thumbs = np.stack([f.thumb for f in fps if f is not None])  # in the order of ``present``
    desc = pixels.rotation_descriptor(thumbs)
    index = angular_index(desc, 8)
    k = min(ROTATION_NEIGHBOURS + 1, len(present))
    tell = _teller(progress, DupStep.ROTATIONS, len(present))
    found, dists = _query(index, len(present), k, -1, cancel, tell)
    index.unload()
    ij = _neighbour_pairs(found, dists)
    if not len(ij):
        return []
    cos = cosines_from_angular(ij[:, 2])
    keep = cos >= ROTATION_MIN
    at = np.array(present, np.int64)
    return list(zip(at[ij[keep, 0].astype(np.int64)].tolist(),
                    at[ij[keep, 1].astype(np.int64)].tolist(), cos[keep].tolist(), strict=True))  # fmt: skip


def _query(
    index: AnnoyIndex,
    n: int,
    k: int,
    search_k: int,
    cancel: CancelFlag,
    tell: Callable[[int], None],
) -> tuple[list[list[int]], list[list[float]]]:
    """Each item's ``k`` nearest (itself among them) and their distances, on every core: Annoy
    lets go of the GIL while it searches. A stop is heard between blocks of 512 items."""

    def block(start: int) -> tuple[list[list[int]], list[list[float]]]:
        if is_cancelled(cancel):
            return [], []
        got = [
            index.get_nns_by_item(j, k, search_k, True) for j in range(start, min(start + 512, n))
        ]
        return [g[0] for g in got], [g[1] for g in got]

    found: list[list[int]] = []
    dists: list[list[float]] = []
    with ThreadPoolExecutor(workers(), thread_name_prefix="photosim-neighbours") as pool:
        for start, (items, d) in zip(
            range(0, n, 512), pool.map(block, range(0, n, 512)), strict=True
        ):
            tell(start)
            found += items
            dists += d
    check_cancel(cancel)
    return found, dists


def _neighbour_pairs(found: list[list[int]], dists: list[list[float]] | None = None) -> np.ndarray:
    """(j, other[, distance]) rows of every item's neighbours but itself, in query order."""
    j = np.repeat(np.arange(len(found)), [len(x) for x in found])
    other = np.fromiter(itertools.chain.from_iterable(found), np.int64, len(j))
    keep = other != j
    if dists is None:
        return np.stack([j[keep], other[keep]], axis=1)
    d = np.fromiter(itertools.chain.from_iterable(dists), np.float64, len(j))
    return np.stack([j[keep], other[keep], d[keep]], axis=1)


class Wholes:
    """Every fingerprinted photo's whole-frame detail turned 0/90/180/270 degrees
    (:func:`pixels.whole_details`), made once for all the pixel stages of a search."""

    def __init__(self, fps: list[pixels.Fingerprint | None]) -> None:
        self.has = np.array([fp is not None for fp in fps], bool)
        self.row = np.cumsum(self.has) - 1  # a photo's row in ``details``
        thumbs = [fp.thumb for fp in fps if fp is not None]
        self.details = pixels.whole_details(np.stack(thumbs)) if thumbs else np.zeros((0, 4, 1))

    def agreement(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pairs where both have a fingerprint, best whole-frame agreement, quarter turns)."""
        score = np.full(len(pairs), np.nan, np.float32)
        turns = np.zeros(len(pairs), np.int8)
        ok = self.has[pairs[:, 0]] & self.has[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
        ia, ib = self.row[pairs[:, 0]], self.row[pairs[:, 1]]
        for part in np.array_split(np.flatnonzero(ok), 1 + int(ok.sum()) // 16_384):
            # in parts: gathered at once, the two sides' rows took 2.5 GB each at 100k photos
            score[part], turns[part] = pixels.match_whole(self.details[ia[part]],
                                                          self.details[ib[part]])  # fmt: skip
        return ok, score, turns


def check_pairs(
    pairs: np.ndarray,
    fps: list[pixels.Fingerprint | None],
    cancel: CancelFlag = None,
    progress: Progress = None,
    wholes: Wholes | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel agreement and quarter turns for each (a, b) pair (nan where a side has none).

    Two stages: the whole frames over four rotations, all pairs at once (re-encoded,
    resized, recoloured and turned copies pass here); then, for the pairs that did
    not pass, the search over crops.
    """
    wholes = wholes or Wholes(fps)
    ok, score, turns = wholes.agreement(pairs)
    if not ok.any():
        return score, turns
    whole, ia, ib = wholes.details, wholes.row[pairs[:, 0]], wholes.row[pairs[:, 1]]
    crops = np.flatnonzero(ok & (score < WHOLE_ACCEPT))
    tell = _teller(progress, DupStep.PIXELS, len(pairs))
    tell(len(pairs) - len(crops))  # the whole-frame stage checked the others at once
    done = [0.0]

    def step(count: float) -> None:
        done[0] += count

    with_crops = _crop_search(pairs[crops], fps, whole, ia[crops], ib[crops], pixels._MARGINS,
                              cancel, step, lambda: tell(len(pairs) - len(crops) + int(done[0])))  # fmt: skip
    found, k = with_crops
    better = found > score[crops]
    score[crops[better]], turns[crops[better]] = found[better], k[better]
    tell(len(pairs))
    return score, turns


def _crop_search(
    pairs: np.ndarray,
    fps: list[pixels.Fingerprint | None],
    whole: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    margins: tuple[tuple[float, float], ...],
    cancel: CancelFlag,
    step: Callable[[float], None],
    tell: Callable[[], None],
) -> tuple[np.ndarray, np.ndarray]:
    """(best agreement, quarter turns) of each pair over the crops (``margins``) of either photo
    against the other's whole frame turned (``whole[ia]``, ``whole[ib]``: whole_details rows).

    Photo by photo: each photo's crops are prepared once and matched in one product against
    the whole frames (turned 4 ways) of every photo it is paired with: as the first of a
    pair, against b turned k; as the second, against a turned back. (In the pairs' order a
    photo was prepared again for nearly every pair: 96k times for 61k photos at 100k.) On
    every core, in threads: numpy's products and ufuncs let go of the GIL. ``step(n)`` hears
    the pairs done (a pair counts half for each of its photos), ``tell()`` is called every
    TELL_EVERY_S in this thread.
    """
    photo = np.concatenate([pairs[:, 0], pairs[:, 1]])
    other = np.concatenate([ib, ia])
    side = np.repeat(np.array([0, 1], np.int8), len(pairs))
    entry = np.tile(np.arange(len(pairs)), 2)
    by_photo = np.argsort(photo, kind="stable")
    bounds = np.flatnonzero(np.diff(photo[by_photo])) + 1
    best = np.full((2, len(pairs), 4), -np.inf, np.float32)  # [side, pair, k]
    work: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
    for part in np.array_split(by_photo, bounds) if len(pairs) else ():
        work.put(part)
    threads = max(1, min(workers(), len(pairs) // CROP_RUN))
    back = np.array([0, 3, 2, 1])  # b turned k against a: a turned back by k
    lock = threading.Lock()

    def search() -> None:
        while True:
            try:
                part = work.get_nowait()
            except queue.Empty:
                return
            if is_cancelled(cancel):
                return
            fp = fps[int(photo[part[0]])]
            assert fp is not None  # only pairs with both fingerprints get here
            p = pixels.prepare(fp, margins)
            turned = whole[other[part]]  # (m, 4, CMP*CMP)
            second = side[part] == 1
            turned[second] = turned[second][:, back]
            agree = (p.crops @ turned.reshape(-1, turned.shape[-1]).T) * p.scale[:, None]
            best[side[part], entry[part]] = agree.max(axis=0).reshape(-1, 4)
            with lock:
                step(len(part) / 2)

    with ThreadPoolExecutor(threads, thread_name_prefix="photosim-crops") as pool:
        futures = [pool.submit(search) for _ in range(threads)]
        while not wait(futures, timeout=TELL_EVERY_S).done.issuperset(futures):
            tell()
        for future in futures:
            future.result()
    check_cancel(cancel)
    agree = best.max(axis=0)  # (pair, k): the better of the two directions
    return agree.max(axis=1), agree.argmax(axis=1)


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
    reduced, cnn = cnn_pairs(store, model_key, nodes, floors.similar, cancel, progress)
    rot = rotation_pairs(fps, cancel, progress)
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
    gate = pix >= VERIFY_GATE
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
    # the features the scan kept: a check computes only those of photos scanned before it kept them
    found = store.dupes.check_features(hashes[i] for i in np.unique(pairs[todo]).tolist())
    kept = [found.get(h) for h in hashes]
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


def wide_agreement(
    pairs: np.ndarray,
    fps: list[pixels.Fingerprint | None],
    cancel: CancelFlag = None,
    wholes: Wholes | None = None,
) -> np.ndarray:
    """Each pair's best fingerprint agreement over every crop the geometric check accepts
    (up to 12% off each side on its own, either photo the cropped one) and quarter turns."""
    score = np.full(len(pairs), np.nan, np.float32)
    has = np.array([fp is not None for fp in fps], bool)
    ok = np.flatnonzero(has[pairs[:, 0]] & has[pairs[:, 1]]) if len(pairs) else np.zeros(0, int)
    if not len(ok):
        return score
    wholes = wholes or Wholes(fps)
    row = wholes.row
    found, _ = _crop_search(pairs[ok], fps, wholes.details, row[pairs[ok, 0]], row[pairs[ok, 1]],
                            pixels.WIDE_MARGINS, cancel, lambda _n: None, lambda: None)  # fmt: skip
    score[ok] = found
    return score


def _decode(data: bytes | None) -> pixels.Fingerprint | None:
    if not data:
        return None
    try:
        return pixels.decode(data)
    except ValueError:  # an older fingerprint version: treated as missing
        return None

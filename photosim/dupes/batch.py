"""The geometric check of many candidate pairs: each photo's features once, on every core.

A check needs both photos' ORB features (kept by the scan; else ~1.5 ms a photo from its
256-px view), then ~1 ms a pair that does not align (~7 ms one that passes: residual and
fine alignment). Pairs are cut into chunks of connected photos (the copies of one picture,
a burst): a chunk unpacks or computes each of its photos' features once (a process keeps
the last ones it computed) and checks all its pairs. Chunks run in a pool of worker
processes (spawned, so safe beside Qt and threads; each on one OpenCV thread) when there
are enough photos to pay for starting them, in this process otherwise. A verdict does not
depend on where its pair was checked: ORB, the fits and ECC are deterministic.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.cancel import CancelFlag, check_cancel, is_cancelled
from photosim.dupes.graph import components
from photosim.dupes.types import DIFFERENT, SAME, UNCHECKED, WEAK

if TYPE_CHECKING:
    from photosim.dupes.verify import Features

CHUNK_PHOTOS = 48  # photos per chunk (~1 s of work): a stop is honoured within a chunk
POOL_MIN_PHOTOS = 150  # fewer photos to check: checked here, starting processes costs more
MAX_WORKERS = 8
FEATURES_KEPT = 2048  # photos' features a process keeps (~60 KB each) by their view's bytes

# features by view (content, so never another photo's): a photo in two chunks (a large
# connected set cut, or the closure's pairs after the proposed ones) is computed once
# when the same process gets both
_FEATURES: dict[bytes, Features] = {}

log = logging.getLogger(__name__)

Result = tuple[np.ndarray, np.ndarray, np.ndarray]  # verdict, residual, quarter turns


def chunks(pairs: np.ndarray, limit: int = CHUNK_PHOTOS) -> list[np.ndarray]:
    """Indices into ``pairs`` in chunks of connected photos, about ``limit`` photos a chunk.

    A connected set that fits stays in one chunk; a larger one is cut in the order of its
    pairs (sorted by photo), so its photos' features are computed in few chunks.
    """
    if len(pairs) == 0:
        return []
    nodes, inverse = np.unique(pairs, return_inverse=True)
    local = inverse.reshape(-1, 2)
    root = components(len(nodes), local[:, 0], local[:, 1])[local[:, 0]]
    order = np.lexsort((local[:, 1], local[:, 0], root))
    cuts = np.flatnonzero(np.diff(root[order])) + 1
    out: list[np.ndarray] = []
    current: list[np.ndarray] = []
    photos = 0
    for part in np.split(order, cuts):
        size = len(np.unique(local[part]))
        if size > limit:  # a large connected set: cut greedily in pair order
            seen: set[int] = set()
            start = 0
            for k, idx in enumerate(part):
                new = {int(local[idx, 0]), int(local[idx, 1])} - seen
                if seen and len(seen) + len(new) > limit:
                    out.append(part[start:k])
                    seen, start = set(), k
                    new = {int(local[idx, 0]), int(local[idx, 1])}
                seen |= new
            out.append(part[start:])
            continue
        if current and photos + size > limit:
            out.append(np.concatenate(current))
            current, photos = [], 0
        current.append(part)
        photos += size
    if current:
        out.append(np.concatenate(current))
    return out


def check_chunk(
    views: dict[int, bytes | None], pairs: np.ndarray, kept: dict[int, bytes] | None = None
) -> tuple[Result, dict]:
    """Check ``pairs`` of photos (their views by node): each photo's features once, taken
    from ``kept`` (packed by the scan, :func:`verify.pack`) where they are there.

    Returns the verdicts and how the time went: features computed, CPU seconds on each.
    """
    from photosim.dupes import verify  # OpenCV only when checking

    codes = {verify.Verdict.SAME: SAME, verify.Verdict.DIFFERENT: DIFFERENT,
             verify.Verdict.WEAK: WEAK}  # fmt: skip
    verdict = np.full(len(pairs), UNCHECKED, np.uint8)
    residual = np.full(len(pairs), np.nan, np.float32)
    turns = np.zeros(len(pairs), np.int8)
    found: dict[int, verify.Features | None] = {}
    t_features = t_checks = 0.0
    computed = 0
    for n, (a, b) in enumerate(pairs.tolist()):
        for i in (a, b):
            if i not in found:
                view = views.get(i)
                packed = kept.get(i) if kept else None
                feats = verify.unpack(packed, view) if packed and view else None
                if feats is None and view:
                    feats = _FEATURES.get(view)
                    if feats is None:
                        t = time.thread_time()
                        feats = verify.view_features(view)
                        t_features += time.thread_time() - t
                        computed += 1
                        if len(_FEATURES) >= FEATURES_KEPT:
                            _FEATURES.pop(next(iter(_FEATURES)))
                        _FEATURES[view] = feats
                found[i] = feats
        fa, fb = found[a], found[b]
        if fa is None or fb is None:
            continue
        t = time.thread_time()
        result = verify.check(fa, fb)
        t_checks += time.thread_time() - t
        verdict[n], turns[n] = codes[result.verdict], result.turns
        residual[n] = result.residual if np.isfinite(result.residual) else np.nan
    stats = {"features": computed, "checks": len(pairs),
             "features_s": t_features, "checks_s": t_checks}  # fmt: skip
    return (verdict, residual, turns), stats


def _init_worker() -> None:
    """A worker leaves signals to its parent (which stops the pool) and uses one core."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cv2

    cv2.setNumThreads(1)


def _warm() -> None:
    """Nothing but the imports a check needs (OpenCV): done while the first chunks are cut."""
    from photosim.dupes import verify  # noqa: F401


def workers() -> int:
    """The cores this process may use (at most MAX_WORKERS)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class Checker:
    """Checks pairs of nodes given each node's view (``None``: none, never checked).

    ``kept`` gives the features the scan packed of a list of nodes (those it has: a check
    computes the others); it is asked a chunk at a time, as at 100k the features of every
    photo checked would hold ~600 MB at once. Use as a context manager: the worker
    processes, if any were started, end with it.
    ``stats`` adds up the work: photos whose features were computed, pairs checked, and
    the CPU seconds each took (summed over the workers), and the verdicts ``kept`` from
    ``memo`` (earlier searches: a library that grew re-checks only its new pairs).
    """

    def __init__(
        self,
        views: Sequence[bytes | None],
        cancel: CancelFlag = None,
        kept: Callable[[list[int]], dict[int, bytes]] | None = None,
        processes: int | None = None,
        hashes: Sequence[str] | None = None,
        memo: dict | None = None,
        on_pairs: Callable[[int, int], None] | None = None,
    ) -> None:
        self.views, self.cancel = views, cancel
        self.kept = kept  # nodes -> their features as the scan packed them (None: computed)
        self.on_pairs = on_pairs  # (pairs done, pairs asked) at each call's start and chunk's end
        self._done = self._total = 0
        self.hashes = hashes  # with ``memo``: verdicts by (hash a, hash b), reused and added to
        self.memo = memo if memo is not None else {}
        self.processes = workers() if processes is None else processes
        self._pool: ProcessPoolExecutor | None = None
        self.stats = {"features": 0, "checks": 0, "features_s": 0.0, "checks_s": 0.0, "kept": 0}

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        _FEATURES.clear()  # what this process kept (checked here, without a pool) goes with it
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def pairs(self, pairs: np.ndarray) -> Result:
        """(verdict, residual, quarter turns bringing b onto a) of each (a, b) pair."""
        verdict = np.full(len(pairs), UNCHECKED, np.uint8)
        residual = np.full(len(pairs), np.nan, np.float32)
        turns = np.zeros(len(pairs), np.int8)
        if len(pairs) == 0:
            return verdict, residual, turns
        self._done, self._total = 0, len(pairs)
        keys = None
        if self.hashes is not None:  # checked before (by content): taken as it was
            keys = [(self.hashes[a], self.hashes[b]) for a, b in pairs.tolist()]
            known = np.array([k in self.memo for k in keys], bool)
            for n in np.flatnonzero(known):
                verdict[n], residual[n], turns[n] = self.memo[keys[n]]
            self.stats["kept"] += int(known.sum())
            self._done = int(known.sum())
            self._tell()
            todo = np.flatnonzero(~known)
            if len(todo) < len(pairs):
                v, r, t = self.pairs_unknown(pairs[todo])
                verdict[todo], residual[todo], turns[todo] = v, r, t
                self._remember([keys[n] for n in todo], v, r, t)
                return verdict, residual, turns
        else:
            self._tell()
        v, r, t = self.pairs_unknown(pairs)
        if keys is not None:
            self._remember(keys, v, r, t)
        return v, r, t

    def _remember(
        self, keys: list, verdict: np.ndarray, residual: np.ndarray, turns: np.ndarray
    ) -> None:
        for k, v, r, t in zip(
            keys, verdict.tolist(), residual.tolist(), turns.tolist(), strict=True
        ):
            if v != UNCHECKED:
                self.memo[k] = (v, r, t)

    def pairs_unknown(self, pairs: np.ndarray) -> Result:
        """Check each pair (the work itself: chunks, here or in the pool)."""
        verdict = np.full(len(pairs), UNCHECKED, np.uint8)
        residual = np.full(len(pairs), np.nan, np.float32)
        turns = np.zeros(len(pairs), np.int8)
        if len(pairs) == 0:
            return verdict, residual, turns
        pool = self._start(len(np.unique(pairs)))  # its processes start while pairs are cut
        parts = chunks(pairs)
        pending: dict[Future, np.ndarray] = {}
        left = list(parts)
        try:
            while left:
                part = left.pop(0)
                check_cancel(self.cancel)
                sub = pairs[part]
                photos = np.unique(sub).tolist()
                views = {i: self.views[i] for i in photos}
                kept = self.kept(photos) if self.kept else None  # a chunk's: read when sent
                if pool is None:
                    self._take(part, check_chunk(views, sub, kept), verdict, residual, turns)
                    continue
                try:
                    while len(pending) >= 2 * self.processes:  # a few queued: a stop is quick
                        self._collect(pending, verdict, residual, turns)
                    pending[pool.submit(check_chunk, views, sub, kept)] = part
                    if not left:
                        while pending:
                            self._collect(pending, verdict, residual, turns)
                except BrokenProcessPool as exc:  # workers could not start or died: go on here
                    log.warning("duplicate checks continue in one process (%s)", exc)
                    left = [*pending.values(), part, *left]
                    pending, pool = {}, None
                    self.processes = 1
                    self.close()
        except BaseException:
            for future in pending:
                future.cancel()
            self.close()
            raise
        return verdict, residual, turns

    def _start(self, photos: int) -> ProcessPoolExecutor | None:
        if self.processes < 2 or photos < POOL_MIN_PHOTOS:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes, multiprocessing.get_context("spawn"), initializer=_init_worker
            )
            for _ in range(self.processes):  # a pool starts its processes as work comes
                self._pool.submit(_warm)
        return self._pool

    def _collect(
        self,
        pending: dict[Future[tuple[Result, dict]], np.ndarray],
        verdict: np.ndarray,
        residual: np.ndarray,
        turns: np.ndarray,
    ) -> None:
        done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
        if not done and is_cancelled(self.cancel):
            check_cancel(self.cancel)
        for future in done:
            self._take(pending.pop(future), future.result(), verdict, residual, turns)

    def _take(
        self,
        part: np.ndarray,
        answer: tuple[Result, dict],
        verdict: np.ndarray,
        residual: np.ndarray,
        turns: np.ndarray,
    ) -> None:
        (v, r, t), stats = answer
        verdict[part], residual[part], turns[part] = v, r, t
        for key, value in stats.items():
            self.stats[key] += value
        self._done += len(part)
        self._tell()

    def _tell(self) -> None:
        if self.on_pairs is not None:
            self.on_pairs(min(self._done, self._total), self._total)

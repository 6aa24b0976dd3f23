"""How well two photos' fingerprints agree: the cheap pixel stage before the geometric check.

The whole frames over four turns for every pair at once (re-encoded, resized, recoloured
and turned copies agree here); then, for the pairs that did not, the search over crops of
either photo (:data:`pixels._MARGINS`, up to 12% per axis; :func:`wide_agreement`: every
crop the check accepts), photo by photo on every core. A pair that agrees nowhere (another
take, another view) never costs a geometric check.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from photosim.core.cancel import CancelFlag, check_cancel, is_cancelled
from photosim.dupes.batch import workers
from photosim.dupes.progress import TELL_EVERY_S, Progress, teller
from photosim.dupes.types import DupStep
from photosim.media import pixels

CROP_RUN = 256  # pairs a thread of the crop search takes at least
WHOLE_ACCEPT = 0.8  # whole frames agreeing this well need no crop search


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
    tell = teller(progress, DupStep.PIXELS, len(pairs))
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
            crops, scale = pixels.crop_details(fp.thumb, margins)  # not the rest of prepare()
            turned = whole[other[part]]  # (m, 4, CMP*CMP)
            second = side[part] == 1
            turned[second] = turned[second][:, back]
            agree = (crops @ turned.reshape(-1, turned.shape[-1]).T) * scale[:, None]
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


def wide_agreement(
    pairs: np.ndarray,
    fps: list[pixels.Fingerprint | None],
    cancel: CancelFlag = None,
    wholes: Wholes | None = None,
) -> np.ndarray:
    """Each pair's best fingerprint agreement over every crop the geometric check accepts
    (up to 12% off each side on its own, either photo the cropped one) and quarter turns."""
    score = np.full(len(pairs), np.nan, np.float32)
    if not len(pairs):
        return score
    wholes = wholes or Wholes(fps)
    row = wholes.row
    ok = np.flatnonzero(wholes.has[pairs[:, 0]] & wholes.has[pairs[:, 1]])
    if not len(ok):
        return score
    found, _ = _crop_search(pairs[ok], fps, wholes.details, row[pairs[ok, 0]], row[pairs[ok, 1]],
                            pixels.WIDE_MARGINS, cancel, lambda _n: None, lambda: None)  # fmt: skip
    score[ok] = found
    return score

"""Which pairs of photos are worth comparing: never all pairs, three lanes of neighbours.

  - the CNN: each photo's nearest neighbours by its vector (PCA-reduced, in a temporary
    Annoy index);
  - the rotation descriptor: each photo's nearest neighbours by a rotation-invariant
    descriptor of its fingerprint (:func:`photosim.media.pixels.rotation_descriptor`):
    copies the CNN scores low (greyscale, a quarter of the size, turned);
  - the turned frames: each photo's coarse frame among every photo's frame in all four
    turns: copies turned in their pixels and cropped, which the descriptor misses.
CNN features are not rotation-invariant, so a copy turned 90 degrees is found by the
pixel lanes. What a proposal is worth is decided later, on pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.cancel import CancelFlag, check_cancel, is_cancelled
from photosim.dupes.batch import workers
from photosim.dupes.progress import Progress, teller
from photosim.dupes.types import DupStep, Node
from photosim.media import pixels
from photosim.search.knn import angular_index, cosines_from_angular, top_axes

if TYPE_CHECKING:
    from photosim.storage.store import Store

NEIGHBOURS = 8  # CNN neighbours asked per photo
REDUCED_DIMS = 128  # CNN vectors are searched in this many PCA dimensions
CNN_TREES = 10
ROTATION_NEIGHBOURS = 6  # descriptor neighbours asked per photo
ROTATION_MIN = 0.95  # descriptor cosine that proposes a pair for the pixel check
TURNED_NEIGHBOURS = 8  # photos turned a quarter asked per photo (the turned-frames lane)
TURNED_MIN = 0.85  # their coarse frames' agreement that proposes a pair
TURNED_SIDE = 8  # the coarse frame's side: a 10% crop moves it by under a cell
TURNED_BLUR = 2.0  # thumbnail pixels (of 32): blurred first, a crop's shift costs little


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
    tell = teller(progress, DupStep.NEIGHBOURS, len(have))
    found, _ = _query(lambda j: index.get_nns_by_item(j, k, k * CNN_TREES * 2, True),
                      len(have), cancel, tell)  # fmt: skip
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
    tell = teller(progress, DupStep.ROTATIONS, len(present))
    found, dists = _query(lambda j: index.get_nns_by_item(j, k, -1, True), len(present),
                          cancel, tell)  # fmt: skip
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
    lookup: Callable[[int], tuple[list[int], list[float]]],
    n: int,
    cancel: CancelFlag,
    tell: Callable[[int], None] = lambda _done: None,
) -> tuple[list[list[int]], list[list[float]]]:
    """``lookup(j)`` (an Annoy query: neighbours and distances) of items 0..n-1, on every core:
    Annoy lets go of the GIL while it searches. A stop is heard between blocks of 512 items."""

    def block(start: int) -> list[tuple[list[int], list[float]]]:
        if is_cancelled(cancel):
            return []
        return [lookup(j) for j in range(start, min(start + 512, n))]

    found: list[list[int]] = []
    dists: list[list[float]] = []
    with ThreadPoolExecutor(workers(), thread_name_prefix="photosim-neighbours") as pool:
        for start, got in zip(range(0, n, 512), pool.map(block, range(0, n, 512)), strict=True):
            tell(start)
            found += [g[0] for g in got]
            dists += [g[1] for g in got]
    check_cancel(cancel)
    return found, dists


def turned_pairs(
    fps: list[pixels.Fingerprint | None], cancel: CancelFlag = None
) -> list[tuple[int, int, float]]:
    """(a, b, agreement) of photos whose coarse frame matches another's turned a quarter.

    The rotation descriptor is invariant by symmetry about the frame's centre, which a crop
    moves: at 100k photos it missed a third of the planted copies both cropped and turned
    (their descriptors agree 0.85, the lane needs 0.95). Here each photo's coarse frame
    (TURNED_SIDE cells a side, low-pass: a 10% crop moves it by under a cell) is looked up
    among every photo's frame in all four turns, and a neighbour turned a quarter proposes a
    pair (upright ones are the other lanes'): a coarse frame is close to many others upright
    (at 100k, looking among the turned frames only proposed 345k pairs; this, ~70k).
    """
    present = [i for i, f in enumerate(fps) if f is not None]
    if len(present) < 2:
        return []
    thumbs = np.stack([f.thumb for f in fps if f is not None]).astype(np.float32)
    operator = _coarse_operator()
    coarse = (operator @ thumbs) @ operator.T  # (n, TURNED_SIDE, TURNED_SIDE)

    def unit(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), -1)
        x = x - x.mean(axis=1, keepdims=True)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)

    turns = np.stack([unit(np.rot90(coarse, k, (1, 2))) for k in range(4)], axis=1)
    # photo i turned k is item 4 i + k; built on every core (Annoy seeds each thread's
    # trees apart: the same index for the same photos on the same machine)
    index = angular_index(turns.reshape(-1, turns.shape[-1]), 8, n_jobs=workers())
    check_cancel(cancel)
    found, _ = _query(lambda j: index.get_nns_by_vector(turns[j, 0], TURNED_NEIGHBOURS, -1, True),
                      len(present), cancel)  # fmt: skip
    index.unload()
    j = np.repeat(np.arange(len(found)), [len(x) for x in found])
    item = np.fromiter(itertools.chain.from_iterable(found), np.int64, len(j))
    other, k = item // 4, item % 4
    keep = (other != j) & (k != 0)
    j, other, k = j[keep], other[keep], k[keep]
    agree = np.einsum("nd,nd->n", turns[j, 0], turns[other, k])
    keep = agree >= TURNED_MIN
    at = np.array(present, np.int64)
    return list(zip(at[j[keep]].tolist(), at[other[keep]].tolist(), agree[keep].tolist(),
                    strict=True))  # fmt: skip


@cache
def _coarse_operator() -> np.ndarray:
    """(TURNED_SIDE, SIDE): a Gaussian blur of TURNED_BLUR pixels (cut at the frame's edges),
    then the mean of each cell: a thumbnail T's coarse frame is ``P T P'``. On 60 real
    photos with copies cropped up to 10% a side and turned, the copies' coarse frames agree
    0.92 (5th percentile) blurred, 0.84 without."""
    x = np.arange(pixels.SIDE)
    blur = np.exp(-0.5 * ((x[:, None] - x[None, :]) / TURNED_BLUR) ** 2)
    blur /= blur.sum(axis=1, keepdims=True)
    cell = pixels.SIDE // TURNED_SIDE
    mean = np.kron(np.eye(TURNED_SIDE), np.full((1, cell), 1 / cell))
    return (mean @ blur).astype(np.float32)


def _neighbour_pairs(found: list[list[int]], dists: list[list[float]] | None = None) -> np.ndarray:
    """(j, other[, distance]) rows of every item's neighbours but itself, in query order."""
    j = np.repeat(np.arange(len(found)), [len(x) for x in found])
    other = np.fromiter(itertools.chain.from_iterable(found), np.int64, len(j))
    keep = other != j
    if dists is None:
        return np.stack([j[keep], other[keep]], axis=1)
    d = np.fromiter(itertools.chain.from_iterable(dists), np.float64, len(j))
    return np.stack([j[keep], other[keep], d[keep]], axis=1)

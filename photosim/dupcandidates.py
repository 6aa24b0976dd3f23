"""The slow half of duplicate finding: candidate pairs, and the pixel check of each.

Never all pairs. Candidates come from two proposals:
  - the CNN: each photo's nearest neighbours in the library's Annoy index;
  - the pixels: each photo's nearest neighbours by a rotation-invariant descriptor
    of its fingerprint (:func:`photosim.pixels.rotation_descriptor`), in a small
    in-memory Annoy index. CNN features are not rotation-invariant, so a copy
    turned 90 degrees in its pixels is found here.
Every pair that could be ``near`` at any threshold the finder supports is then
checked on pixels; the result is a table of edges that :class:`DuplicateFinder`
filters by thresholds in milliseconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from photosim import pixels
from photosim.decode import DecodeError, load_image
from photosim.duplicates import LANE_CNN, LANE_PIXELS, Thresholds
from photosim.errors import Cancelled

NEIGHBOURS = 12  # CNN neighbours asked per photo
ROTATION_NEIGHBOURS = 6  # descriptor neighbours asked per photo
ROTATION_MIN = 0.95  # descriptor cosine that proposes a pair for the pixel check
NEAR_SPAN = 0.12  # the near slider reaches this far below the calibrated threshold
SIMILAR_SPAN = 0.12  # and the similar slider this far
FINGERPRINT_SIDE = 256  # decode size for fingerprints computed here (not by the scan)
PREPARED_CACHE = 4096  # photos whose prepared check data is kept while checking


@dataclass
class Node:
    """One content (hash) of the library and the files that hold it."""

    hash: str
    paths: list[Path]
    size: int
    width: int | None
    height: int | None
    taken: list[str | None]
    mtime: list[float]
    camera: bool = False  # camera EXIF (make): originals have it, exports often lose it
    inode: list[tuple[int, int] | None] = field(default_factory=list)
    sharpness: float | None = None
    item: int | None = None  # the Annoy item of its CNN vector


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
    annoy: AnnoyIndex | None = None  # for the CNN cosine of any two nodes


def _cancelled(cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def _check(cancel) -> None:
    if _cancelled(cancel):
        raise Cancelled()


def load_nodes(store) -> list[Node]:
    """Readable photos grouped by content; hard links found by inode where content repeats."""
    by_hash: dict[str, Node] = {}
    for path, h, size, width, height, taken, mtime_ns, make in store.photo_rows():
        node = by_hash.get(h)
        if node is None:
            node = by_hash[h] = Node(h, [], size or 0, width, height, [], [], camera=bool(make))
        node.paths.append(Path(path))
        node.taken.append(taken)
        node.mtime.append((mtime_ns or 0) / 1e9)
    for node in by_hash.values():
        node.inode = [_inode(p) if len(node.paths) > 1 else None for p in node.paths]
    return list(by_hash.values())


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def ensure_fingerprints(
    store, nodes: list[Node], cancel=None, workers: int = 2
) -> dict[str, bytes]:
    """Fingerprints of every node: stored ones, the rest decoded now and stored."""
    have = {h: d for h, d in store.fingerprints().items() if pixels.is_current(d)}
    missing = [n for n in nodes if n.hash not in have]

    def compute(node: Node) -> tuple[str, bytes] | None:
        if _cancelled(cancel):
            return None
        for path in node.paths:
            try:
                return node.hash, pixels.fingerprint(load_image(path, max_side=FINGERPRINT_SIDE))
            except DecodeError:
                continue
        return None

    with ThreadPoolExecutor(workers, thread_name_prefix="photosim-fingerprint") as pool:
        for start in range(0, len(missing), 256):
            done = [r for r in pool.map(compute, missing[start : start + 256]) if r]
            with store.atomic():
                store.put_fingerprints(done)
            have.update(done)
            _check(cancel)
    return have


def cnn_pairs(library, nodes: list[Node], floor: float, cancel=None):
    """(a, b, cosine) of CNN neighbours at or above ``floor``; sets each node's Annoy item."""
    key = library.current_key()
    if not key or not library.store.vector_models().get(key):
        return None, []
    if library.index.status(key) != "fresh":
        library.index.build(key)
    state = library.index.state()
    if state is None:
        return None, []
    index = AnnoyIndex(state.dim, "angular")
    index.load(str(library.index.annoy_path))
    node_of = {n.hash: i for i, n in enumerate(nodes)}
    item_node = np.array([node_of.get(h, -1) for h in state.hashes], np.int64)
    for item, node in enumerate(item_node):
        if node >= 0:
            nodes[node].item = item
    k = min(NEIGHBOURS + 1, index.get_n_items())

    def query(item: int) -> list[tuple[int, int, float]]:
        if item_node[item] < 0:
            return []
        items, dists = index.get_nns_by_item(item, k, include_distances=True)
        cos = 1.0 - np.square(np.asarray(dists, np.float32)) / 2.0
        return [
            (int(item_node[item]), int(item_node[j]), float(c))
            for j, c in zip(items, cos, strict=True)
            if j != item and c >= floor and item_node[j] >= 0
        ]

    out = []
    with ThreadPoolExecutor(2, thread_name_prefix="photosim-knn") as pool:
        for start in range(0, len(item_node), 4096):
            _check(cancel)
            for pairs in pool.map(query, range(start, min(start + 4096, len(item_node)))):
                out.extend(pairs)
    return index, out


def rotation_pairs(fps: list[pixels.Fingerprint | None], cancel=None):
    """(a, b, descriptor cosine) of photos whose rotation-invariant descriptors are close."""
    present = [i for i, f in enumerate(fps) if f is not None]
    if len(present) < 2:
        return []
    thumbs = np.stack([fps[i].thumb for i in present])
    desc = pixels.rotation_descriptor(thumbs)
    index = AnnoyIndex(desc.shape[1], "angular")
    for j, vector in enumerate(desc):
        index.add_item(j, vector)
    index.build(8, n_jobs=1)
    k = min(ROTATION_NEIGHBOURS + 1, len(present))
    out = []
    for j in range(len(present)):
        if j % 4096 == 0:
            _check(cancel)
        items, dists = index.get_nns_by_item(j, k, include_distances=True)
        for other, d in zip(items, dists, strict=True):
            c = 1.0 - d * d / 2.0
            if other != j and c >= ROTATION_MIN:
                out.append((present[j], present[other], c))
    index.unload()
    return out


def check_pairs(
    pairs: np.ndarray, fps: list[pixels.Fingerprint | None], cancel=None
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel agreement and quarter turns for each (a, b) pair (nan where a side has none)."""
    score = np.full(len(pairs), np.nan, np.float32)
    turns = np.zeros(len(pairs), np.int8)
    cache: dict[int, pixels.Prepared] = {}

    def prepared(i: int) -> pixels.Prepared:
        p = cache.get(i)
        if p is None:
            if len(cache) >= PREPARED_CACHE:
                cache.pop(next(iter(cache)))
            p = cache[i] = pixels.prepare(fps[i])
        return p

    for n, (a, b) in enumerate(pairs):
        if n % 2048 == 0:
            _check(cancel)
        if fps[a] is None or fps[b] is None:
            continue
        score[n], turns[n] = pixels.match(prepared(int(a)), prepared(int(b)))
    return score, turns


def build(
    library, thresholds: Thresholds, cancel=None, progress: Callable | None = None
) -> Candidates:
    """All candidate pairs of ``library`` with their CNN cosine and pixel check."""
    say = progress or (lambda _msg: None)
    nodes = load_nodes(library.store)
    say("fingerprints")
    raw = ensure_fingerprints(library.store, nodes, cancel)
    fps: list[pixels.Fingerprint | None] = []
    for node in nodes:
        data = raw.get(node.hash)
        fp = _decode(data)
        fps.append(fp)
        node.sharpness = fp.sharpness if fp else None
    floors = Thresholds(
        near=max(0.0, thresholds.near - NEAR_SPAN),
        similar=max(0.0, min(thresholds.similar, thresholds.near) - SIMILAR_SPAN),
    )
    say("neighbours")
    annoy, cnn = cnn_pairs(library, nodes, floors.similar, cancel)
    say("rotations")
    rot = rotation_pairs(fps, cancel)
    edges: dict[tuple[int, int], list] = {}
    for a, b, c in cnn:
        key = (a, b) if a < b else (b, a)
        edges.setdefault(key, [np.nan, 0])
        edges[key][0], edges[key][1] = c, edges[key][1] | LANE_CNN
    for a, b, _c in rot:
        key = (a, b) if a < b else (b, a)
        edges.setdefault(key, [np.nan, 0])[1] |= LANE_PIXELS
    pairs = np.array(list(edges), np.int32).reshape(-1, 2)
    cos = np.array([v[0] for v in edges.values()], np.float32)
    lanes = np.array([v[1] for v in edges.values()], np.uint8)
    if annoy is not None:  # the CNN cosine of pixel-lane pairs too (for scores and reasons)
        for n in np.flatnonzero(np.isnan(cos)):
            ia, ib = nodes[pairs[n, 0]].item, nodes[pairs[n, 1]].item
            if ia is not None and ib is not None:
                d = annoy.get_distance(ia, ib)
                cos[n] = 1.0 - d * d / 2.0
    say("pixels")
    need = ((lanes & LANE_PIXELS) > 0) | (cos >= floors.near)
    pix = np.full(len(pairs), np.nan, np.float32)
    turns = np.zeros(len(pairs), np.int8)
    order = np.flatnonzero(need)
    order = order[np.argsort(pairs[order, 0], kind="stable")]  # reuse each prepared photo
    pix[order], turns[order] = check_pairs(pairs[order], fps, cancel)
    return Candidates(
        nodes, pairs[:, 0].copy(), pairs[:, 1].copy(), cos, pix, turns, lanes, floors, annoy
    )


def _decode(data: bytes | None) -> pixels.Fingerprint | None:
    if not data:
        return None
    try:
        return pixels.decode(data)
    except ValueError:  # an older fingerprint version: treated as missing
        return None

"""Connected components of candidate graphs (vectorised: 100k nodes in milliseconds)."""

from __future__ import annotations

import numpy as np


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes and edges (a, b): each node's root (vectorised)."""
    parent = np.arange(n)
    if len(a) == 0:
        return parent
    while True:
        pa, pb = parent[a], parent[b]
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        moved = lo != hi
        if not moved.any():
            return parent
        np.minimum.at(parent, hi[moved], lo[moved])
        while True:  # pointer jumping: every node straight to its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def split_components(
    a: np.ndarray, b: np.ndarray, cos: np.ndarray, threshold: float, largest: int
) -> list[list[int]]:
    """Components of the graph (a, b); one larger than ``largest`` is split at a higher threshold.

    Each oversize component is split on its own edges (sliced from the edges sorted by
    component once), never by searching all edges again: fast with thousands of them.
    """
    if len(a) == 0:
        return []
    ids, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: len(a)], inverse[len(a) :]
    root = components(len(ids), ia, ib)
    order = np.argsort(root, kind="stable")
    cuts = np.flatnonzero(np.diff(root[order])) + 1
    edge_root = root[ia]  # both ends of an edge share their component
    by_root = np.argsort(edge_root, kind="stable")  # keeps each component's edges in order
    sorted_roots = edge_root[by_root]
    out = []
    for part in np.split(order, cuts):
        if len(part) < 2:
            continue
        if len(part) <= largest or threshold >= 0.999:
            out.append([int(ids[i]) for i in part])
            continue
        r = root[part[0]]
        inside = by_root[
            np.searchsorted(sorted_roots, r) : np.searchsorted(sorted_roots, r, "right")
        ]
        higher = min(0.999, threshold + 0.01)
        keep = inside[cos[inside] >= higher]
        out += split_components(a[keep], b[keep], cos[keep], higher, largest)
    return out

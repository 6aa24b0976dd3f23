"""The issue-19 agreement bar, measured one way for tests and bench/backends.py.

A backend (or precision) is one a user could not tell from torch fp32 eager when, on the
trained test network over real photos: vector cosine mean >= 0.998 and min >= 0.99; the
top-5 neighbours are the same for >= 98% of queries, where swapping a neighbour for one
whose fp32 score is within 0.002 of it is a tie, not a change; and the duplicate groups
are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

TIE = 0.002
COSINE_MEAN, COSINE_MIN, TOP5_SAME = 0.998, 0.99, 0.98


def same_up_to_ties(fp32_scores: dict | np.ndarray, want: Iterable, got: Iterable,
                    tie: float = TIE) -> bool:  # fmt: skip
    """True when ``got`` is the neighbour set ``want`` up to swaps of near-ties.

    ``fp32_scores[n]`` is the reference (fp32) score of neighbour ``n``. The neighbours
    only one side has are paired highest with highest; each pair must score within ``tie``.
    """
    want, got = set(want), set(got)
    dropped = sorted((fp32_scores[n] for n in want - got), reverse=True)
    added = sorted((fp32_scores[n] for n in got - want), reverse=True)
    if len(dropped) != len(added):
        return False
    return all(abs(d - a) < tie for d, a in zip(dropped, added, strict=True))


def top5_same(reference: np.ndarray, other: np.ndarray, k: int = 5, tie: float = TIE) -> float:
    """Share of queries (every row) whose top-``k`` neighbours under ``other``'s vectors are
    those under ``reference``'s, ties aside (the query itself excluded)."""
    ref_sim, other_sim = reference @ reference.T, other @ other.T
    np.fill_diagonal(ref_sim, -2)
    np.fill_diagonal(other_sim, -2)
    same = 0
    for q in range(len(reference)):
        want = np.argpartition(-ref_sim[q], k)[:k]
        got = np.argpartition(-other_sim[q], k)[:k]
        same += same_up_to_ties(ref_sim[q], want.tolist(), got.tolist(), tie)
    return same / len(reference)


def cosine(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per-row cosine of two sets of L2-normalised vectors."""
    return (reference * other).sum(axis=1)


def passes(reference: np.ndarray, other: np.ndarray) -> bool:
    """The vector and ranking parts of the bar (duplicate groups are checked by the caller)."""
    cos = cosine(reference, other)
    return bool(cos.mean() >= COSINE_MEAN and cos.min() >= COSINE_MIN
                and top5_same(reference, other) >= TOP5_SAME)  # fmt: skip

"""Untrained weights give themselves away: they map every photo to nearly the same vector.

A randomly initialised ResNet (a state dict saved before training, a wrong checkpoint) scores
every pair of photos 99.6-99.9 % alike, so "similar photos" are noise while nothing looks
wrong. A trained network separates unrelated photos: measured over 53 shared photos (ukbench
objects, a camera series, holiday scenes), the median cosine between two of them was 0.25 for
the ImageNet-trained EfficientNet-Lite0 and 0.988, 0.992 and 0.998 for random-weights
EfficientNet-Lite0, ResNet-18 and ResNet-50 (tests/test_untrained.py keeps both sides).
"""

from __future__ import annotations

import numpy as np

# How many vectors are compared (every pair of them: 20k cosines, ~1 ms) and the fewest that
# can tell (a library of a handful of burst shots is alike for any network).
SAMPLE = 200
FEWEST = 8
# Above this median cosine the weights are taken for untrained: far above a trained network's
# median (0.25 measured; a library of near-copies only would be needed to come close), below
# the random ones' (0.988 and up).
UNTRAINED_MEDIAN = 0.95


def median_similarity(vectors: np.ndarray) -> float | None:
    """The median cosine between two different rows of ``vectors`` (L2-normalised), or None
    with fewer than FEWEST rows."""
    if len(vectors) < FEWEST:
        return None
    v = np.asarray(vectors[:SAMPLE], dtype=np.float32)
    cosines = (v @ v.T)[np.triu_indices(len(v), 1)]
    return float(np.median(cosines))


def looks_untrained(vectors: np.ndarray) -> bool:
    """True when these vectors of different photos are all but the same: untrained weights."""
    median = median_similarity(vectors)
    return median is not None and median > UNTRAINED_MEDIAN

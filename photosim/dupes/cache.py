"""The checked candidate pairs of duplicate finding, kept beside the library between runs.

Finding candidates and checking their pixels is the slow half of duplicate finding (minutes
at 100k photos, most of `photosim duplicates` at 100); regrouping them is fast.
So the result is saved next to the database (``library.dupes.npz``) with what it was made
from: the library's content (photo, vector and fingerprint counts and newest rows, its
version), the model, the thresholds and this code's ``VERSION``. Any change to one of
those makes a new search; decisions and reference folders apply at grouping, so they never
invalidate it. The file holds arrays and a JSON list only (loaded without pickle), and is
written atomically; a library in a read-only place simply goes without it.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.paths import atomic_write_bytes
from photosim.dupes.types import Candidates, Node, Thresholds

if TYPE_CHECKING:
    from photosim.storage.store import Store

log = logging.getLogger(__name__)

VERSION = 6  # bump whenever the candidate search or the pixel check changes its answers
ARRAYS = ("a", "b", "cos", "pix", "turns", "lanes", "verdict", "residual")


def cache_path(db_path: Path) -> Path | None:
    """``library.dupes.npz`` beside ``library.db``; None for an in-memory library."""
    return None if str(db_path) == ":memory:" else Path(db_path).with_suffix(".dupes.npz")


def state_key(store: Store, model_key: str | None, thresholds: Thresholds) -> str:
    """What the candidates depend on, as one string: the library's content, the model, the
    thresholds."""
    state = list(store.content_state())
    return json.dumps([VERSION, model_key, state, thresholds.near, thresholds.similar])


def load(path: Path | None, state: str) -> Candidates | None:
    """The candidates saved at ``path`` when they were made from ``state``
    (:func:`state_key`), else None."""
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if bytes(data["key"]).decode() != state:
                return None
            arrays = {name: data[name] for name in ARRAYS}
            reduced = data["reduced"] if "reduced" in data.files else None
            extra = json.loads(bytes(data["extra"]).decode())
    except (OSError, KeyError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("duplicates cache %s unreadable (%s): searching again", path, exc)
        return None
    nodes = []
    for fields in extra["nodes"]:
        fields["inode"] = [tuple(i) if i is not None else None for i in fields["inode"]]
        nodes.append(Node(**fields))
    floors = Thresholds(**extra["floors"])
    return Candidates(nodes, **arrays, floors=floors, reduced=reduced)


def save(path: Path | None, state: str, candidates: Candidates) -> None:
    """Keep ``candidates``, made from ``state``, at ``path`` for the next run; a place we
    cannot write to is no error."""
    if path is None:
        return
    extra = {"nodes": [asdict(n) for n in candidates.nodes], "floors": asdict(candidates.floors)}
    arrays = {name: getattr(candidates, name) for name in ARRAYS}
    if candidates.reduced is not None:
        arrays["reduced"] = candidates.reduced
    buffer = io.BytesIO()
    np.savez(
        buffer,
        key=np.frombuffer(state.encode(), np.uint8),
        extra=np.frombuffer(json.dumps(extra).encode(), np.uint8),
        **arrays,
    )
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        log.info("duplicates cache not written (%s)", exc)


# -- verdicts of the geometric check, by content --------------------------------------
def verdicts_path(cache_file: Path | None) -> Path | None:
    """``library.verdicts.npz`` beside the candidates' ``library.dupes.npz`` (None: none)."""
    return None if cache_file is None else cache_file.with_suffix("").with_suffix(".verdicts.npz")


def load_verdicts(
    path: Path | None, signature: str
) -> dict[tuple[str, str], tuple[int, float, int]]:
    """Earlier checks by (hash of a, hash of b) in the order they were checked: (verdict,
    residual, quarter turns). A library that changed keeps them; a new check method
    (``signature``) does not."""
    if path is None:
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if bytes(data["key"]).decode() != signature:
                return {}
            cols = [data[name].tolist() for name in ("ha", "hb", "verdict", "residual", "turns")]
    except (OSError, KeyError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("verdicts %s unreadable (%s): checking again", path, exc)
        return {}
    return {(a, b): (v, r, t) for a, b, v, r, t in zip(*cols, strict=True)}


def save_verdicts(path: Path | None, signature: str, memo: dict, hashes: set[str]) -> None:
    """Keep the checks of pairs whose photos are still in the library (``hashes``)."""
    if path is None:
        return
    items = [(k, v) for k, v in memo.items() if k[0] in hashes and k[1] in hashes]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        key=np.frombuffer(signature.encode(), np.uint8),
        ha=np.array([k[0] for k, _ in items], dtype=str),
        hb=np.array([k[1] for k, _ in items], dtype=str),
        verdict=np.array([v[0] for _, v in items], np.uint8),
        residual=np.array([v[1] for _, v in items], np.float32),
        turns=np.array([v[2] for _, v in items], np.int8),
    )
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        log.info("verdicts not written (%s)", exc)

"""Plain data the engine hands to its callers (CLI, app): progress and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core.errors import FailKind

if TYPE_CHECKING:
    from photosim.core.errors import PhotosimError

__all__ = ["FailKind", "Failure", "Match", "ModelInUse", "Photo", "ScanKind", "ScanProgress",
           "WeightsDownload"]  # fmt: skip


class ScanKind(StrEnum):
    """What a :class:`ScanProgress` event reports (see there)."""

    FOUND = "found"
    WALKED = "walked"
    EMBEDDED = "embedded"
    LISTED = "listed"
    REUSED = "reused"
    FAILED = "failed"
    REMOVED = "removed"
    INDEXING = "indexing"
    PREPARING = "preparing"
    MODEL_UNAVAILABLE = "model_unavailable"
    DONE = "done"
    NOTICE = "notice"


@dataclass(frozen=True)
class Failure:
    """A file the scan could not use: its path, the kind of failure and the reason in words."""

    path: Path
    kind: FailKind
    reason: str


@dataclass(frozen=True)
class Match:
    """One similar photo: its absolute path and cosine similarity in [0, 1]."""

    path: Path
    score: float


@dataclass
class ScanProgress:
    """One progress event of :meth:`photosim.library.Library.scan`.

    ``kind`` says what just happened:
      - ``"found"``: the walk found ``path`` (new or changed; unchanged files are only counted)
      - ``"walked"``: the walk is over; ``total`` photos need work
      - ``"embedded"``: ``path`` got a vector (``photo_id`` is its row)
      - ``"listed"``: ``path`` was recorded without a vector (no model weights)
      - ``"reused"``: ``path`` was new or changed but its content already had a vector
      - ``"failed"``: ``path`` could not be read; ``reason`` says why
      - ``"removed"``: ``path`` is gone from disk and left the library
      - ``"indexing"``: the search index is being rebuilt
      - ``"preparing"``: the model is being prepared for this CPU, once (``reason`` says how)
      - ``"model_unavailable"``: no weights; photos are listed but not embedded (``reason``)
      - ``"done"``: the scan finished (``cancelled`` tells whether it was stopped early)
      - ``"notice"``: something to tell people in ``reason`` (e.g. the GPU ran out of memory
        and the scan went on on the CPU)
    The counters are running totals for the whole scan. They add up: every file
    found is ``unchanged``, ``new``, ``moved``, ``updated`` (changed or waiting for
    a vector before) or ``failed``; ``retried`` counts the files among them that could not
    be read last time and were tried again; ``embedded`` counts vectors made, ``waiting``
    the files listed without a vector because the model could not be loaded.
    ``model_error`` is the error that kept the model from loading (an object).
    ``others`` and ``companions`` count what the walk saw besides photos (not in ``found``).
    """

    kind: ScanKind
    path: Path | None = None
    reason: str | None = None
    photo_id: int | None = None
    found: int = 0
    unchanged: int = 0
    new: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    updated: int = 0
    retried: int = 0
    waiting: int = 0
    embedded: int = 0
    others: int = 0  # files that are not photos (videos, documents): counted, never listed
    companions: int = 0  # sidecars, Live Photo videos, the JPEG of a RAW+JPEG pair
    linked: tuple[str, ...] = ()  # folders outside the roots whose photos came through links
    done: int = 0
    total: int = 0
    rate: float = 0.0
    eta_s: float | None = None
    cancelled: bool = False
    model_error: PhotosimError | None = None
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class Photo:
    """A photo of the library as the CLI and the app show it.

    ``error`` is the reason the file could not be read (then it has no vector) and
    ``fail_kind`` the kind of that failure.
    ``taken`` is the EXIF date taken in ISO 8601 (``YYYY-MM-DDTHH:MM:SS``, camera time), when known.
    """

    id: int
    path: Path
    size: int
    mtime: float
    hash: str | None = None
    width: int | None = None
    height: int | None = None
    taken: str | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None  # the lens's model name, as the camera wrote it
    orientation: int | None = None
    lat: float | None = None
    lon: float | None = None
    error: str | None = None
    has_vector: bool = False
    fail_kind: FailKind | None = None


@dataclass(frozen=True)
class WeightsDownload:
    """A download of pretrained weights about to start: what, how big, from where, to where."""

    model: str
    url: str
    megabytes: float | None
    target: Path


@dataclass(frozen=True)
class ModelInUse:
    """Which model embeds a library's photos, with which weights file, where and on what.

    ``weights`` is the file the weights come from (one the user chose, or torchvision's cached
    download) and ``weights_bytes`` its size; both None when no such file is there (then
    similarity is off until one is). ``chosen``: the file was picked by the user (--weights,
    the app), not torchvision's. ``injected``: a model handed in by the caller (tests,
    benchmarks), which has no file. ``device`` is where the loaded model runs, else what was
    asked for; ``backend`` what ran ("torch fp32"), None before any embedding.
    """

    model: str
    key: str | None
    weights: Path | None
    weights_bytes: int | None
    chosen: bool
    injected: bool
    loaded: bool
    device: str
    backend: str | None
    backend_asked: str
    backend_notice: str | None = None

"""The incremental scan: walk, skip what is unchanged, decode in parallel, embed in batches.

Modelled on rclip's indexer: an unchanged file costs one ``stat``; a new or
changed file is hashed, and only content without a vector is decoded and
embedded. Rows of files gone from disk are swept after the walk (mark and
sweep), and their content hashes are remembered so a moved photo keeps its
vector. Work is committed in batches, so a cancelled scan keeps what it did.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.decode import IMAGE_EXTENSIONS, sniff_image
from photosim.errors import WeightsUnavailable
from photosim.events import ScanProgress
from photosim.pipeline import Embedded, Notice, Pipeline, Work
from photosim.store import Store

if TYPE_CHECKING:
    from photosim.embed import Backbone

# Extensions that are never photos: not even sniffed.
NOT_PHOTOS = frozenset(
    [
        ".mp4",
        ".mov",
        ".avi",
        ".mkv",
        ".m4v",
        ".3gp",
        ".mts",
        ".wmv",
        ".mp3",
        ".wav",
        ".aac",
        ".m4a",
        ".xmp",
        ".json",
        ".txt",
        ".md",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".zip",
        ".gz",
        ".7z",
        ".rar",
        ".db",
        ".db-wal",
        ".db-shm",
        ".annoy",
        ".ini",
        ".html",
        ".xml",
        ".csv",
        ".log",
        ".py",
        ".pp3",
        ".dop",
        ".aae",
        ".thm",
        ".lrv",
    ]
)
SKIP_DIRS = frozenset({"@eaDir", "$RECYCLE.BIN", "System Volume Information", "__MACOSX"})
COMMIT_EVERY_S = 2.0

CancelFlag = Callable[[], bool] | threading.Event | None


def content_hash(path: str) -> str:
    """A fast hash of the file's bytes: the cache key that survives moves and renames."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def is_candidate(name: str, path: str) -> bool:
    """A photo by its extension, or by its first bytes when the extension says nothing."""
    if name.startswith("."):
        return False
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return True
    return ext not in NOT_PHOTOS and sniff_image(path)


def walk(
    roots: list[Path], exclude: set[str] | None = None
) -> Iterator[tuple[str, os.stat_result]]:
    """Photos under ``roots``: hidden folders, ``exclude`` and symlink loops are skipped."""
    exclude = exclude or set()
    seen_dirs: set[tuple[int, int]] = set()
    stack = [str(r) for r in reversed(roots)]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith(".") or entry.path in exclude:
                continue
            try:
                if entry.is_dir():
                    if entry.name not in SKIP_DIRS:
                        subdirs.append(entry.path)
                elif entry.is_file() and is_candidate(entry.name, entry.path):
                    yield entry.path, entry.stat()
            except OSError:
                continue
        stack.extend(reversed(subdirs))


@dataclass
class _Job:
    path: str
    size: int
    mtime_ns: int
    hash: str | None = None  # known when only the vector is missing
    is_new: bool = True


@dataclass
class _Done:
    job: _Job
    hash: str | None = None
    meta: dict | None = None
    pixels: np.ndarray | None = None
    error: str | None = None
    extras: dict = field(default_factory=dict)  # pipeline.photo_extras(), e.g. a fingerprint


def _is_cancelled(cancel: CancelFlag) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


class _Rate:
    """Photos per second over the last few dozen completions (for rate and ETA)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=64)

    def tick(self) -> None:
        self.times.append(time.monotonic())

    def value(self) -> float:
        if len(self.times) < 2:
            return 0.0
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


class Scan:
    """One scan of a library; iterate :meth:`run` for progress events."""

    def __init__(
        self,
        store: Store,
        roots: list[Path],
        model_key: str,
        get_backbone: Callable[[], Backbone],
        *,
        batch_size: int = 32,
        workers: int | None = None,
        exclude: set[str] | None = None,
    ) -> None:
        self.store, self.roots, self.model_key = store, roots, model_key
        self.get_backbone = get_backbone
        self.batch_size = max(1, batch_size)
        self.workers = workers  # None: pipeline.plan_threads chooses from the cores
        self.exclude = exclude or set()
        self.ev = ScanProgress(kind="found")
        self.rate = _Rate()
        self.changed = False
        self.generation = 0
        self.have_vector: set[str] = set()
        self._failures: list = []  # the failures list events share until the next failure

    def _event(self, kind: str, **fields) -> ScanProgress:
        ev = self.ev
        ev.kind, ev.path, ev.reason, ev.photo_id = kind, None, None, None
        for key, value in fields.items():
            setattr(ev, key, value)
        ev.rate = self.rate.value()
        left = ev.total - ev.done
        ev.eta_s = left / ev.rate if ev.rate > 0 else None
        if len(self._failures) != len(ev.failures):  # copy once per failure, not per event
            self._failures = list(ev.failures)
        return ScanProgress(**{**ev.__dict__, "failures": self._failures})

    # -- walk ----------------------------------------------------------------
    def _walk(self) -> Iterator[ScanProgress | _Job]:
        """Stat every photo; unchanged ones are only counted, new ones listed at once."""
        known = self.store.known_files()
        unchanged: list[str] = []
        listed = 0
        for path, st in walk(self.roots, self.exclude):
            self.ev.found += 1
            row = known.get(path)
            if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                if row[3] is not None or row[2] in self.have_vector:
                    unchanged.append(path)
                    self.ev.unchanged += 1
                    continue
                yield _Job(path, st.st_size, st.st_mtime_ns, hash=row[2], is_new=row[2] is None)
            else:
                if row is None:  # listed now so the app shows it before it is embedded
                    self.store.list_new(path, st.st_size, st.st_mtime_ns, self.generation)
                    listed += 1
                    if listed % 500 == 0:
                        self.store.commit()
                yield _Job(path, st.st_size, st.st_mtime_ns, is_new=True)
            yield self._event("found", path=Path(path))
        self.store.mark_seen(unchanged, self.generation)
        self.store.commit()

    def _sweep(self, jobs: list[_Job]) -> tuple[set[str], list[ScanProgress]]:
        """Drop rows of files no longer on disk; returns their hashes (for moves)."""
        self.store.mark_seen([j.path for j in jobs], self.generation)
        roots = [r for r in self.roots if r.is_dir()]  # an unplugged drive removes nothing
        gone = self.store.unseen(self.generation, roots)
        self.store.delete_photos([pid for pid, _, _ in gone])
        self.store.commit()
        events = []
        for _, path, _ in gone:
            self.ev.removed += 1
            events.append(self._event("removed", path=Path(path)))
        self.changed |= bool(gone)
        return {h for _, _, h in gone if h}, events

    # -- work ----------------------------------------------------------------
    @staticmethod
    def _done(work: Work) -> _Done:
        """The pipeline's result for one file, as the rows below record it."""
        return _Done(work.job, work.hash, work.meta, error=work.error, extras=work.extras)

    def run(self, cancel: CancelFlag = None) -> Iterator[ScanProgress]:
        self.generation = int(self.store.get_meta("scan_generation", "0")) + 1
        self.store.set_meta(scan_generation=self.generation)
        self.have_vector = self.store.vector_hashes(self.model_key)
        jobs: list[_Job] = []
        for item in self._walk():
            if isinstance(item, _Job):
                jobs.append(item)
            else:
                yield item
            if _is_cancelled(cancel):
                yield self._event("done", cancelled=True)
                return
        vanished, removed = self._sweep(jobs)
        yield from removed
        self.ev.total = len(jobs)
        yield self._event("walked")
        backbone = self._load_backbone(jobs)
        if backbone is None and self.ev.model_error:
            yield self._event("model_unavailable", reason=self.ev.model_error)
        cancelled = yield from self._embed_all(jobs, vanished, backbone, cancel)
        if not cancelled:
            self.store.drop_orphan_vectors()
            self.store.commit()
        if self.changed:
            self.store.bump_version()
            self.store.commit()
        yield self._event("done", cancelled=cancelled)

    def _load_backbone(self, jobs: list[_Job]) -> Backbone | None:
        if not jobs:
            return None
        try:
            return self.get_backbone()
        except WeightsUnavailable as exc:
            self.ev.model_error = str(exc)
            return None

    def _embed_all(self, jobs, vanished, backbone, cancel) -> Iterator[ScanProgress]:
        """Hash, decode and embed in the pipeline (photosim.pipeline), in completion order;
        this thread only writes what it finishes, committing every batch or two seconds."""
        pipe = Pipeline(backbone, self.have_vector, batch_size=self.batch_size,
                        workers=self.workers)  # fmt: skip
        last_commit = time.monotonic()
        try:
            for item in pipe.run(jobs, lambda: _is_cancelled(cancel)):
                if isinstance(item, Embedded):
                    yield from self._flush(item)
                elif isinstance(item, Notice):
                    yield self._event("notice", reason=item.message)
                else:
                    yield self._record(self._done(item), vanished, self.have_vector)
                if time.monotonic() - last_commit > COMMIT_EVERY_S:
                    self.store.commit()
                    last_commit = time.monotonic()
            return _is_cancelled(cancel)
        finally:
            self.store.commit()

    def _flush(self, batch: Embedded) -> Iterator[ScanProgress]:
        """Store a batch of vectors and their photos' rows, in one commit."""
        done = [self._done(work) for work in batch.items]
        self.store.put_vectors(
            self.model_key, [(d.hash, v) for d, v in zip(done, batch.vectors, strict=True)]
        )
        events = []
        for d in done:
            self.have_vector.add(d.hash)
            pid = self._write_row(d)
            self.ev.embedded += 1
            self.ev.new += d.job.is_new
            events.append(self._event("embedded", path=Path(d.job.path), photo_id=pid))
        self.store.commit()
        yield from events

    def _record(self, done: _Done, vanished: set[str], have_vector: set[str]) -> ScanProgress:
        """A file that needed no embedding: failed, no model, or content already known."""
        pid = self._write_row(done)
        path = Path(done.job.path)
        if done.error:
            self.ev.failed += 1
            self.ev.failures.append((path, done.error))
            return self._event("failed", path=path, reason=done.error, photo_id=pid)
        if done.job.is_new and done.hash in vanished:
            vanished.discard(done.hash)  # one move per vanished file; a second copy is new
            self.ev.moved += 1
            self.ev.removed -= 1  # counted as removed by the sweep; it only moved
        elif done.job.is_new:
            self.ev.new += 1
        kind = "reused" if done.hash in have_vector else "listed"
        return self._event(kind, path=path, photo_id=pid)

    def _write_row(self, done: _Done) -> int:
        self.rate.tick()
        self.ev.done += 1
        self.changed = True
        meta = done.meta or {}
        return self.store.upsert_photo({
            "path": done.job.path, "size": done.job.size, "mtime_ns": done.job.mtime_ns,
            "hash": done.hash, "error": done.error, "seen": self.generation,
            **{k: meta.get(k) for k in ("width", "height", "taken", "make", "model", "orientation", "lat", "lon")},
        })  # fmt: skip

"""The incremental scan: walk, skip what is unchanged, decode in parallel, embed in batches.

Modelled on rclip's indexer: an unchanged file costs one ``stat``; a new or
changed file is hashed, and only content without a vector is decoded and
embedded. Rows of files gone from disk are swept after the walk (mark and
sweep), and their content hashes are remembered so a moved photo keeps its
vector. Work is committed in batches, so a cancelled scan keeps what it did.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.cancel import CancelFlag, is_cancelled
from photosim.core.errors import WeightsMissing
from photosim.core.events import FailKind, Failure, ScanKind, ScanProgress
from photosim.core.paths import is_under
from photosim.library.pipeline import Embedded, Job, Notice, Pipeline, Work
from photosim.library.walk import walk
from photosim.media import pairs
from photosim.media.metadata import read_lens
from photosim.storage.store import PENDING_NEW, PENDING_UPDATE, Store

if TYPE_CHECKING:
    from photosim.models.embedder import Embedder

# Failures retried at the next scan although the file did not change: their cause lies
# outside its bytes (a permission, a disk error, a file written to or swapped meanwhile, a
# memory limit, a row older than failure kinds). Damaged bytes fail again: retried when the
# file changes.
RETRIED = frozenset([None, *(k.value for k in (FailKind.UNREADABLE, FailKind.VANISHED,
                    FailKind.CHANGED, FailKind.NOT_A_FILE, FailKind.TOO_LARGE, FailKind.OTHER))])  # fmt: skip
WALK_CHUNK = 500  # found files looked up and listed per transaction


@dataclass
class _Done:
    job: Job
    hash: str | None = None
    meta: dict | None = None
    pixels: np.ndarray | None = None
    error: str | None = None
    fail_kind: FailKind | None = None
    extras: dict = field(default_factory=dict)  # pipeline.photo_extras(), e.g. a fingerprint


def _embedded_hash(done: _Done) -> str:
    """The content hash of a photo the model embedded (it is hashed before it is decoded)."""
    if done.hash is None:
        raise ValueError(f"embedded without a content hash: {done.job.path!r}")
    return done.hash


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
        get_backbone: Callable[[], Embedder],
        *,
        batch_size: int = 32,
        workers: int | None = None,
        exclude: set[str] | None = None,
        model_step: Callable[[], str | None] | None = None,
        model_notice: Callable[[], str | None] | None = None,
    ) -> None:
        self.store, self.roots, self.model_key = store, roots, model_key
        self.get_backbone = get_backbone
        # Words for a slow first-time step loading the model will take (a conversion for this
        # CPU's runtime), and, once loaded, anything people should know about it (a fallback).
        self.model_step = model_step or (lambda: None)
        self.model_notice = model_notice or (lambda: None)
        self.batch_size = max(1, batch_size)
        self.workers = workers  # None: pipeline.plan_threads chooses from the cores
        self.exclude = exclude or set()
        self.ev = ScanProgress(kind=ScanKind.FOUND)
        self.rate = _Rate()
        self.changed = False
        self.generation = 0
        self.have_vector: set[str] = set()
        self.vanished: set[str] = set()  # hashes of swept rows: a new file with one moved
        self.unreadable: list[str] = []  # folders the walk could not list (never swept)
        self._failures: list = []  # the failures list events share until the next failure

    def _event(self, kind: ScanKind, **fields: object) -> ScanProgress:
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
    def _walk(self) -> Iterator[ScanProgress]:
        """Stat every photo; found files are looked up and listed a chunk per transaction.

        Nothing per file is kept beyond one chunk: the work owed is recorded in the
        store (``photos.pending``) and read back page by page by :meth:`_jobs`.
        """
        capture = pairs.CaptureTimes(self.store.photos.capture_times())
        listing = walk(self.roots, self.exclude)
        listing.capture = capture  # read while iterating: pairs decided from the library's memo
        chunk: list[tuple[str, int, int]] = []
        for path, st in listing:
            chunk.append((path, st.st_size, st.st_mtime_ns))
            if len(chunk) >= WALK_CHUNK:
                yield from self._list_chunk(chunk)
                chunk = []
        yield from self._list_chunk(chunk)
        self.unreadable = [os.fspath(f) for f in getattr(listing, "unreadable", ()) or ()]
        self.ev.linked = tuple(getattr(listing, "linked", ()))
        self.ev.others = getattr(listing, "others", 0)
        self.ev.companions = getattr(listing, "companions", 0)
        self.store.set_meta(other_files=self.ev.others, companion_files=self.ev.companions)
        # what this walk read; a complete walk's set replaces the last (gone pairs drop out)
        if capture.used != capture.known:
            self.store.photos.put_capture_times(capture.used, replace=not self.unreadable)

    def _list_chunk(self, chunk: list[tuple[str, int, int]]) -> Iterator[ScanProgress]:
        """Unchanged files are only marked seen; new, changed and waiting ones owe work."""
        if not chunk:
            return
        seen: list[int] = []
        owed: dict[int, list[int]] = {PENDING_NEW: [], PENDING_UPDATE: []}
        new: list[tuple[str, int, int]] = []
        events = []
        with self.store.atomic():
            rows = self.store.lookup([p for p, _, _ in chunk], self.model_key)
            for path, size, mtime_ns in chunk:
                self.ev.found += 1
                row = rows.get(path)  # (id, size, mtime_ns, hash, error, has_vector)
                if row is None:  # listed now so the app shows it before it is embedded
                    new.append((path, size, mtime_ns))
                elif (row[1], row[2]) != (size, mtime_ns):
                    self.store.mark_changed(row[0], size, mtime_ns, self.generation)
                elif row[5] or (row[4] is not None and row[6] not in RETRIED):
                    seen.append(row[0])
                    self.ev.unchanged += 1
                    continue
                else:  # failed for a cause that may be gone, never finished, or waiting
                    self.ev.retried += row[4] is not None
                    owed[PENDING_UPDATE if row[3] else PENDING_NEW].append(row[0])
                events.append(self._event(ScanKind.FOUND, path=Path(path)))
            self.store.list_new_many(new, self.generation)
            self.store.mark_seen_ids(seen, self.generation)
            for pending, ids in owed.items():
                self.store.mark_pending(ids, self.generation, pending)
        yield from events

    def _sweep(self, skip_prefixes: Iterable[str] = ()) -> tuple[set[str], list[ScanProgress]]:
        """Drop rows of files no longer on disk; returns their hashes (for moves).

        Rows under a root that is not a folder now (an unplugged drive) or under a
        folder the walk could not list (``skip_prefixes``) are kept.
        """
        roots = [r for r in self.roots if r.is_dir()]
        unplugged = [str(r) for r in self.roots if not r.is_dir()]
        with self.store.atomic():
            # Rows under the roots, and rows outside them (photos reached through a link,
            # which may be gone now), except under a root that is not there (unplugged).
            gone = [row for row in self.store.unseen(self.generation, [Path(os.sep)], skip_prefixes)
                    if roots and not is_under(row[1], unplugged)]  # fmt: skip
            self.store.delete_photos([pid for pid, _, _ in gone])
        events = []
        for _, path, _ in gone:
            self.ev.removed += 1
            events.append(self._event(ScanKind.REMOVED, path=Path(path)))
        self.changed |= bool(gone)
        return {h for _, _, h in gone if h}, events

    def _jobs(self) -> Iterator[Job]:
        """The work the walk recorded, read back a page at a time."""
        last = 0
        while page := self.store.pending_jobs(last):
            for _pid, path, size, mtime_ns, digest, is_new in page:
                yield Job(path, size, mtime_ns, hash=digest, is_new=is_new)
            last = page[-1][0]

    # -- work ----------------------------------------------------------------
    @staticmethod
    def _done(work: Work) -> _Done:
        """The pipeline's result for one file, as the rows below record it."""
        return _Done(work.job, work.hash, work.meta, error=work.error, fail_kind=work.fail_kind,
                     extras=work.extras)  # fmt: skip

    def run(self, cancel: CancelFlag = None) -> Iterator[ScanProgress]:
        """Walk, sweep, then embed what is owed; every step commits as it goes."""
        self.generation = self.store.begin_scan()
        for event in self._walk():
            yield event
            if is_cancelled(cancel):
                yield self._event(ScanKind.DONE, cancelled=True)
                return
        if is_cancelled(cancel):
            yield self._event(ScanKind.DONE, cancelled=True)
            return
        self.vanished, removed = self._sweep(self.unreadable)
        yield from removed
        self.ev.total = self.store.pending_count()
        # Content that has a vector already: needed only when there is work (not on a rescan).
        self.have_vector = (
            self.store.vectors.vector_hashes(self.model_key) if self.ev.total else set()
        )
        yield self._event(ScanKind.WALKED)
        backbone = yield from self._load_backbone(self.ev.total)
        if backbone is None and self.ev.model_error:
            yield self._event(ScanKind.MODEL_UNAVAILABLE, reason=str(self.ev.model_error))
        cancelled = yield from self._embed_all(self._jobs(), self.vanished, backbone, cancel)
        if not cancelled:
            with self.store.atomic():
                self.store.vectors.drop_orphan_vectors(self.model_key)
            cancelled = self._read_lenses(cancel)
        if self.changed:
            self.store.bump_version()
        yield self._event(ScanKind.DONE, cancelled=cancelled)

    def _read_lenses(self, cancel: CancelFlag) -> bool:
        """Fill the lens of photos scanned before lenses were kept, from their EXIF headers
        (about a millisecond a photo, once; a batch per transaction). True when cancelled."""
        while rows := self.store.photos.lens_unread(WALK_CHUNK):
            if is_cancelled(cancel):
                return True
            self.store.photos.set_lenses([(pid, read_lens(path)) for pid, path in rows])
            self.changed = True
        return False

    def _load_backbone(self, total: int) -> Generator[ScanProgress, None, Embedder | None]:
        """The model, loaded when there is work; a slow first-time preparation is a step of
        its own (``preparing``), a fallback a notice. Returns None without weights."""
        if not total:
            return None
        try:
            if step := self.model_step():
                yield self._event(ScanKind.PREPARING, reason=step)
            backbone = self.get_backbone()
        except WeightsMissing as exc:
            self.ev.model_error = exc
            return None
        if notice := self.model_notice():
            yield self._event(ScanKind.NOTICE, reason=notice)
        return backbone

    def _embed_all(
        self, jobs: Iterator[Job], vanished: set[str], backbone: Embedder | None, cancel: CancelFlag
    ) -> Generator[ScanProgress, None, bool]:
        """Hash, decode and embed in the pipeline (photosim.library.pipeline), in completion order;
        this thread only writes what it finishes, each batch in one transaction."""
        pipe = Pipeline(backbone, self.have_vector, batch_size=self.batch_size,
                        workers=self.workers)  # fmt: skip
        # closed at once when writing fails (a full disk): the pipeline's threads stop before
        # the error leaves the scan, never at the process's exit
        with contextlib.closing(pipe.run(jobs, lambda: is_cancelled(cancel))) as items:
            for item in items:
                if isinstance(item, Embedded):
                    yield from self._flush(item)
                elif isinstance(item, Notice):
                    yield self._event(ScanKind.NOTICE, reason=item.message)
                else:
                    yield self._record(self._done(item), vanished, self.have_vector)
        return is_cancelled(cancel)

    def _flush(self, batch: Embedded) -> Iterator[ScanProgress]:
        """Store a batch of vectors and their photos' rows, in one transaction."""
        done = [self._done(work) for work in batch.items]
        hashes = [_embedded_hash(d) for d in done]
        events = []
        with self.store.atomic():
            self.store.vectors.put_vectors(
                self.model_key, list(zip(hashes, batch.vectors, strict=True))
            )
            self.store.dupes.put_fingerprints(
                (h, d.extras["fingerprint"])
                for h, d in zip(hashes, done, strict=True)
                if "fingerprint" in d.extras
            )
            self.store.dupes.put_check_features(
                (h, d.extras["check_features"])
                for h, d in zip(hashes, done, strict=True)
                if "check_features" in d.extras
            )
            for h, d in zip(hashes, done, strict=True):
                self.have_vector.add(h)
                pid = self._write_row(d)
                self.ev.embedded += 1
                events.append(self._event(ScanKind.EMBEDDED, path=Path(d.job.path), photo_id=pid))
        yield from events

    def _record(self, done: _Done, vanished: set[str], have_vector: set[str]) -> ScanProgress:
        """A file that needed no embedding: failed, no model, or content already known."""
        pid = self._write_row(done)
        path = Path(done.job.path)
        if done.error:
            failure = Failure(path, done.fail_kind or FailKind.OTHER, done.error)
            self.ev.failures.append(failure)
            return self._event(ScanKind.FAILED, path=path, reason=done.error, photo_id=pid)
        if done.hash in have_vector:
            return self._event(ScanKind.REUSED, path=path, photo_id=pid)
        self.ev.waiting += 1
        return self._event(ScanKind.LISTED, path=path, photo_id=pid)

    def _write_row(self, done: _Done) -> int:
        """Store one finished file and count what it turned out to be (the summary adds up)."""
        self.rate.tick()
        self.ev.done += 1
        self.changed = True
        if done.error:
            self.ev.failed += 1
        elif done.job.is_new and done.hash in self.vanished:
            self.vanished.discard(done.hash)  # one move per vanished file; a second copy is new
            self.ev.moved += 1
            self.ev.removed -= 1  # counted as removed by the sweep; it only moved
        elif done.job.is_new:
            self.ev.new += 1
        else:
            self.ev.updated += 1
        meta = done.meta or {}
        return self.store.upsert_photo({
            "path": done.job.path, "size": done.job.size, "mtime_ns": done.job.mtime_ns,
            "hash": done.hash, "error": done.error, "seen": self.generation, "pending": None,
            "fail_kind": (done.fail_kind or FailKind.OTHER).value if done.error else None,
            **{k: meta.get(k) for k in ("width", "height", "taken", "make", "model", "orientation", "lat", "lon")},
            "lens": meta.get("lens") or "",  # '': read, none (NULL: a row from before lenses)
        })  # fmt: skip

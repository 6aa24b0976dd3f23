"""Work off the GUI thread: one worker pattern for everything slow.

A :class:`Worker` runs a function in a daemon thread, in the manner of superqt's
``GeneratorWorker``: the function gets the worker's abort flag; when it returns a
generator, each item it yields is sent as ``yielded``; its return value comes as
``finished`` and an exception (the object itself, never words) as ``errored``.
Nothing waits on a worker from the GUI thread: a superseded or closing worker is
*abandoned* (aborted, its signals disconnected) and left to end in the background,
so a step that cannot be cancelled (a weights download, an index build) never
freezes the window. A worker deletes itself once its thread has ended and drops
its function, so it keeps nothing (a library) alive.

The threads are plain daemon threads, not a ``QThreadPool`` or ``QThread``: a pool
waits for its threads when it is destroyed (the global one when the app exits) and
destroying a running ``QThread`` aborts, which is exactly the unbounded wait an
uncancellable step must not cause. Their signals reach the GUI thread queued all
the same, since the worker object lives there.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from photosim.api import Library, companions_on_disk, load_image, load_partner
from photosim.core.errors import DecodeError, NotEmbedded, PhotosimError
from photosim.core.events import Photo, ScanKind, ScanProgress

log = logging.getLogger(__name__)

# How often the GUI hears from the scan: often enough to feel live, rarely enough to stay light.
EMIT_EVERY_S = 0.15
URGENT = frozenset({ScanKind.WALKED, ScanKind.PREPARING, ScanKind.INDEXING,
                    ScanKind.MODEL_UNAVAILABLE, ScanKind.DONE})  # fmt: skip

Job = Callable[[threading.Event], Any]
# Workers whose thread may still run: held here (not by their thread) so the last
# reference is always dropped on the GUI thread, after the thread has ended.
_LIVE: set[Worker] = set()
_RETIRING: set[threading.Thread] = set()  # threads closing a library let go of


class Worker(QObject):
    """Runs ``fn(abort)`` in a daemon thread; see the module docstring.

    With ``stop_on_abort`` (the default) a generator is closed at the next item
    once ``abort()`` was called; without it the generator is expected to watch the
    flag itself and end on its own (the scan does, to report what it kept).
    """

    yielded = Signal(object)
    finished = Signal(object)
    errored = Signal(object)
    _ended = Signal()

    def __init__(
        self, fn: Job, *, name: str = "photosim-worker", stop_on_abort: bool = True
    ) -> None:
        super().__init__()
        self.name = name
        self._fn: Job | None = fn
        self._stop_on_abort = stop_on_abort
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ended.connect(self._on_ended)

    def start(self) -> Worker:
        _LIVE.add(self)
        self._thread.start()
        return self

    def abort(self) -> None:
        """Ask the function to stop at its next check; returns at once."""
        self._abort.set()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def abandon(self) -> None:
        """Abort and stop listening: whatever it still sends is dropped; it ends on its own."""
        self.abort()
        for signal in (self.yielded, self.finished, self.errored):
            with contextlib.suppress(RuntimeError, TypeError), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # none connected: fine
                signal.disconnect()

    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread (tests and bounded waits only); True when it has ended."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _on_ended(self) -> None:
        _LIVE.discard(self)
        self.deleteLater()

    def _run(self) -> None:
        try:
            result = self._call()
        except Exception as exc:  # reported as the object, never raised into Qt
            if isinstance(exc, PhotosimError | OSError):  # expected: shown, and kept in the log
                log.info("%s: %s", self.name, exc, exc_info=exc)
            else:
                log.exception("%s failed", self.name)
            self._emit(self.errored, _without_frames(exc))
        else:
            self._emit(self.finished, result)
        finally:
            self._fn = None
            self._emit(self._ended)

    def _emit(self, signal, *args) -> None:
        """Emit unless Qt already deleted this object (an abandoned worker outliving the app)."""
        try:
            signal.emit(*args)
        except RuntimeError:  # "Signal source has been deleted": nobody is listening any more
            log.debug("%s ended after its QObject was deleted", self.name)

    def _call(self) -> Any:
        fn, abort = self._fn, self._abort
        assert fn is not None
        result = fn(abort)
        if not inspect.isgenerator(result):
            return result
        try:
            while True:
                if self._stop_on_abort and abort.is_set():
                    result.close()
                    return None
                self._emit(self.yielded, next(result))
        except StopIteration as stop:
            return stop.value


def _without_frames(exc: BaseException) -> BaseException:
    """``exc`` and the errors chained to it, without tracebacks: the frames would keep a
    library (and whatever else the failed code held) alive as long as the error is shown."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


class Runner(QObject):
    """Latest-wins one-shot jobs: at most one running, one waiting; stale answers dropped.

    ``submit(fn)`` returns at once; ``done(result)`` or ``failed(exception)`` follow
    on the GUI thread for the latest request only, so a fast click-through shows
    the last photo's result, not a late earlier one.
    """

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, name: str = "photosim-task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._running: Worker | None = None
        self._waiting: Callable[[], Any] | None = None
        self._latest: Worker | None = None

    def submit(self, fn: Callable[[], Any]) -> None:
        self._waiting = fn
        if self._running is None:
            self._start_waiting()

    def cancel(self) -> None:
        """Forget the waiting job and abandon the running one (it ends in the background)."""
        self._waiting = None
        if self._running is not None:
            self._running.abandon()
        self._running = self._latest = None

    def busy(self) -> bool:
        return self._running is not None or self._waiting is not None

    def _start_waiting(self) -> None:
        fn, self._waiting = self._waiting, None
        if fn is None:
            return
        worker = Worker(lambda _abort: fn(), name=self.name)
        worker.finished.connect(lambda result: self._on_end(worker, True, result))
        worker.errored.connect(lambda exc: self._on_end(worker, False, exc))
        self._running = self._latest = worker
        worker.start()

    def _on_end(self, worker: Worker, ok: bool, value: object) -> None:
        if worker is not self._running:
            return  # abandoned
        self._running = None
        if self._waiting is None and worker is self._latest:
            (self.done if ok else self.failed).emit(value)
        self._start_waiting()


# -- the scan ---------------------------------------------------------------------
@dataclass
class ScanBatch:
    """Progress events of a scan with the records of the photos they name.

    The records are read in the worker, so the GUI thread never queries the library.
    """

    events: list[ScanProgress]
    photos: dict[int, Photo] = field(default_factory=dict)


def batched(events: Iterable[ScanProgress], every_s: float = EMIT_EVERY_S) -> Iterator[list]:
    """Group events into lists sent every ``every_s`` seconds (at once for urgent kinds)."""
    batch: list[ScanProgress] = []
    last = 0.0
    for event in events:
        batch.append(event)
        now = time.monotonic()
        if event.kind in URGENT or now - last >= every_s:
            yield batch
            batch, last = [], now
    if batch:
        yield batch


def scan_job(library: Library, abort: threading.Event) -> Iterator[ScanBatch]:
    """The library's scan as batches with photo records; returns the last event."""
    final: ScanProgress | None = None
    for events in batched(library.scan(cancel=abort)):
        ids = {e.photo_id for e in events if e.photo_id is not None}
        photos = {pid: p for pid in ids if (p := library.photo(pid)) is not None}
        final = events[-1]
        yield ScanBatch(events, photos)
    return final


def retire(library: Library, workers: Iterable[Worker]) -> threading.Thread:
    """Close ``library`` in the background once ``workers`` (still using it) have ended."""
    pending = list(workers)

    def close() -> None:
        for worker in pending:
            worker.join()
        try:
            library.close()
        except Exception:
            log.warning("closing %s failed", library.db_path, exc_info=True)
        finally:
            _RETIRING.discard(threading.current_thread())

    thread = threading.Thread(target=close, name="photosim-retire", daemon=True)
    _RETIRING.add(thread)
    thread.start()
    return thread


def drain(timeout: float) -> bool:
    """Wait up to ``timeout`` s in all for workers and closing libraries to end; True if all
    did. Only once the event loop has ended (at exit): the GUI thread never waits."""
    deadline = time.monotonic() + timeout
    threads = [w._thread for w in list(_LIVE)] + list(_RETIRING)
    for thread in threads:
        if thread.ident is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    _RETIRING.difference_update([t for t in threads if not t.is_alive()])
    return not any(t.is_alive() for t in threads)


def neighbours_job(
    library: Library, path: str, k: int, inside: bool
) -> tuple[str, list, Photo | None]:
    """(path, matches, its record or None), in a worker: a library photo answers from the
    cache, a file is embedded."""
    photo = library.photo(path) if inside else None
    if photo is None:
        return path, library.similar_to_file(path, k), None
    if not photo.has_vector:
        if photo.error:
            raise DecodeError(path, photo.error)
        raise NotEmbedded(path)
    return path, library.similar(photo, k), photo


def preview_job(path: str, side: int) -> tuple[str, QImage, int, list[str]]:
    """(path, upright image at most ``side`` pixels, file size, the files that travel with
    it: a RAW's JPEG, sidecars, a Live Photo's video), in a worker. A RAW LibRaw cannot
    develop is shown by its pair's JPEG."""
    size = os.stat(path).st_size
    try:
        image = load_image(path, side)
    except DecodeError:
        image = load_partner(path, side)
        if image is None:
            raise
    return path, pil_to_qimage(image), size, companions_on_disk(path)


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB Pillow image as a QImage that owns its pixels (made in any thread)."""
    data = image.tobytes("raw", "RGB")
    qimage = QImage(data, image.width, image.height, 3 * image.width, QImage.Format.Format_RGB888)
    return qimage.copy()

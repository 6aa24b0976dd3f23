"""The scan's decode/hash/embed pipeline: every core busy, results in completion order.

Three kinds of threads, so that no stage waits on another without need:

- **workers** (a pool): read each file once, then hash, EXIF metadata and a draft
  decode all from those bytes (Pillow, hashlib and most of exifread release the
  GIL or are short), and letterbox the pixels for the model;
- **the model thread**: takes decoded photos in batches and runs the network
  (torch releases the GIL), retrying smaller batches when a GPU runs out of
  memory and falling back to the CPU when even that fails;
- **the caller** (the scan's thread, the only one that writes the store): iterates
  :meth:`Pipeline.run` and receives finished work as it completes, whatever order
  the files went in, so one slow file never holds up the rest.

Torch threads and decode workers are chosen together from the core count
(:func:`plan_threads`); cancelling drops what is pending at once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from photosim.core.errors import FailKind
from photosim.media import formats, pixels
from photosim.media.decode import (
    DecodeError,
    decode_bytes,
    load_image,
    load_partner,
    open_photo,
    probe,
    read_photo_bytes,
    shrink,
)
from photosim.media.metadata import read_metadata
from photosim.models.registry import model_threads_from_env

if TYPE_CHECKING:
    from PIL import Image

    from photosim.models.embedder import Embedder

log = logging.getLogger(__name__)

# Files larger than this are hashed and decoded from disk in two streaming passes instead
# of being held in memory (a 12 MP JPEG is 3-6 MB; a 1 GB TIFF scan is not read into RAM).
READ_ONCE_MAX = 256 * 2**20
# On cancel, a batch already in the model is kept if it ends within this time: a resnet50
# batch of 32 takes ~1-2 s on a laptop CPU, and finished work is never thrown away lightly.
# The app never waits for this (it abandons the scan thread), only the scan's own thread does.
CANCEL_GRACE_S = 10.0
# When the caller stops iterating (Ctrl+C, an error), the model thread is given this long to
# finish the batch it runs: a process that exits while torch computes is aborted by the C++
# runtime ("terminate called without an active exception"). See :func:`threads_left`.
STOP_WAIT_S = 3.0


@dataclass(frozen=True)
class Job:
    """One file the scan owes work on, as its walk saw it (a file changed since is retried)."""

    path: str
    size: int
    mtime_ns: int
    hash: str | None = None  # known when only the vector is missing
    is_new: bool = True  # no row for this path yet


@dataclass
class Work:
    """What a worker made of one job: hash, metadata, pixels or the reason it failed."""

    job: Job
    hash: str | None = None
    meta: dict | None = None
    pixels: np.ndarray | None = None
    error: str | None = None
    fail_kind: FailKind | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # see photo_extras()


@dataclass
class Embedded:
    """A batch the model finished: ``vectors[i]`` is the vector of ``items[i]``."""

    items: list[Work]
    vectors: np.ndarray


@dataclass
class Notice:
    """Something people should know about the scan (e.g. the GPU fell back to the CPU)."""

    message: str


def hash_bytes(data: bytes, name: str = "") -> str:
    """The content hash of a file's bytes (the same as :func:`content_hash` of the file).

    ``name`` is the file's name: a camera RAW (10-50 MB, where a JPEG is 3-6) is hashed with
    BLAKE3 (~7 GB/s on one core; blake2b ~1 GB/s would cost more than decoding its preview),
    every other photo with blake2b as always, so the hashes libraries hold, and the user's
    decisions keyed by them, stay valid. Both are cryptographic, 128 bits.
    """
    if formats.is_raw(name):
        import blake3

        return blake3.blake3(data, max_threads=1).hexdigest(16)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def content_hash(path: str) -> str:
    """A fast hash of the file's bytes: the cache key that survives moves and renames.

    Opened like every photo (``decode.open_photo``): a FIFO or a device with a photo's
    name raises ``DecodeError`` instead of hanging. Same scheme as :func:`hash_bytes`.
    """
    with open_photo(path) as f:
        if formats.is_raw(path):
            import blake3

            h = blake3.blake3(max_threads=1)
            while chunk := f.read(1 << 20):
                h.update(chunk)
            return h.hexdigest(16)
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def decode_side(model_side: int) -> int:
    """The side photos are decoded to: the model's, or the fingerprint's when that is larger."""
    return max(model_side, pixels.FINGERPRINT_SIDE)


def model_image(path: str | os.PathLike, model_side: int) -> Image.Image:
    """A photo file decoded as the scan decodes it for the model: a file queried from
    outside the library gets the vector it would get inside."""
    return shrink(load_image(path, max_side=decode_side(model_side)), model_side)


def photo_extras(image: Image.Image) -> dict[str, Any]:
    """Per-photo values computed from the decoded, upright image (at least ``pixels.FINGERPRINT_SIDE``).

    The duplicates' pixel fingerprint is made here, from the decode the model needs
    anyway, so finding duplicates never decodes a photo a second time; and the geometric
    check's features from the fingerprint's view (~1.6 ms), so a search computes none.
    """
    import cv2  # OpenCV, as the check's features need it: loaded once per scan

    from photosim.dupes import verify

    fingerprint = pixels.fingerprint(image)
    view = pixels.decode(fingerprint).view
    extras: dict[str, Any] = {"fingerprint": fingerprint}
    try:
        if view:
            extras["check_features"] = verify.pack(verify.view_features(view))
    except (ValueError, cv2.error):  # never the photo's fault: a search computes them
        log.warning("no check features for a photo's view", exc_info=True)
    return extras


# The side a photo is decoded at to check it when no model embeds it (JPEG draft: 1/8 scale).
CHECK_SIDE = 64


def process(job: Job, have_vector: set[str] | frozenset[str], backbone: Embedder | None) -> Work:
    """Runs in a worker: one read of the file; hash, metadata and pixels from those bytes."""
    try:
        return _process(job, have_vector, backbone)
    except Exception as exc:  # a bug or an odd file must cost one photo, not the scan
        log.exception("processing %r failed", job.path)
        return Work(job, error=f"could not be read ({exc.__class__.__name__})")


def _process(job: Job, have_vector: set[str] | frozenset[str], backbone: Embedder | None) -> Work:
    name = os.path.basename(job.path)
    expect = (job.size, job.mtime_ns)  # what the walk saw: a file changed since is retried
    digest: str | None = job.hash
    meta: dict | None = None
    side: int | None = None  # known once the file is read and needs decoding
    try:
        # One read when the file fits in memory; a huge file is streamed twice instead.
        data = read_photo_bytes(job.path, expect) if job.size <= READ_ONCE_MAX else None
        if data is None and backbone is not None and not digest:  # not worth hashing GBs?
            probe(job.path, decode_side(backbone.input_size), expect=expect)
        digest = digest or (hash_bytes(data, name) if data is not None else content_hash(job.path))
        meta = read_metadata(io.BytesIO(data) if data is not None else job.path, name)
        if digest in have_vector:
            return Work(job, digest, meta)
        if backbone is None:  # no model: still decoded (small), so a broken file is a skip
            if data is not None:
                decode_bytes(data, name, max_side=CHECK_SIDE)
            else:
                load_image(job.path, max_side=CHECK_SIDE, expect=expect)
            return Work(job, digest, meta)
        side = decode_side(backbone.input_size)  # one decode serves model and fingerprint
        if data is not None:
            image = decode_bytes(data, name, max_side=side)
        else:
            image = load_image(job.path, max_side=side, expect=expect)
    except DecodeError as exc:
        partner = load_partner(job.path, side) if side else None  # side: a model is there
        if partner is None or backbone is None:
            return Work(job, digest, meta, error=exc.reason, fail_kind=exc.kind)
        image = partner
    extras = photo_extras(image)
    pixels_in = backbone.prepare(shrink(image, backbone.input_size))
    return Work(job, digest, meta, pixels=pixels_in, extras=extras)


def plan_threads(cores: int | None = None, device: str = "cpu") -> tuple[int, int]:
    """(torch threads, decode workers) for ``cores`` CPU cores.

    On a CPU both stages get every core and the OS shares them: decoding runs in the
    gaps the model leaves (between layers, between batches) and releases the GIL. Measured
    on a quiet 2-core AMD EPYC (bench/scan.py, 12 MP JPEGs): resnet50 in bf16 18.6 photos/s
    with 2 torch threads + 2 decoders against 13.2 with the cores split 1 + 1; resnet18
    25.8 against 23.1. The compiled backend (OpenVINO, unpinned threads) shares the cores the
    same way: 1 model thread x 2 decoders and 2 x 1 were within the noise of cores x cores on
    a shared 2-core Xeon (README "Backends"). With a GPU the model needs one thread to drive
    it and every core decodes.
    """
    cores = max(1, cores or os.cpu_count() or 1)
    if device != "cpu":
        return 1, max(2, cores)
    return cores, cores


def _no_cancel() -> bool:
    return False


class Pipeline:
    """Decode in a worker pool, embed on a model thread; iterate :meth:`run` for results."""

    def __init__(
        self,
        backbone: Embedder | None,
        have_vector: set[str],
        *,
        batch_size: int = 32,
        workers: int | None = None,
        torch_threads: int | None = None,
    ) -> None:
        self.backbone = backbone
        self.have_vector = have_vector
        device = backbone.device.type if backbone is not None else "cpu"
        planned_torch, planned_workers = plan_threads(None, device)
        self.workers = max(1, workers or planned_workers)
        threads = torch_threads or model_threads_from_env() or planned_torch
        self.torch_threads = max(1, threads)
        sized = backbone.batch_size(batch_size) if backbone is not None else batch_size
        self.batch_size = max(1, sized)
        # In flight at most: enough for two batches and every worker busy, never unbounded.
        self.window = max(2 * self.batch_size, 4 * self.workers)
        self._out: queue.Queue = queue.Queue()
        self._to_model: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._busy = threading.Event()  # the model is running a batch

    # -- the caller's side ------------------------------------------------------------
    def run(
        self, jobs: Iterable[Job], cancel: Callable[[], bool] = _no_cancel
    ) -> Generator[Work | Embedded | Notice, None, None]:
        """Finished work in completion order: Work without pixels (nothing to embed, or
        failed), Embedded batches, Notices. Stops at once when ``cancel()`` turns true."""
        todo = iter(jobs)
        exhausted = False
        decoding = in_flight = 0
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="photosim-decode")
        model = None
        if self.backbone is not None:
            model = threading.Thread(target=self._model_loop, args=(self.backbone,),
                                     name="photosim-model", daemon=True)  # fmt: skip
            model.start()
        try:
            while True:
                while not exhausted and in_flight < self.window:
                    job = next(todo, None)
                    if job is None:
                        exhausted = True
                        break
                    future = pool.submit(process, job, self.have_vector, self.backbone)
                    future.add_done_callback(self._out.put)
                    decoding += 1
                    in_flight += 1
                if in_flight == 0:
                    return
                if cancel():
                    pool.shutdown(wait=False, cancel_futures=True)
                    yield from self._finish_running()
                    return
                try:
                    item = self._out.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, Future):
                    decoding -= 1
                    work = item.result()
                    if work.pixels is not None:
                        self._to_model.put(work)
                    else:
                        in_flight -= 1
                        yield work
                    if exhausted and decoding == 0:
                        self._to_model.put(_FLUSH)  # no more photos coming: run what is left
                elif isinstance(item, Embedded):
                    in_flight -= len(item.items)
                    yield item
                elif isinstance(item, Notice):
                    yield item
                elif isinstance(item, BaseException):
                    raise item
        finally:
            self._stop.set()
            self._to_model.put(_STOP)
            pool.shutdown(wait=False, cancel_futures=True)
            if model is not None and model is not threading.current_thread():
                model.join(STOP_WAIT_S)  # torch must not be computing when the process exits

    def _finish_running(self) -> Iterator[Work | Embedded | Notice]:
        """On cancel: keep what is finished, and the batch in the model if it ends within
        CANCEL_GRACE_S; drop everything else (queued photos are never embedded)."""
        self._stop.set()
        deadline = time.monotonic() + CANCEL_GRACE_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._out.get(timeout=min(left, 0.02))
            except queue.Empty:
                if not self._busy.is_set():
                    return
                continue
            if isinstance(item, Future):
                work = item.result() if not item.cancelled() else None
                if work is not None and work.pixels is None:
                    yield work
            elif isinstance(item, Embedded | Notice):
                yield item

    # -- the model thread -------------------------------------------------------------
    def _model_loop(self, backbone: Embedder) -> None:
        import torch

        torch.set_num_threads(self.torch_threads)
        batch: list[Work] = []
        while True:
            item = self._to_model.get()
            if item is _STOP or self._stop.is_set():
                return
            if item is not _FLUSH:
                batch.append(item)
                if len(batch) < self.batch_size:
                    continue
            if not batch:
                continue
            self._busy.set()
            try:
                vectors = self._embed(backbone, _pixels(batch))
            except BaseException as exc:  # handed to the caller's thread, raised there
                self._out.put(exc)
                return
            finally:
                self._busy.clear()
            for work in batch:
                work.pixels = None  # the vector is all the caller needs; free the memory
            self._out.put(Embedded(batch, vectors))
            batch = []

    def _embed(self, backbone: Embedder, pixels: list[np.ndarray]) -> np.ndarray:
        vectors, size, notice = embed_resilient(backbone, pixels)
        if said := backbone.take_notice():  # a compiled runtime fell back to torch
            self._out.put(Notice(said))
        if notice is not None:
            self._out.put(notice)
        self.batch_size = min(self.batch_size, size)  # what fits in memory from now on
        return vectors


def _pixels(batch: list[Work]) -> list[np.ndarray]:
    """The model's inputs of a batch (only work with pixels is sent to the model)."""
    out = [w.pixels for w in batch if w.pixels is not None]
    if len(out) != len(batch):
        raise ValueError("work without pixels was sent to the model")
    return out


_FLUSH = object()
_STOP = object()


def threads_left() -> list[threading.Thread]:
    """The pipeline threads still running (a decode or a batch that would not stop in time).

    A process must not exit normally while one runs: Python's exit joins the decode
    workers (a huge file holds it up) and tears torch down under the model thread (the
    C++ runtime aborts). The CLI ends such a process with ``os._exit`` instead.
    """
    return [t for t in threading.enumerate()
            if t.is_alive() and t.name.startswith(("photosim-decode", "photosim-model"))]  # fmt: skip


def embed_resilient(
    backbone: Embedder, pixels: list[np.ndarray]
) -> tuple[np.ndarray, int, Notice | None]:
    """Embed ``pixels``; when the GPU runs out of memory, retry in halves, then on the CPU.

    Returns the vectors, the batch size that fitted, and a :class:`Notice` when the
    work moved to the CPU (the backbone stays there for the rest of the scan).
    """
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    size = len(pixels)
    while True:
        try:
            parts = [backbone.embed(pixels[i : i + size]) for i in range(0, len(pixels), size)]
            return np.concatenate(parts), size, None
        except oom:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if size > 1:
                size = max(1, size // 2)
                log.info("GPU out of memory: retrying with batches of %d", size)
                continue
            break
    device = backbone.device
    log.warning("the %s ran out of memory even for one photo: embedding on the CPU", device)
    backbone.to_cpu()
    message = (
        f"The GPU ({device}) ran out of memory, so photos are embedded on the CPU (slower); "
        f"close other programs that use the GPU and scan again to use it."
    )
    return backbone.embed(pixels), len(pixels), Notice(message)

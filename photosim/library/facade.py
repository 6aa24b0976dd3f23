"""The library API that the CLI and the app share.

A :class:`Library` is a set of root folders plus the SQLite file that caches
their photos' vectors. It scans incrementally (a generator of progress events
that honours a cancel flag) and answers similarity queries from the cache and
the Annoy index; the model is loaded only when something must be embedded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core import paths
from photosim.core.errors import (
    FolderMissing,
    LibraryCorrupt,
    ModelMismatch,
    NotEmbedded,
    NotInLibrary,
    PhotosimError,
    UnknownLibrary,
    WeightsMissing,
    shown,
)
from photosim.core.events import (
    Failure,
    Match,
    ModelInUse,
    Photo,
    ScanKind,
    ScanProgress,
    WeightsDownload,
)
from photosim.core.paths import is_under
from photosim.library.browse import Folder, Year, folder_tree, timeline
from photosim.models.registry import DEFAULT_MODEL, model_key
from photosim.search.index import VectorIndex
from photosim.storage.store import PhotoRow, Store

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    import numpy as np

    from photosim.core.cancel import CancelFlag
    from photosim.dupes.finder import DuplicateFinder
    from photosim.dupes.trash import TrashRecord, UndoResult
    from photosim.dupes.types import Dismissed, DupResult, Thresholds
    from photosim.models.embed import Backbone
    from photosim.models.embedder import Embedder

# Queries that need no model import only what they use: numpy comes with the store, while
# decoding (PIL), scanning, locking and duplicate finding are imported where they are used.


class Library:
    """Photos under ``roots`` and their cached vectors (see module docstring).

    ``read_only`` opens it for queries: nothing is written (no meta, no registry).
    ``lock_owner`` names this process in the scan lock ("photosim scan", "photosim app").
    ``recovered`` is the :class:`LibraryCorrupt` to show when a damaged file was moved aside.
    ``download``: may missing torchvision weights be fetched (None: unless PHOTOSIM_OFFLINE);
    the app passes False (it downloads only on a click); ``announce`` hears of a download first.
    ``backend`` (auto, torch, openvino: photosim.models.backends) is where the model runs on a
    CPU; None is auto (or PHOTOSIM_BACKEND) for a model the library loads, while an injected
    ``backbone`` runs as given.
    """

    def __init__(
        self,
        roots: Sequence[Path | str] | None = None,
        db_path: Path | str | None = None,
        *,
        model: str | None = None,
        weights: Path | str | None = None,
        device: str = "auto",
        backbone: Backbone | None = None,
        read_only: bool = False,
        lock_owner: str = "photosim app",
        precision: str = "auto",
        download: bool | None = None,
        announce: Callable[[WeightsDownload], None] | None = None,
        backend: str | None = None,
    ) -> None:
        if not roots and db_path is None:
            raise UnknownLibrary("Name a folder of photos or a library database (--db FILE).")
        root_list = [Path(r).expanduser().resolve() for r in roots or []]
        self.db_path = Path(db_path).expanduser() if db_path else paths.default_db_path(root_list)
        self.store = Store(self.db_path, read_only=read_only)
        self.read_only = read_only
        self.recovered: LibraryCorrupt | None = self.store.recovered
        self.lock_owner = lock_owner
        self._asked_model = model
        stored_roots = [Path(r) for r in self.store.meta_paths("roots")]
        if not root_list or set(root_list) <= set(stored_roots):
            root_list = stored_roots  # a folder of a library with several: the whole library
        self.roots = root_list
        self._source = backbone  # the torch backbone
        self._injected = backbone is not None  # the caller's: never released here
        self._backbone: Embedder | None = None  # what embeds: see backend
        self._backbone_lock = threading.Lock()
        self.backend = backend or ("torch" if backbone is not None else "auto")
        self.backend_notice: str | None = None  # why the backend asked for is not the one running
        self._ran_on: str | None = None  # "backend precision" of the model released last
        self.device = device
        self.precision = precision  # auto, fp32, bf16, fp16: see photosim.models.embed
        self.download, self.announce = download, announce
        stored_model = self.store.get_meta("model_name")
        self.model_name = model or stored_model or DEFAULT_MODEL
        # The weights file of the last scan is reused only for the same model.
        same_model = self.model_name == (stored_model or DEFAULT_MODEL)
        self.weights = weights or (self.store.get_meta("weights") if same_model else None) or None
        self._model_key = backbone.key if backbone else None
        self.index = VectorIndex(self.store, self.db_path)
        if not read_only:
            self.store.set_meta(roots=json.dumps([str(r) for r in self.roots]))
            remember(self)

    @property
    def model_key(self) -> str:
        """The tag of the vectors this library uses now (model + weights)."""
        if self._model_key is None:
            self._model_key = model_key(self.model_name, self.weights)
        return self._model_key

    def ensure_backbone(self) -> Embedder:
        """Load the model once, on its backend; raises WeightsMissing with a message for
        people. A backend that cannot run leaves torch running and says why in ``backend_notice``."""
        with self._backbone_lock:
            if self._backbone is None:
                from photosim.models import backends

                choice = backends.choose(self._torch_backbone(), self.backend, self.precision)
                self._backbone, self.backend_notice = choice.backbone, choice.notice
                self._model_key = self._backbone.key
            return self._backbone

    def release_model(self) -> bool:
        """Let go of the model this library loaded (not one handed to it), its memory back to
        the system: a scan ends with this (1.4 GB stayed resident in the app before). The
        next embedding loads it again. True when one was released."""
        with self._backbone_lock:
            if self._injected or (self._backbone is None and self._source is None):
                return False
            if (running := self._backbone) is not None:  # still said after the release
                self._ran_on = f"{running.backend} {running.precision}"
            self._backbone, self._source = None, None
        import gc

        gc.collect()
        paths.return_free_memory()
        return True

    def _torch_backbone(self) -> Backbone:
        if self._source is None:
            from photosim.models import embed  # torch loads only to embed

            self._source = embed.load_backbone(
                self.model_name, self.weights, self.device, download=self.download,
                precision=self.precision, announce=self.announce)  # fmt: skip
        return self._source

    def preparing_step(self) -> str | None:
        """Words for a slow first-time step :meth:`ensure_backbone` is about to take (converting
        the model for this CPU's runtime), or None when the model is ready or quick to load."""
        with self._backbone_lock:
            if self._backbone is not None:
                return None
            from photosim.models import backends

            return backends.pending(self._torch_backbone(), self.backend, self.precision)

    # -- scanning ------------------------------------------------------------
    def scan(
        self, cancel: CancelFlag = None, batch_size: int = 32, workers: int | None = None
    ) -> Generator[ScanProgress, None, None]:
        """Bring the cache up to date with the folders; yields progress events.

        Holds the library's scan lock throughout (:class:`LibraryBusy` if another
        scan has it). The model is recorded as soon as it is loaded, so the vectors
        of every finished batch answer queries at once, even after a crash.
        """
        from photosim.library.locking import ScanLock

        missing = [r for r in self.roots if not r.is_dir()]
        if missing:
            raise FolderMissing(missing[0])
        lock = ScanLock(self.db_path, self.lock_owner)
        lock.acquire()
        try:
            yield from self._scan_locked(cancel, batch_size, workers)
        finally:
            lock.release()
            self.release_model()  # a scan's model is not kept between scans

    def _scan_locked(self, cancel, batch_size, workers) -> Iterator[ScanProgress]:
        from photosim.library.scan import Scan

        key = self._scan_key()
        own = {str(self.db_path.parent), str(paths.cache_dir())}
        scan = Scan(self.store, self.roots, key, self._backbone_for_scan,
                    batch_size=batch_size, workers=workers, exclude=own,
                    model_step=self.preparing_step,
                    model_notice=lambda: self.backend_notice)  # fmt: skip
        with self.store.periodic_sync():  # batches synced once a second, not each
            for event in scan.run(cancel):
                if event.kind != ScanKind.DONE:
                    yield event
                    continue
                done = event
                break
            else:
                return
        if not done.model_error:  # the model and weights that made the vectors, for next time
            self._record_model(key)
        if (running := self._backbone) is not None:  # a runtime that failed mid-scan: torch
            self.store.set_meta(backend=f"{running.backend} {running.precision}")
        if not done.cancelled and (scan.changed or self.index.status(key) != "fresh"):
            yield ScanProgress(**{**done.__dict__, "kind": ScanKind.INDEXING})
            self.index.build(key)
        self.store.set_meta(last_scan=time.time())
        yield done

    def _scan_key(self) -> str:
        """The key a scan files vectors under. When the library's own weights file has gone
        (moved, deleted), the key its vectors were made with: the scan still lists the photos
        and says the weights are missing (as without any weights), instead of stopping."""
        try:
            return self.model_key
        except WeightsMissing:
            stored, made_with = self.store.get_meta("model_key"), self.store.get_meta("weights")
            if not (stored and made_with and self.weights) or made_with != str(
                Path(self.weights).expanduser().resolve()
            ):
                raise  # another file asked for (a typo in --weights): said at once
            return stored

    def _backbone_for_scan(self) -> Embedder:
        backbone = self.ensure_backbone()
        self._record_model(backbone.key)
        self.store.set_meta(backend=f"{backbone.backend} {backbone.precision}")
        return backbone

    def _record_model(self, key: str) -> None:
        """The model and weights that make this library's vectors (one transaction)."""
        weights = str(Path(self.weights).resolve()) if self.weights else None
        self.store.set_meta(model_key=key, model_name=self.model_name, weights=weights)

    def running_backend(self) -> str | None:
        """Where the model runs ("openvino bf16", "torch fp32"): the loaded model's, else the
        one the last scan ran on (None before any)."""
        backbone = self._backbone
        if backbone is not None:
            return f"{backbone.backend} {backbone.precision}"
        if self._ran_on:  # released when the scan ended
            return self._ran_on
        return self.store.get_meta("backend")

    def model_in_use(self) -> ModelInUse:
        """Which model, weights file (path, size), device and backend embed this library's
        photos, for About and Help > Model Weights. Reads the disk and imports torch (to find
        torchvision's cache) unless a model was handed in: call it off a GUI thread."""
        backbone = self._backbone or self._source  # the source: loaded, or handed in
        weights: Path | None = None
        size: int | None = None
        if not self._injected:
            from photosim.models.weights import weights_in_use

            weights, size = weights_in_use(self.model_name, self.weights)
        key = backbone.key if backbone is not None else self.current_key()
        device = str(backbone.device) if backbone is not None else self.device
        return ModelInUse(
            model=self.model_name, key=key, weights=weights, weights_bytes=size,
            chosen=bool(self.weights), injected=self._injected, loaded=backbone is not None,
            device=device, backend=self.running_backend(), backend_asked=self.backend,
            backend_notice=self.backend_notice,
        )  # fmt: skip

    def weights_look_untrained(self) -> bool:
        """True when the vectors of this library's photos are all but the same, as untrained
        (randomly initialised) weights make them: every pair would score ~99 %. Reads a
        sample of the stored vectors; False when there are too few to tell."""
        import numpy as np

        from photosim.models.sanity import SAMPLE, looks_untrained

        key = self.current_key()
        vectors = self.store.sample_vectors(key, SAMPLE) if key else []
        return bool(vectors) and looks_untrained(np.stack(vectors))

    # -- queries -------------------------------------------------------------
    def photos(self) -> list[Photo]:
        """Every photo of the library, sorted by path."""
        return self.store.photos(self.current_key())

    def photo(self, key: int | str | Path) -> Photo | None:
        """A photo of the library by id or path, or None.

        The library keeps real paths (the scan resolves symlinks), so a path reached
        through a symlinked folder is looked up again by its real path.
        """
        if not isinstance(key, Path | str):
            return self.store.photo(key, self.current_key())
        path = Path(key).expanduser().absolute()
        record = self.store.photo(str(path), self.current_key())
        if record is None and (real := path.resolve()) != path:
            record = self.store.photo(str(real), self.current_key())
        return record

    def current_key(self) -> str | None:
        """The model tag of the last scan (what queries use), without loading anything."""
        if self._model_key is not None:
            return self._model_key
        return self.store.get_meta("model_key")

    def similar(self, photo: int | str | Path | Photo, k: int = 10) -> list[Match]:
        """The ``k`` photos most similar to one in the library, from the cache: no model."""
        self._check_model()
        record = photo if isinstance(photo, Photo) else self.photo(photo)
        if record is None:
            raise NotInLibrary(photo.path if isinstance(photo, Photo) else str(photo))
        key = self.current_key()
        vector = self.store.get_vector(record.hash, key) if record.hash and key else None
        if vector is None:
            raise NotEmbedded(record.path, record.error or "it has not been embedded yet")
        return self._neighbours(vector, k, exclude=record.path)

    def warm_index(self) -> bool:
        """Map the index into memory so that no query waits on a page fault (for the app,
        off its GUI thread; at 1M photos it took 0.07-0.1 s, and a cold query 120 ms)."""
        key = self.current_key()
        return self.index.warm(key) if key else False

    def _check_model(self) -> None:
        """A query asking for another model than the library's vectors: ModelMismatch."""
        stored = self.store.get_meta("model_name")
        if self._asked_model and stored and self._asked_model != stored:
            raise ModelMismatch(stored, self._asked_model)

    def similar_to_file(self, path: str | Path, k: int = 10) -> list[Match]:
        """Photos similar to any image file; it is embedded, not added to the library."""
        self._check_model()
        path = Path(path).expanduser().absolute()
        inside = self.photo(path)
        if inside is not None and inside.has_vector:
            return self.similar(inside, k)
        from photosim.library.pipeline import content_hash, model_image

        key = self.current_key()
        vector = self.store.get_vector(content_hash(str(path)), key) if key else None
        if vector is None:
            backbone = self.ensure_backbone()
            vector = self.vector_of_image(model_image(path, backbone.input_size))
            stored = self.store.get_meta("model_key")
            if stored and backbone.key != stored:
                raise ModelMismatch(stored, backbone.key)
        return self._neighbours(vector, k, exclude=path)

    def _neighbours(self, vector, k: int, exclude: Path | None) -> list[Match]:
        key = self.current_key()
        if key is None:  # nothing embedded yet: nothing to be near
            return []
        if self.index.status(key) == "missing" and self.store.vector_models().get(key):
            self.index.build(key)
        # k + 1 hashes: the photo's own is among them. Ask again, for more, only when that
        # left too few (a hash whose photos are gone): the re-scoring read grows with n.
        for wanted in (k + 1, 2 * k + 16):
            hits = self.index.query(vector, key, wanted)
            by_hash = self.store.paths_for_hashes(h for h, _ in hits)
            matches = [
                Match(Path(p), score)
                for h, score in hits
                for p in sorted(by_hash.get(h, []))
                if exclude is None or Path(p) != exclude
            ]
            if len(matches) >= k or len(hits) < wanted:
                break
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches[:k]

    def info(self) -> dict:
        """Counts and state for ``photosim info``."""
        key = self.current_key()
        return {
            "roots": [str(r) for r in self.roots],
            "db": str(self.db_path),
            "photos": self.store.count() - (failed := self.store.count_failed()),
            "skipped": failed,  # files that could not be read: not photos
            "embedded": self.store.count_embedded(key),
            "failed": failed,  # (the same, under the name JSON readers had)
            # what the last walk saw besides photos: never listed, never failures
            "other_files": int(self.store.get_meta("other_files", "0") or 0),
            "companions": int(self.store.get_meta("companion_files", "0") or 0),
            "model": key,
            "backend": self.running_backend(),
            "index": self.index.status(key) if key else "missing",
        }

    # -- browsing: the sidebar's folder tree and timeline --------------------------
    def folder_tree(self) -> list[Folder]:
        """The folders holding photos, the library's roots on top, with photo counts."""
        return folder_tree(self.store.folder_counts(), self.roots)

    def timeline(self) -> list[Year]:
        """Years and months (newest first) with their photo counts: date taken, else file time."""
        return timeline(self.store.month_counts())

    def photos_in_folder(self, folder: str | Path, *, subfolders: bool = True,
                         after: str | None = None, limit: int = 500) -> list[PhotoRow]:  # fmt: skip
        """A page of the photos in ``folder`` (with its subfolders), by path; ``after``: the
        last path of the previous page."""
        rows = self.store.photos_in_folder(str(folder), subfolders=subfolders, after=after,
                                           limit=limit)  # fmt: skip
        key = self.current_key()
        have = self.store.hashes_with_vector([r[6] for r in rows if r[6]], key) if key else set()
        return [PhotoRow(i, p, s or 0, m or 0, t, e, h in have) for i, p, s, m, t, e, h in rows]

    def failures(self) -> list[Failure]:
        """Every file that could not be used: path, kind and reason."""
        return self.store.failures()

    def close(self) -> None:
        self.index.close()
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- duplicates ------------------------------------------
    def duplicate_finder(
        self, references: Sequence[Path] = (), cancel=None, progress=None
    ) -> DuplicateFinder:
        """The slow part of duplicate finding (candidates + pixel checks), ready to regroup.

        ``cancel`` (a callable or threading.Event) stops it with ``errors.Cancelled``;
        ``progress(step: str)`` hears each step (fingerprints, neighbours, rotations, pixels).
        """
        from photosim.dupes.cache import cache_path
        from photosim.dupes.finder import build_finder

        thresholds = self.calibration()  # first: calibrating may load the model, and its key
        refs = list(dict.fromkeys([*self.reference_folders(), *map(Path, references)]))
        return build_finder(self.store, self.current_key(), thresholds, refs,
                            cache_path(self.db_path), cancel, progress)  # fmt: skip

    def duplicates(
        self,
        kind: str = "all",
        threshold: float | None = None,
        references: Sequence[Path] = (),
        similar_threshold: float | None = None,
    ) -> DupResult:
        """Duplicate groups of ``kind`` (exact, near, similar or all), largest savings first."""
        kinds = ("exact", "near", "similar") if kind == "all" else (kind,)
        finder = self.duplicate_finder(references)
        return finder.group(kinds, near=threshold, similar=similar_threshold)

    def calibration(self) -> Thresholds:
        """The near/similar thresholds of this library's model; calibrated when missing."""
        from photosim.dupes.calibrate import ModelAsked, stored_or_calibrate

        asked = ModelAsked(self.model_name, self.weights)
        return stored_or_calibrate(self.store, self.current_key(), asked, self.ensure_backbone)

    def calibration_loads_model(self) -> bool:
        """Whether :meth:`calibration` will calibrate now, which loads the model (no torch)."""
        from photosim.dupes.calibrate import ModelAsked, needs_model

        asked = ModelAsked(self.model_name, self.weights)
        return needs_model(self.store, self.current_key(), asked)

    def calibrate(self, sample: int = 48) -> Thresholds:
        """Measure the thresholds on augmented copies of the library's photos (needs the model)."""
        from photosim.dupes.calibrate import calibrate

        return calibrate(self.store, self.ensure_backbone(), sample=sample)

    def mark_not_duplicates(self, paths: Sequence[Path]) -> None:
        """Remember that these photos (a pair or a whole group) are not duplicates."""
        hashes = self._hashes_of(paths)
        with self.store.atomic():
            self.store.add_not_duplicates(hashes)
            self.store.bump_decisions()

    def mark_keep(self, path: Path) -> None:
        """Remember that this photo is to be kept (by content: survives renames and rescans)."""
        hashes = self._hashes_of([path])
        with self.store.atomic():
            self.store.add_keep(hashes[0], str(Path(path).expanduser().absolute()))
            self.store.bump_decisions()

    def unmark_keep(self, path: Path) -> None:
        """Forget the keep mark of this photo's content (the user marked it for removal)."""
        hashes = self._hashes_of([path])
        with self.store.atomic():
            self.store.remove_keep(hashes[0])
            self.store.bump_decisions()

    def dismissed_groups(self) -> list[Dismissed]:
        """The groups (and pairs) marked "not duplicates", with their files now."""
        from photosim.dupes.finder import dismissed_groups

        return dismissed_groups(self.store.not_duplicate_pairs(), self.store.photo_rows())

    def restore_dismissed(self, hashes: Sequence[str]) -> None:
        """Undo "not duplicates" among these contents: they may be grouped again."""
        with self.store.atomic():
            self.store.remove_not_duplicates(hashes)
            self.store.bump_decisions()

    # -- the trash (photosim.dupes.trash: journalled, undoable) -------------
    @property
    def trash_journal(self) -> Path:
        """The journal of this library's moves to the trash, beside its database."""
        from photosim.dupes.trash import journal_path

        return journal_path(self.db_path)

    def move_to_trash(self, paths: Sequence[Path]) -> TrashRecord:
        """Move photos of this library (and their companions) to the system trash, never
        one outside its folders or in a reference folder; journalled, so it can be undone."""
        from photosim.dupes import trash

        refs = self.reference_folders()
        return trash.move_to_trash(self.store, self.roots, self.trash_journal, paths, refs)

    def undo_last_move(self) -> UndoResult:
        """Bring the photos of the last move back from the trash, with their rows."""
        from photosim.dupes import trash

        return trash.undo_last(self.store, self.roots, self.trash_journal)

    def can_undo(self) -> bool:
        """Whether the last move to the trash can be undone now."""
        from photosim.dupes import trash

        return trash.can_undo(self.trash_journal)

    def reference_folders(self) -> list[Path]:
        """Folders whose photos are never proposed for removal."""
        return [Path(p) for p in self.store.meta_paths("reference_folders")]

    def set_reference_folders(self, folders: Sequence[Path | str]) -> None:
        folders = [str(Path(f).expanduser().absolute()) for f in folders]
        with self.store.atomic():
            self.store.set_meta(reference_folders=json.dumps(folders))

    def _hashes_of(self, paths: Sequence[Path | str]) -> list[str]:
        out = []
        for path in paths:
            record = self.photo(path)
            if record is None or not record.hash:
                raise NotInLibrary(path)
            out.append(record.hash)
        return out

    # -- folders, weights and queries of several photos ----------
    def add_root(self, folder: Path | str) -> Path:
        """Make ``folder`` part of this library (its photos join at the next scan)."""
        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise FolderMissing(root)
        if root not in self.roots:
            self.roots = [*self.roots, root]
            self._save_roots()
        return root

    def remove_root(self, folder: Path | str) -> int:
        """Take ``folder`` out of the library: its photos leave the library, never the disk."""
        root = Path(folder).expanduser().resolve()
        self.roots = [r for r in self.roots if r != root]
        removed = self.store.delete_under(root)
        self._save_roots()
        # The index is stale now, not wrong: its hits without a photo are dropped at query
        # time, and the next scan rebuilds it (a rebuild here would hold up the caller).
        return removed

    def _save_roots(self) -> None:
        with self.store.atomic():
            self.store.set_meta(roots=json.dumps([str(r) for r in self.roots]))
        remember(self)

    def set_weights(
        self, weights: Path | str | None, model: str | None = None, *, check: bool = True
    ) -> None:
        """Use other weights (or model) from now on; the next scan embeds what lacks a vector.

        A weights file is validated first (``WeightsInvalid``, nothing changes); None means
        torchvision's cache. ``check=False`` skips the check (the caller has just made it).
        """
        model = model or self.model_name
        if weights is not None:
            if check:
                from photosim.models.weights import validate_weights  # torch: only now

                validate_weights(weights, model)
            weights = str(Path(weights).expanduser().resolve())
        with self._backbone_lock:
            self.model_name, self.weights = model, weights
            self._backbone, self._source, self._model_key = None, None, None
            self._asked_model = None  # a model asked for at opening no longer applies

    def set_device(self, device: str) -> None:
        """Embed on another device from now on (vectors stay valid: the key has no device)."""
        with self._backbone_lock:
            if device != self.device:
                self.device, self._backbone, self._source = device, None, None

    def set_backend(self, backend: str) -> None:
        """Run the model on another backend from now on (vectors agree: the key is the same)."""
        with self._backbone_lock:
            if backend != self.backend:
                self.backend, self._backbone = backend, None

    def vector_of(self, item: int | str | Path | Photo) -> np.ndarray:
        """The vector of a library photo (from the cache) or of any image file (embedded)."""
        record = item if isinstance(item, Photo) else self.photo(item)
        key = self.current_key()
        if record is not None and record.has_vector and record.hash and key:
            vector = self.store.get_vector(record.hash, key)
            if vector is not None:
                return vector
        if record is not None and record.error:
            raise NotEmbedded(record.path, record.error)
        if record is not None:
            path = record.path
        elif isinstance(item, str | Path):
            path = Path(item).expanduser().absolute()
        else:  # an id the library does not have
            raise NotInLibrary(str(item))
        if not path.is_file():
            raise NotInLibrary(path)
        from photosim.library.pipeline import model_image

        return self.vector_of_image(model_image(path, self.ensure_backbone().input_size))

    def vector_of_image(self, image) -> np.ndarray:
        """The vector of a PIL image that is no file (say, dragged in from a web browser)."""
        backbone = self.ensure_backbone()
        return backbone.embed([backbone.prepare(image.convert("RGB"))])[0]

    def similar_to_many(
        self, items: Sequence[int | str | Path | Photo], k: int = 10
    ) -> list[Match]:
        """Photos like all of ``items`` together: the mean of their vectors, re-normalised.

        This is how a recommender uses someone's recent picks; the picks themselves are
        left out of the answer.
        """
        import numpy as np

        if not items:
            raise PhotosimError("Select at least one photo to find similar ones.")
        vectors = np.stack([self.vector_of(item) for item in items])
        mean = vectors.mean(axis=0)
        mean = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
        exclude = {
            (i.path if isinstance(i, Photo) else Path(i).expanduser().absolute())
            for i in items
            if not isinstance(i, int)
        } | {p.path for i in items if isinstance(i, int) and (p := self.photo(i))}
        matches = self._neighbours(mean, k + len(exclude), exclude=None)
        return [m for m in matches if m.path not in exclude][:k]

    def similar_to_image(self, image, k: int = 10) -> list[Match]:
        """Photos similar to a PIL image held in memory: nothing is saved or downloaded."""
        return self._neighbours(self.vector_of_image(image), k, exclude=None)

    # -- what the app's grid lists --------------------------
    def photo_listing(self) -> list[PhotoRow]:
        """Every photo as the grid lists it (light tuples, fast at 100k); :meth:`photo` for more."""
        return self.store.photo_listing(self.current_key())

    def failure_count(self) -> int:
        """How many files could not be used (the status bar's "N skipped")."""
        return self.store.count_failed()

    def photo_listing_earliest(self, limit: int) -> list[PhotoRow]:
        """The photos that may come first by date (up to 3 x ``limit``, unordered; fast)."""
        return self.store.photo_listing_earliest(self.current_key(), limit)

    def change_stamp(self) -> tuple[str | None, int]:
        """What changes when a scan writes (its version, its number of photos): cheap to poll."""
        return self.store.get_meta("library_version"), self.store.count()

    def photo_count(self) -> int:
        """How many photos the library lists (skipped files included)."""
        return self.store.count()


# -- the registry of libraries (so `photosim similar` knows where to look) -----
def known_libraries() -> list[dict]:
    """Known libraries, most recently used first: ``{"roots": [...], "db": "..."}``."""
    try:
        data = json.loads(paths.registry_path().read_text())
        return [d for d in data if isinstance(d, dict) and "db" in d]
    except (OSError, ValueError):
        return []


def remember(library: Library) -> None:
    """Put the library first in the registry. Only a convenience (what ``similar`` without
    ``--db`` opens): when its disk is full or read-only, the library works on without it."""
    entry = {"roots": [str(r) for r in library.roots], "db": str(library.db_path)}
    entries = [entry] + [d for d in known_libraries() if d["db"] != entry["db"]]
    data = json.dumps(entries[:50], indent=1).encode("utf-8", "surrogateescape")
    try:
        paths.atomic_write_bytes(paths.registry_path(), data)
    except OSError as exc:
        log.warning("Could not record the library in %s: %s", paths.registry_path(), exc)


def known_db_for(root: str | os.PathLike) -> Path | None:
    """The library a folder already belongs to (say, as its second folder), if any."""
    folder = str(Path(root).expanduser().resolve())
    for entry in known_libraries():
        if folder in entry.get("roots", []) and Path(entry["db"]).is_file():
            return Path(entry["db"])
    return None


def find_library_db(near: Path | None = None) -> Path:
    """The library holding ``near`` if any, else the most recently used one."""
    entries = [e for e in known_libraries() if Path(e["db"]).exists()]
    if not entries:
        raise UnknownLibrary("No library yet: run `photosim scan FOLDER` first, or pass --db FILE.")
    if near is not None:
        near = near.expanduser().absolute()
        for entry in entries:
            if is_under(near, entry["roots"]):
                return Path(entry["db"])
    return Path(entries[0]["db"])


def library_for_folder(folder: Path) -> Path:
    """The library whose folders hold ``folder`` (one of its roots or inside one).

    Unlike :func:`find_library_db` it never falls back to another library: a folder
    named on purpose that no library holds is an :class:`UnknownLibrary`.
    """
    own = paths.default_db_path([folder])
    if own.is_file():
        return own
    for candidate in dict.fromkeys((folder.expanduser().absolute(), folder.expanduser().resolve())):
        for entry in known_libraries():
            if Path(entry["db"]).is_file() and is_under(candidate, entry["roots"]):
                return Path(entry["db"])
    raise UnknownLibrary(
        f"No library holds {shown(folder)}; run `photosim scan {shown(folder)}` first."
    )

"""The library API that the CLI and the app share: one object per library.

A :class:`Library` is a set of root folders plus the SQLite file that caches
their photos' vectors. It scans incrementally (a generator of progress events
that honours a cancel flag) and answers similarity queries from the cache and
the Annoy index; the model is loaded only when something must be embedded.
It holds its collaborators: ``store`` (the rows), ``index`` (the Annoy index),
``model`` (:class:`~photosim.library.model.LibraryModel`: which model embeds, loaded or
not) and ``decisions`` (:class:`~photosim.library.decisions.Decisions`: duplicate
marks, reference folders, the trash).
"""

from __future__ import annotations

import json
import logging
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
)
from photosim.core.events import (
    Failure,
    Match,
    Photo,
    ScanKind,
    ScanProgress,
    WeightsDownload,
)
from photosim.library.browse import Folder, Year, folder_tree, timeline
from photosim.library.decisions import Decisions
from photosim.library.model import LibraryModel
from photosim.library.registry import remember
from photosim.search.index import VectorIndex
from photosim.storage.store import PhotoRow, Store

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    import numpy as np
    from PIL import Image

    from photosim.core.cancel import CancelFlag
    from photosim.dupes.finder import DuplicateFinder
    from photosim.dupes.types import DupProgress, DupResult, Thresholds
    from photosim.models.embed import Backbone

# Queries that need no model import only what they use: numpy comes with the store, while
# decoding (PIL), scanning, locking and duplicate finding are imported where they are used.


class Library:
    """Photos under ``roots`` and their cached vectors (see module docstring).

    ``read_only`` opens it for queries: nothing is written (no meta, no registry).
    ``lock_owner`` names this process in the scan lock ("photosim scan", "photosim app").
    ``recovered`` is the :class:`LibraryCorrupt` to show when a damaged file was moved aside.
    ``model``, ``weights``, ``device``, ``backbone``, ``precision``, ``download``,
    ``announce`` and ``backend`` choose the model that embeds (:class:`LibraryModel`); the
    app passes ``download=False`` (it downloads only on a click).
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
        stored_roots = [Path(r) for r in self.store.meta_paths("roots")]
        if not root_list or set(root_list) <= set(stored_roots):
            root_list = stored_roots  # a folder of a library with several: the whole library
        self.roots = root_list
        self.model = LibraryModel(self.store, model=model, weights=weights, device=device,
                                  backbone=backbone, precision=precision, download=download,
                                  announce=announce, backend=backend)  # fmt: skip
        self.index = VectorIndex(self.store, self.db_path)
        self.decisions = Decisions(self.store, self.db_path, lambda: self.roots, self.photo)
        if not read_only:
            self.store.set_meta(roots=json.dumps([str(r) for r in self.roots]))
            remember(self.roots, self.db_path)

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
            self.model.release()  # a scan's model is not kept between scans

    def _scan_locked(
        self, cancel: CancelFlag, batch_size: int, workers: int | None
    ) -> Iterator[ScanProgress]:
        from photosim.library.scan import Scan

        model = self.model
        key = model.scan_key()
        own = {str(self.db_path.parent), str(paths.cache_dir())}
        scan = Scan(self.store, self.roots, key, model.backbone_for_scan,
                    batch_size=batch_size, workers=workers, exclude=own,
                    model_step=model.preparing_step,
                    model_notice=lambda: model.backend_notice)  # fmt: skip
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
            model.record(key)
        model.record_backend()  # a runtime that failed mid-scan: torch
        if not done.cancelled and (scan.changed or self.index.status(key) != "fresh"):
            yield ScanProgress(**{**done.__dict__, "kind": ScanKind.INDEXING})
            self.index.build(key)
        self.store.set_meta(last_scan=time.time())
        yield done

    def weights_look_untrained(self) -> bool:
        """True when the vectors of this library's photos are all but the same, as untrained
        (randomly initialised) weights make them: every pair would score ~99 %. Reads a
        sample of the stored vectors; False when there are too few to tell."""
        import numpy as np

        from photosim.models.sanity import SAMPLE, looks_untrained

        key = self.model.current_key()
        vectors = self.store.vectors.sample_vectors(key, SAMPLE) if key else []
        return bool(vectors) and looks_untrained(np.stack(vectors))

    # -- queries -------------------------------------------------------------
    def photos(self) -> list[Photo]:
        """Every photo of the library, sorted by path."""
        return self.store.photos.all(self.model.current_key())

    def photo(self, key: int | str | Path) -> Photo | None:
        """A photo of the library by id or path, or None.

        The library keeps real paths (the scan resolves symlinks), so a path reached
        through a symlinked folder is looked up again by its real path.
        """
        if not isinstance(key, Path | str):
            return self.store.photos.photo(key, self.model.current_key())
        path = Path(key).expanduser().absolute()
        record = self.store.photos.photo(str(path), self.model.current_key())
        if record is None and (real := path.resolve()) != path:
            record = self.store.photos.photo(str(real), self.model.current_key())
        return record

    def similar(self, photo: int | str | Path | Photo, k: int = 10) -> list[Match]:
        """The ``k`` photos most similar to one in the library, from the cache: no model."""
        self._check_model()
        record = photo if isinstance(photo, Photo) else self.photo(photo)
        if record is None:
            raise NotInLibrary(photo.path if isinstance(photo, Photo) else str(photo))
        key = self.model.current_key()
        vector = self.store.vectors.get_vector(record.hash, key) if record.hash and key else None
        if vector is None:
            raise NotEmbedded(record.path, record.error or "it has not been embedded yet")
        return self._neighbours(vector, k, exclude=record.path)

    def warm_index(self) -> bool:
        """Map the index into memory so that no query waits on a page fault (for the app,
        off its GUI thread; at 1M photos it took 0.07-0.1 s, and a cold query 120 ms)."""
        key = self.model.current_key()
        return self.index.warm(key) if key else False

    def _check_model(self) -> None:
        """A query asking for another model than the library's vectors: ModelMismatch."""
        stored = self.store.get_meta("model_name")
        if self.model.asked and stored and self.model.asked != stored:
            raise ModelMismatch(stored, self.model.asked)

    def similar_to_file(self, path: str | Path, k: int = 10) -> list[Match]:
        """Photos similar to any image file; it is embedded, not added to the library."""
        self._check_model()
        path = Path(path).expanduser().absolute()
        inside = self.photo(path)
        if inside is not None and inside.has_vector:
            return self.similar(inside, k)
        from photosim.library.pipeline import content_hash, model_image

        key = self.model.current_key()
        vector = self.store.vectors.get_vector(content_hash(str(path)), key) if key else None
        if vector is None:
            backbone = self.model.ensure_backbone()
            vector = self.vector_of_image(model_image(path, backbone.input_size))
            stored = self.store.get_meta("model_key")
            if stored and backbone.key != stored:
                raise ModelMismatch(stored, backbone.key)
        return self._neighbours(vector, k, exclude=path)

    def _neighbours(self, vector: np.ndarray, k: int, exclude: Path | None) -> list[Match]:
        key = self.model.current_key()
        if key is None:  # nothing embedded yet: nothing to be near
            return []
        if self.index.status(key) == "missing" and self.store.vectors.vector_models().get(key):
            self.index.build(key)
        # k + 1 hashes: the photo's own is among them. Ask again, for more, only when that
        # left too few (a hash whose photos are gone): the re-scoring read grows with n.
        for wanted in (k + 1, 2 * k + 16):
            hits = self.index.query(vector, key, wanted)
            by_hash = self.store.photos.paths_for_hashes(h for h, _ in hits)
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
        key = self.model.current_key()
        return {
            "roots": [str(r) for r in self.roots],
            "db": str(self.db_path),
            "photos": self.store.photos.count() - (failed := self.store.photos.count_failed()),
            "skipped": failed,  # files that could not be read: not photos
            "embedded": self.store.photos.count_embedded(key),
            "failed": failed,  # (the same, under the name JSON readers had)
            # what the last walk saw besides photos: never listed, never failures
            "other_files": int(self.store.get_meta("other_files", "0") or 0),
            "companions": int(self.store.get_meta("companion_files", "0") or 0),
            "model": key,
            "backend": self.model.running_backend(),
            "index": self.index.status(key) if key else "missing",
        }

    # -- browsing: the sidebar's folder tree and timeline --------------------------
    def folder_tree(self) -> list[Folder]:
        """The folders holding photos, the library's roots on top, with photo counts."""
        return folder_tree(self.store.browse.folder_counts(), self.roots)

    def timeline(self) -> list[Year]:
        """Years and months (newest first) with their photo counts: date taken, else file time."""
        return timeline(self.store.browse.month_counts())

    def photos_in_folder(self, folder: str | Path, *, subfolders: bool = True,
                         after: str | None = None, limit: int = 500) -> list[PhotoRow]:  # fmt: skip
        """A page of the photos in ``folder`` (with its subfolders), by path; ``after``: the
        last path of the previous page."""
        rows = self.store.browse.photos_in_folder(str(folder), subfolders=subfolders,
                                                  after=after, limit=limit)  # fmt: skip
        key = self.model.current_key()
        hashes = [r[6] for r in rows if r[6]]
        have = self.store.browse.hashes_with_vector(hashes, key) if key else set()
        return [PhotoRow(i, p, s or 0, m or 0, t, e, h in have) for i, p, s, m, t, e, h in rows]

    def failures(self) -> list[Failure]:
        """Every file that could not be used: path, kind and reason."""
        return self.store.photos.failures()

    def close(self) -> None:
        self.index.close()
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- duplicates ------------------------------------------
    def duplicate_finder(
        self,
        references: Sequence[Path] = (),
        cancel: CancelFlag = None,
        progress: Callable[[DupProgress], None] | None = None,
    ) -> DuplicateFinder:
        """The slow part of duplicate finding (candidates + pixel checks), ready to regroup.

        ``cancel`` (a callable or threading.Event) stops it with ``errors.Cancelled``;
        ``progress(DupProgress)`` hears how far each step is (photos, then pairs: a count).
        """
        from photosim.dupes.cache import cache_path
        from photosim.dupes.finder import build_finder

        thresholds = self.calibration()  # first: calibrating may load the model, and its key
        refs = list(dict.fromkeys([*self.decisions.reference_folders(), *map(Path, references)]))
        return build_finder(self.store, self.model.current_key(), thresholds, refs,
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

        asked = ModelAsked(self.model.name, self.model.weights)
        return stored_or_calibrate(
            self.store, self.model.current_key(), asked, self.model.ensure_backbone
        )

    def calibration_loads_model(self) -> bool:
        """Whether :meth:`calibration` will calibrate now, which loads the model (no torch)."""
        from photosim.dupes.calibrate import ModelAsked, needs_model

        asked = ModelAsked(self.model.name, self.model.weights)
        return needs_model(self.store, self.model.current_key(), asked)

    def calibrate(self, sample: int = 48) -> Thresholds:
        """Measure the thresholds on augmented copies of the library's photos (needs the model)."""
        from photosim.dupes.calibrate import calibrate

        return calibrate(self.store, self.model.ensure_backbone(), sample=sample)

    # -- folders, and queries of several photos ----------
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
        remember(self.roots, self.db_path)

    def vector_of(self, item: int | str | Path | Photo) -> np.ndarray:
        """The vector of a library photo (from the cache) or of any image file (embedded)."""
        record = item if isinstance(item, Photo) else self.photo(item)
        key = self.model.current_key()
        if record is not None and record.has_vector and record.hash and key:
            vector = self.store.vectors.get_vector(record.hash, key)
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

        return self.vector_of_image(model_image(path, self.model.ensure_backbone().input_size))

    def vector_of_image(self, image: Image.Image) -> np.ndarray:
        """The vector of a PIL image that is no file (say, dragged in from a web browser)."""
        backbone = self.model.ensure_backbone()
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

    def similar_to_image(self, image: Image.Image, k: int = 10) -> list[Match]:
        """Photos similar to a PIL image held in memory: nothing is saved or downloaded."""
        return self._neighbours(self.vector_of_image(image), k, exclude=None)

    # -- what the app's grid lists --------------------------
    def photo_listing(self) -> list[PhotoRow]:
        """Every photo as the grid lists it (light tuples, fast at 100k); :meth:`photo` for more."""
        return self.store.photos.photo_listing(self.model.current_key())

    def failure_count(self) -> int:
        """How many files could not be used (the status bar's "N skipped")."""
        return self.store.photos.count_failed()

    def photo_listing_earliest(self, limit: int) -> list[PhotoRow]:
        """The photos that may come first by date (up to 3 x ``limit``, unordered; fast)."""
        return self.store.photos.photo_listing_earliest(self.model.current_key(), limit)

    def change_stamp(self) -> tuple[str | None, int]:
        """What changes when a scan writes (its version, its number of photos): cheap to poll."""
        return self.store.get_meta("library_version"), self.store.photos.count()

    def photo_count(self) -> int:
        """How many photos the library lists (skipped files included)."""
        return self.store.photos.count()

"""What the app uses of the engine, in one place: the ``Library`` API and the types and
helpers re-exported for it.

The app imports the engine only from here and from :mod:`photosim.core` (checked by
tests/test_app_imports.py), so the engine's inner layout can change without touching
the app. Importing this module imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from photosim.dupes.finder import DupGroup, DuplicateFinder, DupMember, DupResult, human_size
from photosim.dupes.keep import regroup_marks, suggested_marks
from photosim.dupes.trash import TrashRecord, UndoResult
from photosim.dupes.types import Dismissed, Mark
from photosim.library import Library, known_db_for
from photosim.library.browse import Folder, Month, Year
from photosim.media.decode import load_image, load_partner
from photosim.media.formats import open_filter
from photosim.media.pairs import companions_on_disk, pair_label
from photosim.media.pixels import sharpness
from photosim.media.thumbs import cache_size, load_thumbnail
from photosim.media.thumbs import clear as clear_thumbnails
from photosim.media.thumbs import prune as prune_thumbnails
from photosim.models.registry import BACKENDS, DEFAULT_MODEL, MODELS, PRECISIONS, runtime_version
from photosim.models.weights import (
    download,
    expected_weights_file,
    validate_weights,
    weights_in_use,
    weights_url,
)
from photosim.storage.store import PhotoRow

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.models.embed import Backbone

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "MODELS",
    "PRECISIONS",
    "Backbone",
    "Dismissed",
    "DupGroup",
    "DupMember",
    "DupResult",
    "DuplicateFinder",
    "Folder",
    "Library",
    "Mark",
    "Month",
    "PhotoRow",
    "TrashRecord",
    "UndoResult",
    "Year",
    "cache_size",
    "clear_thumbnails",
    "companions_on_disk",
    "download",
    "expected_weights_file",
    "human_size",
    "known_db_for",
    "load_image",
    "load_partner",
    "load_thumbnail",
    "open_filter",
    "pair_label",
    "prune_thumbnails",
    "regroup_marks",
    "runtime_version",
    "sharpness",
    "suggested_marks",
    "validate_weights",
    "weights_in_use",
    "weights_url",
]

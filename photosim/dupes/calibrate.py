"""Per-model thresholds for duplicate finding, measured on the library's own photos.

A cosine threshold that fits one network does not fit another, so the thresholds
are calibrated: augmented copies of a sample of the library's photos (crops of
5-10%, a resize, a hard re-encode, brightness and contrast, an EXIF rotation)
against random pairs of its photos. ``near`` sits just below the lowest scores of
the copies (the CNN only proposes; pixels confirm), ``similar`` a fixed share of
the way from a typical unrelated pair up to ``near``. The result is stored with
the model key; only calibrating needs the model (torch), reading it does not.
When the model cannot be loaded, the default thresholds are used and the failure is
remembered with what it depended on (the weights asked for, the file looked for), so
the next run tries again only once that changed instead of importing torch each time.
A library without vectors needs no thresholds (they apply to CNN scores only).
"""

from __future__ import annotations

import io
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photosim.core.errors import DecodeError, WeightsMissing
from photosim.core.events import Photo
from photosim.dupes.types import Thresholds
from photosim.models.registry import weights_from_env

if TYPE_CHECKING:  # PIL is imported only to calibrate: reading thresholds needs no decoder
    from PIL import Image

    from photosim.models.embedder import Embedder
    from photosim.storage.store import Store

# Used when the model cannot be loaded to calibrate (not stored): ResNet-like values.
DEFAULT = Thresholds(near=0.85, similar=0.72)
NEAR_QUANTILE = 0.01  # the copies' score that the near threshold sits below
NEAR_MARGIN = 0.02
SIMILAR_SHARE = 0.7  # similar = unrelated median + this share of the way up to near
DECODE_SIDE = 768


@dataclass(frozen=True)
class ModelAsked:
    """The model and weights file a library asks for: what loading its model depends on."""

    name: str
    weights: Path | str | None = None


def stored(store: Store, key: str | None) -> Thresholds | None:
    """The stored calibration of model ``key`` (the library's current one), if any (no torch)."""
    data = store.dupes.get_calibration(key) if key else None
    if not data or data.get("uncalibrated"):
        return None
    near, similar = data.get("near"), data.get("similar")
    if not (isinstance(near, int | float) and isinstance(similar, int | float)):
        return None  # damaged: measured again, as if never calibrated
    if not (-1 <= near <= 1 and -1 <= similar <= 1):
        return None
    return Thresholds(near=float(near), similar=float(similar))


def stored_or_calibrate(
    store: Store, key: str | None, asked: ModelAsked, load: Callable[[], Embedder]
) -> Thresholds:
    """The stored thresholds of model ``key``; calibrated now when missing (``load`` gives
    the model); DEFAULT when there is no model.

    The model is loaded only when calibrating can succeed or might now: never for a
    library without vectors, and not again after a failure until the weights changed.
    """
    found = stored(store, key)
    if found is not None:
        return found
    if key is None or not needs_model(store, key, asked):
        return DEFAULT
    try:
        return calibrate(store, load())
    except WeightsMissing as exc:
        _remember_failure(store, key, asked, exc)
        return DEFAULT
    except ValueError:
        return DEFAULT


def needs_model(store: Store, key: str | None, asked: ModelAsked) -> bool:
    """True when the thresholds of model ``key`` are to be calibrated now, which loads the
    model (no torch)."""
    if stored(store, key) is not None or not key or not store.vectors.count_vectors(key):
        return False
    failed = store.dupes.get_calibration(key)
    if not (failed and failed.get("uncalibrated")):
        return True
    tried = failed.get("tried") or {}
    return tried != _attempt(asked, tried.get("expected"))  # try again once that changed


def _attempt(asked: ModelAsked, expected: str | None) -> dict:
    """What loading the model depends on: the model, the weights asked for, the file looked for."""
    weights = weights_from_env(asked.weights)
    try:
        st = os.stat(expected) if expected else None
    except OSError:
        st = None
    return {
        "model": asked.name,
        "weights": str(weights) if weights else None,
        "expected": expected,
        "expected_file": [st.st_size, st.st_mtime_ns] if st else None,
    }


def _remember_failure(store: Store, key: str, asked: ModelAsked, exc: WeightsMissing) -> None:
    """Keep DEFAULT as this model's thresholds until the weights change (not when read-only)."""
    if store.read_only:
        return
    data = {"near": DEFAULT.near, "similar": DEFAULT.similar, "uncalibrated": str(exc),
            "tried": _attempt(asked, exc.expected), "at": time.time()}  # fmt: skip
    with store.atomic():
        store.dupes.put_calibration(key, data)


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(left * w), round(top * h), round(w - right * w), round(h - bottom * h)))


def _jpeg(im: Image.Image, quality: int, exif_turn: bool = False) -> Image.Image:
    """Re-encode; with ``exif_turn`` stored on its side with a tag, read back upright."""
    from PIL import Image, ImageOps

    buf = io.BytesIO()
    if exif_turn:
        exif = Image.Exif()
        exif[0x0112] = 6
        im.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=quality, exif=exif)
    else:
        im.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return ImageOps.exif_transpose(Image.open(buf)).convert("RGB")


def _enhance(name: str, factor: float) -> Callable[[Image.Image], Image.Image]:
    """An ImageEnhance step (Brightness, Contrast) by name: PIL is imported when it runs."""

    def apply(im: Image.Image) -> Image.Image:
        from PIL import ImageEnhance

        return getattr(ImageEnhance, name)(im).enhance(factor)

    return apply


AUGMENTATIONS = {
    "crop 5%": lambda im: _crop(im, 0.025, 0.025, 0.025, 0.025),
    "crop 10% corner": lambda im: _crop(im, 0.1, 0.1, 0.0, 0.0),
    "crop 8% side": lambda im: _crop(im, 0.0, 0.0, 0.08, 0.0),
    "resize 1/3": lambda im: im.resize((max(1, im.width // 3), max(1, im.height // 3))),
    "re-encode q35": lambda im: _jpeg(im, 35),
    "EXIF rotation": lambda im: _jpeg(im, 90, exif_turn=True),
    "brighter": _enhance("Brightness", 1.35),
    "contrast": _enhance("Contrast", 1.4),
}


def calibrate(store: Store, backbone: Embedder, sample: int = 48, seed: int = 0) -> Thresholds:
    """Measure and store the thresholds for ``backbone``'s model on ``store``'s photos."""
    from photosim.media.decode import load_image

    key = backbone.key
    # sampled in content order, so the thresholds do not depend on the order of the scan
    photos = sorted((p for p in store.photos.all(key) if p.hash and not p.error), key=_content)
    if not photos:
        raise ValueError("no photos to calibrate on")
    rng = random.Random(seed)
    chosen = rng.sample(photos, min(sample, len(photos)))
    positives: dict[str, list[float]] = {name: [] for name in AUGMENTATIONS}
    originals = []
    for photo in chosen:
        try:
            image = load_image(photo.path, max_side=DECODE_SIDE)
        except DecodeError:
            continue
        batch = [backbone.prepare(image)] + [
            backbone.prepare(f(image)) for f in AUGMENTATIONS.values()
        ]
        vectors = backbone.embed(batch)
        originals.append(vectors[0])
        for name, v in zip(AUGMENTATIONS, vectors[1:], strict=True):
            positives[name].append(float(v @ vectors[0]))
    pos = np.array([c for values in positives.values() for c in values], np.float32)
    if len(pos) == 0:
        raise ValueError("no decodable photos to calibrate on")
    neg = _random_pairs(store, key, originals, rng)
    near = float(np.quantile(pos, NEAR_QUANTILE)) - NEAR_MARGIN
    typical = float(np.median(neg)) if len(neg) else 0.0
    near = max(near, typical + 0.1)
    similar = round(typical + SIMILAR_SHARE * (near - typical), 4)
    near = round(near, 4)
    data = {
        "near": near,
        "similar": similar,
        "photos": len(originals),
        "positives": {k: [round(min(v), 4), round(float(np.median(v)), 4)] for k, v in positives.items() if v},
        "unrelated": {"pairs": len(neg), "median": round(typical, 4),
                      "p99": round(float(np.quantile(neg, 0.99)), 4) if len(neg) else None},
        "at": time.time(),
    }  # fmt: skip
    with store.atomic():
        store.dupes.put_calibration(key, data)
    return Thresholds(near=near, similar=similar)


def _content(photo: Photo) -> tuple[str, str]:
    """A photo's place in the calibration's draw: its content hash, then its path."""
    return (photo.hash or "", str(photo.path))


def _random_pairs(
    store: Store, key: str, originals: list[np.ndarray], rng: random.Random, n: int = 4000
) -> np.ndarray:
    """Cosines of random pairs of different photos, from the stored vectors (else the sample)."""
    vectors = store.vectors.sample_vectors(key, 2000)
    if len(vectors) < 2:
        vectors = originals
    if len(vectors) < 2:
        return np.array([], np.float32)
    m = np.stack(vectors)
    count = min(n, len(m) * (len(m) - 1) // 2)
    i = np.array([rng.randrange(len(m)) for _ in range(count)])
    j = np.array([rng.randrange(len(m)) for _ in range(count)])
    keep = i != j
    return np.einsum("ij,ij->i", m[i[keep]], m[j[keep]])

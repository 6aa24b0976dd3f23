"""Pixel fingerprints: is this file the same picture as that one?

A CNN score cannot tell "the same picture, re-encoded or cropped" from "another
shot of the same subject", so near-duplicates are confirmed on pixels. Each photo
gets a small fingerprint computed from its upright decoded image: a 32x32
greyscale thumbnail of the whole frame (squeezed to a square, so a resize that
changes the aspect still matches), its sharpness and its aspect ratio. Two
fingerprints match when, over the four rotations and a few crops of up to ~10%
per axis, the best normalised correlation of their *detail* (the thumbnail minus
its blur) is high: brightness, contrast, colour, re-encoding and resizing leave
it alone; another shot of the scene moves the detail and breaks it.

The rotation-invariant descriptor (the thumbnail summed over its four rotations)
proposes pixel-rotated copies, which CNN features (not rotation-invariant) miss.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # PIL is imported to make fingerprints, not to compare stored ones
    from PIL import Image

VERSION = 4
SIDE = 32  # the thumbnail's side
CMP = 24  # the side the two thumbnails are compared at
_HEADER = struct.Struct("<Bff")  # version, aspect (w / h), sharpness
SIZE = _HEADER.size + SIDE * SIDE  # then the verification view (a greyscale JPEG)
VIEW_SIDE = 256  # the view's longer side: what the geometric check (dupes.verify) sees
VIEW_QUALITY = 75  # ~7.6 KB a photo (q90: 12.7 KB); copies still agree (bench/verify_pairs.py)
# Fingerprints are made from a photo decoded to this longer side: by the scan (which decodes
# to this size when the model wants less, then shrinks for the model) or by the duplicate
# finder for photos scanned before. One size keeps sharpness comparable, and at 256 a JPEG's
# draft decode and a PNG's full decode give the same pixels (at 224 they differ by ~10%).
FINGERPRINT_SIDE = 256
SHARPNESS_SIDE = 256  # sharpness is measured at this longer side, comparable across sizes
# Crop margins (fraction of the frame at each end of an axis) the check tries: up to 12%.
_STEPS = (0.0, 0.03, 0.06, 0.09, 0.12)
_MARGINS = tuple((lo, hi) for lo in _STEPS for hi in _STEPS if lo + hi <= 0.121)
# Every crop the geometric check accepts (up to 12% off each side on its own): a wider search
# whose agreement says whether a pair is worth that check at all (dupes.candidates).
WIDE_MARGINS = tuple((lo, hi) for lo in _STEPS for hi in _STEPS)


@dataclass(frozen=True)
class Fingerprint:
    """A decoded fingerprint: ``thumb`` is SIDE x SIDE uint8 greyscale of the upright frame."""

    aspect: float
    sharpness: float
    thumb: np.ndarray
    view: bytes = b""  # greyscale JPEG of the upright frame, longer side <= VIEW_SIDE


def fingerprint(image: Image.Image) -> bytes:
    """The fingerprint of an upright decoded image (any size; 224 px or more is plenty)."""
    from PIL import Image

    grey = image.convert("L")
    thumb = grey.resize((SIDE, SIDE), Image.Resampling.BOX)
    head = _HEADER.pack(VERSION, image.width / max(1, image.height), sharpness(grey))
    return head + thumb.tobytes() + view(grey)


def view(grey: Image.Image) -> bytes:
    """The verification view: the greyscale frame at VIEW_SIDE, JPEG-encoded (~5-9 KB)."""
    import io

    from PIL import Image

    if max(grey.size) > VIEW_SIDE:
        grey = grey.copy()
        grey.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    grey.save(buf, "JPEG", quality=VIEW_QUALITY)
    return buf.getvalue()


def is_current(data: bytes) -> bool:
    """True for a fingerprint of this version (older ones are computed again)."""
    return len(data) > SIZE and data[0] == VERSION


def decode(data: bytes) -> Fingerprint:
    version, aspect, sharp = _HEADER.unpack_from(data)
    if version != VERSION or len(data) <= SIZE:
        raise ValueError("not a fingerprint of this version")
    thumb = np.frombuffer(data, np.uint8, SIDE * SIDE, _HEADER.size).reshape(SIDE, SIDE)
    return Fingerprint(aspect, sharp, thumb, bytes(data[SIZE:]))


def sharpness(grey: Image.Image) -> float:
    """Variance of the Laplacian over the image's variance, at a fixed size: higher is sharper.

    Dividing by the variance makes a brightened or contrast-stretched copy exactly
    as sharp as its original; a blurred or heavily compressed one scores lower.
    """
    if max(grey.size) > SHARPNESS_SIDE:
        from PIL import Image

        grey = grey.copy()
        grey.thumbnail((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BOX)
    a = np.asarray(grey, np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var() / max(float(a.var()), 1e-6))


def clipped_share(thumb: np.ndarray) -> float:
    """The share of a thumbnail's pixels that are blown out or crushed (<= 4 or >= 251):
    of two shots of a scene, the one with less is the better exposed."""
    return float(((thumb <= 4) | (thumb >= 251)).mean())


# -- the rotation-invariant descriptor (proposals) --------------------------------
def rotation_descriptor(thumbs: np.ndarray) -> np.ndarray:
    """(N, 64) unit vectors, equal for a thumbnail and its 90/180/270-degree rotations."""
    t = thumbs.reshape(-1, SIDE // 2, 2, SIDE // 2, 2).mean(axis=(2, 4), dtype=np.float32)
    s = t + np.rot90(t, 1, (1, 2)) + np.rot90(t, 2, (1, 2)) + np.rot90(t, 3, (1, 2))
    q = s[:, : SIDE // 4, : SIDE // 4].reshape(len(t), -1)  # one quadrant holds it all
    q = q - q.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.maximum(norm, 1e-6)


# -- the check (confirmation) ---------------------------------------------------------
@cache
def _sampler(lo: float, hi: float) -> np.ndarray:
    """(CMP, SIDE) linear interpolation from the band [lo, 1 - hi] of SIDE pixels to CMP."""
    centres = lo * SIDE + (np.arange(CMP) + 0.5) * (SIDE * (1 - lo - hi) / CMP) - 0.5
    centres = np.clip(centres, 0, SIDE - 1)
    left = np.floor(centres).astype(int)
    right = np.minimum(left + 1, SIDE - 1)
    frac = centres - left
    m = np.zeros((CMP, SIDE), np.float32)
    m[np.arange(CMP), left] += 1 - frac
    m[np.arange(CMP), right] += frac
    return m


@cache
def _operators(margins: tuple = _MARGINS) -> tuple[np.ndarray, np.ndarray]:
    """Stacked samplers (len(_MARGINS) * CMP, SIDE) of every crop, plain and blurred.

    Cropping, resampling and a 3x3 box blur are all linear, so the detail of every
    crop of a thumbnail T is ``R T R' - (B R) T (B R)'``: two small matrix products.
    """
    rows = np.concatenate([_sampler(*m) for m in margins])
    blur = np.zeros((CMP, CMP), np.float32)  # 1/3 (left, self, right), edges replicated
    for i in range(CMP):
        for j in (i - 1, i, i + 1):
            blur[i, min(max(j, 0), CMP - 1)] += 1 / 3
    blurred = (blur @ rows.reshape(len(margins), CMP, SIDE)).reshape(-1, SIDE)
    return rows, blurred.astype(np.float32)


@cache
def _stacked(margins: tuple = _MARGINS) -> np.ndarray:
    """The samplers and blurred samplers of :func:`_operators` side by side: (M*CMP, 2*SIDE)."""
    return np.ascontiguousarray(np.hstack(_operators(margins)))


def _normalise(d: np.ndarray) -> np.ndarray:
    d = d - d.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", d, d))[..., None]
    return d / np.maximum(norm, 1e-6)


def whole_details(thumbs: np.ndarray) -> np.ndarray:
    """(N, 4, CMP*CMP): the normalised detail of each whole frame turned 0/90/180/270 degrees.

    Many thumbnails at once: the cheap first stage of the check (no crop search).
    """
    rows, blurred = _operators()
    whole = _MARGINS.index((0.0, 0.0))
    r, b = rows[whole * CMP : (whole + 1) * CMP], blurred[whole * CMP : (whole + 1) * CMP]
    n = len(thumbs)
    t = thumbs.astype(np.float32).reshape(n * SIDE, SIDE)

    def sandwich(m: np.ndarray) -> np.ndarray:
        """(m t_i m') for every thumbnail in two large products (a stack of small ones took
        0.1 ms each): t_i m' for every i, then m (t_i m')' = (m t_i m')'."""
        half = (t @ m.T).reshape(n, SIDE, CMP).transpose(0, 2, 1).reshape(n * CMP, SIDE)
        return (half @ m.T).reshape(n, CMP, CMP).transpose(0, 2, 1)

    d = sandwich(r) - sandwich(b)
    out = np.empty((n, 4, CMP, CMP), np.float32)
    flat = _normalise(d.reshape(n, CMP * CMP)).reshape(n, CMP, CMP)
    for k in range(4):  # turning keeps the mean and the norm
        out[:, k] = np.rot90(flat, k, axes=(1, 2))
    return out.reshape(n, 4, CMP * CMP)


def match_whole(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best agreement and quarter turns of pairs of :func:`whole_details` rows (a[i], b[i])."""
    scores = np.einsum("nd,nkd->nk", a[:, 0], b)
    return scores.max(axis=1), scores.argmax(axis=1)


def crop_details(thumb: np.ndarray, margins: tuple = _MARGINS) -> tuple[np.ndarray, np.ndarray]:
    """(len(margins)**2, CMP*CMP) detail of every crop of ``thumb``, and the inverse norm of
    each crop's detail less its mean: normalised, a crop is ``(d - mean) * inverse``."""
    both = _stacked(margins)
    t = thumb.astype(np.float32)
    # R t R' - B t B' as one product [R B] diag(t, -t) [R B]': a third of the time of two
    tt = np.zeros((2 * SIDE, 2 * SIDE), np.float32)
    tt[:SIDE, :SIDE], tt[SIDE:, SIDE:] = t, -t
    d = (both @ tt) @ both.T  # (M*CMP, M*CMP)
    n = len(margins)
    d = d.reshape(n, CMP, n, CMP).transpose(0, 2, 1, 3).reshape(n * n, CMP * CMP)
    mean = d.mean(axis=1)
    square = np.einsum("ij,ij->i", d, d) - CMP * CMP * mean * mean
    return d, 1 / np.maximum(np.sqrt(np.maximum(square, 0)), 1e-6)


@dataclass(frozen=True)
class Prepared:
    """What the check needs of one photo, computed once per photo and reused across pairs."""

    crops: np.ndarray  # (C, CMP*CMP) detail of every crop, upright (not normalised: see scale)
    scale: np.ndarray  # (C,) each crop's inverse norm (its detail less its mean)
    turned: np.ndarray  # (CMP*CMP, 4) normalised detail of the whole frame turned k quarter turns


def prepare(fp: Fingerprint, margins: tuple = _MARGINS) -> Prepared:
    """The crops (``margins`` on each axis) and turned whole frame of one fingerprint.

    The crops are left unnormalised: a crop's correlation with a normalised (zero-mean)
    detail is its product times its scale, so normalising 225 crops a photo (as long as
    the products themselves) is left out.
    """
    crops, scale = crop_details(fp.thumb, margins)
    whole = margins.index((0.0, 0.0)) * (len(margins) + 1)
    full = _normalise(crops[whole]).reshape(CMP, CMP)
    turned = np.stack([np.rot90(full, k).ravel() for k in range(4)])
    return Prepared(crops, scale, turned.T.copy())


def match(a: Fingerprint | Prepared, b: Fingerprint | Prepared) -> tuple[float, int]:
    """(best detail correlation, quarter turns (counter-clockwise) that bring ``b`` onto ``a``).

    Tries ``b`` turned 0/90/180/270 degrees against crops of ``a``, and crops of
    ``b`` against ``a`` turned back: whichever of the two is the cropped one. The
    crop set is the same on both axes, so the crops of a turned image are the
    turned crops of the image.
    """
    pa = a if isinstance(a, Prepared) else prepare(a)
    pb = b if isinstance(b, Prepared) else prepare(b)
    # the turned details have zero mean: a crop's mean drops out of its product
    one = ((pa.crops @ pb.turned) * pa.scale[:, None]).max(axis=0)  # crop of a vs b turned k
    # crop of b vs a turned -k, i.e. b turned k vs a (turning both keeps the correlation)
    two = ((pb.crops @ pa.turned[:, [0, 3, 2, 1]]) * pb.scale[:, None]).max(axis=0)
    scores = np.maximum(one, two)
    k = int(scores.argmax())
    return float(scores[k]), k

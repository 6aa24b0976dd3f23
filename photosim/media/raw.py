"""Camera RAW files through LibRaw (rawpy): the embedded preview when it is large enough,
else a demosaic; always upright, every failure a ``DecodeError`` with its reason.

A camera writes a full-size (or at least screen-size) JPEG preview into most RAW
files; decoding it costs what a JPEG costs, while a demosaic of the sensor data
costs several times more. So the preview is used whenever it covers the size asked
for, and a half-size demosaic (still >= 3000 px for a 24 MP sensor) otherwise.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from photosim.core.errors import DecodeError, FailKind

if TYPE_CHECKING:
    import rawpy

log = logging.getLogger(__name__)

# A smaller preview is used only when the sensor data cannot be demosaiced, and only
# when it is at least a classic EXIF thumbnail (160x120, the DCF standard's size):
# never a tiny placeholder (some RAWs carry 8x8 previews).
MIN_FALLBACK_SIDE = 160

# The fewest bits per sensor pixel a whole RAW file holds: lossless compression of real sensor
# data needs several bits, even lossy RAW formats keep over 2; under this, the data is cut.
MIN_BITS_PER_PIXEL = 0.5

# The key of ``Image.info`` that says what a RAW's image was made from (its preview, a demosaic).
RENDERING = "photosim_raw_rendering"

# LibRaw's flip (sizes.flip) as the transposes that make the image upright.
_FLIP = {
    3: (Image.Transpose.ROTATE_180,),
    5: (Image.Transpose.ROTATE_90,),  # 90 degrees counter-clockwise
    6: (Image.Transpose.ROTATE_270,),  # 90 degrees clockwise
}
_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}


def _rawpy() -> ModuleType:
    import rawpy  # imported on first RAW: LibRaw is not loaded for a library of JPEGs

    return rawpy


def exif_orientation(flip: int) -> int:
    """LibRaw's flip value as the EXIF orientation it stands for (1 when unknown)."""
    return _FLIP_TO_EXIF.get(flip, 1)


@dataclass(frozen=True)
class RawFacts:
    """What a RAW's headers say, read in one LibRaw open: the developed image's size, its
    EXIF orientation, and the embedded JPEG preview's bytes when asked for (None: none)."""

    width: int
    height: int
    orientation: int
    preview: bytes | None = None


def raw_facts(f: BinaryIO | str, preview: bool = False) -> RawFacts | None:
    """The headers of the RAW in ``f`` (LibRaw opened once); None if LibRaw cannot open it.
    ``f``: an open file, or a path (LibRaw then reads only the headers it needs).

    ``preview``: also the embedded JPEG's bytes (with the camera's EXIF, for RAW formats
    whose own headers exifread cannot parse: CR3, RAF).
    """
    rawpy = _rawpy()
    try:
        if not isinstance(f, str):
            f.seek(0)
        with rawpy.imread(f) as raw:
            s = raw.sizes
            jpeg = None
            if preview:
                with contextlib.suppress(Exception):  # no preview: the metadata is optional
                    thumb = raw.extract_thumb()
                    if thumb.format == rawpy.ThumbFormat.JPEG:
                        jpeg = bytes(thumb.data)
            return RawFacts(s.width, s.height, exif_orientation(s.flip), jpeg)
    except Exception:  # metadata is optional; decoding says why it fails
        return None


def decode_raw(f: BinaryIO, name: str, max_side: int | None) -> Image.Image:
    """The RAW in ``f`` as an upright RGB image whose longer side covers ``max_side`` if it can.

    ``max_side=None`` asks for the best rendering (a full demosaic). Failures are
    ``DecodeError``: unsupported by LibRaw, or damaged with no usable preview.
    """
    rawpy = _rawpy()
    try:
        f.seek(0)
        raw = rawpy.imread(f)
    except (rawpy.LibRawFileUnsupportedError, rawpy.NotSupportedError):
        reason = (
            "a camera RAW file LibRaw cannot open (a camera it does not support, or a damaged file)"
        )
        raise DecodeError(name, reason, FailKind.NOT_AN_IMAGE) from None
    except (rawpy.LibRawError, ValueError, MemoryError) as exc:
        raise _damaged(name, exc) from None
    with raw:
        flip = raw.sizes.flip
        preview = _preview(raw, max_side)
        if preview is not None and max_side and max(preview.size) >= max_side:
            return _upright(preview, flip)
        try:
            _check_size(raw, f)
            pixels = raw.postprocess(
                half_size=bool(max_side), use_camera_wb=True, output_bps=8, user_flip=0
            )
        except MemoryError:
            raise DecodeError(name, "too large to decode in memory", FailKind.TOO_LARGE) from None
        except (rawpy.LibRawError, ValueError) as exc:
            if preview is not None and max(preview.size) >= MIN_FALLBACK_SIDE:
                log.info("%s: sensor data unreadable (%s); using its %dx%d preview",
                         name, exc, *preview.size)  # fmt: skip
                return _upright(preview, flip)
            raise _damaged(name, exc, preview) from None
    if int(pixels.max()) == int(pixels.min()):  # sensor noise alone is never this flat
        raise _damaged(name, ValueError("the sensor data is blank"), preview)
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    image.info[RENDERING] = "a half-size demosaic" if max_side else "a full demosaic"
    return _upright(image, flip)


def _check_size(raw: rawpy.RawPy, f: BinaryIO) -> None:
    """ValueError when the file is too small to hold its sensor data (a file cut short):
    LibRaw then fills the missing rows with whatever its buffer held, not a picture."""
    size = f.seek(0, 2)
    pixels = raw.sizes.raw_width * raw.sizes.raw_height
    if size * 8 < pixels * MIN_BITS_PER_PIXEL:
        raise ValueError(
            f"{size:,} bytes cannot hold a {raw.sizes.raw_width}x{raw.sizes.raw_height} sensor image"
        )


def _preview(raw: rawpy.RawPy, max_side: int | None) -> Image.Image | None:
    """The embedded preview as RGB (JPEG or bitmap), or None when there is none usable.

    A JPEG preview that covers ``max_side`` is decoded at reduced size (``draft``), as a
    JPEG photo is: this is what makes a RAW cost about what its JPEG costs.
    """
    rawpy = _rawpy()
    try:
        thumb = raw.extract_thumb()
        if thumb.format == rawpy.ThumbFormat.JPEG:
            data = thumb.data if isinstance(thumb.data, bytes) else thumb.data.tobytes()
            with Image.open(io.BytesIO(data)) as im:
                size = im.size
                if max_side and max(im.size) >= max_side:
                    im.draft("RGB", (max_side, max_side))
                im.load()
                image = im.convert("RGB")
            kind = "JPEG"
        else:
            image = Image.fromarray(np.ascontiguousarray(thumb.data)).convert("RGB")
            size, kind = image.size, "bitmap"
    except Exception:  # no preview, or a damaged one: the demosaic decides
        return None
    image.info[RENDERING] = f"its embedded {size[0]}x{size[1]} {kind} preview"
    return image


def _upright(image: Image.Image, flip: int) -> Image.Image:
    for op in _FLIP.get(flip, ()):
        image = image.transpose(op)
    return image


def _damaged(name: str, exc: BaseException, preview: Image.Image | None = None) -> DecodeError:
    detail = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    reason = f"a camera RAW whose image data is damaged or cut short ({detail})"
    if preview is not None:
        reason += f"; its only preview is {preview.width}x{preview.height}"
    return DecodeError(name, reason, FailKind.DAMAGED)

"""Decoding photos: the one place pixels come from.

``load_image`` returns an upright RGB image for every format photosim reads,
so the model, the thumbnails and the preview all see the same picture. JPEGs
are decoded at reduced size with ``Image.draft`` when a small image is
enough: about eight times faster than a full decode of a 12 MP photo.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from photosim.errors import DecodeError

__all__ = ["IMAGE_EXTENSIONS", "MAX_PIXELS", "DecodeError", "load_image", "sniff_image", "to_rgb"]

try:  # HEIC/HEIF from phones; optional at runtime, required by pyproject.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIF = False

IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
        ".mpo",
        ".heic",
        ".heif",
        ".hif",
        ".avif",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    ]
)

# Refuse decompression bombs, but allow real panoramas (~ 32k x 16k).
MAX_PIXELS = 512_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_MAGIC = (
    b"\xff\xd8\xff",  # JPEG / MPO
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
    b"BM",
    b"P1",
    b"P2",
    b"P3",
    b"P4",
    b"P5",
    b"P6",
)


def sniff_image(path: str | os.PathLike) -> bool:
    """True when the file's first bytes say it is an image format photosim reads."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return False
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    # ISO-BMFF (HEIC/HEIF/AVIF): ....ftypheic etc.
    return head[4:8] == b"ftyp" and head[8:12] in {
        b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif",
    }  # fmt: skip


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: transparency composited on white, 16-bit scaled to 8."""
    if image.mode == "RGB":
        return image
    if image.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        # 16/32-bit greyscale: scale the used range into 8 bits.
        image = image.convert("I")
        lo, hi = image.getextrema()
        if hi > 255:
            scale = 255.0 / max(hi, 1)
            image = image.point(lambda v: v * scale)
        return image.convert("L").convert("RGB")
    if image.mode == "F":
        lo, hi = image.getextrema()
        span = (hi - lo) or 1.0
        return image.point(lambda v: (v - lo) * 255.0 / span).convert("L").convert("RGB")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "La", "RGBa"}:
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, (255, 255, 255))
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    if image.mode == "1":
        image = image.convert("L")
    return image.convert("RGB")


def _fits(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    scale = max_side / max(w, h)
    if scale >= 1:
        return w, h
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_image(path: str | os.PathLike, max_side: int | None = None) -> Image.Image:
    """The photo at ``path`` as an upright RGB image, its longer side at most ``max_side``.

    EXIF orientation (all eight values) is applied; GIFs and multi-page files
    give their first frame. Every failure becomes a ``DecodeError`` whose
    message says why in words, so a bad file is a recorded skip, not a crash.
    """
    return _load(path, Path(path).name, max_side)


def decode_bytes(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """Like :func:`load_image`, from a file's bytes already in memory (read once by the scan).

    ``name`` is the file's name, used in the reason of a ``DecodeError``.
    """
    return _load(io.BytesIO(data), name, max_side)


def _load(path: str | os.PathLike | BinaryIO, name: str, max_side: int | None) -> Image.Image:
    """The body of :func:`load_image`: ``path`` is a path or a binary file object."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if max_side and im.format in {"JPEG", "MPO"}:
                    # Draft picks a DCT scale >= the request; the sides may swap after
                    # rotation, so ask for a square bound.
                    im.draft("RGB", (max_side, max_side))
                orientation = im.getexif().get(0x0112, 1)
                im.load()
                image = to_rgb(im)
                if image is im:
                    image = im.copy()
                if orientation != 1:
                    image = _apply_orientation(image, orientation)
    except FileNotFoundError:
        raise DecodeError(name, "the file is gone") from None
    except PermissionError:
        raise DecodeError(name, "no permission to read the file") from None
    except UnidentifiedImageError:
        raise DecodeError(name, "not an image photosim can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DecodeError(name, f"too many pixels (over {MAX_PIXELS // 1_000_000} MP)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise DecodeError(name, f"damaged or truncated image ({reason})") from None
    except MemoryError:
        raise DecodeError(name, "too large to decode in memory") from None
    if max_side:
        size = _fits(image.size, max_side)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """The EXIF orientation tag applied to pixels (tag values outside 1..8 are ignored)."""
    for op in _TRANSPOSE.get(orientation, ()):
        image = image.transpose(op)
    return image


def upright_size(width: int, height: int, orientation: int | None) -> tuple[int, int]:
    """The size a photo is shown at: sides swapped for orientations 5 to 8."""
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)

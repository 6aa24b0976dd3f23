"""Planted copies and hard negatives for the duplicates tests and bench/holidays_duplicates.py.

``COPIES``: edits that keep the picture (a ``near`` pair with the original): re-encoded
q35-q95, resized to 1/4, EXIF-rotated, turned 90/180/270 degrees in the pixels, cropped up
to 10% a side, brighter, darker, more contrast, gamma, greyscale, PNG, WebP, HEIC.
``OTHERS``: edits that make another picture (never ``near``): mirrored, cropped 25%.
Each takes an upright RGB image and returns (file suffix, the file's bytes).
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageEnhance, ImageOps


def _save(im: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg(im: Image.Image, quality: int = 90, **kw) -> tuple[str, bytes]:
    return ".jpg", _save(im, "JPEG", quality=quality, **kw)


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(left * w), round(top * h), round(w - right * w), round(h - bottom * h)))


def _exif_rotated(im: Image.Image) -> tuple[str, bytes]:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(im.transpose(Image.Transpose.ROTATE_90), exif=exif)


def _heic(im: Image.Image) -> tuple[str, bytes]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return ".heic", _save(im, "HEIF", quality=80)


Edit = Callable[[Image.Image], tuple[str, bytes]]
COPIES: dict[str, Edit] = {
    "q35": lambda im: _jpeg(im, 35),
    "q95": lambda im: _jpeg(im, 95),
    "quarter": lambda im: _jpeg(im.resize((max(1, im.width // 4), max(1, im.height // 4))), 85),
    "exif": _exif_rotated,
    "rot90": lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_90), 85),
    "rot180": lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_180), 85),
    "rot270": lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_270), 85),
    "crop10": lambda im: _jpeg(_crop(im, 0.1, 0.1, 0.1, 0.1)),
    "crop10side": lambda im: _jpeg(_crop(im, 0.1, 0.0, 0.0, 0.08)),
    "crop5": lambda im: _jpeg(_crop(im, 0.05, 0.0, 0.05, 0.05)),
    "bright": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(1.3)),
    "dark": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(0.7)),
    "contrast": lambda im: _jpeg(ImageEnhance.Contrast(im).enhance(1.4)),
    "gamma": lambda im: _jpeg(im.point(lambda v: round(255 * (v / 255) ** 0.7))),
    "grey": lambda im: _jpeg(ImageOps.grayscale(im)),
    "png": lambda im: (".png", _save(im, "PNG")),
    "webp": lambda im: (".webp", _save(im, "WEBP", quality=80)),
    "heic": _heic,
}
OTHERS: dict[str, Edit] = {
    "mirror": lambda im: _jpeg(ImageOps.mirror(im)),
    "crop25": lambda im: _jpeg(_crop(im, 0.25, 0.25, 0.0, 0.0)),
    "crop25c": lambda im: _jpeg(_crop(im, 0.125, 0.125, 0.125, 0.125)),
}

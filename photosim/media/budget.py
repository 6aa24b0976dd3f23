"""What a decode may cost: memory checked before any pixel is allocated, header work bounded.

A file's header states its frame size; the decoder then allocates what that size needs
whatever the file holds, so a 270 KB GIF whose logical screen is 22000x23000 cost 5.7 GB.
:func:`decode_cost` is the memory a decode of the opened (not yet loaded) image takes, per
format; a decode over its :func:`limit` is refused as too large, with the size in the
reason, and decodes run under one shared budget (:func:`reserve`), so parallel workers
together stay within it.

The bound: a file whose bytes are few for its pixels (under one byte per
:data:`BOMB_PIXELS_PER_BYTE` pixels: what a decompression bomb is) may cost at most
:data:`DECODE_BUDGET` (256 MB); a file that really holds a large picture at most
:data:`LARGE_DECODE` (768 MB), one such decode at a time. Small decodes (JPEGs are decoded
at reduced size: a few MB) run beside them. So a scan's memory exceeds its usual level by
at most 256 MB for any bomb, and 768 MB for a genuine huge photo. Within 256 MB: any JPEG
up to Pillow's 512 MP limit, PNG/TIFF/BMP up to ~64 MP (RGB) or ~32 MP (alpha, palette),
WebP up to ~16 MP, HEIC/AVIF up to ~32 MP; three times that for photo-like files.

:func:`check_jpeg_header` bounds the other way a header costs: Pillow reads the bytes between
JPEG segments one at a time in Python, so a header followed by zeros stalled a scan for
minutes. A JPEG must reach its frame header within :data:`JPEG_HEADER_MAX` bytes, with at
most :data:`JPEG_GARBAGE_MAX` bytes of junk between segments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO

from PIL import Image

# The memory decodes in flight may take together, and so one decode of a bomb-like file.
DECODE_BUDGET = 256 * 2**20
# One decode of a file that holds its pixels (see BOMB_PIXELS_PER_BYTE), run alone.
LARGE_DECODE = 768 * 2**20
# Photos compress at most ~20:1 (1 byte per ~7 pixels); bombs at 1000:1 and more.
BOMB_PIXELS_PER_BYTE = 64
# Decodes this small run without waiting for the budget (a draft-decoded 12 MP JPEG is ~2 MB).
SMALL_DECODE = 24 * 2**20

# Bytes per pixel of the image Pillow allocates, by mode (Pillow keeps RGB in 4 bytes).
_STORED = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Full-size copies on the way to RGB (see decode._native_shrink): palette and bilevel images
# are converted before they can be resized; transparency is premultiplied by a copy.
_CONVERT = {"P": 4, "PA": 4, "1": 1, "RGBA": 4, "LA": 4, "I;16": 4, "I;16B": 4, "I;16L": 4,
            "I;16N": 4}  # fmt: skip
# What the format's own decoder holds beside Pillow's image, per pixel (measured, 12 MP):
# libwebp keeps its RGBA canvas and a copy; libheif its YUV planes and an RGB buffer;
# libtiff a decoded copy of the strips.
_DECODER = {"WEBP": 12, "HEIF": 4, "AVIF": 4, "TIFF": 4}


def decode_cost(im: Image.Image, shrinks: bool = True) -> int:
    """Bytes a decode of ``im`` (opened, its draft already set) allocates at its peak, beside
    a progressive JPEG's :func:`coefficient_bytes` (counted before the draft).

    ``shrinks``: the image is reduced to the requested size in its own mode before any
    conversion (``decode._decode`` does when a size is asked for); otherwise every
    conversion to RGB is a full-size copy.
    """
    w, h = im.size
    mode = im.mode
    per_pixel = _STORED.get(mode, 4) + _DECODER.get(im.format or "", 0)
    per_pixel += _CONVERT.get(mode, 0) if shrinks else 8
    return w * h * per_pixel


def coefficient_bytes(im: Image.Image) -> int:
    """What libjpeg holds for a progressive JPEG whatever the draft scale: every DCT
    coefficient of the full-size image (2 bytes each) until the last scan is read."""
    if im.format not in {"JPEG", "MPO"} or not {"progressive", "progression"} & set(im.info):
        return 0
    from PIL import JpegImagePlugin

    w, h = im.size
    layers = getattr(im, "layers", 3)
    if layers != 3:
        return w * h * 2 * max(1, layers)
    chroma = {0: 1.0, 1: 0.5, 2: 0.25}.get(JpegImagePlugin.get_sampling(im), 1.0)
    return int(w * h * 2 * (1 + 2 * chroma))


def limit(size: tuple[int, int], file_size: int) -> int:
    """The most memory a decode of an image of ``size``, read from ``file_size`` bytes, may take."""
    w, h = size
    return LARGE_DECODE if file_size * BOMB_PIXELS_PER_BYTE >= w * h else DECODE_BUDGET


def too_large(size: tuple[int, int], cost: int, most: int) -> str:
    """The reason recorded for a photo of ``size`` whose decode would cost over ``most`` bytes."""
    w, h = size
    return (
        f"too large to decode safely ({w}x{h} pixels would need {cost / 2**20:,.0f} MB "
        f"of memory; photosim decodes at most {most // 2**20} MB per photo)"
    )


class _Budget:
    """A counting lock over bytes: decodes wait until their cost fits beside the others'."""

    def __init__(self, total: int) -> None:
        self.total, self.free = total, total
        self.cond = threading.Condition()

    @contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        cost = min(cost, self.total)
        if cost <= SMALL_DECODE:
            yield
            return
        with self.cond:
            self.cond.wait_for(lambda: self.free >= cost)
            self.free -= cost
        try:
            yield
        finally:
            with self.cond:
                self.free += cost
                self.cond.notify_all()


_budget = _Budget(DECODE_BUDGET)


def reserve(cost: int) -> AbstractContextManager[None]:
    """A context in which a decode of ``cost`` bytes may run (waits for others to finish)."""
    return _budget.reserve(cost)


# -- bounded JPEG header walk ------------------------------------------------------------
JPEG_HEADER_MAX = 16 * 2**20  # the frame header comes within this many bytes
JPEG_GARBAGE_MAX = 2**20  # junk bytes between segments that Pillow walks one by one
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = frozenset([0x01, 0xD8, *range(0xD0, 0xD8)])


def check_jpeg_header(f: BinaryIO) -> str | None:
    """Why the JPEG in ``f`` cannot be opened in bounded time, or None when it can.

    Walks the segments by their lengths (as Pillow does) and counts the bytes that are
    not a segment, which Pillow would step through one at a time. ``f`` is left at 0.
    """
    try:
        f.seek(0)
        if f.read(3) != b"\xff\xd8\xff":
            return None
        pos, junk = 2, 0
        while pos < JPEG_HEADER_MAX:
            f.seek(pos)
            head = f.read(4)
            if len(head) < 2:
                return None  # truncated: Pillow says so at once
            if head[0] != 0xFF:  # junk: Pillow steps through it one byte at a time
                chunk = head + f.read(65536)
                at = chunk.find(b"\xff")
                step = at if at >= 0 else len(chunk)
                junk += step
                if junk > JPEG_GARBAGE_MAX:
                    return f"no JPEG frame header: over {junk:,} bytes of non-image data"
                if at < 0 and len(chunk) < 65540:
                    return None  # the end of the file, after little junk
                pos += step
                continue
            marker = head[1]
            if marker in _SOF or marker == 0xDA:
                return None
            if marker == 0xFF or marker in _NO_LENGTH:
                pos += 1 if marker == 0xFF else 2
                continue
            if len(head) < 4:
                return None
            pos += 2 + int.from_bytes(head[2:4], "big")
        return f"no JPEG frame header in the first {JPEG_HEADER_MAX // 2**20} MB"
    finally:
        f.seek(0)

"""Decoding photos: the one place pixels come from.

``load_image`` returns an upright RGB image for every format photosim reads,
so the model, the thumbnails and the preview all see the same picture. JPEGs
are decoded at reduced size with ``Image.draft`` when a small image is
enough: about eight times faster than a full decode of a 12 MP photo.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from typing import BinaryIO, cast

from PIL import Image, UnidentifiedImageError

from photosim.core.errors import DecodeError, FailKind, shown
from photosim.media import budget, colour, formats, libtiff_log, pairs
from photosim.media.openers import HEIF  # noqa: F401  (Pillow reads HEIF, JPEG XL, AVIF)
from photosim.media.raw import decode_raw

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "DecodeError",
    "FailKind",
    "decode_bytes",
    "load_image",
    "load_partner",
    "open_photo",
    "os_error",
    "read_photo_bytes",
    "sniff_image",
    "to_rgb",
]

log = logging.getLogger(__name__)

# Every photo extension of the format table (photosim.media.formats).
IMAGE_EXTENSIONS = formats.photo_extensions()

libtiff_log.route()  # libtiff's complaints about a file go to the log, not the terminal

# Refuse decompression bombs, but allow real panoramas (~ 32k x 16k).
MAX_PIXELS = 512_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def sniff_image(path: str | os.PathLike) -> bool:
    """True when the file's first bytes say it is an image format photosim reads.

    Only regular files are opened (a FIFO named ``x.dat`` would block a read forever).
    """
    try:
        with open_photo(path) as f:
            head = f.read(formats.SNIFF_BYTES)
    except (DecodeError, OSError):
        return False
    return formats.by_content(head) is not None


# -- opening files safely -------------------------------------------------------
# O_NONBLOCK: a file swapped for a FIFO after the stat check still cannot block the open.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _name(path: str | os.PathLike | bytes) -> str:
    """The file name for messages (``str``, undecodable bytes as surrogate escapes)."""
    return os.path.basename(os.fsdecode(path))


def os_error(name: str, exc: OSError) -> DecodeError:
    """An OSError from opening or reading the photo called ``name``, as a typed DecodeError."""
    if isinstance(exc, FileNotFoundError):
        return DecodeError(name, "the file is gone (deleted or moved)", FailKind.VANISHED)
    if isinstance(exc, PermissionError):
        return DecodeError(name, "no permission to read the file", FailKind.UNREADABLE)
    if isinstance(exc, IsADirectoryError):
        return DecodeError(name, "a folder, not a file", FailKind.NOT_A_FILE)
    detail = exc.strerror or type(exc).__name__
    return DecodeError(name, f"the file cannot be read ({detail})", FailKind.UNREADABLE)


def _not_regular(name: str, mode: int) -> DecodeError | None:
    if stat.S_ISREG(mode):
        return None
    what = "a folder" if stat.S_ISDIR(mode) else "a pipe, socket or device"
    return DecodeError(name, f"{what}, not a photo file", FailKind.NOT_A_FILE)


def open_photo(
    path: str | os.PathLike | bytes, expect: tuple[int, int] | None = None
) -> io.BufferedReader:
    """``path`` opened for reading, checked to be a regular file; never blocks.

    ``expect`` is the ``(size, mtime_ns)`` a scan saw: a file that differs now
    was changed since (``FailKind.CHANGED``). Failures are ``DecodeError``.
    """
    name = _name(path)
    try:
        err = _not_regular(name, os.stat(path).st_mode)  # devices are never even opened
        if err:
            raise err
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise os_error(name, exc) from None
    try:
        st = os.fstat(fd)
        err = _not_regular(name, st.st_mode)
        if err:
            raise err
        if expect is not None and (st.st_size, st.st_mtime_ns) != tuple(expect):
            raise _changed(name)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _changed(name: str) -> DecodeError:
    return DecodeError(
        name, "the file changed while being read; it is read again next scan", FailKind.CHANGED
    )


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def read_photo_bytes(
    path: str | os.PathLike | bytes, expect: tuple[int, int] | None = None
) -> bytes:
    """All bytes of a photo file, read safely (see ``open_photo``); ``CHANGED`` if written meanwhile."""
    name = _name(path)
    with open_photo(path, expect) as f:
        before = os.fstat(f.fileno())
        try:
            data = f.read()
        except OSError as exc:
            raise os_error(name, exc) from None
        if not _same(before, os.fstat(f.fileno())) or len(data) != before.st_size:
            raise _changed(name)
    return data


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: transparency composited on white, 16-bit scaled to 8."""
    if image.mode == "RGB":
        return image
    if image.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        # 16/32-bit greyscale: scale the used range into 8 bits.
        image = image.convert("I")
        lo, hi = cast(tuple[float, float], image.getextrema())  # one band: (min, max)
        if hi > 255:
            scale = 255.0 / max(hi, 1)
            image = image.point(lambda v: v * scale)
        return image.convert("L").convert("RGB")
    if image.mode == "F":
        lo, hi = cast(tuple[float, float], image.getextrema())  # one band: (min, max)
        span = (hi - lo) or 1.0
        return image.point(lambda v: (v - lo) * 255.0 / span).convert("L").convert("RGB")
    if image.mode == "P":
        _trim_transparency(image)
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


def _trim_transparency(image: Image.Image) -> None:
    """A palette PNG's transparency cut to its palette: encoders write over-long tRNS chunks
    (one alpha per possible index), which Pillow reads but refuses to convert."""
    alpha = image.info.get("transparency")
    if isinstance(alpha, bytes):
        colours = len(image.getpalette() or ()) // 3
        if len(alpha) > colours:
            image.info["transparency"] = alpha[:colours]


def _fits(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    scale = max_side / max(w, h)
    if scale >= 1:
        return w, h
    return max(1, round(w * scale)), max(1, round(h * scale))


def load_image(
    path: str | os.PathLike | bytes,
    max_side: int | None = None,
    *,
    expect: tuple[int, int] | None = None,
) -> Image.Image:
    """The photo at ``path`` as an upright RGB image, its longer side at most ``max_side``.

    EXIF orientation (all eight values) is applied; GIFs, animated WebPs and
    multi-page files give their first frame. Every failure becomes a
    ``DecodeError`` with a ``FailKind`` and a reason in words, so a bad file is
    a recorded skip, not a crash. ``expect``: see ``open_photo``.
    """
    name = _name(path)
    with open_photo(path, expect) as f:
        before = os.fstat(f.fileno())
        try:
            image = _decode(f, name, max_side, before.st_size)
        except DecodeError as exc:
            if exc.kind == FailKind.DAMAGED and not _same(before, os.fstat(f.fileno())):
                raise _changed(name) from None  # cut short by a writer, not damaged
            log.info("%s", exc)
            raise
        if not _same(before, os.fstat(f.fileno())):
            raise _changed(name)
    return shrink(image, max_side)


def load_partner(path: str | os.PathLike, max_side: int | None = None) -> Image.Image | None:
    """For a camera RAW that cannot be developed: the JPEG/HEIC the camera wrote beside it
    (a RAW+JPEG pair is one photo, the same picture), decoded; None for any other file."""
    if not formats.is_raw(path):
        return None
    partner = pairs.partner_on_disk(path)
    if partner is None:
        return None
    try:
        return load_image(partner, max_side)
    except DecodeError:
        return None


def decode_bytes(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """Like :func:`load_image`, from a file's bytes already in memory (read once by the scan).

    ``name`` is the file's name, used in the reason of a ``DecodeError``; read
    the bytes with :func:`read_photo_bytes` to get the same checks as a path.
    """
    try:
        image = _decode(io.BytesIO(data), name, max_side, len(data))
    except DecodeError as exc:
        log.info("%s", exc)
        raise
    return shrink(image, max_side)


def shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` with its longer side at most ``max_side`` (the resampling every decode uses)."""
    if max_side:
        size = _fits(image.size, max_side)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


_TOO_MANY = f"too many pixels (over {MAX_PIXELS // 1_000_000} MP); refused as unsafe"
# Enough of a file's start for any signature and for the colour box of an AVIF/HEIF.
_HEAD_BYTES = 4096


def _decode(f: BinaryIO, name: str, max_side: int | None, size: int) -> Image.Image:
    """Decode an open file (or ``BytesIO``) of ``size`` bytes; failures become typed DecodeErrors."""
    if size == 0:
        raise DecodeError(name, "an empty file (0 bytes)", FailKind.NOT_AN_IMAGE)
    try:
        head = f.read(_HEAD_BYTES)  # the signature, and an ISO-BMFF file's colour box
        f.seek(0)
    except OSError as exc:
        raise os_error(name, exc) from None
    if formats.decoder_for(name, head) is formats.Decoder.RAW:
        return decode_raw(f, name, max_side)
    try:
        with open_image(f, name) as im:
            cost = _affordable(im, name, max_side, size)
            orientation = _orientation(im)
            with budget.reserve(cost):
                im.load()
                icc = im.info.get("icc_profile")
                image = colour.to_srgb(im, icc) if im.mode == "CMYK" else im
                if max_side and cost > budget.SMALL_DECODE:
                    image = _native_shrink(image, max_side)  # before any full-size copy
                image = shrink(to_rgb(image), max_side)  # colours converted on what is kept
                if image.mode != "CMYK":
                    image = colour.to_srgb(image, icc, head)
                if image is im:
                    image = im.copy()
    except DecodeError:
        raise
    except UnidentifiedImageError:
        raise DecodeError(name, "not an image photosim can read", FailKind.NOT_AN_IMAGE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DecodeError(name, _TOO_MANY, FailKind.TOO_LARGE) from None
    except MemoryError:
        raise DecodeError(name, "too large to decode in memory", FailKind.TOO_LARGE) from None
    except OSError as exc:
        if exc.errno is not None:  # a read error from the disk, not from the decoder
            raise os_error(name, exc) from None
        raise _damaged(name, exc) from None
    except Exception as exc:  # any decoder's complaint about a bad file is a recorded skip
        raise _damaged(name, exc) from None
    if orientation != 1:
        image = _apply_orientation(image, orientation)
    return image


def _affordable(im: Image.Image, name: str, max_side: int | None, size: int) -> int:
    """The memory decoding ``im`` will take (its draft set), checked against the limits
    before a pixel is allocated; over them, a ``TOO_LARGE`` DecodeError."""
    if im.width * im.height > MAX_PIXELS:
        raise Image.DecompressionBombError(f"{im.width}x{im.height}")
    size_stated = im.size
    coefficients = budget.coefficient_bytes(im)  # of the full size, whatever the draft
    if max_side and im.format in {"JPEG", "MPO"}:
        # Draft picks a DCT scale >= the request; the sides may swap after
        # rotation, so ask for a square bound.
        im.draft("RGB", (max_side, max_side))
    cost = budget.decode_cost(im, shrinks=bool(max_side)) + coefficients
    limit = budget.limit(size_stated, size)
    if cost > limit:
        raise DecodeError(name, budget.too_large(size_stated, cost, limit), FailKind.TOO_LARGE)
    return cost


def probe(path: str | os.PathLike | bytes, max_side: int | None, *,
          expect: tuple[int, int] | None = None) -> None:  # fmt: skip
    """Raise the ``DecodeError`` :func:`load_image` would raise from the header alone
    (not an image, a damaged header, too large); cheap, for files too big to read first."""
    name = _name(path)
    with open_photo(path, expect) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(_HEAD_BYTES)
        f.seek(0)
        if formats.decoder_for(name, head) is formats.Decoder.RAW:
            return
        try:
            with open_image(f, name) as im:
                _affordable(im, name, max_side, size)
        except DecodeError:
            raise
        except UnidentifiedImageError:
            raise DecodeError(
                name, "not an image photosim can read", FailKind.NOT_AN_IMAGE
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DecodeError(name, _TOO_MANY, FailKind.TOO_LARGE) from None
        except Exception:  # the full decode says what is wrong, in its words
            return


def open_image(f: BinaryIO, name: str) -> Image.Image:
    """``Image.open(f)``, once its header is known to open in bounded time (see budget)."""
    reason = budget.check_jpeg_header(f)
    if reason:
        raise DecodeError(name, f"damaged image ({reason})", FailKind.DAMAGED)
    return Image.open(f)


def _native_shrink(im: Image.Image, max_side: int) -> Image.Image:
    """A large loaded image reduced to ``max_side`` in its own mode, converted first only
    where Pillow cannot resize the mode (palette, bilevel, 16-bit)."""
    if im.mode in {"P", "PA"}:
        if im.mode == "P":
            _trim_transparency(im)
        opaque = im.mode == "P" and "transparency" not in im.info
        im = im.convert("RGB" if opaque else "RGBA")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode.startswith("I;16"):
        im = im.convert("I")
    return shrink(im, max_side)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation tag, 1 when absent or unreadable (broken EXIF is not a broken photo)."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # Pillow's EXIF parser raises many kinds on bad tags
        log.debug(
            "unreadable EXIF in %s", shown(getattr(im, "filename", "") or "photo"), exc_info=True
        )
        return 1
    return value if isinstance(value, int) else 1


def _damaged(name: str, exc: BaseException) -> DecodeError:
    log.debug("decoding %s failed", shown(name), exc_info=exc)
    detail = str(exc).strip() or type(exc).__name__
    return DecodeError(name, f"damaged or truncated image ({detail})", FailKind.DAMAGED)


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

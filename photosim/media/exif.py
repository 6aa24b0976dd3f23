"""EXIF tags of any photo file, and what they say: when it was taken, camera, lens.

exifread parses JPEG, TIFF (and the TIFF-based RAWs: CR2, NEF, DNG, ARW, PEF...), HEIC
and PNG headers without decoding pixels. A Canon CR3 keeps its EXIF in TIFF blocks
(``CMT1`` for the camera, ``CMT2`` for the shot) inside its ISO-BMFF boxes, which exifread
does not reach: they are found here. Nothing raises: broken EXIF is not a broken photo.
"""

from __future__ import annotations

import io
import logging
import struct
from datetime import datetime
from typing import BinaryIO

import exifread

logging.getLogger("exifread").setLevel(logging.ERROR)

# The date a photo was taken: the shot's own dates first; "Image DateTime" (the file's last
# change, rewritten by editors) only when a file has nothing else. Some RAW writers (a NEF,
# a DNG) put the EXIF IFD's tags in IFD0, where exifread names them "Image ...".
DATE_TAGS = ("EXIF DateTimeOriginal", "Image DateTimeOriginal", "EXIF DateTimeDigitized",
             "Image DateTime")  # fmt: skip
# A CR3's metadata is read from at most this much of its start (its boxes come first).
CR3_HEAD = 512 * 1024
# A JPEG's EXIF block (APP1) is at most 64 kB, near its start.
RAF_EXIF_BYTES = 128 * 1024
_EPOCH = datetime(1970, 1, 1)
_DATE_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y:%m:%d")


def read_tags(f: BinaryIO) -> dict:
    """The EXIF tags of the open file ``f`` (exifread's names: "EXIF DateTimeOriginal")."""
    try:
        f.seek(0)
        head = f.read(16)
        if head[4:12] == b"ftypcrx ":
            return _cr3_tags(f)
        if head.startswith(b"FUJIFILMCCD-RAW"):
            return _raf_tags(f)
        f.seek(0)
        try:
            found = exifread.process_file(f, details=False, extract_thumbnail=False,
                                          builtin_types=False)  # fmt: skip
        except Exception:  # e.g. a HEIC whose EXIF block lacks the "Exif" prefix
            found = {}
        if not found and head[4:8] == b"ftyp":  # HEIF/AVIF: the block as the decoder finds it
            return _bmff_tags(f)
        return found or {}
    except Exception:  # exifread raises many kinds on odd files; metadata is optional
        return {}


def _bmff_tags(f: BinaryIO) -> dict:
    """A HEIF/AVIF's EXIF block found by its Pillow plugin (headers only, no pixels) and
    parsed as the TIFF it is: exifread's own HEIF reader wants an "Exif" prefix that not
    every writer puts there."""
    from PIL import Image

    import photosim.media.openers  # noqa: F401  (Pillow reads HEIF)

    f.seek(0)
    with Image.open(f) as im:
        block = im.info.get("exif") or b""
    at = min((i for i in (block.find(b"II*\x00"), block.find(b"MM\x00*")) if i >= 0), default=-1)
    if at < 0:
        return {}
    return (
        exifread.process_file(io.BytesIO(block[at:]), details=False, extract_thumbnail=False,
                              builtin_types=False) or {}
    )  # fmt: skip


def _cr3_tags(f: BinaryIO) -> dict:
    """A CR3's CMT1 (camera: IFD0) and CMT2 (the shot: the EXIF IFD) TIFF blocks, parsed."""
    f.seek(0)
    head = f.read(CR3_HEAD)
    tags: dict = {}
    for box, prefix in ((b"CMT1", "Image"), (b"CMT2", "EXIF")):
        at = head.find(box)
        if at < 4:
            continue
        size = int.from_bytes(head[at - 4 : at], "big")
        block = head[at + 4 : at - 4 + size]
        try:
            found = exifread.process_file(io.BytesIO(block), details=False,
                                          extract_thumbnail=False, builtin_types=False)  # fmt: skip
        except Exception:  # a cut block: what it held is simply unknown
            continue
        for key, value in (found or {}).items():  # a block is parsed as IFD0: "Image ..."
            tags[f"{prefix} {key.split(' ', 1)[1]}" if key.startswith("Image ") else key] = value
    return tags


def _raf_tags(f: BinaryIO) -> dict:
    """A Fujifilm RAF's EXIF: in the JPEG preview its header points to (offset 84)."""
    f.seek(84)
    at, size = struct.unpack(">II", f.read(8))
    f.seek(at)
    jpeg = f.read(min(size, RAF_EXIF_BYTES))  # the EXIF block opens the JPEG
    return (
        exifread.process_file(io.BytesIO(jpeg), details=False, extract_thumbnail=False,
                              builtin_types=False) or {}
    )  # fmt: skip


def text(tags: dict, key: str) -> str | None:
    """A tag's value as stripped text; None when absent or empty."""
    value = tags.get(key)
    if value is None:
        return None
    shown = str(value.values if isinstance(value.values, str) else value)
    return shown.strip().strip("\x00").strip() or None


def _parse(date: str | None) -> datetime | None:
    if not date:
        return None
    for fmt in _DATE_FORMATS:
        try:
            when = datetime.strptime(date[:19], fmt)
        except ValueError:
            continue
        # a zero timestamp is "unknown" (LibRaw writes it into the EXIF of a RAW's preview)
        return None if when == _EPOCH else when
    return None


def taken(tags: dict) -> str | None:
    """The first parseable EXIF date as ISO 8601 (local camera time, no zone)."""
    for key in DATE_TAGS:
        when = _parse(text(tags, key))
        if when is not None:
            return when.isoformat()
    return None


def capture_time(tags: dict) -> float | None:
    """When the shutter fired, in seconds on the camera's clock (no zone): DateTimeOriginal
    (else DateTimeDigitized) with its SubSecTime fraction; None when the file does not say.

    Never the file-change date ("Image DateTime"): it tells when a file was edited.
    """
    for key, sub in (("DateTimeOriginal", "SubSecTimeOriginal"),
                     ("DateTimeDigitized", "SubSecTimeDigitized")):  # fmt: skip
        # in the EXIF IFD; some RAW writers (a NEF, a DNG) put it in IFD0 ("Image ...")
        found = [(p, when) for p in ("EXIF", "Image") if (when := _parse(text(tags, f"{p} {key}")))]
        if not found:
            continue
        prefix, when = found[0]
        seconds = (when - _EPOCH).total_seconds()
        fraction = text(tags, f"{prefix} {sub}") or text(tags, f"EXIF {sub}")
        if fraction and fraction.isdigit():
            seconds += int(fraction) / 10 ** len(fraction)
        return seconds
    return None


def camera(tags: dict) -> dict[str, str | None]:
    """Keys make, model and lens (the lens's model name, as the camera wrote it)."""
    return {"make": text(tags, "Image Make"), "model": text(tags, "Image Model"),
            "lens": text(tags, "EXIF LensModel") or text(tags, "Image LensModel")}  # fmt: skip

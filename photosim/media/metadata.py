"""Photo metadata: date taken, camera, orientation, pixel size and GPS.

EXIF is read with exifread (no pixel decode); the pixel size comes from the
image header via Pillow, so it is right even when EXIF is missing or stale.
Nothing here raises: a photo with broken metadata is still a photo.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any, BinaryIO

from PIL import Image

import photosim.media.decode  # noqa: F401  (registers the HEIF opener with Pillow)
from photosim.core.errors import DecodeError
from photosim.media import exif, formats
from photosim.media.decode import open_image, open_photo, upright_size
from photosim.media.raw import raw_facts


def _degrees(tag: Any, ref: str | None) -> float | None:
    """EXIF GPS degrees/minutes/seconds rationals to signed decimal degrees."""
    try:
        d, m, s = (float(v.num) / float(v.den) for v in tag.values[:3])
    except (AttributeError, ValueError, ZeroDivisionError, TypeError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref in {"S", "W"} else value


def _gps(tags: dict) -> tuple[float | None, float | None]:
    lat_tag, lon_tag = tags.get("GPS GPSLatitude"), tags.get("GPS GPSLongitude")
    if lat_tag is None or lon_tag is None:
        return None, None
    lat = _degrees(lat_tag, exif.text(tags, "GPS GPSLatitudeRef"))
    lon = _degrees(lon_tag, exif.text(tags, "GPS GPSLongitudeRef"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    if lat == 0 and lon == 0:  # cameras write zeros when they had no fix
        return None, None
    return round(lat, 6), round(lon, 6)


def _orientation(tags: dict) -> int | None:
    tag = tags.get("Image Orientation")
    try:
        value = int(tag.values[0]) if tag is not None else None
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return value if value in range(1, 9) else None


def read_metadata(
    path: str | os.PathLike | bytes | BinaryIO, name: str | None = None
) -> dict[str, Any]:
    """Keys taken, make, model, lens, orientation, width, height (upright), lat, lon; None when unknown.

    The file is opened once, only if it is a regular file; any name works
    (surrogate-escaped ``str`` or ``bytes``); ``path`` may also be a binary file
    object (``BytesIO`` of bytes the scan already read), then ``name`` is the file's name
    (a camera RAW is told by it). Warnings about broken EXIF go to
    the log (see ``photosim.core.log``), never to the terminal once logging is set up.
    """
    meta: dict[str, Any] = dict.fromkeys(
        ("taken", "make", "model", "lens", "orientation", "width", "height", "lat", "lon")
    )
    f: BinaryIO
    opened: contextlib.AbstractContextManager
    if isinstance(path, str | bytes | os.PathLike):
        name = name or os.fsdecode(path)
        try:
            f = opened = open_photo(path)
        except DecodeError:  # gone, unreadable or not a file: the scan records why
            return meta
    else:  # bytes the scan already read (a BytesIO): not closed here
        name = name or ""
        f = path
        f.seek(0)
        opened = contextlib.nullcontext(f)
    with opened:
        tags = exif.read_tags(f)
        meta["taken"] = exif.taken(tags)
        meta.update(exif.camera(tags))
        meta["orientation"] = _orientation(tags)
        meta["lat"], meta["lon"] = _gps(tags)
        if formats.decoder_for(name, _head(f)) is formats.Decoder.RAW:
            # one LibRaw open: the size (the TIFF Pillow sees in a RAW is a preview's) and, only
            # for a RAW whose headers hold no EXIF photosim reads (X3F, MRW...), the preview's
            # (LibRaw copies the whole preview to make it: 2-3 ms for a 12 MP one)
            found = raw_facts(f, preview=not tags)
            if found is not None:
                _fill(meta, found.preview)
                meta["orientation"] = meta["orientation"] or found.orientation
                meta["width"], meta["height"] = upright_size(
                    found.width, found.height, meta["orientation"]
                )
            return meta
        try:
            f.seek(0)
            with open_image(f, "") as im:  # bounded even for a JPEG header then zeros
                if meta["orientation"] is None:
                    meta["orientation"] = _pillow_orientation(im)
                # HEIF's decoder turns the photo itself (``original_orientation``): its size is upright
                turned = None if "original_orientation" in im.info else meta["orientation"]
                meta["width"], meta["height"] = upright_size(*im.size, turned)
        except Exception:  # not decodable: the scan records why when it decodes
            pass
    return meta


def _fill(meta: dict[str, Any], jpeg: bytes | None) -> None:
    """Date, camera and lens a RAW's own headers did not give, from its JPEG preview's EXIF."""
    if not jpeg:
        return
    tags = exif.read_tags(io.BytesIO(jpeg))
    for key, value in {"taken": exif.taken(tags), **exif.camera(tags)}.items():
        meta[key] = meta[key] or value


def _head(f: BinaryIO) -> bytes:
    try:
        f.seek(0)
        return f.read(formats.SNIFF_BYTES)
    except OSError:
        return b""


def _pillow_orientation(im: Image.Image) -> int | None:
    """Pillow's reading of the orientation tag (for formats exifread does not parse)."""
    try:
        value = im.getexif().get(0x0112)
    except Exception:  # a broken EXIF block: the photo is still a photo
        return None
    return value if value in range(1, 9) else None


def read_lens(path: str | os.PathLike | bytes) -> str:
    """The lens the photo at ``path`` names in its EXIF headers ('' when none or unreadable):
    a header read, no pixels and no LibRaw (for libraries scanned before lenses were kept)."""
    try:
        with open_photo(path) as f:
            tags = exif.read_tags(f)
    except DecodeError:
        return ""
    return exif.camera(tags)["lens"] or ""

"""Thumbnail disk cache: small upright JPEGs so a second start shows the grid at once.

Qt-free, so it is tested without a display. One size (``THUMB_SIDE``, the
largest zoom) serves every zoom level. A thumbnail is keyed by the photo's
path, size and mtime: an edited photo gets a new thumbnail, and old ones are
simply never read again (the cache can be deleted at any time).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

from PIL import Image

from photosim.core import paths
from photosim.media.decode import DecodeError, load_image, load_partner, os_error

THUMB_SIDE = 320
QUALITY = 85


def cache_file(path: str | os.PathLike, size: int, mtime_ns: int) -> Path:
    """Where the thumbnail of this version of the photo lives."""
    key = f"{os.fspath(path)}\0{size}\0{mtime_ns}\0{THUMB_SIDE}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha1(key).hexdigest()
    return paths.thumbnail_dir() / digest[:2] / f"{digest}.jpg"


def load_thumbnail(path: str | os.PathLike) -> Image.Image:
    """The photo's thumbnail (longest side ``THUMB_SIDE``), from the cache or made and cached.

    Raises ``DecodeError`` for files that cannot be read or decoded (and caches nothing).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise os_error(os.path.basename(os.fsdecode(path)), exc) from None
    target = cache_file(path, st.st_size, st.st_mtime_ns)
    try:
        with Image.open(target) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, SyntaxError, ValueError):
        pass  # not cached yet, or a damaged cache file: make it again
    try:
        image = load_image(path, max_side=THUMB_SIDE)
    except DecodeError:
        partner = load_partner(path, THUMB_SIDE)  # a RAW LibRaw cannot develop: its JPEG
        if partner is None:
            raise
        image = partner
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, optimize=False)
    with contextlib.suppress(OSError):  # a read-only or full cache disk still shows it
        paths.atomic_write_bytes(target, buffer.getvalue())
    return image


# -- keeping the cache to a size ---------------------------------
def cache_size() -> int:
    """Bytes the thumbnail cache uses on disk now."""
    return sum(size for _, size, _ in _cached_files())


def prune(max_bytes: int) -> int:
    """Delete the least recently used thumbnails until the cache fits ``max_bytes``.

    "Used" is the later of a file's access and modification times. Returns the bytes freed.
    """
    files = sorted(_cached_files(), key=lambda f: f[2])  # oldest use first
    total = sum(size for _, size, _ in files)
    freed = 0
    for path, size, _ in files:
        if total - freed <= max_bytes:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            freed += size
    return freed


def clear() -> int:
    """Empty the thumbnail cache (it is re-made on demand); returns the bytes freed."""
    return prune(0)


def _cached_files() -> list[tuple[Path, int, float]]:
    out: list[tuple[Path, int, float]] = []
    root = paths.thumbnail_dir()
    if not root.is_dir():
        return out
    for path in root.rglob("*.jpg"):
        with contextlib.suppress(OSError):
            st = path.stat()
            out.append((path, st.st_size, max(st.st_atime, st.st_mtime)))
    return out

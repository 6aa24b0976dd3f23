"""RAW+JPEG pairs: a camera RAW and the JPEG or HEIC the camera wrote of the same shot are
one photo (one item, one vector, never a duplicate of each other; trashed together).

Same folder, same name but the extension, and the same capture time: EXIF
DateTimeOriginal (with SubSecTimeOriginal when both files have it) read from both files,
equal within ``PAIR_TOLERANCE_S``. The file times decide only when one side does not say
when it was taken. So two shots that share a name (a counter that wrapped, ``IMG_0001``
of two cameras copied into one folder, whose copies have near file times) stay two photos.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Callable, Mapping
from functools import lru_cache

from photosim.media import exif, formats

# A camera stamps both files of a shot with one DateTimeOriginal; a phone writing a DNG and a
# HEIC may round differently: within this, one shot. A camera's next frame of the same name
# is a counter wrap (10,000 shots) or another camera, not 2 s apart and the same name.
PAIR_TOLERANCE_S = 2.0
# Without a capture time on one side: a camera writes both files within seconds, a copy
# keeps or resets both file times alike.
PAIR_WINDOW_S = 120.0
_PARTNERS = frozenset({"JPEG", "HEIF"})

TakenOf = Callable[[str], float | None]


def same_shot(raw: tuple[float | None, float], other: tuple[float | None, float]) -> bool:
    """Whether two files sharing a name are one shot, from their (capture time, file time):
    capture times when both have one, else file times."""
    (raw_taken, raw_mtime), (other_taken, other_mtime) = raw, other
    if raw_taken is not None and other_taken is not None:
        return abs(raw_taken - other_taken) <= PAIR_TOLERANCE_S
    return abs(raw_mtime - other_mtime) <= PAIR_WINDOW_S


def pair_partner(photo: str, siblings: Mapping[str, float], taken: TakenOf) -> str | None:
    """For a camera RAW: the JPEG/HEIC of the same shot among ``siblings`` (name -> file
    time, one folder), if exactly one; ``taken(name)`` is a file's capture time (read only
    for names that share the RAW's stem with a JPEG/HEIC)."""
    if not formats.is_raw(photo) or photo not in siblings:
        return None
    stem = os.path.splitext(photo)[0].lower()
    named = [
        name for name in siblings
        if os.path.splitext(name)[0].lower() == stem
        and (fmt := formats.by_extension(name)) is not None and fmt.name in _PARTNERS
    ]  # fmt: skip
    if not named:
        return None
    raw = (taken(photo), siblings[photo])
    found = [name for name in named if same_shot(raw, (taken(name), siblings[name]))]
    return found[0] if len(found) == 1 else None


def capture_time(path: str | os.PathLike) -> float | None:
    """When the photo at ``path`` was taken (see ``exif.capture_time``); None when its file
    does not say or cannot be read. Remembered per (path, size, file time)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):  # a FIFO with a photo's name is never opened
        return None
    return _capture_time(os.fspath(path), st.st_size, st.st_mtime_ns)


Known = dict[str, tuple[int, int, float | None]]  # path -> (size, mtime_ns, capture time)


class CaptureTimes:
    """Capture times of the files that decide RAW+JPEG pairs, each read once per version of
    the file: ``known`` holds what an earlier walk read (path -> size, file time, capture
    time), and what this one used is in ``used`` afterwards, for the library to keep. So a
    rescan of unchanged pairs reads no EXIF at all (a millisecond a file otherwise)."""

    def __init__(self, known: Known | None = None) -> None:
        self.known: Known = known or {}
        self.used: Known = {}

    def __call__(self, path: str) -> float | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        seen = self.known.get(path)
        if seen is not None and seen[:2] == (st.st_size, st.st_mtime_ns):
            taken = seen[2]
        elif stat.S_ISREG(st.st_mode):
            taken = _capture_time(path, st.st_size, st.st_mtime_ns)
        else:
            return None
        self.used[path] = (st.st_size, st.st_mtime_ns, taken)
        return taken


@lru_cache(maxsize=8192)
def _capture_time(path: str, size: int, mtime_ns: int) -> float | None:
    """The capture time of one version of a file: a rescan's walk reads each pair once."""
    try:  # O_NONBLOCK: a file swapped for a FIFO since the stat still cannot block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            seconds = exif.capture_time(exif.read_tags(f))
    except OSError:
        return None
    if seconds is None and formats.is_raw(path):  # a RAW whose headers exifread cannot read
        from photosim.media.raw import raw_facts

        found = raw_facts(path, preview=True)
        if found is not None and found.preview:
            seconds = exif.capture_time(exif.read_tags(io.BytesIO(found.preview)))
    return seconds


def _listing(folder: str) -> dict[str, float]:
    """The files of ``folder`` (not hidden) with their file times; empty when unlistable."""
    out: dict[str, float] = {}
    try:
        with os.scandir(folder or ".") as it:
            for e in it:
                if not e.name.startswith(".") and e.is_file():
                    with contextlib.suppress(OSError):
                        out[e.name] = e.stat().st_mtime
    except OSError:
        pass
    return out


def _partner_in(folder: str, name: str, files: Mapping[str, float]) -> str | None:
    if not formats.is_raw(name):
        return None
    return pair_partner(name, files, lambda n: capture_time(os.path.join(folder, n)))


def partner_on_disk(photo: str | os.PathLike) -> str | None:
    """The JPEG/HEIC half of the RAW ``photo``'s pair, found by listing its folder; or None."""
    folder, name = os.path.split(os.fspath(photo))
    if not formats.is_raw(name):
        return None
    partner = _partner_in(folder, name, _listing(folder))
    return os.path.join(folder, partner) if partner else None


def companions_on_disk(photo: str | os.PathLike) -> list[str]:
    """Paths that travel with the photo file ``photo`` now: the JPEG/HEIC half of a RAW+JPEG
    pair, sidecars and a Live Photo's video (see ``formats.companion_names``), found by
    listing its folder. Nothing when the folder cannot be listed."""
    folder, name = os.path.split(os.fspath(photo))
    files = _listing(folder)
    partner = _partner_in(folder, name, files)
    out = [partner] if partner else []
    for owner in [name, *out]:
        out += [c for c in formats.companion_names(owner, files) if c not in out and c != name]
    return [os.path.join(folder, n) for n in out]


def pair_label(photo: str | os.PathLike) -> str | None:
    """ "RAW+JPG" or "RAW+HEIC" when the RAW ``photo`` has its camera JPEG/HEIC beside it (a
    badge for the grid, made where files may be read); None otherwise."""
    partner = partner_on_disk(photo)
    if partner is None:
        return None
    fmt = formats.by_extension(partner)
    return "RAW+HEIC" if fmt is not None and fmt.name == "HEIF" else "RAW+JPG"

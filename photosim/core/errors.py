"""The one hierarchy of errors photosim raises, from the engine up to the app.

Errors cross threads as these objects (the app's workers emit them as
``Signal(object)``); code decides by type and fields, never by message text.
``str(err)`` is one sentence fit to show a person as is (what happened and what
to do), built from the fields, so callers that only print need nothing else.
"""

from __future__ import annotations

import os
from enum import StrEnum


def shown(path: str | os.PathLike | bytes) -> str:
    """A path as people read it: any bytes a file name holds, undecodable ones escaped.

    Names that are not valid UTF-8 (an old camera's Latin-1 ``été``) are kept
    losslessly as surrogate escapes inside photosim; printing them would raise,
    so they are shown with ``\\xe9``-style escapes instead.
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# What a terminal would act on inside a name: C0/C1 controls (ESC starts colour and title
# sequences, a newline splits a line), DEL, and the Unicode line and direction marks.
_CONTROLS = {c: None for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, 0x200E, 0x200F,
                               *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}  # fmt: skip
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def printable(text: str | os.PathLike | bytes) -> str:
    """``shown(text)`` fit for a terminal line: control characters escaped (``\\x1b``, ``\\n``).

    A file may be named with escape sequences (they would recolour the terminal or set
    its title) or a newline (it would split one photo over two lines); text output shows
    them as escapes instead. JSON output needs none of this: it escapes them itself.
    """
    out = shown(text)
    if not any(ord(c) in _CONTROLS for c in out):
        return out
    return "".join(_escape(c) if ord(c) in _CONTROLS else c for c in out)


def _escape(c: str) -> str:
    code = ord(c)
    return _NAMED.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class PhotosimError(Exception):
    """Base class: ``str(err)`` is a message fit to show a user as is."""


class UnknownLibrary(PhotosimError):
    """No library matches what the user asked for."""


class FolderMissing(PhotosimError):
    """A library folder does not exist or cannot be opened."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        super().__init__(
            f"The folder {shown(self.folder)} does not exist or cannot be opened; check the path."
        )


class NotInLibrary(PhotosimError):
    """A photo asked about is not in the library."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{shown(self.path)} is not in this library; scan its folder first.")


class NotEmbedded(PhotosimError):
    """A photo of the library has no vector (yet): ``reason`` says why in words."""

    def __init__(
        self, path: str | os.PathLike, reason: str = "it has not been embedded yet"
    ) -> None:
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"No similarity for {shown(os.path.basename(self.path))}: {reason}.")


class ModelMismatch(PhotosimError):
    """The library's vectors were made by another model than the one asked for."""

    def __init__(self, library_model: str, asked: str) -> None:
        self.library_model, self.asked = library_model, asked
        super().__init__(
            f"This library's photos were embedded with {library_model}, not {asked}; "
            f"scan again with the new model, or leave --model out to use the library's."
        )


class WeightsMissing(PhotosimError):
    """The model weights are neither cached nor downloadable, nor given as a file.

    ``str(err)`` is the command line's sentence; the app words it from the fields:
    ``expected`` (the file), ``model`` and ``chosen`` (a file the user picked, as opposed
    to torchvision's download).
    """

    def __init__(
        self,
        message: str,
        expected: str | None = None,
        *,
        model: str | None = None,
        chosen: bool = False,
    ) -> None:
        super().__init__(message)
        self.expected, self.model, self.chosen = expected, model, chosen


class WeightsInvalid(WeightsMissing):
    """A weights file was given but is not a state dict of the selected model."""


class LibraryBusy(PhotosimError):
    """Another process (or window) is scanning this library now."""

    def __init__(self, db: str | os.PathLike, holder: str = "") -> None:
        self.db, self.holder = os.fspath(db), holder
        who = f" ({holder})" if holder else ""
        super().__init__(
            f"Another photosim scan{who} is updating this library; wait for it to finish, "
            f"or stop it, then scan again."
        )


class LibraryCorrupt(PhotosimError):
    """The library file is damaged or not a photosim library; it was moved aside."""

    def __init__(self, db: str | os.PathLike, moved_to: str | os.PathLike | None) -> None:
        self.db = os.fspath(db)
        self.moved_to = os.fspath(moved_to) if moved_to else None
        where = f" It was moved to {shown(self.moved_to)}." if self.moved_to else ""
        super().__init__(
            f"The library file {shown(self.db)} was damaged or not a photosim library.{where} "
            f"Scan your folder again to rebuild it; your photos were not touched."
        )


class SchemaTooNew(PhotosimError):
    """The library was written by a newer photosim."""

    def __init__(self, db: str | os.PathLike, version: int, supported: int) -> None:
        self.db, self.version, self.supported = os.fspath(db), version, supported
        super().__init__(
            f"The library {shown(self.db)} was made by a newer photosim (schema {version}, "
            f"this one reads up to {supported}); update photosim to open it."
        )


class ReadOnlyLocation(PhotosimError):
    """photosim cannot write where the library lives."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        super().__init__(
            f"photosim cannot write its library at {shown(self.path)}; choose a writable "
            f"place with --db FILE (or PHOTOSIM_HOME=DIR)."
        )


class NotALibrary(PhotosimError):
    """``--db`` (or the place a library should be) names something that is not provably a
    photosim library: a photo, a text file, another program's database, a folder, a FIFO.
    photosim refuses it and leaves it untouched (nothing renamed, written or created)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = os.fspath(path), reason
        super().__init__(
            f"{shown(self.path)} {reason}, so photosim left it untouched; pass a photosim "
            f"library file or a new file name with --db."
        )


class LibraryUnreadable(PhotosimError):
    """The disk could not read or write the library file (an I/O error)."""

    def __init__(self, path: str | os.PathLike, detail: str = "") -> None:
        self.path, self.detail = os.fspath(path), detail
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"The disk failed reading or writing the library {shown(self.path)}{why}; check "
            f"the disk, then run the command again."
        )


class DiskFull(PhotosimError):
    """A write failed because the disk (or the folder's quota) is full; nothing was lost."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        super().__init__(
            f"The disk holding {shown(self.path)} is full; free some space and run the "
            f"command again (what was saved before is kept)."
        )


class FailKind(StrEnum):
    """Why a file could not be read as a photo: for code to tell failures apart.

    The values are what the store keeps; never rename one.
    """

    NOT_AN_IMAGE = "not_image"  # no image format photosim reads (text, zero bytes, ...)
    NOT_IMAGE = "not_image"  # the same kind, by its shorter name
    DAMAGED = "damaged"  # an image, but truncated or corrupt
    TOO_LARGE = "too_large"  # over the pixel limit (a decompression bomb) or out of memory
    UNREADABLE = "unreadable"  # no permission, or an I/O error
    VANISHED = "vanished"  # deleted (or moved) between listing and reading
    CHANGED = "changed"  # written to while photosim read it; read again next scan
    NOT_A_FILE = "not_a_file"  # a FIFO, socket, device or folder with an image name
    OTHER = "other"  # anything else (kept for rows written before kinds existed)


class DecodeError(PhotosimError):
    """A file that cannot be shown as a photo: ``reason`` in words, ``kind`` for code."""

    def __init__(self, name: str, reason: str, kind: FailKind = FailKind.DAMAGED) -> None:
        super().__init__(f"{shown(name)}: {reason}")
        self.name, self.reason, self.kind = name, reason, FailKind(kind)


class Cancelled(PhotosimError):
    """A long task (finding duplicates) was stopped by the user; nothing was changed."""

    def __init__(self, what: str = "Finding duplicates") -> None:
        self.what = what
        super().__init__(f"{what} was stopped before it finished; start it again to finish.")

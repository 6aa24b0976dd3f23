"""The one format table: every file type photosim knows, and what it is to a photo library.

Each :class:`Format` row says how a file is recognised (extensions, content
signatures), how it is decoded (Pillow or LibRaw), how "original" it is for the
keep rules, and what it is in a library: a photo, a companion that travels with
its photo (a sidecar, a Live Photo's video) or another file that is counted but
never listed. Adding a format is one row here; decode, the scan's walk, the keep
rules and the app's open-file filter all read this table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Role(StrEnum):
    """What a file is in a photo library."""

    PHOTO = "photo"
    SIDECAR = "sidecar"  # edits and metadata of one photo (name.xmp, name.ext.xmp, name.aae)
    VIDEO = "video"  # a Live Photo's half beside its photo; alone, another file
    OTHER = "other"  # documents, archives, music, databases: counted, never decoded


class Decoder(StrEnum):
    """Which library turns the file into pixels."""

    PILLOW = "pillow"
    RAW = "raw"  # LibRaw through rawpy
    NONE = "none"


@dataclass(frozen=True)
class Format:
    """One row of the table: a family of files recognised and handled alike."""

    name: str
    extensions: tuple[str, ...]  # lower case, with the dot
    role: Role
    decoder: Decoder = Decoder.NONE
    # Content signatures: each is a tuple of (offset, bytes) that must all match.
    signatures: tuple[tuple[tuple[int, bytes], ...], ...] = ()
    original: int = 1  # keep rules: higher is closer to what the camera wrote

    @property
    def is_photo(self) -> bool:
        return self.role is Role.PHOTO


def _ftyp(*brands: bytes) -> tuple[tuple[tuple[int, bytes], ...], ...]:
    """ISO-BMFF signatures: ``ftyp`` at offset 4 and one of ``brands`` at offset 8."""
    return tuple(((4, b"ftyp"), (8, brand)) for brand in brands)


_TIFF = (((0, b"II*\x00"),), ((0, b"MM\x00*"),))

# Camera RAW extensions LibRaw reads (its list of supported cameras covers more makes
# than names; every extension a camera writes is here).
RAW_EXTENSIONS = (
    ".3fr", ".ari", ".arw", ".bay", ".braw", ".cap", ".cr2", ".cr3", ".crw", ".cs1", ".dc2",
    ".dcr", ".dng", ".drf", ".eip", ".erf", ".fff", ".gpr", ".iiq", ".k25", ".kdc", ".mdc",
    ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".ori", ".pef", ".ptx", ".pxn", ".qtk",
    ".r3d", ".raf", ".raw", ".rdc", ".rw2", ".rwl", ".rwz", ".sr2", ".srf", ".srw", ".sti",
    ".x3f",
)  # fmt: skip

FORMATS: tuple[Format, ...] = (
    Format("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), Role.PHOTO, Decoder.PILLOW,
           (((0, b"\xff\xd8\xff"),),), original=2),
    Format("MPO", (".mpo",), Role.PHOTO, Decoder.PILLOW, original=2),
    Format("HEIF", (".heic", ".heif", ".hif"), Role.PHOTO, Decoder.PILLOW,
           _ftyp(b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevx", b"mif1", b"msf1"),
           original=3),
    Format("AVIF", (".avif",), Role.PHOTO, Decoder.PILLOW, _ftyp(b"avif", b"avis"), original=3),
    Format("JPEG XL", (".jxl",), Role.PHOTO, Decoder.PILLOW,
           (((0, b"\xff\x0a"),), ((0, b"\x00\x00\x00\x0cJXL \r\n\x87\n"),)), original=3),
    # RAW signatures that are not plain TIFF; TIFF-based RAWs (CR2, NEF, DNG, ARW, PEF...)
    # are told from a TIFF by their extension (see decoder_for).
    Format("Camera RAW", RAW_EXTENSIONS, Role.PHOTO, Decoder.RAW, (
        *_ftyp(b"crx "),  # Canon CR3
        ((0, b"FUJIFILMCCD-RAW"),),
        ((0, b"IIU\x00"),),  # Panasonic RW2
        ((0, b"IIRO"),), ((0, b"IIRS"),), ((0, b"MMOR"),),  # Olympus ORF
        ((0, b"FOVb"),),  # Sigma X3F
        ((0, b"\x00MRM"),),  # Minolta MRW
        ((6, b"HEAPCCDR"),),  # Canon CRW
    ), original=4),
    Format("TIFF", (".tif", ".tiff"), Role.PHOTO, Decoder.PILLOW, _TIFF, original=3),
    Format("PNG", (".png",), Role.PHOTO, Decoder.PILLOW, (((0, b"\x89PNG\r\n\x1a\n"),),)),
    Format("WebP", (".webp",), Role.PHOTO, Decoder.PILLOW, (((0, b"RIFF"), (8, b"WEBP")),)),
    Format("GIF", (".gif",), Role.PHOTO, Decoder.PILLOW, (((0, b"GIF87a"),), ((0, b"GIF89a"),))),
    Format("BMP", (".bmp",), Role.PHOTO, Decoder.PILLOW, (((0, b"BM"),),)),
    Format("Netpbm", (".ppm", ".pgm", ".pbm", ".pnm"), Role.PHOTO, Decoder.PILLOW,
           tuple(((0, b"P" + bytes([n])),) for n in b"123456")),
    Format("Sidecar", (".xmp", ".aae"), Role.SIDECAR),
    Format("Video", (".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".mts", ".m2ts", ".wmv",
                     ".mpg", ".mpeg", ".webm", ".lrv", ".thm"), Role.VIDEO),
    Format("Other", (
        ".json", ".txt", ".md", ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".odt", ".rtf",
        ".zip", ".gz", ".7z", ".rar", ".tar", ".mp3", ".wav", ".aac", ".m4a", ".flac", ".ogg",
        ".db", ".db-wal", ".db-shm", ".annoy", ".ini", ".html", ".htm", ".xml", ".csv", ".log",
        ".py", ".pp3", ".dop", ".psd", ".exe", ".dmg", ".iso",
    ), Role.OTHER),
)  # fmt: skip

# The first bytes read to tell a format by content (the longest signature end).
SNIFF_BYTES = 32


@cache
def _by_extension() -> dict[str, Format]:
    table: dict[str, Format] = {}
    for fmt in FORMATS:
        for ext in fmt.extensions:
            table.setdefault(ext, fmt)
    return table


def extension(name: str | os.PathLike) -> str:
    """The lower-case extension of a file name, with its dot (``""`` when none)."""
    return os.path.splitext(os.fsdecode(name))[1].lower()


def by_extension(name: str | os.PathLike) -> Format | None:
    """The format a file's name says it is (None: the name says nothing)."""
    return _by_extension().get(extension(name))


def by_content(head: bytes) -> Format | None:
    """The photo format a file's first bytes say it is (None: not one photosim reads)."""
    for fmt in FORMATS:
        for signature in fmt.signatures:
            if all(head[at : at + len(magic)] == magic for at, magic in signature):
                return fmt
    return None


def decoder_for(name: str | os.PathLike, head: bytes) -> Decoder:
    """How to decode a file: by its content, with the name telling a TIFF-based RAW from a TIFF.

    Content wins over a wrong extension (JPEG bytes named ``.png`` are a JPEG); a RAW
    whose content is TIFF-like or unknown to this table is still tried with LibRaw.
    """
    named, found = by_extension(name), by_content(head)
    if (
        named is not None
        and named.decoder is Decoder.RAW
        and (found is None or found.name == "TIFF")
    ):
        return Decoder.RAW
    if found is not None:
        return found.decoder
    return named.decoder if named is not None else Decoder.PILLOW


def photo_extensions() -> frozenset[str]:
    """Extensions of photos: listed by name, without reading their first bytes."""
    return frozenset(e for f in FORMATS if f.is_photo for e in f.extensions)


def role_of(name: str | os.PathLike) -> Role | None:
    """What a file's extension says it is; None when the extension is unknown (sniff it)."""
    fmt = by_extension(name)
    return fmt.role if fmt is not None else None


def is_raw(name: str | os.PathLike) -> bool:
    """Whether the file's name is a camera RAW's."""
    fmt = by_extension(name)
    return fmt is not None and fmt.decoder is Decoder.RAW


def original_rank(name: str | os.PathLike) -> int:
    """How close a file's format is to what a camera wrote (keep rules prefer higher)."""
    fmt = by_extension(name)
    return fmt.original if fmt is not None and fmt.is_photo else 1


def open_filter() -> str:
    """The open-file dialog's filter: every photo extension, then all files."""
    patterns = " ".join(f"*{e}" for f in FORMATS if f.is_photo for e in f.extensions)
    return f"Images ({patterns});;All files (*)"


# -- what travels with a photo (by name; a RAW+JPEG pair is photosim.media.pairs') --------


def companion_names(photo: str, siblings: Iterable[str]) -> list[str]:
    """The names among ``siblings`` (one folder's files) that travel with ``photo``.

    Sidecars ``name.xmp``, ``name.ext.xmp``, ``name.aae``, Google Takeout's
    ``name.ext.json`` and a Live Photo's video ``name.mov`` (case-insensitive); never
    another photo (a RAW+JPEG pair is ``pairs.pair_partner``'s).
    """
    stem, full = os.path.splitext(photo)[0].lower(), photo.lower()
    return [name for name in siblings if name.lower() != full and _travels(name, stem, full)]


def _travels(name: str, stem: str, full: str) -> bool:
    """Whether ``name`` belongs to the photo named ``full`` (``stem`` without its extension)."""
    base, ext = os.path.splitext(name.lower())
    role = role_of(name)
    if role is Role.SIDECAR:
        return base in (stem, full)  # name.xmp, name.jpg.xmp, name.aae
    if role is Role.VIDEO:
        return base == stem and ext in LIVE_VIDEO_EXTENSIONS  # a Live Photo's video
    return ext == ".json" and base in (full, f"{full}.supplemental-metadata")  # Takeout


LIVE_VIDEO_EXTENSIONS = frozenset({".mov", ".mp4"})


def travelling_names(names: Iterable[str]) -> set[str]:
    """The names among one folder's files that travel with some photo there (the same rule
    as :func:`companion_names`, in one pass: a folder of 10,000 photos costs 10,000 steps)."""
    names = list(names)
    stems: set[str] = set()
    fulls: set[str] = set()
    for name in names:
        if role_of(name) is Role.PHOTO:
            low = name.lower()
            fulls.add(low)
            stems.add(os.path.splitext(low)[0])
    out: set[str] = set()
    if not fulls:
        return out
    for name in names:
        base, ext = os.path.splitext(name.lower())
        role = role_of(name)
        if role is Role.SIDECAR:
            hit = base in stems or base in fulls
        elif role is Role.VIDEO:
            hit = ext in LIVE_VIDEO_EXTENSIONS and base in stems
        else:
            hit = ext == ".json" and base.removesuffix(".supplemental-metadata") in fulls
        if hit:
            out.add(name)
    return out

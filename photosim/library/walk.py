"""Finding a library's photos on disk: the walk of its folders (links followed once, system
folders and the library's own files skipped) and what counts as a photo.

Apart from the scan, which lists, sweeps and embeds what the walk finds: the walk only
stats, and names what it could not list (a folder never swept for it).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from photosim.core.paths import is_under
from photosim.media import formats, pairs
from photosim.media.decode import sniff_image

SKIP_DIRS = frozenset({"@eaDir", "$RECYCLE.BIN", "System Volume Information", "__MACOSX"})


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def is_candidate(name: str, path: str) -> bool:
    """A photo by its extension (the format table), or by its first bytes when the extension
    says nothing; sidecars, videos and documents are never photos."""
    if name.startswith("."):
        return False
    role = formats.role_of(name)
    if role is not None:
        return role is formats.Role.PHOTO
    return sniff_image(path)


class Walk:
    """Iterate ``(path, stat)`` of the photos under ``roots``; ``unreadable`` lists what it missed.

    Only regular files are yielded (FIFOs, sockets and devices are never opened);
    hidden entries, ``SKIP_DIRS`` and ``exclude`` are skipped. A symlink whose
    target lies inside the roots yields the target once under its real path. A link to a
    folder elsewhere (``~/Pictures/Phone -> /media/phone/DCIM``) is followed too: its photos
    are listed under their real paths and the folder is named in ``linked``; a link to a
    folder holding a root (``/``, the home folder), a link to a single file outside, a
    broken link and a link loop are ignored (each folder is listed once).
    After (or during) iteration, ``unreadable`` holds the folders that could not
    be listed: a sweep must keep the rows under them (their photos may be fine).
    """

    def __init__(
        self,
        roots: list[Path],
        exclude: set[str] | None = None,
        capture: pairs.CaptureTimes | None = None,
    ) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        # capture times of the files deciding RAW+JPEG pairs (read once per file version)
        self.capture = capture or pairs.CaptureTimes()
        self.exclude = {os.path.realpath(e) for e in exclude or ()}
        self.unreadable: list[str] = []
        self.others = 0  # files that are not photos nor a photo's companions (videos, documents)
        self.companions = 0  # sidecars, Live Photo videos and RAW+JPEG partners: not listed
        self._seen_dirs: set[tuple[int, int]] = set()
        self._linked_files: set[str] = set()  # real paths yielded through links
        self.linked: list[str] = []  # folders outside the roots reached through links

    def __iter__(self) -> Iterator[tuple[str, os.stat_result]]:
        stack = list(reversed(self.roots))
        while stack:
            folder = stack.pop()
            entries = self._list(folder)
            if entries is None:
                continue
            subdirs: list[str] = []
            travelling = self._travelling(folder, entries)
            for entry in entries:
                if entry.name.startswith(".") or entry.path in self.exclude:
                    continue
                if entry.name in travelling:
                    self.companions += 1
                    continue
                try:
                    found = self._entry(entry, subdirs)
                except FileNotFoundError:
                    continue  # deleted since the listing: nothing to keep
                except OSError:
                    self._missed(folder)  # cannot tell what it is: keep its rows
                    continue
                if found is not None:
                    yield found
            stack.extend(reversed(subdirs))

    def _list(self, folder: str) -> list[os.DirEntry] | None:
        """The folder's entries by name, or None (recorded) when it cannot be listed."""
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in self._seen_dirs:
                return None
            self._seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            if folder in self.roots:  # an unplugged drive: keep its photos
                self._missed(folder)
            return None
        except OSError:
            self._missed(folder)
            return None

    def _travelling(self, folder: str, entries: list[os.DirEntry]) -> set[str]:
        """Names in one folder that travel with a photo there (never listed, never "other"):
        its sidecars and Live Photo video, and the JPEG/HEIC half of a RAW+JPEG pair (the
        same shot: its capture time read from both files, see ``pairs``)."""
        files = [e for e in entries if not e.name.startswith(".") and _is_file(e)]
        out = formats.travelling_names(e.name for e in files)
        raws = [e for e in files if formats.is_raw(e.name)]
        if raws:  # the files sharing a RAW's name, by name: each pair is decided on its own
            shots: dict[str, dict[str, float]] = {
                os.path.splitext(e.name)[0].lower(): {} for e in raws
            }
            for e in files:
                shot = shots.get(os.path.splitext(e.name)[0].lower())
                if shot is not None:
                    with contextlib.suppress(OSError):
                        shot[e.name] = e.stat(follow_symlinks=False).st_mtime
            for e in raws:
                partner = pairs.pair_partner(
                    e.name, shots[os.path.splitext(e.name)[0].lower()],
                    lambda name: self.capture(os.path.join(folder, name)),
                )  # fmt: skip
                if partner:
                    out.add(partner)
        return out

    def _missed(self, folder: str) -> None:
        if folder not in self.unreadable:
            self.unreadable.append(folder)

    def _entry(self, entry: os.DirEntry, subdirs: list[str]) -> tuple[str, os.stat_result] | None:
        """What one entry gives: a photo to yield, a folder to visit, or nothing."""
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return self._link(entry.path, subdirs)
        if stat.S_ISDIR(st.st_mode):
            if entry.name not in SKIP_DIRS:
                subdirs.append(entry.path)
            return None
        if stat.S_ISREG(st.st_mode):
            if is_candidate(entry.name, entry.path):
                return entry.path, st
            self.others += 1
        return None

    def _link(self, path: str, subdirs: list[str]) -> tuple[str, os.stat_result] | None:
        """A symlink: followed only to a target inside the roots, named by its real path."""
        try:
            real = os.path.realpath(path, strict=True)  # loops and broken links raise
            st = os.stat(real)
        except (OSError, RuntimeError):
            return None
        if self._excluded(real):
            return None  # never enter excluded folders
        if stat.S_ISDIR(st.st_mode):
            if not self._inside(real):  # a folder elsewhere: followed, unless it holds a root
                if any(is_under(root, [real]) for root in self.roots) or self._inside_linked(real):
                    return None
                self.linked.append(real)
            subdirs.append(real)  # a folder seen twice is listed once (_seen_dirs)
            return None
        if not self._inside(real) and not self._inside_linked(real):
            return None  # a single file elsewhere: not part of the library
        name = os.path.basename(real)
        if not stat.S_ISREG(st.st_mode) or real in self._linked_files:
            return None
        if self._walked_directly(real) or not is_candidate(name, real):
            return None  # the walk yields it under its own path
        self._linked_files.add(real)
        return real, st

    def _inside(self, real: str) -> bool:
        return is_under(real, self.roots)

    def _inside_linked(self, real: str) -> bool:
        return is_under(real, self.linked)

    def _excluded(self, real: str) -> bool:
        return is_under(real, self.exclude)

    def _walked_directly(self, real: str) -> bool:
        """Whether the walk reaches this real file path by itself (not hidden nor excluded)."""
        for root in (*self.roots, *self.linked):
            if real == root or not is_under(real, [root]):
                continue
            parts = os.path.relpath(real, root).split(os.sep)
            here = root
            for i, part in enumerate(parts):
                here = os.path.join(here, part)
                last = i == len(parts) - 1
                if part.startswith(".") or here in self.exclude:
                    break
                if not last and part in SKIP_DIRS:
                    break
            else:
                return True
        return False


def walk(
    roots: list[Path], exclude: set[str] | None = None, unreadable: list[str] | None = None
) -> Walk:
    """Photos under ``roots``: iterate for ``(path, stat)``; see ``Walk``.

    The folders that could not be listed are in the result's ``unreadable``
    once iterated (and in ``unreadable``, when a list is passed).
    """
    listing = Walk(roots, exclude)
    if unreadable is not None:
        listing.unreadable = unreadable
    return listing

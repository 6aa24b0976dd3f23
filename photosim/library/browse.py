"""What the app's sidebar walks through: the library's folder tree and its timeline.

Qt-free and built from the store's per-folder and per-month counts (one pass each over
the photos), so the sidebar of a 100,000-photo library is ready in a fraction of a second
(``bench/app.py`` measures it) and can be rebuilt while a scan runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Folder:
    """A folder of the tree: ``own`` photos directly in it, ``total`` with its subfolders.

    ``root`` is True for the library's own folders (the tree's tops); folders reached through
    a symlinked folder live where the link points and are tops of their own.
    """

    path: str
    own: int
    total: int
    children: tuple[Folder, ...] = ()
    root: bool = False

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path


@dataclass(frozen=True)
class Month:
    year: int
    month: int  # 1-12
    count: int


@dataclass(frozen=True)
class Year:
    """A year of the timeline (``year`` 0: photos with no date at all) and its months."""

    year: int
    count: int
    months: tuple[Month, ...] = field(default=())


def folder_tree(counts: Mapping[str, int], roots: Iterable[str | os.PathLike]) -> list[Folder]:
    """The tree of the folders holding photos, each library root on top (in the given order),
    with the folders between a root and its photos; folders outside every root follow.
    """
    root_list = [os.fspath(r).rstrip(os.sep) or os.sep for r in roots]
    children: dict[str, set[str]] = {}
    tops: list[str] = list(dict.fromkeys(root_list))
    outside: set[str] = set()
    for folder in counts:
        top = _root_of(folder, root_list)
        if top is None:
            outside.add(folder)
            continue
        child = folder
        while child != top:  # link every folder to its parent up to the root
            parent = os.path.dirname(child)
            siblings = children.setdefault(parent, set())
            if child in siblings:
                break
            siblings.add(child)
            child = parent
    for folder in sorted(outside):  # a folder outside the roots: under an outside ancestor
        ancestor = next((o for o in sorted(outside) if _inside(folder, o) and o != folder), None)
        if ancestor is None:
            tops.append(folder)
            continue
        child = folder
        while child != ancestor:
            parent = os.path.dirname(child)
            children.setdefault(parent, set()).add(child)
            child = parent

    def build(path: str, is_root: bool) -> Folder:
        kids = tuple(build(c, False) for c in sorted(children.get(path, ()), key=_sort_key))
        own = counts.get(path, 0)
        return Folder(path, own, own + sum(k.total for k in kids), kids, is_root)

    return [build(top, top in root_list) for top in tops]


def timeline(month_counts: Mapping[str, int]) -> list[Year]:
    """Years, newest first, each with its months (newest first) and counts; undated last."""
    years: dict[int, list[Month]] = {}
    undated = 0
    for key, count in month_counts.items():
        try:
            year, month = int(key[:4]), int(key[5:7])
        except ValueError:
            undated += count
            continue
        if not 1 <= month <= 12:
            undated += count
            continue
        years.setdefault(year, []).append(Month(year, month, count))
    out = [
        Year(y, sum(m.count for m in ms), tuple(sorted(ms, key=lambda m: -m.month)))
        for y, ms in sorted(years.items(), reverse=True)
    ]
    if undated:
        out.append(Year(0, undated))
    return out


def find_folder(tree: Iterable[Folder], path: str) -> Folder | None:
    """The node of ``path`` in ``tree``, or None."""
    for node in tree:
        if node.path == path:
            return node
        if _inside(path, node.path):
            return find_folder(node.children, path)
    return None


def _root_of(folder: str, roots: list[str]) -> str | None:
    best = None
    for root in roots:  # the deepest root holding it (roots may nest)
        if _inside(folder, root) and (best is None or len(root) > len(best)):
            best = root
    return best


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _sort_key(path: str) -> tuple[str, str]:
    name = os.path.basename(path)
    return (name.casefold(), name)

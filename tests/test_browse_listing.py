"""The engine's listings for the sidebar: folder tree with counts, timeline, folder pages."""

from __future__ import annotations

import os
import time

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.library import Library
from photosim.library.browse import Folder, Month, Year, find_folder, folder_tree, timeline


@pytest.fixture
def library(tmp_path):
    """Two roots; the first has nested folders, an empty one, and a broken file."""
    a, b = tmp_path / "Pictures", tmp_path / "Phone"
    for i, rel in enumerate(["2019/summer/x.jpg", "2019/summer/y.jpg", "2019/z.jpg",
                             "2021/trip/deep/w.jpg", "top.jpg"]):  # fmt: skip
        write_photo(a / rel, size=(64, 48), seed=i)
    (a / "2019" / "broken.jpg").write_bytes(b"nope")
    (a / "empty").mkdir()
    write_photo(b / "DCIM" / "p.jpg", size=(64, 48), seed=9)
    with Library([a, b], tmp_path / "lib.db", backbone=make_tiny_backbone()) as lib:
        list(lib.scan())
        yield lib, a.resolve(), b.resolve()


def test_folder_tree_roots_on_top_with_counts(library):
    lib, a, b = library
    tree = lib.folder_tree()
    assert [(t.path, t.total, t.own, t.root) for t in tree] == [
        (str(a), 5, 1, True), (str(b), 1, 0, True)]  # fmt: skip
    names = [c.name for c in tree[0].children]
    assert names == ["2019", "2021"]  # empty folders and broken files are not photos
    y2019 = find_folder(tree, str(a / "2019"))
    assert (y2019.own, y2019.total) == (1, 3)
    assert find_folder(tree, str(a / "2021" / "trip")).total == 1  # a folder with no own photo
    assert find_folder(tree, str(a / "2021" / "trip" / "deep")).own == 1


def test_folder_pages_with_and_without_subfolders(library):
    lib, a, _b = library
    every = lib.photos_in_folder(a / "2019")
    assert [os.path.basename(r.path) for r in every] == ["z.jpg", "x.jpg", "y.jpg"] or [
        r.path for r in every] == sorted(r.path for r in every)  # fmt: skip
    assert len(every) == 3
    own = lib.photos_in_folder(a / "2019", subfolders=False)
    assert [os.path.basename(r.path) for r in own] == ["z.jpg"]
    first = lib.photos_in_folder(a, limit=2)
    rest = lib.photos_in_folder(a, after=first[-1].path, limit=10)
    assert len(first) == 2 and len(rest) == 3
    assert {r.path for r in first} | {r.path for r in rest} == {
        str(p) for p in a.rglob("*.jpg") if p.name != "broken.jpg"}  # fmt: skip
    assert lib.photos_in_folder(a / "20") == []  # a prefix of a name is not a folder


def test_timeline_years_and_months_newest_first():
    years = timeline({"2019-07": 3, "2019-12": 1, "2021-01": 2, "": 4, "bad": 1})
    assert years == [
        Year(2021, 2, (Month(2021, 1, 2),)),
        Year(2019, 4, (Month(2019, 12, 1), Month(2019, 7, 3))),
        Year(0, 5),
    ]


def test_timeline_of_a_library_uses_date_taken_else_file_time(library):
    lib, _a, _b = library
    years = lib.timeline()
    assert sum(y.count for y in years) == 6
    assert all(y.year > 1970 for y in years)  # file times give a date to every photo


def test_a_folder_outside_the_roots_is_a_top_of_its_own():
    tree = folder_tree({"/r/a": 2, "/elsewhere/x/y": 1, "/elsewhere/x": 1}, ["/r"])
    assert [t.path for t in tree] == ["/r", "/elsewhere/x"]
    assert tree[1] == Folder("/elsewhere/x", 1, 2, (Folder("/elsewhere/x/y", 1, 1),))


def test_sidebar_listings_at_100k_photos_are_fast(tmp_path):
    """The sidebar's two queries and their trees at 100,000 photos (CI: well under 0.5 s)."""
    from photosim.storage.store import Store

    store = Store(tmp_path / "big.db")
    rows = [(f"/p/{2000 + i // 10_000}/{i // 500 % 20:02}/IMG_{i:06}.jpg", 1, 10**18 + i * 10**12)
            for i in range(100_000)]  # fmt: skip
    with store.atomic():
        store.list_new_many(rows, 1)
    start = time.perf_counter()
    tree = folder_tree(store.browse.folder_counts(), ["/p"])
    years = timeline(store.browse.month_counts())
    elapsed = time.perf_counter() - start
    assert tree[0].total == 100_000 and len(tree[0].children) == 10
    assert sum(y.count for y in years) == 100_000
    assert elapsed < 1.5, elapsed  # 0.1-0.2 s measured; bench/app.py holds the figure

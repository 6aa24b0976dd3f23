"""The grid on the library's light listing (pytest-qt, offscreen): order, records, opening.

The grid keeps one tuple per photo (``PhotoRow``), sorted in a worker; a photo's full
record is read only when it is selected. Waits are on signals or conditions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, new_window, write_photo

pytest.importorskip("pytestqt")

from photosim.app.browse.listing import listing, local_iso
from photosim.app.browse.models import PhotoModel
from photosim.app.browse.proxy import PhotoProxy
from photosim.app.browse.roles import DateKeyRole, NameKeyRole
from photosim.app.browse.thumbnails import Thumbnails
from photosim.core.events import Photo
from photosim.library import Library
from photosim.storage.store import PhotoRow

WAIT = 60_000
DAY_NS = 86_400 * 10**9


def _row(i: int, path: str, taken: str | None = None, day: int = 0) -> PhotoRow:
    mtime_ns = (1_600_000_000 * 10**9 + day * DAY_NS) if day else 0
    return PhotoRow(i, path, 1, mtime_ns, taken, None, True)


def _names(model) -> list[str]:
    return [Path(model.path_at(r)).name for r in range(model.rowCount())]


def test_listing_sorts_by_date_taken_else_file_date_then_unknown_last(qtbot):
    model = PhotoModel(Thumbnails())
    model.set_listing([
        _row(1, "/p/a_late.jpg", "2021-06-01T10:00:00"),
        _row(2, "/p/b_nodate.jpg"),  # found by a scan, nothing known yet
        _row(3, "/p/m_file.jpg", day=100),  # no EXIF date: the file's local date (2020-12)
        _row(4, "/p/z_early.jpg", "2001-01-01T00:00:00"),
    ])  # fmt: skip
    assert _names(model) == ["z_early.jpg", "m_file.jpg", "a_late.jpg", "b_nodate.jpg"]
    assert model.row_of("/p/a_late.jpg") == 2 and model.entry("/p/a_late.jpg").id == 1
    model.set_sort("Name")
    assert _names(model) == ["a_late.jpg", "b_nodate.jpg", "m_file.jpg", "z_early.jpg"]
    assert [model.row_of(f"/p/{n}") for n in _names(model)] == [0, 1, 2, 3]


def test_a_listing_prepared_for_another_order_is_sorted_again(qtbot):
    rows = [_row(1, "/p/b.jpg", "2020-01-01T00:00:00"), _row(2, "/p/a.jpg", "2022-01-01T00:00:00")]
    prepared = listing(rows, DateKeyRole)  # made in a worker before the user chose "Name"
    assert [r.path for r in prepared.rows] == ["/p/b.jpg", "/p/a.jpg"]
    model = PhotoModel(Thumbnails())
    model.set_sort("Name")
    model.set_listing(prepared)
    assert _names(model) == ["a.jpg", "b.jpg"]
    assert model.sort_role == NameKeyRole


def test_found_records_and_removals_keep_the_order_and_the_filter_works(qtbot):
    model = PhotoModel(Thumbnails())
    proxy = PhotoProxy()
    proxy.setSourceModel(model)
    model.set_sort("Name")
    model.set_listing([_row(1, "/p/b.jpg"), _row(2, "/p/d/x.jpg")])
    model.add_paths(["/p/c.jpg", "/p/a.jpg", "/p/c.jpg"])  # a running scan finds them
    assert _names(model) == ["a.jpg", "b.jpg", "c.jpg", "x.jpg"]
    assert model.photo_of("/p/c.jpg") is None and not model.entry("/p/c.jpg").has_vector
    record = Photo(id=9, path=Path("/p/c.jpg"), size=5, mtime=1e9, width=3, height=2,
                   has_vector=True)  # fmt: skip
    model.update_photo(record)  # the scan read it: the record and the listing agree
    assert model.photo_of("/p/c.jpg") is record and model.entry("/p/c.jpg").has_vector
    assert model.row_of("/p/c.jpg") == 2
    model.remove_path("/p/b.jpg")
    assert _names(model) == ["a.jpg", "c.jpg", "x.jpg"]
    assert [model.row_of(f"/p/{n}") for n in ("a.jpg", "c.jpg")] == [0, 1]
    proxy.setFilterFixedString("/D/")
    assert [proxy.path_at(r) for r in range(proxy.rowCount())] == ["/p/d/x.jpg"]
    # a selected photo's record is kept without moving anything
    model.set_record(Photo(id=1, path=Path("/p/a.jpg"), size=1, mtime=0, width=7, height=7))
    assert model.photo_of("/p/a.jpg").width == 7 and model.row_of("/p/a.jpg") == 0
    model.set_record(Photo(id=5, path=Path("/elsewhere.jpg"), size=1, mtime=0))
    assert model.row_of("/elsewhere.jpg") is None  # not a grid photo: not added


def test_a_reload_keeps_records_that_still_hold_and_drops_changed_ones(qtbot):
    model = PhotoModel(Thumbnails())
    mtime_ns = 1_700_000_000_123_456_789
    same = PhotoRow(1, "/p/same.jpg", 10, mtime_ns, None, None, True)
    edited = PhotoRow(2, "/p/edited.jpg", 10, mtime_ns, None, None, True)
    model.set_listing([same, edited])
    for row in (same, edited):
        model.set_record(Photo(id=row.id, path=Path(row.path), size=10, mtime=mtime_ns / 1e9,
                               width=4, height=3, has_vector=True))  # fmt: skip
    model.set_listing([same, edited._replace(size=11)])  # the file was edited since
    assert model.photo_of("/p/same.jpg").width == 4
    assert model.photo_of("/p/edited.jpg") is None  # read again when it is selected


def test_file_dates_are_local_times_as_strftime_gives_them():
    moments = [0, 1_600_000_000, 1_711_846_799, 1_711_846_800, 1_729_990_800, 2_000_000_123]
    for seconds in moments + list(range(1_711_840_000, 1_711_850_000, 61)):
        assert local_iso(seconds) == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


@pytest.fixture
def scanned(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "Pictures"
    for seed in range(5):
        write_photo(root / f"photo{seed}.jpg", seed=seed)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    db = tmp_path / "lib.db"
    lib = Library([root], db, backbone=make_tiny_backbone())
    list(lib.scan())
    lib.close()
    return root, db


def test_opening_lists_photos_without_full_records_then_reads_one_when_selected(
    qtbot, scanned, monkeypatch
):
    root, db = scanned

    def no_full_records(self):
        raise AssertionError("the grid asked for every photo's full record")

    monkeypatch.setattr(Library, "photos", no_full_records)
    win = new_window(qtbot, backbone=make_tiny_backbone())
    finished: list = []
    win.signals.scan_finished.connect(finished.append)
    with qtbot.waitSignal(win.signals.library_opened, timeout=WAIT):
        win.state.open_library(str(root), str(db))
    assert win.browser.photos.rowCount() == 6
    assert win.status.failed_link.isVisibleTo(win) and "1 skipped" in win.status.failed_link.text()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT)  # opening scans, then reloads
    path = str(root / "photo2.jpg")
    assert win.browser.photos.photo_of(path) is None  # listed only: no record yet
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=WAIT):
        assert win.browser.select_path(path)
    assert "320 × 240" in win.browser.preview.details.text()  # pixel size: from the record
    assert win.browser.photos.photo_of(path).width == 320
    with qtbot.waitSignal(win.state.records_runner.done, timeout=WAIT):
        win.state.reload()  # as after a scan: a fresh listing
    assert win.browser.selected_path() == path  # the selection survives the reload
    assert "320 × 240" in win.browser.preview.details.text()  # and the record, still true, is kept
    assert win.browser.photos.photo_of(path).width == 320
    broken = str(root / "broken.jpg")
    win.browser.select_path(broken)
    qtbot.waitUntil(lambda: "Cannot be read" in win.browser.preview.details.text(), timeout=WAIT)
    win.close()
    assert os.path.exists(path)  # (the photos are never touched)


def test_the_whole_listing_goes_below_the_first_rows_without_a_reset(qtbot):
    rows = [_row(i, f"/p/{i}.jpg", f"2020-01-0{i}T00:00:00") for i in range(1, 7)]
    full = listing(rows, DateKeyRole)
    model = PhotoModel(Thumbnails())
    model.set_listing(listing(rows[:2], DateKeyRole))  # the first screenful
    resets: list = []
    model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(model.rowsInserted) as inserted:
        assert model.extend_listing(full)
    assert inserted.args[1:] == [2, 5] and not resets  # the view keeps its place
    assert _names(model) == [f"{i}.jpg" for i in range(1, 7)]
    assert model.row_of("/p/6.jpg") == 5
    # first rows that are not the listing's start (the library changed): the listing wins
    model.set_listing(listing([rows[5]], DateKeyRole))
    assert not model.extend_listing(full) and resets
    assert _names(model) == [f"{i}.jpg" for i in range(1, 7)]


def test_a_big_library_shows_its_first_rows_before_the_rest(qtbot, scanned, monkeypatch):
    import threading

    from photosim.app import library_state as scanning

    root, db = scanned
    monkeypatch.setattr(scanning, "FIRST_ROWS", 3)
    gate = threading.Event()
    whole = Library.photo_listing

    def slow_listing(self):
        gate.wait(WAIT / 1000)  # the whole listing waits until the test has looked
        return whole(self)

    monkeypatch.setattr(Library, "photo_listing", slow_listing)
    win = new_window(qtbot, backbone=make_tiny_backbone())
    with qtbot.waitSignal(win.signals.library_opened, timeout=WAIT):
        win.state.open_library(str(root), str(db))
    assert win.browser.photos.rowCount() == 3 and not win.state.scanning()
    with Library([root], db) as lib:
        expected = [r.path for r in listing(whole(lib), DateKeyRole).rows]
    assert [win.browser.photos.path_at(r) for r in range(3)] == expected[:3]
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=WAIT):
        assert win.browser.select_path(expected[1])  # usable at once
    gate.set()
    qtbot.waitUntil(lambda: win.browser.photos.rowCount() == 6, timeout=WAIT)
    assert [win.browser.photos.path_at(r) for r in range(6)] == expected
    assert win.browser.selected_path() == expected[1]  # the selection stays
    assert "1 skipped" in win.status.failed_link.text()
    qtbot.waitUntil(lambda: win.state.scanning() or win.state.last_scan is not None, timeout=WAIT)
    win.close()


def test_a_search_index_that_cannot_be_warmed_does_not_stop_the_opening(
    qtbot, scanned, monkeypatch
):
    root, db = scanned

    def broken_warm(self):
        raise OSError("the index file went away")

    monkeypatch.setattr(Library, "warm_index", broken_warm)
    win = new_window(qtbot, backbone=make_tiny_backbone())
    with qtbot.waitSignal(win.signals.library_opened, timeout=WAIT):
        win.state.open_library(str(root), str(db))
    qtbot.waitUntil(lambda: win.state.opener is None, timeout=WAIT)
    assert (
        win.browser.photos.rowCount() == 6
        and win.browser.grid_stack.currentWidget() is win.browser.grid
    )
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=WAIT):
        assert win.browser.select_path(str(root / "photo1.jpg"))  # queries load the index as before
    win.close()

"""The app's GUI thread never waits: workers, stale workers, closing, errors as objects.

pytest-qt, offscreen, a tiny injected model; slow steps are simulated with gates
(threading.Event) the test opens, and every wait is on a signal or a condition.
"""

from __future__ import annotations

import gc
import os
import subprocess
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo
from conftest import new_window as shown_window

from photosim.models.embed import Backbone

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer

from photosim.app import messages
from photosim.app.browse.panes import PreviewPane
from photosim.app.main_window import MainWindow
from photosim.app.workers import Runner, Worker
from photosim.core.errors import DecodeError, LibraryBusy, NotEmbedded, WeightsMissing
from photosim.library import Library
from photosim.storage.store import Store

WAIT = 60_000


def make_folder(root: Path, count: int, size=(96, 64)) -> Path:
    for seed in range(count):
        write_photo(root / f"img{seed:02}.jpg", size=size, seed=seed)
    return root


@pytest.fixture
def folder(tmp_path) -> Path:
    root = make_folder(tmp_path / "Pictures", 6)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


def new_window(qtbot, **options) -> MainWindow:
    options.setdefault("backbone", make_tiny_backbone())
    return shown_window(qtbot, **options)


class GatedBackbone(Backbone):
    """The tiny model, but every batch waits for ``gate`` and then takes ``delay`` seconds."""

    def __init__(self, delay: float = 0.25) -> None:
        tiny = make_tiny_backbone()
        super().__init__(module=tiny.module, key=tiny.key, input_size=tiny.input_size)
        self.gate = threading.Event()
        self.delay = delay
        self.calls = 0

    def embed(self, batch) -> np.ndarray:
        self.calls += 1
        self.gate.wait(20)
        time.sleep(self.delay)
        return super().embed(batch)


class Ticker:
    """A timer on the GUI thread: the longest gap between its ticks is how long the GUI froze."""

    def __init__(self, interval_ms: int = 50) -> None:
        self.times = [time.monotonic()]
        self.timer = QTimer(interval=interval_ms)
        self.timer.timeout.connect(lambda: self.times.append(time.monotonic()))
        self.timer.start()

    def longest_gap(self) -> float:
        self.timer.stop()
        return max(b - a for a, b in zip(self.times, self.times[1:], strict=False))


# -- the worker pattern ------------------------------------------------------------
def test_worker_streams_a_generator_and_sends_its_result(qtbot):
    def count(abort):
        yield from range(3)
        return "done"

    worker = Worker(count)
    items = []
    worker.yielded.connect(items.append)
    with qtbot.waitSignal(worker.finished, timeout=WAIT) as blocker:
        worker.start()
    assert items == [0, 1, 2] and blocker.args == ["done"]


def test_worker_errors_cross_as_objects_without_their_frames(qtbot):
    def fail(_abort):
        try:
            raise OSError("no route to host")
        except OSError:
            raise WeightsMissing("no weights here", expected="resnet50.pth") from None

    worker = Worker(fail)
    with qtbot.waitSignal(worker.errored, timeout=WAIT) as blocker:
        worker.start()
    exc = blocker.args[0]
    assert isinstance(exc, WeightsMissing) and exc.expected == "resnet50.pth"
    assert exc.__traceback__ is None  # the frames (and the library in them) are let go
    assert exc.__context__.__traceback__ is None


def test_an_abandoned_worker_is_ignored_and_keeps_nothing_alive(qtbot):
    gate = threading.Event()

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing)

    def slow(thing):
        return lambda _abort: gate.wait(10) and thing

    worker = Worker(slow(thing))  # the worker holds the only reference
    got = []
    worker.finished.connect(got.append)
    worker.start()
    worker.abandon()
    del thing
    gate.set()
    assert worker.join(10)
    qtbot.wait(50)  # let queued deliveries run: there must be none
    assert got == []
    gc.collect()
    assert ref() is None


def test_runner_delivers_only_the_latest_answer(qtbot):
    runner = Runner()
    gate = threading.Event()
    answers = []
    runner.done.connect(answers.append)
    runner.submit(lambda: gate.wait(10) and "first")
    runner.submit(lambda: "second")
    runner.submit(lambda: "third")
    with qtbot.waitSignal(runner.done, timeout=WAIT):
        gate.set()
    assert answers == ["third"]


# -- 1: the GUI thread never waits ----------------------------------------------------
def test_opening_a_library_never_waits_on_the_gui_thread(qtbot, folder, monkeypatch):
    gate = threading.Event()
    real = Library

    def slow_library(*args, **kwargs):
        gate.wait(10)  # migrating a big old library
        return real(*args, **kwargs)

    monkeypatch.setattr("photosim.app.library_state.Library", slow_library)
    win = new_window(qtbot)
    start = time.monotonic()
    win.state.open_library(str(folder))
    assert time.monotonic() - start < 0.5
    assert "Opening" in win.status.status_text.text()
    qtbot.wait(200)  # events keep flowing; the library is still opening
    assert win.state.library is None
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        gate.set()
    assert win.browser.proxy.rowCount() == 7


def test_a_library_that_opens_late_is_ignored_for_the_one_asked_for_since(
    qtbot, tmp_path, monkeypatch
):
    slow_root, fast_root = make_folder(tmp_path / "Slow", 2), make_folder(tmp_path / "Fast", 3)
    gate, real = threading.Event(), Library
    opened = []

    def library(roots, *args, **kwargs):
        if roots and Path(roots[0]) == slow_root:
            gate.wait(10)  # an old network share, slow to answer
        opened.append(real(roots, *args, **kwargs))
        return opened[-1]

    monkeypatch.setattr("photosim.app.library_state.Library", library)
    win = new_window(qtbot)
    win.state.open_library(str(slow_root))
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.open_library(str(fast_root))
    gate.set()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=WAIT)
    qtbot.wait(100)  # the slow library's answer arrives now, and must change nothing
    assert win.state.library.roots == [fast_root] and win.browser.proxy.rowCount() == 3
    assert not win.state.scanning()


def test_the_gui_thread_never_queries_the_library(qtbot, folder, monkeypatch, tmp_path):
    on_gui_thread = []
    real_db = Store.db

    def spy(store):
        if threading.current_thread() is threading.main_thread():
            on_gui_thread.append(time.monotonic())
        return real_db.fget(store)

    monkeypatch.setattr(Store, "db", property(spy))
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.open_library(str(folder))
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=WAIT):
        win.browser.select_path(str(folder / "img03.jpg"))
    outside = write_photo(tmp_path / "outside.jpg", size=(96, 64), seed=3)
    with qtbot.waitSignal(win.signals.neighbours_ready, timeout=WAIT):
        win.browser.queries.query_file(str(outside))
    with qtbot.waitSignal(win.signals.failures_shown, timeout=WAIT):
        win.status.show_failures()
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.start_scan()
    assert win.browser.proxy.rowCount() == 7
    assert on_gui_thread == []


def test_photos_found_by_a_scan_get_their_records_without_a_gui_lookup(qtbot, tmp_path):
    root = make_folder(tmp_path / "Many", 40, size=(48, 32))
    backbone = GatedBackbone(delay=0)
    win = new_window(qtbot, backbone=backbone)
    win.state.open_library(str(root))
    qtbot.waitUntil(lambda: backbone.calls == 1, timeout=WAIT)
    assert all(item.photo is None for item in win.browser.photos.items)  # listed, not recorded yet
    backbone.gate.set()
    # records arrive with the progress batches (before the final reload of the grid)
    qtbot.waitUntil(
        lambda: sum(bool(i.photo and i.photo.has_vector) for i in win.browser.photos.items) >= 32,
        timeout=WAIT,
    )


# -- 2: another folder mid-scan --------------------------------------------------------
def test_opening_another_folder_mid_scan_keeps_the_window_responsive(qtbot, tmp_path):
    first = make_folder(tmp_path / "First", 70)
    second = make_folder(tmp_path / "Second", 40)
    backbone = GatedBackbone(delay=0.25)
    win = new_window(qtbot, backbone=backbone)
    win.state.open_library(str(first))
    qtbot.waitUntil(lambda: backbone.calls == 1, timeout=WAIT)  # the first scan is in the model
    old_worker, old_library = win.state.worker, weakref.ref(win.state.library)
    finished = []
    win.signals.scan_finished.connect(finished.append)
    ticker = Ticker()
    start = time.monotonic()
    win.state.open_library(str(second))
    assert time.monotonic() - start < 0.3
    backbone.gate.set()  # the old scan's batch ends now: its signals must be ignored
    qtbot.waitUntil(lambda: len(finished) > 0, timeout=WAIT)
    assert ticker.longest_gap() < 0.5
    assert len(finished) == 1 and finished[0].found == 40
    assert win.state.library.roots == [second]
    assert win.browser.proxy.rowCount() == 40
    assert all(Path(win.browser.proxy.path_at(r)).parent == second for r in range(40))
    assert old_worker.join(20)  # the old scan ended on its own, cancelled
    qtbot.waitUntil(lambda: gc.collect() is not None and old_library() is None, timeout=WAIT)
    with Library(db_path=win.state.library.db_path) as lib:
        assert lib.info()["embedded"] == 40


# -- 3: closing during a step that cannot be cancelled ----------------------------------
def test_closing_during_a_weights_download_returns_within_two_seconds(qtbot, folder, monkeypatch):
    gate, downloading = threading.Event(), threading.Event()

    def download(*_args, **_kwargs):
        downloading.set()
        gate.wait(30)
        raise WeightsMissing("no network")

    # The model's load is where the weights download (models.weights) would run.
    monkeypatch.setattr("photosim.models.embed.load_backbone", download)
    win = new_window(qtbot, backbone=None, model="resnet18")
    win.state.open_library(str(folder))
    qtbot.waitUntil(downloading.is_set, timeout=WAIT)
    worker = win.state.worker
    start = time.monotonic()
    win.close()
    assert time.monotonic() - start < 2.0
    assert worker.running()  # abandoned, not waited on
    gate.set()
    assert worker.join(10)


def test_closing_during_an_index_build_returns_within_two_seconds(qtbot, folder, monkeypatch):
    from photosim.search.index import VectorIndex

    gate, building = threading.Event(), threading.Event()
    real_build = VectorIndex.build

    def slow_build(index, *args, **kwargs):
        building.set()
        gate.wait(30)
        return real_build(index, *args, **kwargs)

    monkeypatch.setattr(VectorIndex, "build", slow_build)
    win = new_window(qtbot)
    win.state.open_library(str(folder))
    qtbot.waitUntil(building.is_set, timeout=WAIT)
    # the "indexing" event reaches the GUI thread through the event loop, just after
    qtbot.waitUntil(lambda: "similarity index" in win.status.status_text.text(), timeout=WAIT)
    worker, db = win.state.worker, win.state.library.db_path
    start = time.monotonic()
    win.close()
    assert time.monotonic() - start < 2.0 and worker.running()
    gate.set()
    assert worker.join(10)
    with Library(db_path=db) as lib:
        assert lib.info()["embedded"] == 6  # the vectors were stored before the build


# -- 4: errors as objects, words by type ----------------------------------------------
def test_a_scan_error_is_shown_by_type_never_as_missing_weights(qtbot, folder, monkeypatch):
    real_scan = Library.scan

    def broken_scan(self, *args, **kwargs):  # fails after listing the photos
        for event in real_scan(self, *args, **kwargs):
            yield event
            if event.kind == "walked":
                raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(Library, "scan", broken_scan)
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_failed, timeout=WAIT) as blocker:
        win.state.open_library(str(folder))
    assert isinstance(blocker.args[0], RuntimeError)
    status = win.status.status_text.text()
    assert "The scan stopped" in status and "RuntimeError" in status and "log" in status
    assert "weights" not in status.lower() and win.state.model_error is None
    with qtbot.waitSignal(win.signals.similarity_unavailable, timeout=WAIT) as blocker:
        win.browser.select_path(str(folder / "img03.jpg"))
    assert blocker.args[0] == "img03.jpg is not embedded yet; press F5 to scan the folder again."


def test_a_photo_the_scan_has_not_reached_says_not_embedded_yet(qtbot, tmp_path):
    root = make_folder(tmp_path / "Many", 40)
    backbone = GatedBackbone(delay=0)
    win = new_window(qtbot, backbone=backbone)
    win.state.open_library(str(root))
    qtbot.waitUntil(
        lambda: backbone.calls == 1 and win.browser.proxy.rowCount() == 40, timeout=WAIT
    )
    with qtbot.waitSignal(win.signals.similarity_unavailable, timeout=WAIT) as blocker:
        win.browser.select_path(str(root / "img39.jpg"))
    assert blocker.args[0] == "img39.jpg is not embedded yet; the running scan will get to it."
    backbone.gate.set()


def test_messages_are_chosen_by_type():
    missing = WeightsMissing("pass it with --weights FILE", "/w/r18.pth", model="resnet18")
    assert messages.describe(missing).startswith("Similarity needs the pretrained resnet18")
    moved = WeightsMissing("pass it with --weights FILE", "/w/r18.pth", chosen=True)
    assert "/w/r18.pth is no longer there" in messages.describe(moved)
    assert "--weights" not in messages.describe(missing) + messages.describe(moved)
    assert messages.describe(LibraryBusy("/x/library.db", "pid 1")) == messages.BUSY
    assert "not embedded yet" in messages.describe(NotEmbedded("/p/a.jpg"))
    assert messages.reason(DecodeError("a.jpg", "not an image")) == "not an image"
    odd = messages.describe(KeyError("x"))
    assert "KeyError" in odd and "terminal" not in odd


# -- 5: reading while another process scans ---------------------------------------------
def test_the_app_shows_the_photos_of_a_scan_running_elsewhere(qtbot, folder, monkeypatch):
    elsewhere = threading.Event()
    elsewhere.set()
    real_scan = Library.scan

    def scan(self, *args, **kwargs):
        if elsewhere.is_set():
            raise LibraryBusy(self.db_path, "photosim scan, pid 4242")
        return real_scan(self, *args, **kwargs)

    monkeypatch.setattr(Library, "scan", scan)
    win = new_window(qtbot)
    win.state.watch.timer.setInterval(100)
    with qtbot.waitSignal(win.signals.scan_failed, timeout=WAIT) as blocker:
        win.state.open_library(str(folder))
    assert isinstance(blocker.args[0], LibraryBusy)
    assert win.status.status_text.text() == messages.BUSY
    assert win.browser.proxy.rowCount() == 0 and win.state.watch.watching()

    def other_process() -> None:
        with Library([folder], backbone=make_tiny_backbone()) as lib:
            for _ in real_scan(lib):
                pass
        elsewhere.clear()

    thread = threading.Thread(target=other_process)
    thread.start()
    qtbot.waitUntil(lambda: win.browser.proxy.rowCount() == 7, timeout=WAIT)
    thread.join(30)
    qtbot.waitUntil(
        lambda: not win.state.watch.watching() and not win.state.scanning(), timeout=WAIT
    )
    qtbot.waitUntil(lambda: "Up to date" in win.status.status_text.text(), timeout=WAIT)


def test_with_the_real_scan_lock_the_app_shows_a_cli_scans_photos_after(qtbot, folder):
    pytest.importorskip("photosim.library.locking")  # the scan lock
    backbone = GatedBackbone(delay=0)

    def cli_scan() -> None:
        with Library([folder], backbone=backbone) as lib:
            for _ in lib.scan():
                pass

    thread = threading.Thread(target=cli_scan)
    thread.start()
    qtbot.waitUntil(lambda: backbone.calls == 1, timeout=WAIT)  # it holds the lock, in the model
    win = new_window(qtbot)
    win.state.watch.timer.setInterval(100)
    with qtbot.waitSignal(win.signals.scan_failed, timeout=WAIT) as blocker:
        win.state.open_library(str(folder))
    assert isinstance(blocker.args[0], LibraryBusy)
    assert win.status.status_text.text() == messages.BUSY
    backbone.gate.set()
    thread.join(30)
    qtbot.waitUntil(lambda: "Up to date" in win.status.status_text.text(), timeout=WAIT)
    assert win.browser.proxy.rowCount() == 7 and not win.state.watch.watching()
    assert win.state.library.info()["embedded"] == 6


# -- 6: skipped files ---------------------------------------------------------------
def test_skipped_link_lists_every_skipped_file_with_its_reason(qtbot, folder):
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.open_library(str(folder))
    assert win.status.failed_link.isVisible() and "1 skipped" in win.status.failed_link.text()
    with qtbot.waitSignal(win.signals.failures_shown, timeout=WAIT) as blocker:
        win.status.failed_link.linkActivated.emit("skipped")
    ((path, reason),) = blocker.args[0].rows()
    assert path == str(folder / "broken.jpg") and "not an image" in reason


def test_skipped_files_with_undecodable_names_are_listed_readably(qtbot, folder, monkeypatch):
    name = os.fsdecode(b"/photos/lat\xe9.jpg")
    monkeypatch.setattr(Library, "failures", lambda self: [(Path(name), "not an image")])
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.open_library(str(folder))
    with qtbot.waitSignal(win.signals.failures_shown, timeout=WAIT) as blocker:
        win.status.show_failures()
    assert blocker.args[0].rows() == [("/photos/lat\\xe9.jpg", "not an image")]


def test_undecodable_names_are_browsed_and_listed_readably(qtbot, tmp_path):
    root = tmp_path / "Old camera"
    write_photo(root / os.fsdecode(b"lat\xe9.jpg"), size=(96, 64))
    (root / os.fsdecode(b"bad\xe9.jpg")).write_bytes(b"not a jpeg")
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT):
        win.state.open_library(str(root))
    names = sorted(
        win.browser.proxy.index(r, 0).data() for r in range(win.browser.proxy.rowCount())
    )
    assert names == ["bad\\xe9.jpg", "lat\\xe9.jpg"]
    with qtbot.waitSignal(win.signals.failures_shown, timeout=WAIT) as blocker:
        win.status.show_failures()
    ((path, _reason),) = blocker.args[0].rows()
    assert path == f"{root}/bad\\xe9.jpg"


# -- 7: opening files --------------------------------------------------------------------
def test_open_and_show_in_folder_use_the_desktop_handler_with_the_exact_name(
    qtbot, tmp_path, monkeypatch
):
    path = tmp_path / os.fsdecode(b"lat\xe9 1.jpg")
    write_photo(path, size=(32, 24))
    opened = []
    monkeypatch.setattr("photosim.app.browse.panes.QDesktopServices.openUrl", opened.append)
    for name in ("Popen", "run", "call"):
        monkeypatch.setattr(subprocess, name, lambda *a, **k: pytest.fail("a shell was used"))
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_photo(str(path))
    assert pane.name.text() == "lat\\xe9 1.jpg"  # shown readably, not silently dropped
    pane.open_photo()
    pane.show_in_folder()
    assert bytes(opened[0].toEncoded()).endswith(b"/lat%E9%201.jpg")
    assert opened[1].toLocalFile() == str(tmp_path)


# -- the event loop never stalls > 100 ms (issue 14) --------------------------------------
STALL_S = 0.1


def test_closing_while_scanning_never_stalls_the_event_loop(qtbot, tmp_path):
    root = make_folder(tmp_path / "Pictures", 40)
    backbone = GatedBackbone(delay=0.5)  # each batch of the scan takes half a second
    win = new_window(qtbot, backbone=backbone)
    win.state.open_library(str(root))
    qtbot.waitUntil(lambda: backbone.calls == 1, timeout=WAIT)
    backbone.gate.set()
    scan = win.state.worker
    ticker = Ticker(interval_ms=10)
    win.close()  # mid-batch: the scan is abandoned, never joined
    assert scan.running()
    qtbot.waitUntil(lambda: not scan.running(), timeout=WAIT)  # it ends in the background
    gap = ticker.longest_gap()
    print(f"close while scanning: longest event-loop gap {gap * 1000:.0f} ms")
    assert gap < STALL_S


def hold_write_lock(db: Path, seconds: float) -> threading.Thread:
    """Another connection holds the library's write lock for ``seconds`` (from now)."""
    held = threading.Event()

    def write() -> None:
        store = Store(db)
        with store.atomic():
            held.set()
            time.sleep(seconds)
        store.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    assert held.wait(10)
    return thread


def test_removing_a_folder_of_10k_photos_never_stalls_the_event_loop(qtbot, tmp_path):
    root = make_folder(tmp_path / "Pictures", 3)
    archive = tmp_path / "Archive"
    archive.mkdir()
    with Library([root], backbone=make_tiny_backbone()) as library:
        library.add_root(archive)
        store = library.store
        generation = store.begin_scan()
        store.list_new_many([(str(archive / f"p{i:05}.jpg"), 1000, i) for i in range(10_000)],
                            generation)  # fmt: skip
        ids = [row[0] for row in store.photos.photo_listing() if str(archive) in str(row[1])]
        store.mark_pending(ids, generation, 0)  # listed and settled: no work for the scan
        db = library.db_path
    archive.rmdir()  # an unplugged drive: the library keeps its rows, its scan stops
    win = new_window(qtbot)
    with qtbot.waitSignal(win.signals.scan_failed, timeout=WAIT):
        win.state.open_library(None, db)
    assert win.browser.photos.rowCount() == 10_000
    writer = hold_write_lock(db, 0.3)  # another writer (a CLI scan) is mid-transaction
    ticker = Ticker(interval_ms=10)
    finished = qtbot.waitSignal(win.signals.scan_finished, timeout=WAIT)
    with finished, qtbot.waitSignal(win.folders.removed, timeout=WAIT) as removed:
        assert win.folders.remove_folder(str(archive.resolve())) == 1  # started, not done
    gap = ticker.longest_gap()
    writer.join(10)
    print(f"remove a folder of 10k photos: longest event-loop gap {gap * 1000:.0f} ms")
    assert removed.args[1] == 10_000  # and the scan of the folder left runs now
    qtbot.waitUntil(lambda: win.browser.photos.rowCount() == 3, timeout=WAIT)
    assert gap < STALL_S
    win.close()


def slowed(fn, seconds: float = 0.5):
    """``fn``, taking ``seconds`` longer: a thumbnail cache on a slow disk, CUDA's first query."""

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return fn(*args, **kwargs)

    return slow


def test_opening_preferences_and_clearing_the_cache_never_stall_the_event_loop(qtbot, monkeypatch):
    from photosim.app.setup import preferences
    from photosim.core import paths

    cache = paths.thumbnail_dir() / "ab"
    cache.mkdir(parents=True)
    for i in range(3):
        (cache / f"{i}.jpg").write_bytes(b"\0" * 2000)
    for name in ("cache_size", "clear_thumbnails", "available_devices"):
        monkeypatch.setattr(preferences, name, slowed(getattr(preferences, name)))
    win = new_window(qtbot)
    ticker = Ticker(interval_ms=10)
    dialog = win.setup.show_preferences()
    assert dialog.cache_label.text() == "…" and dialog.device_label.text() == "…"
    qtbot.waitUntil(lambda: dialog.cache_label.text() == "6.0 KB in use", timeout=WAIT)
    qtbot.waitUntil(lambda: "Detected:" in dialog.device_label.text(), timeout=WAIT)
    opening = ticker.longest_gap()
    ticker = Ticker(interval_ms=10)
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    assert dialog.cache_label.text() == "Clearing…" and not dialog.clear_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.cache_label.text() == "0 bytes in use", timeout=WAIT)
    clearing = ticker.longest_gap()
    print(f"preferences: longest event-loop gap opening {opening * 1000:.0f} ms, "
          f"clearing the cache {clearing * 1000:.0f} ms")  # fmt: skip
    assert not cache.exists() or not any(cache.iterdir())
    assert opening < STALL_S and clearing < STALL_S
    dialog.reject()
    win.close()

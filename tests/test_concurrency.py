"""Finished work survives kill -9; one scan per library; reads while a scan runs; no sweep
of what could not be seen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.core.errors import LibraryBusy
from photosim.library import Library
from photosim.library import scan as scan_module
from photosim.library.scan import Scan
from photosim.storage.store import Store

TESTS = Path(__file__).resolve().parent

KILLER = textwrap.dedent(
    """
    import os, signal, sqlite3, sys, time
    from conftest import make_tiny_backbone
    from photosim.library import Library

    backbone = make_tiny_backbone()
    forward, calls = backbone.module.forward, [0]

    def dying_forward(x):
        calls[0] += 1
        if calls[0] == 3:  # the third batch: once two are stored, the process dies
            deadline = time.monotonic() + 20  # the scan thread stores batches the model made
            while time.monotonic() < deadline and stored() < 4:
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGKILL)
        return forward(x)

    def stored():
        try:
            with sqlite3.connect(sys.argv[2], timeout=5) as conn:
                return conn.execute("select count(*) from vectors").fetchone()[0]
        except sqlite3.Error:
            return 0

    backbone.module.forward = dying_forward
    lib = Library([sys.argv[1]], sys.argv[2], backbone=backbone, lock_owner="photosim scan")
    for _ in lib.scan(batch_size=2, workers=1):
        pass
    """
)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "photos"
    for seed in range(10):
        write_photo(root / f"p{seed}.jpg", size=(96, 64), seed=seed)
    return root


def test_kill_9_mid_scan_loses_nothing_and_what_was_stored_answers(folder, tmp_path):
    db = tmp_path / "lib" / "library.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(folder), str(db)], env=env,
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    with Library(db_path=db, read_only=True) as lib:
        info = lib.info()
        assert (info["photos"], info["embedded"], info["model"]) == (10, 4, "tiny:test")
        embedded = [p for p in lib.photos() if p.has_vector]
        assert lib.similar(embedded[0], k=3)  # answers at once, from what was stored
    lib = Library([folder], db, backbone=make_tiny_backbone())
    done = list(lib.scan(batch_size=2))[-1]
    assert (done.embedded, done.unchanged, done.found) == (6, 4, 10)
    assert lib.store.vectors.vector_models() == {"tiny:test": 10}
    assert lib.store.integrity_ok() and all(p.has_vector for p in lib.photos())


def test_two_scans_at_once_one_waits_out_and_the_library_stays_whole(folder, tmp_path):
    db = tmp_path / "library.db"
    inside, release = threading.Event(), threading.Event()
    backbone = make_tiny_backbone()
    forward = backbone.module.forward

    def slow_forward(x):
        inside.set()
        release.wait(30)
        return forward(x)

    backbone.module.forward = slow_forward
    first = Library([folder], db, backbone=backbone, lock_owner="photosim scan")
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(first.scan(batch_size=4)))
    worker.start()
    try:
        assert inside.wait(30)
        second = Library([folder], db, backbone=make_tiny_backbone(), lock_owner="photosim app")
        with pytest.raises(LibraryBusy) as busy:
            list(second.scan())
        assert f"pid {os.getpid()}" in busy.value.holder and "photosim scan" in busy.value.holder
        with Library(db_path=db, read_only=True) as reader:  # reads go on during the scan
            assert len(reader.photos()) == 10 and reader.info()["photos"] == 10
    finally:
        release.set()
        worker.join(60)
    assert result[-1].kind == "done" and result[-1].embedded == 10
    done = list(second.scan())[-1]  # the lock is free again
    assert done.unchanged == 10 and done.removed == 0
    assert len(second.photos()) == 10 and second.store.integrity_ok()


def test_folders_the_walk_could_not_list_are_not_swept(folder, monkeypatch):
    write_photo(folder / "locked" / "inner.jpg", seed=42)
    lib = Library([folder], backbone=make_tiny_backbone())
    list(lib.scan())
    assert len(lib.photos()) == 11
    real_walk = scan_module.walk

    class Listing:
        """What walk() reports when a folder cannot be listed (permissions, I/O)."""

        def __init__(self, roots, exclude=None):
            self.unreadable = [str(folder / "locked")]
            self._it = ((p, st) for p, st in real_walk(roots, exclude) if "/locked/" not in p)

        def __iter__(self):
            return self._it

    monkeypatch.setattr(scan_module, "walk", Listing)
    done = list(lib.scan())[-1]
    assert done.removed == 0 and len(lib.photos()) == 11


def test_a_root_that_is_not_a_folder_now_is_not_swept(folder, tmp_path):
    other = tmp_path / "usb"
    write_photo(other / "on-the-stick.jpg", seed=3)
    store = Store(tmp_path / "lib.db")
    backbone = make_tiny_backbone()
    list(Scan(store, [folder, other], backbone.key, lambda: backbone).run())
    assert store.photos.count() == 11
    other.rename(tmp_path / "unplugged")
    done = list(Scan(store, [folder, other], backbone.key, lambda: backbone).run())[-1]
    assert done.removed == 0 and store.photos.count() == 11

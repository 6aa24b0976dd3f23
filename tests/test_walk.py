"""The walk: only regular files, links resolved inside the roots, unreadable folders reported."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.library.walk import Walk, walk


class Blocked(BaseException):
    """Raised by ``deadline``; not an OSError, so no ``except OSError`` can hide it."""


@pytest.fixture
def deadline():
    """Fail (instead of hanging forever) when a test blocks, e.g. on opening a FIFO."""

    def _timeout(signum, frame):
        raise Blocked("blocked: something opened a FIFO or device")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def found(root: Path, **kw) -> list[str]:
    return [p for p, _ in walk([root], **kw)]


def test_fifos_sockets_and_devices_with_image_names_are_never_opened(
    tmp_path, deadline, monkeypatch
):
    root = tmp_path / "photos"
    good = write_photo(root / "good.jpg")
    os.mkfifo(root / "pipe.jpg")
    os.mkfifo(root / "pipe.dat")  # no image extension: sniffing it would block too
    monkeypatch.chdir(root)  # AF_UNIX paths are short
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.jpg")
    with contextlib.suppress(OSError):  # without CAP_MKNOD, FIFOs and sockets still cover it
        os.mknod(root / "dev.jpg", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k)
    )
    try:
        assert found(root) == [str(good)]
        specials = [n for n in ("pipe.jpg", "pipe.dat", "sock.jpg", "dev.jpg")]
        assert not any(o.endswith(tuple(specials)) for o in opened), opened
        events = list(_scan(root))
    finally:
        sock.close()
    assert events[-1].kind == "done" and events[-1].embedded == 1 and events[-1].failed == 0


def _scan(root: Path):
    from photosim.library import Library

    with Library([root], backbone=make_tiny_backbone()) as lib:
        yield from lib.scan()


def test_a_photo_reached_through_a_link_inside_the_roots_is_yielded_once_by_its_real_path(
    tmp_path,
):
    root = tmp_path / "photos"
    a = write_photo(root / "trip" / "a.jpg", seed=1)
    hidden = write_photo(root / ".hidden" / "h.jpg", seed=2)
    (root / "alias.jpg").symlink_to(a)
    (root / "again.jpg").symlink_to("trip/a.jpg")  # relative link
    (root / "trip-link").symlink_to(root / "trip", target_is_directory=True)
    (root / "zz-hidden.jpg").symlink_to(hidden)  # the only way to reach it
    (root / "zz-hidden2.jpg").symlink_to(hidden)
    assert sorted(found(root)) == sorted([str(a), str(hidden)])


def test_links_loops_and_broken_links_yield_each_photo_once(tmp_path, deadline):
    """A link to a folder elsewhere is followed (issue 17: ~/Pictures/Phone -> /media/phone);
    its photo comes once, though a file link also leads to it; loops and broken links end."""
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    good = write_photo(root / "sub" / "good.jpg")
    write_photo(outside / "private.jpg")
    (root / "out.jpg").symlink_to(outside / "private.jpg")
    (root / "out-dir").symlink_to(outside, target_is_directory=True)
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a loop to an ancestor
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "a.jpg").symlink_to(root / "b.jpg")
    (root / "b.jpg").symlink_to(root / "a.jpg")  # a two-link loop
    (root / "gone.jpg").symlink_to(root / "nowhere.jpg")
    assert sorted(found(root)) == sorted([str(good), str(outside / "private.jpg")])


def test_a_file_link_out_of_the_roots_is_not_followed(tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    good = write_photo(root / "good.jpg")
    write_photo(outside / "private.jpg")
    (root / "out.jpg").symlink_to(outside / "private.jpg")
    (root / "everything").symlink_to(tmp_path, target_is_directory=True)  # holds the root
    assert found(root) == [str(good)]


def test_a_root_given_through_a_link_yields_real_paths(tmp_path):
    real = tmp_path / "real"
    good = write_photo(real / "good.jpg")
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    assert found(tmp_path / "via") == [str(good)]


def test_folders_that_cannot_be_listed_are_reported_not_silently_dropped(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    good = write_photo(root / "ok" / "good.jpg")
    write_photo(root / "locked" / "kept.jpg")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    w = Walk([root])
    assert [p for p, _ in w] == [str(good)]
    assert w.unreadable == [str(root / "locked")]
    missed: list[str] = []
    assert found(root, unreadable=missed) == [str(good)]
    assert missed == [str(root / "locked")]


def test_an_unreadable_root_is_reported(tmp_path, monkeypatch):
    write_photo(tmp_path / "photos" / "a.jpg")
    monkeypatch.setattr(
        os, "scandir", lambda p=".": (_ for _ in ()).throw(PermissionError(13, "no"))
    )
    w = Walk([tmp_path / "photos"])
    assert list(w) == [] and w.unreadable == [str(tmp_path / "photos")]


def test_excluded_hidden_and_system_folders_are_skipped(tmp_path):
    root = tmp_path / "photos"
    good = write_photo(root / "good.jpg")
    write_photo(root / ".thumbs" / "t.jpg")
    write_photo(root / "@eaDir" / "t.jpg")
    write_photo(root / "cache" / "t.jpg")
    assert found(root, exclude={str(root / "cache")}) == [str(good)]


def test_a_missing_root_is_reported_so_its_photos_are_kept(tmp_path):
    w = Walk([tmp_path / "unplugged"])
    assert list(w) == [] and w.unreadable == [str(tmp_path / "unplugged")]


def test_links_into_excluded_folders_are_not_followed(tmp_path):
    root = tmp_path / "photos"
    good = write_photo(root / "good.jpg")
    write_photo(root / "cache" / "t.jpg")
    (root / "to-cache").symlink_to(root / "cache", target_is_directory=True)
    (root / "thumb.jpg").symlink_to(root / "cache" / "t.jpg")
    assert found(root, exclude={str(root / "cache")}) == [str(good)]


def test_walk_returns_a_listing_that_knows_what_it_missed(tmp_path, monkeypatch):
    good = write_photo(tmp_path / "photos" / "a.jpg")
    write_photo(tmp_path / "photos" / "locked" / "b.jpg")
    real_scandir = os.scandir
    monkeypatch.setattr(
        os,
        "scandir",
        lambda p=".": (
            (_ for _ in ()).throw(PermissionError(13, "no"))
            if os.fspath(p).endswith("locked")
            else real_scandir(p)
        ),
    )
    listing = walk([tmp_path / "photos"])
    assert [p for p, _ in listing] == [str(good)]
    assert listing.unreadable == [str(tmp_path / "photos" / "locked")]


def test_is_under_is_by_whole_folder_names():
    from photosim.core.paths import is_under

    assert is_under("/photos/2024/a.jpg", ["/photos"])
    assert is_under("/photos", ["/photos/"])
    assert not is_under("/photos-old/a.jpg", ["/photos"])
    assert not is_under("/other/a.jpg", ["/photos", "/pictures"])
    assert is_under("/anything", ["/"])

"""Symlinked folders inside a library (issue 17): followed, each photo once, loops caught,
and named in the scan's summary."""

from __future__ import annotations

import os

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.cli import main
from photosim.library import Library

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")


@pytest.fixture
def linked(tmp_path):
    """~/Pictures with a link Phone -> /media/phone/DCIM (elsewhere), a loop and a link up."""
    pictures, phone = tmp_path / "Pictures", tmp_path / "media" / "phone" / "DCIM"
    write_photo(pictures / "home.jpg", size=(64, 48), seed=1)
    for i in range(2):
        write_photo(phone / f"IMG_{i}.jpg", size=(64, 48), seed=10 + i)
    (pictures / "Phone").symlink_to(phone, target_is_directory=True)
    (pictures / "Phone again").symlink_to(phone, target_is_directory=True)  # the same folder
    (phone / "loop").symlink_to(phone, target_is_directory=True)  # a loop inside it
    (pictures / "everything").symlink_to(tmp_path, target_is_directory=True)  # holds the root
    return pictures, phone


def test_a_linked_folder_elsewhere_is_followed_once(linked, tmp_path):
    pictures, phone = linked
    with Library([pictures], tmp_path / "db" / "lib.db", backbone=make_tiny_backbone()) as lib:
        final = list(lib.scan())[-1]
        paths = sorted(str(p.path) for p in lib.photos())
        assert final.linked == (str(phone.resolve()),)
        assert paths == sorted([str(pictures.resolve() / "home.jpg"),
                                *(str(phone.resolve() / f"IMG_{i}.jpg") for i in range(2))])  # fmt: skip
        tree = lib.folder_tree()  # the phone's folder is a top of its own in the sidebar
        assert [t.path for t in tree] == [str(pictures.resolve()), str(phone.resolve())]
        (pictures / "Phone").unlink()
        (pictures / "Phone again").unlink()
        list(lib.scan())  # the link is gone: so are its photos
        assert [p.path.name for p in lib.photos()] == ["home.jpg"]


def test_the_cli_summary_names_the_linked_folder(linked, monkeypatch, capsys):
    pictures, phone = linked
    monkeypatch.setattr("photosim.models.embed.load_backbone", lambda *a, **k: make_tiny_backbone())
    assert main(["scan", str(pictures)]) == 0
    out = capsys.readouterr().out
    assert f"followed a link to {phone.resolve()}" in out
    assert ": 3 photos" in out

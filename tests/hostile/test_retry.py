"""A photo that could not be read during one scan is tried again at the next (issue 18,
finding 10): a transient failure (permissions, a disk that hiccupped) is not permanent."""

from __future__ import annotations

from pathlib import Path

from conftest import make_tiny_backbone, write_photo

from photosim.cli.scan import _summary
from photosim.core.errors import DecodeError, FailKind
from photosim.library import Library, pipeline


def test_a_failed_photo_is_retried_and_the_summary_says_so(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "photos"
    for seed in range(3):
        write_photo(folder / f"p{seed}.jpg", size=(96, 64), seed=seed)
    db = tmp_path / "library.db"
    read = pipeline.read_photo_bytes

    def unreadable_once(path, expect=None):  # the permission problem of that day
        if Path(path).name == "p1.jpg":
            raise DecodeError("p1.jpg", "no permission to read the file", FailKind.UNREADABLE)
        return read(path, expect)

    monkeypatch.setattr(pipeline, "read_photo_bytes", unreadable_once)
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        first = list(lib.scan())[-1]
    assert (first.embedded, first.failed, first.retried) == (2, 1, 0)

    monkeypatch.setattr(pipeline, "read_photo_bytes", read)  # readable again, unchanged on disk
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        again = list(lib.scan())[-1]
        assert (again.retried, again.failed, again.embedded, again.unchanged) == (1, 0, 1, 2)
        assert lib.info()["failed"] == 0 and lib.info()["embedded"] == 3
        _summary(lib, again)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines if line.split()[:1] == ["retried"]] == [
        ["retried", "1"]
    ]
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        last = list(lib.scan())[-1]  # nothing left to retry
    assert (last.retried, last.unchanged) == (0, 3)

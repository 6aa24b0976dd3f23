"""The model is let go when a scan ends; the status says the model loads (issue 17)."""

from __future__ import annotations

from conftest import make_tiny_backbone, write_photo

from photosim.app import messages
from photosim.core.events import ScanKind, ScanProgress
from photosim.library import Library


def test_a_scan_releases_the_model_it_loaded(tmp_path, monkeypatch):
    loads = []

    def load(*_a, **_k):
        loads.append(1)
        return make_tiny_backbone()

    monkeypatch.setattr("photosim.models.embed.load_backbone", load)
    write_photo(tmp_path / "p" / "a.jpg", size=(64, 48))
    with Library([tmp_path / "p"], tmp_path / "db" / "lib.db") as lib:
        list(lib.scan())
        assert loads == [1] and lib.model._backbone is None  # released at the end of the scan
        write_photo(tmp_path / "p" / "b.jpg", size=(64, 48), seed=2)
        list(lib.scan())
        assert loads == [1, 1] and lib.model._backbone is None  # loaded again when needed


def test_a_model_handed_in_is_kept(tmp_path):
    write_photo(tmp_path / "p" / "a.jpg", size=(64, 48))
    backbone = make_tiny_backbone()
    with Library([tmp_path / "p"], tmp_path / "db" / "lib.db", backbone=backbone) as lib:
        list(lib.scan())
        assert lib.model._backbone is backbone and not lib.model.release()


def test_the_status_says_the_model_loads_before_the_first_photo():
    ev = ScanProgress(kind=ScanKind.WALKED, total=240, done=0)
    assert messages.progress(ev) == "Loading the model… (240 photos to scan)"

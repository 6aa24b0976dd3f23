"""The scan pipeline and queries, with a tiny injected model (no ResNet, no network)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, rotated_copy, write_photo
from PIL import Image

from photosim.core.errors import WeightsMissing
from photosim.library import Library


def scan_all(lib: Library, **kw):
    events = list(lib.scan(**kw))
    assert events[-1].kind == "done"
    return events, events[-1]


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "Pictures"
    for seed in range(6):
        write_photo(root / f"photo{seed}.jpg", seed=seed)
    write_photo(root / "trip" / "beach.png", seed=10, fmt="PNG")
    return root


def test_scan_embeds_every_photo_with_unit_vectors(folder):
    lib = Library([folder], backbone=make_tiny_backbone())
    _, done = scan_all(lib)
    assert (done.found, done.new, done.embedded, done.failed) == (7, 7, 7, 0)
    photos = lib.photos()
    assert len(photos) == 7 and all(p.has_vector for p in photos)
    vec = lib.store.vectors.get_vector(photos[0].hash, lib.model.key)
    assert vec.shape == (lib.model.ensure_backbone().dim,) and vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-3)  # stored as float16
    assert lib.info()["index"] == "fresh"


def test_progress_events_count_up_to_a_known_total(folder):
    events, _done = scan_all(Library([folder], backbone=make_tiny_backbone()), batch_size=2)
    embedded = [e for e in events if e.kind == "embedded"]
    assert [e.done for e in embedded] == list(range(1, 8))
    assert all(e.total == 7 for e in embedded) and embedded[-1].rate > 0
    assert {e.path.name for e in embedded} >= {"beach.png", "photo0.jpg"}


def test_rescan_of_unchanged_folder_embeds_nothing(folder):
    scan_all(Library([folder], backbone=make_tiny_backbone()))
    lib = Library([folder], backbone=make_tiny_backbone())
    _, done = scan_all(lib)
    assert (done.embedded, done.new, done.unchanged) == (0, 0, 7)


def test_moved_photo_keeps_its_vector_and_deleted_leaves(folder):
    lib = Library([folder], backbone=make_tiny_backbone())
    scan_all(lib)
    (folder / "old").mkdir()
    os.rename(folder / "photo1.jpg", folder / "old" / "renamed.jpg")
    (folder / "photo2.jpg").unlink()
    _, done = scan_all(lib)
    assert (done.moved, done.removed, done.embedded, done.new) == (1, 1, 0, 0)
    names = {p.path.name for p in lib.photos()}
    assert "renamed.jpg" in names and "photo1.jpg" not in names and "photo2.jpg" not in names
    assert lib.photo(folder / "old" / "renamed.jpg").has_vector


def test_changed_file_is_embedded_again(folder):
    lib = Library([folder], backbone=make_tiny_backbone())
    scan_all(lib)
    write_photo(folder / "photo3.jpg", seed=99)
    os.utime(folder / "photo3.jpg", ns=(1, 10**18))
    _, done = scan_all(lib)
    assert (done.embedded, done.unchanged) == (1, 6)


def test_rotated_resized_reencoded_copies_are_top_neighbours(folder):
    original = folder / "photo0.jpg"
    rotated_copy(original, folder / "rotated.jpg")
    Image.open(original).resize((160, 120)).save(folder / "small.jpg", quality=70)
    lib = Library([folder], backbone=make_tiny_backbone())
    scan_all(lib)
    matches = lib.similar(original, k=5)
    assert {m.path.name for m in matches[:2]} == {"rotated.jpg", "small.jpg"}
    assert original not in [m.path for m in matches]
    assert matches[0].score > 0.97 and all(0 <= m.score <= 1 for m in matches)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert lib.similar(folder / "rotated.jpg", k=1)[0].path == original


def test_unreadable_files_are_skipped_with_a_reason_and_not_retried(folder):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    lib = Library([folder], backbone=make_tiny_backbone())
    _, done = scan_all(lib)
    assert done.failed == 1 and done.embedded == 7
    assert done.failures[0].path.name == "broken.jpg" and done.failures[0].reason
    assert lib.photo(folder / "broken.jpg").error
    _, again = scan_all(lib)
    assert (again.failed, again.unchanged) == (0, 8)


def test_walk_skips_hidden_and_own_files_survives_symlink_loops_and_sniffs_content(folder):
    write_photo(folder / ".hidden" / "secret.jpg", seed=3)
    os.symlink(folder, folder / "trip" / "loop")
    (folder / "notes.txt").write_text("hello")
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "jpeg-bytes.svg").write_bytes((folder / "photo0.jpg").read_bytes())
    lib = Library([folder], db_path=folder / "photosim.db", backbone=make_tiny_backbone())
    _, done = scan_all(lib)
    names = sorted(p.path.name for p in lib.photos())
    assert "secret.jpg" not in names and "drawing.svg" not in names and "notes.txt" not in names
    assert "jpeg-bytes.svg" in names and done.found == 8


def test_cancel_keeps_finished_work_and_next_scan_resumes(folder):
    lib = Library([folder], backbone=make_tiny_backbone())
    stop = threading.Event()
    events = []
    for ev in lib.scan(cancel=stop, batch_size=1, workers=1):
        events.append(ev)
        if ev.kind == "embedded" and ev.embedded == 2:
            stop.set()
    assert events[-1].kind == "done" and events[-1].cancelled
    kept = sum(p.has_vector for p in lib.photos())
    assert 2 <= kept < 7
    _, done = scan_all(Library([folder], backbone=make_tiny_backbone()))
    assert done.embedded == 7 - kept


def test_another_model_re_embeds_and_never_mixes(folder):
    scan_all(Library([folder], backbone=make_tiny_backbone()))
    other = make_tiny_backbone(size=32)
    other.key = "tiny:other"
    lib = Library([folder], backbone=other)
    _, done = scan_all(lib)
    assert done.embedded == 7
    assert lib.store.vectors.vector_models() == {"tiny:test": 7, "tiny:other": 7}
    assert len(lib.store.vectors.get_vector(lib.photos()[0].hash, "tiny:other")) == 192


def test_similar_to_outside_file_does_not_add_it(folder, tmp_path):
    lib = Library([folder], backbone=make_tiny_backbone())
    scan_all(lib)
    outside = rotated_copy(folder / "photo4.jpg", tmp_path / "outside.jpg", orientation=8)
    matches = lib.similar_to_file(outside, k=3)
    assert matches[0].path == folder / "photo4.jpg"
    assert lib.photo(outside) is None and len(lib.photos()) == 7


def test_without_weights_photos_are_listed_and_the_reason_reported(folder):
    lib = Library([folder], model="resnet18")
    events, done = scan_all(lib)
    assert isinstance(done.model_error, WeightsMissing)
    assert "--weights" in str(done.model_error) and done.waiting == 7
    assert any(e.kind == "model_unavailable" for e in events)
    assert len(lib.photos()) == 7 and not any(p.has_vector for p in lib.photos())
    with pytest.raises(WeightsMissing):
        lib.model.ensure_backbone()


def test_a_photo_reached_through_a_symlinked_folder_is_the_library_photo(folder, tmp_path):
    lib = Library([folder], backbone=make_tiny_backbone())
    scan_all(lib)
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    record = lib.photo(link / "photo1.jpg")
    assert record is not None and record.path == folder / "photo1.jpg"
    assert [m.path.name for m in lib.similar(link / "photo1.jpg", k=3)]

"""Duplicate groups on synthetic photos with a tiny model: kinds, keepers, decisions, CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo
from PIL import Image

from photosim.cli import main
from photosim.dupes import verify
from photosim.dupes.finder import DupKind, result_to_dict
from photosim.library import Library
from photosim.library.model import LibraryModel


def scan(lib: Library) -> None:
    assert list(lib.scan())[-1].kind == "done"


@pytest.fixture
def folder(tmp_path) -> Path:
    """Five unrelated photos; a resized PNG export and a pixel-rotated copy of one; a backup."""
    root = tmp_path / "Pictures"
    for seed in range(5):
        write_photo(root / f"photo{seed}.jpg", size=(640, 480), seed=seed, detail=True)
    original = Image.open(root / "photo1.jpg")
    (root / "export").mkdir()
    original.resize((320, 240)).save(root / "export" / "photo1-small.png")
    original.transpose(Image.Transpose.ROTATE_90).save(root / "turned.jpg", quality=60)
    (root / "backup").mkdir()
    shutil.copy2(root / "photo3.jpg", root / "backup" / "photo3.jpg")
    return root


@pytest.fixture
def lib(folder) -> Library:
    library = Library([folder], backbone=make_tiny_backbone())
    scan(library)
    library.calibrate(sample=5)
    return library


def groups_by_kind(result, kind):
    return [g for g in result.groups if g.kind == kind]


def names(group) -> list[str]:
    return [m.path.name for m in group.photos]


def test_exact_and_near_groups_with_the_original_kept(lib, folder):
    result = lib.duplicates()
    [exact] = groups_by_kind(result, DupKind.EXACT)
    assert sorted(str(m.path.relative_to(folder)) for m in exact.photos) == [
        "backup/photo3.jpg", "photo3.jpg"]  # fmt: skip
    assert exact.photos[1].reason == "identical bytes" and exact.photos[1].score == 1.0
    assert exact.reclaimable == (folder / "photo3.jpg").stat().st_size
    [near] = groups_by_kind(result, DupKind.NEAR)
    assert names(near)[0] == "photo1.jpg" and sorted(names(near)) == [
        "photo1-small.png", "photo1.jpg", "turned.jpg"]  # fmt: skip
    assert "pixels" in near.keep_reason or "most pixels" in near.keep_reason
    turned = next(m for m in near.photos if m.path.name == "turned.jpg")
    assert "turned 90 degrees" in turned.reason or "turned 270 degrees" in turned.reason
    small = next(m for m in near.photos if m.path.name == "photo1-small.png")
    assert "smaller (320x240)" in small.reason and "PNG" in small.reason
    assert near.reclaimable == sum(m.size for m in near.photos[1:])
    assert result.reclaimable == sum(g.reclaimable for g in result.groups)
    assert [g.reclaimable for g in result.groups] == sorted(
        (g.reclaimable for g in result.groups), reverse=True
    )
    # only the requested kind
    assert {g.kind for g in lib.duplicates(kind="exact").groups} == {DupKind.EXACT}


def test_hard_links_free_nothing(lib, folder):
    os.link(folder / "photo0.jpg", folder / "link-to-photo0.jpg")
    scan(lib)
    [group] = [g for g in lib.duplicates(kind="exact").groups if "photo0.jpg" in names(g)]
    link = group.photos[1]
    assert link.hardlink_of == group.photos[0].path and "frees nothing" in link.reason
    assert group.reclaimable == 0


def test_reference_folder_photo_is_the_keeper_and_never_proposed(lib, folder):
    result = lib.duplicates(kind="exact", references=[folder / "backup"])
    [group] = result.groups
    assert group.keep == folder / "backup" / "photo3.jpg"
    assert group.keep_reason == "in a reference folder" and group.photos[0].reference
    lib.decisions.set_reference_folders([folder / "export"])
    [near] = lib.duplicates(kind="near").groups
    assert near.keep.name == "photo1-small.png" and near.photos[0].reference
    assert lib.decisions.reference_folders() == [folder / "export"]


def test_decisions_survive_rename_and_rescan(lib, folder):
    [near] = lib.duplicates(kind="near").groups
    lib.decisions.mark_keep(folder / "export" / "photo1-small.png")
    lib.decisions.mark_keep(folder / "backup" / "photo3.jpg")  # one of two byte-identical copies
    [exact] = lib.duplicates(kind="exact").groups
    assert exact.keep == folder / "backup" / "photo3.jpg" and exact.keep_reason == "marked to keep"
    [near] = lib.duplicates(kind="near").groups
    assert near.keep.name == "photo1-small.png" and near.keep_reason == "marked to keep"
    (folder / "export" / "photo1-small.png").rename(folder / "export" / "renamed.png")
    scan(lib)
    reopened = Library(db_path=lib.db_path, backbone=make_tiny_backbone())
    [near] = reopened.duplicates(kind="near").groups
    assert near.keep == folder / "export" / "renamed.png"  # the keep mark followed the content
    reopened.decisions.mark_not_duplicates([m.path for m in near.photos])
    assert reopened.duplicates(kind="near").groups == ()
    (folder / "turned.jpg").rename(folder / "moved.jpg")
    scan(reopened)
    again = Library(db_path=lib.db_path, backbone=make_tiny_backbone())
    assert again.duplicates(kind="near").groups == ()  # the dismissed group does not come back
    assert [g.kind for g in again.duplicates().groups] == [DupKind.EXACT]


def test_finder_regroups_at_a_new_threshold_and_sees_new_marks(lib):
    finder = lib.duplicate_finder()
    assert finder.floors.near < finder.defaults.near
    everything = finder.group(near=finder.floors.near, similar=finder.floors.similar)
    strict = finder.group(near=1.0, similar=1.0)
    assert len(strict.groups) <= len(everything.groups)
    assert strict.thresholds.near == 1.0
    # pixel-rotated copies are proposed by the pixels, whatever the CNN threshold
    assert any("turned.jpg" in names(g) for g in strict.groups if g.kind == DupKind.NEAR)
    exact = next(g for g in everything.groups if g.kind == DupKind.EXACT)
    lib.decisions.mark_not_duplicates([m.path for m in exact.photos])
    assert all(g.id != exact.id for g in finder.group().groups)


def test_cli_duplicates_json_csv_and_text_never_delete(lib, folder, capsys):
    before = sorted(p for p in folder.rglob("*") if p.is_file())
    db = str(lib.db_path)
    assert main(["duplicates", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == json.loads(json.dumps(result_to_dict(lib.duplicates())))
    near = next(g for g in data["groups"] if g["kind"] == "near")
    assert near["keep"] == str(folder / "photo1.jpg") == near["photos"][0]["path"]
    assert {"path", "score", "reason"} <= set(near["photos"][1])
    assert main(["duplicates", "--db", db, "--kind", "exact", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["kind"] for r in rows} == {"exact"} and len(rows) == 2
    assert main(["duplicates", "--db", db, "--reference", str(folder / "backup")]) == 0
    out = capsys.readouterr().out
    assert "keep" in out and "Nothing was deleted" in out
    assert sorted(p for p in folder.rglob("*") if p.is_file()) == before
    assert main(["duplicates", "--db", db, "--reference", str(folder / "nope")]) == 2


def test_stored_calibration_means_no_model_is_loaded(lib, monkeypatch):
    def no_model(self):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(LibraryModel, "ensure_backbone", no_model)
    reopened = Library(db_path=lib.db_path)
    assert reopened.calibration() == lib.calibration()
    assert reopened.duplicates(kind="near").groups


def test_empty_library_and_cancel(tmp_path, lib):
    from photosim.core.errors import Cancelled

    (tmp_path / "empty").mkdir()
    empty = Library([tmp_path / "empty"], backbone=make_tiny_backbone())
    scan(empty)
    result = empty.duplicates()
    assert result.groups == () and result.reclaimable == 0
    steps = []
    with pytest.raises(Cancelled):
        lib.duplicate_finder(cancel=lambda: bool(steps), progress=steps.append)
    assert [p.step for p in steps] == ["fingerprints"]


def test_the_search_counts_each_step_and_a_cancel_stops_it_at_the_next_pair(lib, monkeypatch):
    """The app's "Checking pairs 3 of 12" and its Cancel (issue 17): counts per step, in order,
    and a stop asked for while pairs are checked is heard before the next chunk of pairs."""
    from photosim.core.errors import Cancelled
    from photosim.dupes.cache import cache_path, verdicts_path
    from photosim.dupes.types import DupStep

    events = []
    lib.duplicate_finder(progress=events.append)
    assert list(dict.fromkeys(e.step for e in events)) == list(DupStep)
    assert all(0 <= e.done <= e.total for e in events)
    verify_total = next(e.total for e in events if e.step == DupStep.VERIFY)
    assert verify_total >= 2
    for kept in (cache_path(lib.db_path), verdicts_path(cache_path(lib.db_path))):
        kept.unlink(missing_ok=True)  # built and checked again, not read from the caches
    checks, real = [], verify.check
    monkeypatch.setattr(verify, "check", lambda a, b: checks.append(1) or real(a, b))
    seen = []
    with pytest.raises(Cancelled):
        lib.duplicate_finder(
            cancel=lambda: any(e.step == DupStep.VERIFY for e in seen), progress=seen.append
        )
    assert not checks  # asked when the step began: no chunk was checked


def test_the_scan_stores_fingerprints_so_finding_duplicates_decodes_nothing(folder, monkeypatch):
    """The decode the model needs also gives the pixel fingerprint and the geometric check's
    features: no second decode later, and no features computed by the search."""
    from photosim.media import decode

    lib = Library([folder], backbone=make_tiny_backbone())
    scan(lib)
    hashes = {p.hash for p in lib.photos() if p.has_vector}
    assert set(lib.store.dupes.fingerprints()) == hashes
    kept = lib.store.dupes.check_features(hashes)
    assert set(kept) == hashes and all(verify.unpack(d, None) is not None for d in kept.values())
    lib.calibrate(sample=3)  # calibrating decodes (augmented copies); finding must not

    def no_decode(*_args, **_kwargs):
        raise AssertionError("the duplicate finder decoded a photo the scan had fingerprinted")

    def no_features(*_args, **_kwargs):
        raise AssertionError("the duplicate finder computed features the scan had kept")

    monkeypatch.setattr(decode, "load_image", no_decode)
    monkeypatch.setattr(verify, "view_features", no_features)
    assert groups_by_kind(lib.duplicates(), "exact")
    assert groups_by_kind(lib.duplicates(), "near")  # pairs were checked, on kept features


def test_a_photo_whose_check_features_fail_is_still_scanned(folder, monkeypatch):
    """The features are photosim's own work on its own view: if OpenCV fails on them, the
    photo is embedded and fingerprinted all the same, and a search computes them."""
    import cv2

    real = verify.view_features

    def failing(view):
        raise cv2.error("simulated")

    monkeypatch.setattr(verify, "view_features", failing)
    lib = Library([folder], backbone=make_tiny_backbone())
    scan(lib)
    hashes = {p.hash for p in lib.photos() if p.has_vector}
    assert hashes and not any(p.error for p in lib.photos())
    assert set(lib.store.dupes.fingerprints()) == hashes
    assert lib.store.dupes.check_features(hashes) == {}
    monkeypatch.setattr(verify, "view_features", real)
    assert groups_by_kind(lib.duplicates(), "near")


# -- the checked candidates are kept between runs (photosim.dupes.cache) -------------
def _no_search(*_args, **_kwargs):
    raise AssertionError("searched again")


def test_an_unchanged_library_reuses_the_checked_candidates(lib, folder, monkeypatch):
    from photosim.dupes import cache as dupcache
    from photosim.dupes import candidates as dupcandidates

    first = result_to_dict(lib.duplicates())
    assert dupcache.cache_path(lib.db_path).exists()
    monkeypatch.setattr(dupcandidates, "_build", _no_search)
    reopened = Library(db_path=lib.db_path, backbone=make_tiny_backbone())
    assert result_to_dict(reopened.duplicates()) == first
    # decisions and reference folders apply when grouping: the kept search still serves
    [exact] = groups_by_kind(reopened.duplicates(), DupKind.EXACT)
    reopened.decisions.mark_not_duplicates([m.path for m in exact.photos])
    assert not groups_by_kind(reopened.duplicates(), DupKind.EXACT)
    [near] = reopened.duplicates(kind="near", references=[folder / "export"]).groups
    assert near.keep.name == "photo1-small.png"


def test_a_changed_library_or_threshold_searches_again(lib, folder, monkeypatch):
    from photosim.dupes import candidates as dupcandidates

    lib.duplicates()
    searches = []
    real = dupcandidates._build
    monkeypatch.setattr(dupcandidates, "_build", lambda *a: searches.append(1) or real(*a))
    shutil.copy2(folder / "photo2.jpg", folder / "photo2-copy.jpg")
    scan(lib)
    assert any("photo2-copy.jpg" in names(g) for g in lib.duplicates(kind="exact").groups)
    lib.duplicates()
    assert len(searches) == 1  # once for the new photo, then kept again
    with lib.store.atomic():  # a scan killed before it could count its change
        lib.store.delete_photos([lib.photo(folder / "photo2-copy.jpg").id])
    assert not any("photo2-copy.jpg" in names(g) for g in lib.duplicates(kind="exact").groups)
    assert len(searches) == 2
    key = lib.model.current_key()  # other thresholds, other candidates
    lib.store.dupes.put_calibration(key, {**lib.store.dupes.get_calibration(key), "near": 0.5})
    lib.duplicates()
    assert len(searches) == 3


def test_a_damaged_cache_is_searched_again_not_an_error(lib):
    from photosim.dupes import cache as dupcache

    expected = result_to_dict(lib.duplicates())
    dupcache.cache_path(lib.db_path).write_bytes(b"not a numpy file")
    assert result_to_dict(lib.duplicates()) == expected


def test_two_shots_stamped_seconds_apart_are_never_one_capture():
    """A burst frame of a still scene can pass the pixel check; its capture time says it is
    another shot. Stamps far apart (an editor's date) or unknown say nothing."""
    from types import SimpleNamespace

    import numpy as np

    from photosim.dupes.finder import _same
    from photosim.dupes.types import DIFFERENT, SAME

    taken = ["2024-01-01T10:00:00", "2024-01-01T10:00:02", "2024-01-01T10:00:00",
             "2024-03-05T18:30:00", None]  # fmt: skip
    nodes = [SimpleNamespace(taken=[t]) for t in taken]
    a, b = np.array([0, 0, 0, 0, 1]), np.array([1, 2, 3, 4, 2])
    verdict = np.array([SAME, SAME, SAME, SAME, DIFFERENT], np.uint8)
    c = SimpleNamespace(nodes=nodes, a=a, b=b, verdict=verdict)
    # 2 s apart: two shots; same stamp, months apart, unknown: the pixels decide
    assert _same(c).tolist() == [False, True, True, True, False]


def test_the_photo_by_photo_crop_search_scores_each_pair_as_matching_it_alone():
    """check_pairs prepares each photo's crops once and matches them against all its
    partners in one product: the same agreement and quarter turns as pixels.match."""
    import numpy as np

    from photosim.dupes.agreement import check_pairs, wide_agreement
    from photosim.media import pixels

    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (6, 40, 40)).astype(np.float32)
    thumbs = []
    for i in range(24):  # crops and turns of a few pictures, and noise
        t = base[i % 6][rng.integers(0, 6) :][:, rng.integers(0, 6) :][:32, :32]
        t = np.rot90(t, int(rng.integers(0, 4))) + rng.normal(0, 8, (32, 32))
        thumbs.append(np.clip(t, 0, 255).astype(np.uint8))
    fps = [pixels.Fingerprint(1.0, 1.0, t, b"") for t in thumbs] + [None]
    pairs = np.array([(a, b) for a in range(25) for b in range(a + 1, 25) if (a + b) % 3], np.int32)
    score, turns = check_pairs(pairs, fps)
    wide = wide_agreement(pairs, fps)
    for n, (a, b) in enumerate(pairs.tolist()):
        if fps[a] is None or fps[b] is None:
            assert np.isnan(score[n]) and np.isnan(wide[n])
            continue
        s, k = pixels.match(fps[a], fps[b])
        if s >= 0.8:  # the whole frames agreed at once: no crop search
            continue
        assert abs(score[n] - s) < 1e-5 and turns[n] == k
        assert abs(wide[n] - pixels.match(*(pixels.prepare(f, pixels.WIDE_MARGINS)
                                            for f in (fps[a], fps[b])))[0]) < 1e-5  # fmt: skip

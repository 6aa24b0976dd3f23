"""The near lane with a trained network on planted copies of real photos.

Copies made here (re-encoded, resized, EXIF-rotated, turned 90/180/270 degrees in
the pixels, cropped 5-10%, brightened, PNG) must be found as ``near`` with the
original kept; the hard negatives must not: camera/ holds three shots of one scene
seconds apart (other shots: at most ``similar``), ukbench/ unrelated objects, and
a mirrored copy (a mirror is a deliberate edit that shows another picture: not
``near``, it may be ``similar``).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance

from photosim.dupes.finder import DupKind
from photosim.library import Library


def _crop(im, l, t, r, b):  # noqa: E741
    w, h = im.size
    return im.crop((round(l * w), round(t * h), round(w - r * w), round(h - b * h)))


def _exif_rotated(im, path):
    exif = Image.Exif()
    exif[0x0112] = 6
    im.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=90, exif=exif)


EDITS = {
    "reencoded.jpg": lambda im, p: im.save(p, quality=40),
    "resized.jpg": lambda im, p: im.resize((im.width // 2, im.height // 2)).save(p, quality=85),
    "exifrot.jpg": _exif_rotated,
    "rot90.jpg": lambda im, p: im.transpose(Image.Transpose.ROTATE_90).save(p, quality=85),
    "rot180.jpg": lambda im, p: im.transpose(Image.Transpose.ROTATE_180).save(p, quality=85),
    "rot270.jpg": lambda im, p: im.transpose(Image.Transpose.ROTATE_270).save(p, quality=85),
    "crop5.jpg": lambda im, p: _crop(im, 0.025, 0.025, 0.025, 0.025).save(p, quality=90),
    "crop10.jpg": lambda im, p: _crop(im, 0.1, 0.0, 0.0, 0.08).save(p, quality=90),
    "bright.jpg": lambda im, p: ImageEnhance.Brightness(im).enhance(1.3).save(p, quality=90),
    "export.png": lambda im, p: im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(p),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory, effnet_backbone):
    from conftest import SHARED_PHOTOS

    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/photos is not present")
    base = tmp_path_factory.mktemp("planted")
    root = base / "photos"
    originals = sorted((SHARED_PHOTOS / "camera").glob("*.jpg")) + sorted(
        (SHARED_PHOTOS / "ukbench").glob("*.jpg")
    )
    truth: dict[Path, int] = {}
    names = list(EDITS)
    for i, src in enumerate(originals):
        dst = root / "originals" / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        truth[dst] = i
        with Image.open(src) as im:
            im = im.convert("RGB")
            if max(im.size) > 1600:  # keep the camera copies small enough to make quickly
                im.thumbnail((1600, 1600))
            for k in range(4):  # four edits per photo, every edit on five or more photos
                edit = names[(i * 4 + k) % len(names)]
                copy = root / "copies" / f"{src.stem}-{edit}"
                copy.parent.mkdir(parents=True, exist_ok=True)
                EDITS[edit](im, copy)
                truth[copy] = i
    mirror = root / "edits" / "ukbench00120_hflip.jpg"
    mirror.parent.mkdir(parents=True)
    shutil.copy2(SHARED_PHOTOS / "transforms" / "ukbench00120_hflip.jpg", mirror)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOSIM_HOME", str(base / "home"))
        lib = Library([root], base / "library.db", backbone=effnet_backbone)
        assert list(lib.scan())[-1].failed == 0
        thresholds = lib.calibrate(sample=10)
        result = lib.duplicates()
    return lib, truth, result, thresholds


def same_picture_pairs(groups) -> set[frozenset]:
    return {
        frozenset((a.path, b.path)) for g in groups for a, b in itertools.combinations(g.photos, 2)
    }


def test_near_lane_precision_and_recall(planted):
    _lib, truth, result, thresholds = planted
    found = same_picture_pairs(g for g in result.groups if g.kind in (DupKind.NEAR, DupKind.EXACT))
    expected = {
        frozenset((a, b)) for a, b in itertools.combinations(truth, 2) if truth[a] == truth[b]
    }
    hits = len(found & expected)
    precision, recall = hits / max(1, len(found)), hits / len(expected)
    print(f"near lane: precision {precision:.3f} recall {recall:.3f} "
          f"({hits}/{len(found)} found, {len(expected)} expected), {thresholds}")  # fmt: skip
    assert precision >= 0.95 and recall >= 0.95


def test_every_pixel_rotated_copy_is_found_with_its_original_kept(planted):
    _lib, truth, result, _ = planted
    near = [g for g in result.groups if g.kind == DupKind.NEAR]
    for copy in (p for p in truth if p.stem.endswith(("rot90", "rot180", "rot270"))):
        [group] = [g for g in near if copy in {m.path for m in g.photos}]
        assert group.keep.parent.name == "originals"
        member = next(m for m in group.photos if m.path == copy)
        if group.keep.stem == copy.stem.rsplit("-", 1)[0]:
            assert "turned" in member.reason
    for g in near:  # the original is the suggested keeper of every group
        assert g.keep.parent.name == "originals", (
            g.keep,
            g.keep_reason,
            [m.path.name for m in g.photos],
        )


def test_other_shots_and_the_mirror_are_never_near(planted):
    _lib, truth, result, _ = planted
    near = [g for g in result.groups if g.kind in (DupKind.NEAR, DupKind.EXACT)]
    for g in near:
        assert len({truth.get(m.path, -1) for m in g.photos}) == 1, g  # one picture per group
        assert not any("hflip" in m.path.name for m in g.photos)
    camera = {p for p in truth if p.name.startswith("1000")}
    similar = [g for g in result.groups if g.kind == DupKind.SIMILAR]
    shots = [g for g in similar if {m.path for m in g.photos} & camera]
    assert shots and all(g.gap_s is not None and g.gap_s <= 60 for g in shots)  # a burst

"""RAW+JPEG pairs are one photo; sidecars and Live Photo videos travel with their photo."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo
from dngs import write_dng, write_jpeg
from PIL import Image

from photosim.dupes.trash import journal
from photosim.library import Library
from photosim.media import formats, pairs
from photosim.media.decode import load_image
from photosim.media.thumbs import load_thumbnail


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _scan(root: Path, backbone=None) -> tuple[Library, object]:
    lib = Library([root], backbone=backbone or make_tiny_backbone())
    done = list(lib.scan())[-1]
    return lib, done


def test_names_that_travel_with_a_photo():
    names = ["IMG_1.HEIC", "IMG_1.MOV", "IMG_1.xmp", "IMG_1.HEIC.xmp", "IMG_1.aae",
             "IMG_1.HEIC.json", "IMG_10.MOV", "IMG_1.jpg.json", "notes.txt"]  # fmt: skip
    assert formats.travelling_names(names) == {"IMG_1.MOV", "IMG_1.xmp", "IMG_1.HEIC.xmp",
                                               "IMG_1.aae", "IMG_1.HEIC.json"}  # fmt: skip
    got = formats.companion_names("IMG_1.HEIC", names)
    assert sorted(got) == sorted(["IMG_1.MOV", "IMG_1.xmp", "IMG_1.HEIC.xmp", "IMG_1.aae",
                                  "IMG_1.HEIC.json"])  # fmt: skip


def test_a_pair_is_one_shot_by_capture_time_else_by_file_time():
    now = 1_700_000_000.0
    files = {"A.CR2": now, "A.JPG": now + 1}
    unknown = {}.get  # neither file says when it was taken: file times decide
    assert pairs.pair_partner("A.CR2", files, unknown) == "A.JPG"
    assert pairs.pair_partner("A.CR2", {"A.CR2": now, "A.JPG": now + 86400}, unknown) is None
    assert pairs.pair_partner("A.JPG", files, unknown) is None  # the RAW owns the pair
    # capture times decide when both files have one, whatever the file times
    assert pairs.pair_partner("A.CR2", files, {"A.CR2": now, "A.JPG": now + 1.5}.get) == "A.JPG"
    assert pairs.pair_partner("A.CR2", files, {"A.CR2": now, "A.JPG": now + 3600}.get) is None
    far = {"A.CR2": now, "A.JPG": now + 86400}  # copied at different times, one shot
    assert pairs.pair_partner("A.CR2", far, {"A.CR2": now, "A.JPG": now}.get) == "A.JPG"
    assert pairs.pair_partner("A.CR2", files, {"A.CR2": now}.get) == "A.JPG"  # one side only


def test_walk_lists_photos_and_counts_companions_and_other_files(tmp_path: Path):
    root = tmp_path / "Pictures"
    write_photo(root / "IMG_1.HEIC.jpg")  # a photo with an odd name: still a photo
    write_photo(root / "IMG_2.jpg", seed=2)
    for name in ("IMG_2.MOV", "IMG_2.jpg.xmp", "IMG_2.aae", "IMG_2.jpg.json"):
        _touch(root / name)
    _touch(root / "holiday.mov")  # a video without its photo: another file
    _touch(root / "notes.pdf")
    lib, done = _scan(root)
    names = sorted(p.path.name for p in lib.photos())
    assert names == ["IMG_1.HEIC.jpg", "IMG_2.jpg"]
    assert (done.found, done.failed, done.companions, done.others) == (2, 0, 4, 2)
    info = lib.info()
    assert (info["photos"], info["failed"], info["other_files"], info["companions"]) == (2, 0, 2, 4)


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Image.Image:
    """A real photo (shared ukbench, else a synthetic one), full size."""
    from conftest import SHARED_PHOTOS

    path = SHARED_PHOTOS / "ukbench" / "ukbench00120.jpg"
    if path.is_file():
        with Image.open(path) as im:
            return im.convert("RGB")
    tmp = write_photo(tmp_path_factory.mktemp("shot") / "shot.jpg", size=(640, 480), seed=5)
    return Image.open(tmp).convert("RGB")


def _pair(folder: Path, stem: str, photo: Image.Image) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    jpg = folder / f"{stem}.JPG"
    photo.save(jpg, quality=92)
    dng = write_dng(photo, folder / f"{stem}.DNG")
    return dng, jpg


def test_dng_from_pidng_decodes_to_the_photo(tmp_path: Path, shot: Image.Image):
    dng, jpg = _pair(tmp_path, "IMG_0001", shot)
    image = load_image(dng, max_side=256)
    ref = load_image(jpg, max_side=256)
    assert image.size == ref.size
    diff = np.abs(np.asarray(image, np.float32) - np.asarray(ref, np.float32)).mean()
    assert diff < 25  # same picture (LibRaw's demosaic and auto-brightness differ a little)


def test_raw_jpeg_pair_is_one_item_and_trash_takes_both(tmp_path, shot, trash_home):
    root = tmp_path / "Pictures"
    dng, jpg = _pair(root, "IMG_0001", shot)
    sidecar = _touch(root / "IMG_0001.DNG.xmp", "<x:xmpmeta/>")
    write_photo(root / "other.jpg", seed=3)
    lib, done = _scan(root)
    names = sorted(p.path.name for p in lib.photos())
    assert names == ["IMG_0001.DNG", "other.jpg"]  # one item for the pair: the RAW
    assert done.companions == 2 and done.failed == 0
    assert {Path(p).name for p in pairs.companions_on_disk(dng)} == {jpg.name, sidecar.name}
    record = lib.decisions.move_to_trash([dng])
    assert {p.name for p, _ in record.moved} == {dng.name, jpg.name, sidecar.name}
    assert record.companions == 2 and not record.failed
    assert not dng.exists() and not jpg.exists() and not sidecar.exists()
    entries = journal(lib.decisions.trash_journal)[-1]["moved"]
    assert {Path(e["path"]).name for e in entries if e.get("companion_of")} == {
        jpg.name, sidecar.name}  # fmt: skip
    restored = lib.decisions.undo_last_move().restored
    assert {p.name for p in restored} == {dng.name, jpg.name, sidecar.name}
    assert dng.exists() and jpg.exists() and sidecar.exists()
    assert sorted(p.path.name for p in lib.photos()) == names


def test_live_photo_and_sidecars_go_to_the_trash_and_come_back(tmp_path, trash_home):
    root = tmp_path / "Pictures"
    photo = write_photo(root / "IMG_1234.HEIC.jpg", seed=1)
    live = root / "IMG_1234.HEIC"
    os.rename(photo, live)  # JPEG bytes behind a .HEIC name: decided by content
    video = _touch(root / "IMG_1234.MOV", "moov")
    aae = _touch(root / "IMG_1234.AAE", "<plist/>")
    xmp = _touch(root / "IMG_1234.HEIC.xmp", "<x:xmpmeta/>")
    takeout = _touch(root / "IMG_1234.HEIC.json", "{}")
    lone = _touch(root / "IMG_9999.MOV", "moov")
    lib, done = _scan(root)
    assert [p.path.name for p in lib.photos()] == ["IMG_1234.HEIC"]
    assert (done.companions, done.others) == (4, 1)
    record = lib.decisions.move_to_trash([live])
    assert record.companions == 4
    assert not any(p.exists() for p in (live, video, aae, xmp, takeout)) and lone.exists()
    lib.decisions.undo_last_move()
    assert all(p.exists() for p in (live, video, aae, xmp, takeout))
    assert [p.path.name for p in lib.photos()] == ["IMG_1234.HEIC"]


def test_same_name_different_shots_are_two_photos(tmp_path, shot, trash_home):
    """IMG_0001 of two cameras (or a counter that wrapped) copied into one folder: the same
    name and file times seconds apart, but taken a year apart: two photos, never one; the
    RAW's own JPEG in the other folder (same second, sub-seconds apart) is its pair."""
    root = tmp_path / "Pictures"
    (root / "mixed").mkdir(parents=True)
    other = shot.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    dng = write_dng(shot, root / "mixed" / "IMG_0001.DNG", taken="2024:05:01 10:00:00.25")
    jpg = write_jpeg(other, root / "mixed" / "IMG_0001.JPG", taken="2023:04:30 18:12:09")
    (root / "card").mkdir()
    card_dng = write_dng(shot, root / "card" / "IMG_0002.DNG", taken="2024:05:01 10:00:07.10")
    card_jpg = write_jpeg(shot, root / "card" / "IMG_0002.JPG", taken="2024:05:01 10:00:07.12")
    old = time.time() - 3 * 86400
    os.utime(card_dng, (old, old))  # copied off the card days apart: one shot still
    lib, done = _scan(root)
    names = sorted(p.path.name for p in lib.photos())
    assert names == ["IMG_0001.DNG", "IMG_0001.JPG", "IMG_0002.DNG"]
    assert done.companions == 1 and done.failed == 0
    assert pairs.pair_label(dng) is None and pairs.pair_label(card_dng) == "RAW+JPG"
    assert pairs.companions_on_disk(dng) == [] and pairs.companions_on_disk(jpg) == []
    assert pairs.companions_on_disk(card_dng) == [str(card_jpg)]
    record = lib.decisions.move_to_trash([dng])  # the other camera's JPEG stays
    assert record.companions == 0 and jpg.exists() and not dng.exists()


def test_a_raw_libraw_cannot_read_shows_its_jpeg(tmp_path: Path, shot: Image.Image):
    root = tmp_path / "Pictures"
    _, jpg = _pair(root, "IMG_0002", shot)
    broken = root / "IMG_0002.NEF"
    broken.write_bytes(b"II*\x00" + bytes(4000))  # a NEF LibRaw cannot open
    now = time.time()
    os.utime(broken, (now, now))
    os.utime(jpg, (now, now))
    (root / "IMG_0002.DNG").unlink()
    lib, done = _scan(root)
    assert [p.path.name for p in lib.photos()] == ["IMG_0002.NEF"] and done.failed == 0
    assert load_thumbnail(broken).size == load_image(jpg, 320).size


@pytest.mark.parametrize("name", ["ukbench/ukbench00120.jpg", "camera/100001.jpg"])
def test_dng_scores_as_its_jpeg_with_a_trained_network(tmp_path, shared_photos, name,
                                                       effnet_backbone):  # fmt: skip
    """The same shot as a full-size DNG (developed by LibRaw) and as a JPEG: one photo to the
    trained network; a phone photo and an 8 MP camera photo."""
    root = tmp_path / "Pictures"
    with Image.open(shared_photos / name) as im:
        photo = im.convert("RGB")
    dng, _ = _pair(root / "raw", "shot", photo)
    shutil.move(root / "raw" / "shot.JPG", root / "shot-as-jpeg.jpg")  # not a pair: apart
    for i, path in enumerate(sorted((shared_photos / "ukbench").glob("*.jpg"))[1:4]):
        shutil.copy(path, root / f"d{i}.jpg")
    lib, done = _scan(root, effnet_backbone)
    assert done.failed == 0
    best = lib.similar(dng, k=3)[0]
    assert best.path.name == "shot-as-jpeg.jpg" and best.score >= 0.98, best


def test_a_raw_outranks_a_copy_of_its_jpeg_and_its_pair_is_never_a_duplicate(
    tmp_path, shared_photos, effnet_backbone
):
    """The card's DNG+JPEG pair and a backup copy of the JPEG: one group, the RAW kept; the
    pair's own JPEG is in no group (it is the same photo as the RAW, not a duplicate)."""
    root = tmp_path / "Pictures"
    with Image.open(shared_photos / "ukbench" / "ukbench00120.jpg") as im:
        photo = im.convert("RGB")
    dng, jpg = _pair(root / "card", "IMG_0001", photo)
    backup = root / "backup" / "IMG_0001.JPG"
    backup.parent.mkdir()
    shutil.copy2(jpg, backup)
    for path in sorted((shared_photos / "ukbench").glob("*.jpg"))[1:7]:
        shutil.copy(path, root / path.name)
    lib, done = _scan(root, effnet_backbone)
    assert done.failed == 0 and done.companions == 1
    groups = [g for g in lib.duplicates().groups if dng in {m.path for m in g.photos}]
    assert len(groups) == 1 and {m.path for m in groups[0].photos} == {dng, backup}
    assert groups[0].keep == dng and "RAW" in groups[0].keep_reason
    assert all(jpg not in {m.path for m in g.photos} for g in lib.duplicates().groups)


def test_raw_and_heic_of_one_shot_pair_by_capture_time(tmp_path, shot):
    """A RAW+HEIC pair (cameras that write HEIF) is decided as a RAW+JPEG pair is."""
    import pillow_heif

    def heic(path: Path, taken: str) -> Path:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = taken
        pillow_heif.from_pillow(shot).save(path, quality=50, exif=exif.tobytes())
        return path

    write_dng(shot, tmp_path / "A.DNG", taken="2024:05:01 10:00:00")
    heic(tmp_path / "A.HEIC", "2024:05:01 10:00:01")
    write_dng(shot, tmp_path / "B.DNG", taken="2024:05:01 10:00:00")
    heic(tmp_path / "B.HEIC", "2024:06:01 10:00:00")  # same name, another day: another shot
    assert pairs.pair_label(tmp_path / "A.DNG") == "RAW+HEIC"
    assert pairs.partner_on_disk(tmp_path / "B.DNG") is None


def test_a_rescan_reads_the_capture_times_of_unchanged_pairs_from_the_library(tmp_path, shot):
    """A walk reads a pair's capture times once per version of its files; the library keeps
    them, so a rescan (even in a new process) reads no EXIF for unchanged pairs."""
    root = tmp_path / "Pictures"
    root.mkdir()
    write_dng(shot, root / "IMG_0001.DNG", taken="2024:05:01 10:00:00")
    jpg = write_jpeg(shot, root / "IMG_0001.JPG", taken="2024:05:01 10:00:00")
    db = tmp_path / "lib.db"
    lib = Library([root], db_path=db, backbone=make_tiny_backbone())
    list(lib.scan())
    assert [p.path.name for p in lib.photos()] == ["IMG_0001.DNG"]
    lib.close()
    st = jpg.stat()  # another date, same size and file time: only a re-read would see it
    jpg.write_bytes(jpg.read_bytes().replace(b"2024:05:01 10:00:00", b"2023:05:01 10:00:00"))
    os.utime(jpg, ns=(st.st_atime_ns, st.st_mtime_ns))
    pairs._capture_time.cache_clear()  # what a new process starts with
    lib = Library([root], db_path=db, backbone=make_tiny_backbone())
    list(lib.scan())
    assert [p.path.name for p in lib.photos()] == ["IMG_0001.DNG"]  # from the library
    os.utime(jpg, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed: read again
    list(lib.scan())
    assert sorted(p.path.name for p in lib.photos()) == ["IMG_0001.DNG", "IMG_0001.JPG"]
    lib.close()

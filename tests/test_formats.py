"""The format table, camera RAW, AVIF/JPEG XL/HEIC: what each shared file becomes."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core.errors import DecodeError, FailKind
from photosim.dupes.keep import Candidate, keep_original
from photosim.library.walk import is_candidate, walk
from photosim.media import formats
from photosim.media.decode import decode_bytes, load_image
from photosim.media.metadata import read_metadata

TIFF_HEAD = b"II*\x00" + bytes(28)
JPEG_HEAD = b"\xff\xd8\xff\xe0" + bytes(28)


def test_one_row_per_format_tells_names_and_content():
    assert formats.by_extension("IMG_1.CR3").decoder is formats.Decoder.RAW
    assert formats.by_extension("a.jxl").name == "JPEG XL"
    assert formats.by_content(b"\x00\x00\x00\x18ftypcrx ").decoder is formats.Decoder.RAW
    assert formats.by_content(b"\x00\x00\x00\x1cftypavif").name == "AVIF"
    assert formats.by_content(b"\xff\x0a\xfa").name == "JPEG XL"
    assert formats.by_content(b"FUJIFILMCCD-RAW 0201").decoder is formats.Decoder.RAW
    assert formats.by_content(b"<x:xmpmeta") is None
    # TIFF-based RAWs are told from a TIFF by name; content wins over any other wrong name
    assert formats.decoder_for("x.nef", TIFF_HEAD) is formats.Decoder.RAW
    assert formats.decoder_for("x.tif", TIFF_HEAD) is formats.Decoder.PILLOW
    assert formats.decoder_for("x.dng", JPEG_HEAD) is formats.Decoder.PILLOW
    assert formats.decoder_for("x.png", JPEG_HEAD) is formats.Decoder.PILLOW


def test_walk_lists_photos_only():
    for name in ("a.cr2", "a.ARW", "a.raf", "a.jxl", "a.avif", "a.heic", "a.jpg"):
        assert is_candidate(name, "/nonexistent/" + name)
    for name in ("a.xmp", "a.jpg.xmp", "a.aae", "a.MOV", "a.mp4", "a.jpg.json", "a.pdf"):
        assert not is_candidate(name, "/nonexistent/" + name)


def test_open_filter_and_keep_rank_come_from_the_table():
    pattern = formats.open_filter()
    for ext in ("*.jpg", "*.cr3", "*.nef", "*.jxl", "*.avif", "*.heic", "*.dng"):
        assert ext in pattern
    assert "*.mov" not in pattern and "*.xmp" not in pattern
    ranks = [formats.original_rank(n) for n in ("a.cr2", "a.heic", "a.jpg", "a.png")]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[1] > ranks[2] > ranks[3]


class _Node:
    width = height = 4000
    sharpness = None
    camera = True
    size = 1000
    taken = (None,)
    mtime = (0.0,)


def test_keep_rule_prefers_the_raw():
    cands = [Candidate(0, 0, Path(f"/p/a.{ext}"), _Node(), False, False) for ext in ("jpg", "nef")]
    best, reason = keep_original(cands)
    assert [c.path.name for c in best] == ["a.nef"] and "NEF" in reason


# -- the shared RAW files: what LibRaw reads of each -----------------------------------
# (file, decodes?, fail kind, words in the reason)
RAW_EXPECTED = [
    ("CanonRaw.cr2", False, FailKind.NOT_AN_IMAGE, "LibRaw cannot open"),
    ("CanonRaw.cr3", False, FailKind.DAMAGED, "cannot hold"),
    ("DNG.dng", False, FailKind.DAMAGED, "cannot hold"),  # never its 8-pixel TIFF preview
    ("Nikon.nef", False, FailKind.DAMAGED, "cannot hold"),
    ("FujiFilm.raf", True, None, None),  # sensor data cut: its 160x120 preview
    # 12 kB for a 10 MP sensor: LibRaw "develops" a pattern of whatever its buffer held
    ("Panasonic.rw2", False, FailKind.DAMAGED, "cannot hold"),
]


@pytest.mark.parametrize(("name", "decodes", "kind", "words"), RAW_EXPECTED)
def test_shared_raw_files(shared_photos: Path, name, decodes, kind, words):
    path = shared_photos / "raw" / name
    if decodes:
        image = load_image(path, max_side=320)
        assert image.mode == "RGB" and max(image.size) >= 160
        assert decode_bytes(path.read_bytes(), name, max_side=320).size == image.size
    else:
        with pytest.raises(DecodeError) as err:
            load_image(path, max_side=320)
        assert err.value.kind == kind and words in err.value.reason


def test_raw_metadata(shared_photos: Path):
    nef = read_metadata(shared_photos / "raw" / "Nikon.nef")
    assert (nef["make"], nef["taken"]) == ("NIKON CORPORATION", "2004-06-09T16:02:35")
    assert (nef["width"], nef["height"]) == (3039, 2014)  # the sensor's, not the preview's
    raf = read_metadata(shared_photos / "raw" / "FujiFilm.raf")  # the EXIF its header points to
    assert (raf["make"], raf["model"], raf["taken"]) == (
        "FUJIFILM",
        "FinePix S5Pro",
        "2007-05-22T13:58:30",
    )
    dng = read_metadata(io.BytesIO((shared_photos / "raw" / "DNG.dng").read_bytes()), "DNG.dng")
    assert (dng["width"], dng["height"]) == (3474, 2314)


def test_raw_folder_walk_skips_the_sidecar(shared_photos: Path, tmp_path: Path):
    shutil.copytree(shared_photos / "raw", tmp_path / "raw")
    names = sorted(Path(p).name for p, _ in walk([tmp_path]))
    assert "XMP.xmp" not in names and len(names) == 6


# -- modern formats: upright, sRGB ---------------------------------------------------------
MODERN_UPRIGHT = {
    "8bit-sRGB.avif": (1617, 1080),
    "10bit-HDR-P3-nclx.avif": (3681, 5594),
    "8bit-sRGB.jxl": (1440, 1080),
    "16bit-HDR-P3-nclx.jxl": (5667, 3685),
    "IMG_2682.heic": (4032, 3024),
    "samsung-one-ui-6.heic": (3000, 4000),
    "portrait-orientation-6.jpg": (840, 700),
}


@pytest.mark.parametrize("name", sorted(MODERN_UPRIGHT))
def test_modern_files_decode_upright(shared_photos: Path, name):
    path = shared_photos / "modern" / name
    image = load_image(path, max_side=400)
    w, h = MODERN_UPRIGHT[name]
    assert image.mode == "RGB" and (image.width > image.height) == (w > h)
    meta = read_metadata(path)
    assert (meta["width"], meta["height"]) == (w, h)


def _chroma(image: Image.Image) -> float:
    a = np.asarray(image, dtype=np.float32)
    return float((a.max(2) - a.min(2)).mean())


def test_hdr_p3_avif_is_tone_mapped_not_washed_out(shared_photos: Path):
    """A PQ/Display-P3 AVIF shown as raw code values is grey and flat; converted it has colour."""
    path = shared_photos / "modern" / "10bit-HDR-P3-nclx.avif"
    shown = load_image(path, max_side=300)
    with Image.open(path) as im:
        naive = im.convert("RGB").resize(shown.size)
    assert _chroma(shown) > 1.5 * _chroma(naive)
    assert 40 < np.asarray(shown).mean() < 200  # neither black nor blown out


def test_sdr_files_keep_their_colours(shared_photos: Path):
    """An sRGB AVIF (nclx 1/13) is shown as decoded: no conversion, no tone mapping."""
    path = shared_photos / "modern" / "8bit-sRGB.avif"
    with Image.open(path) as im:
        naive = im.convert("RGB")
        naive.thumbnail((300, 300))
    shown = load_image(path, max_side=300)
    diff = np.abs(np.asarray(shown, dtype=np.int16) - np.asarray(naive.resize(shown.size)))
    assert diff.mean() < 3


def test_high_bit_depth_heic_is_upright_with_its_colours(shared_photos: Path, tmp_path: Path):
    """A 16-bit photo saved as a 10-bit HEIC turned by EXIF orientation 6: upright, same colours."""
    import pillow_heif

    with Image.open(shared_photos / "ukbench" / "ukbench00120.jpg") as im:
        source = im.convert("RGB")
    deep = (np.asarray(source).astype(np.uint16) * 257).tobytes()
    heif = pillow_heif.from_bytes(mode="RGB;16", size=source.size, data=deep)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "deep.heic"
    heif.save(path, quality=-1, exif=exif.tobytes())
    with Image.open(path) as im:
        assert im.info.get("bit_depth", 8) > 8
    shown = load_image(path)
    upright = source.transpose(Image.Transpose.ROTATE_270)
    assert shown.size == upright.size == (480, 640)
    diff = np.abs(np.asarray(shown, np.int16) - np.asarray(upright, np.int16)).mean()
    assert diff < 4
    assert (read_metadata(path)["width"], read_metadata(path)["height"]) == (480, 640)


# -- the lens: read, stored, filled in for libraries scanned before ------------------------
def test_lens_is_stored_and_filled_in_for_older_libraries(tmp_path: Path, shared_photos: Path):
    from conftest import make_tiny_backbone
    from dngs import write_dng

    from photosim.library import Library

    root = tmp_path / "Pictures"
    root.mkdir()
    with Image.open(shared_photos / "ukbench" / "ukbench00120.jpg") as im:
        write_dng(im.convert("RGB"), root / "shot.dng", lens="EF 50mm f/1.8 II")
    shutil.copy(shared_photos / "modern" / "IMG_2682.heic", root / "IMG_2682.heic")
    shutil.copy(shared_photos / "modern" / "portrait-orientation-6.jpg", root / "plain.jpg")
    lib = Library([root], backbone=make_tiny_backbone())
    list(lib.scan())
    lenses = {p.path.name: p.lens for p in lib.photos()}
    expected = {"shot.dng": "EF 50mm f/1.8 II", "plain.jpg": None,
                "IMG_2682.heic": "iPhone 7 back camera 3.99mm f/1.8"}  # fmt: skip
    assert lenses == expected
    # a library scanned before lenses were kept: its rows hold none (NULL) ...
    with lib.store.atomic() as db:
        db.execute("update photos set lens = null")
    assert {p.lens for p in lib.photos()} == {None}
    done = list(lib.scan())[-1]  # ... the next scan reads them from the EXIF headers alone
    assert done.embedded == 0 and done.new == 0
    assert {p.path.name: p.lens for p in lib.photos()} == expected
    cr3 = read_metadata(shared_photos / "raw" / "CanonRaw.cr3")  # EXIF in CR3's CMT boxes
    assert (cr3["model"], cr3["lens"], cr3["taken"]) == (
        "Canon EOS M50", "EF-M15-45mm f/3.5-6.3 IS STM", "2018-02-21T12:08:56")  # fmt: skip


# -- the closing note's table: what photosim does with each shared file ---------------------
TABLE = {  # file -> how its line starts (tests/formats_table.py prints the whole table)
    "raw/CanonRaw.cr2": "fails (not_image): a camera RAW file LibRaw cannot open",
    "raw/CanonRaw.cr3": "fails (damaged): a camera RAW whose image data is damaged or cut short",
    "raw/DNG.dng": "fails (damaged): a camera RAW whose image data is damaged or cut short",
    "raw/FujiFilm.raf": "decodes from its embedded 160x120 JPEG preview (3552x3551 upright)",
    "raw/Nikon.nef": "fails (damaged): a camera RAW whose image data is damaged or cut short",
    "raw/Panasonic.rw2": "fails (damaged): a camera RAW whose image data is damaged or cut short",
    "raw/XMP.xmp": "not a photo: a sidecar file",
    "modern/10bit-HDR-P3-nclx.avif": "decodes with Pillow (AVIF; 3681x5594 upright; nclx Display P3 / PQ",
    "modern/16bit-HDR-P3-nclx.jxl": "decodes with Pillow (JPEG XL; 5667x3685 upright; its ICC",
    "modern/8bit-sRGB.avif": "decodes with Pillow (AVIF; 1617x1080 upright; sRGB as it is",
    "modern/8bit-sRGB.jxl": "decodes with Pillow (JPEG XL; 1440x1080 upright; its ICC",
    "modern/IMG_2682.heic": "decodes with Pillow (HEIF; 4032x3024 upright; its ICC",
    "modern/portrait-orientation-6.jpg": "decodes with Pillow (JPEG; 840x700 upright; sRGB",
    "modern/samsung-one-ui-6.heic": "decodes with Pillow (HEIF; 3000x4000 upright; sRGB",
}  # fmt: skip


def test_the_table_of_shared_raw_and_modern_files(shared_photos: Path):
    from formats_table import table

    got = dict(table(shared_photos))
    assert sorted(got) == sorted(TABLE)
    for name, start in TABLE.items():
        assert got[name].startswith(start), (name, got[name])


def test_the_cut_raws_hold_no_usable_preview(shared_photos: Path):
    """The RAWs that fail were cut down to their headers: no embedded JPEG that could stand in
    for the picture remains in their bytes (a JPEG start marker that Pillow decodes)."""
    usable = {}
    for name in ("CanonRaw.cr2", "CanonRaw.cr3", "DNG.dng", "Nikon.nef", "Panasonic.rw2"):
        data = (shared_photos / "raw" / name).read_bytes()
        sizes = []
        at = data.find(b"\xff\xd8\xff")
        while at >= 0:
            with contextlib.suppress(Exception), Image.open(io.BytesIO(data[at:])) as im:
                im.load()
                sizes.append(max(im.size))
            at = data.find(b"\xff\xd8\xff", at + 1)
        usable[name] = [s for s in sizes if s >= 160]
    assert not any(usable.values()), usable


def test_a_raw_with_cut_sensor_data_and_an_intact_preview_decodes_from_it(tmp_path: Path):
    """A RAW cut short after its (full-size) JPEG preview is a photo: the model and the large
    preview use the preview; a RAW cut before or inside it fails with its reason."""
    from dngs import write_dng_with_preview

    from photosim.media import raw

    rng = np.random.default_rng(3)
    picture = np.repeat(np.repeat(rng.integers(0, 255, (30, 40, 3), np.uint8), 20, 0), 20, 1)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "JPEG", quality=90)
    whole = tmp_path / "whole.dng"
    write_dng_with_preview(picture, whole, buf.getvalue())
    data = whole.read_bytes()
    cut = tmp_path / "cut.dng"
    cut.write_bytes(data[: data.find(buf.getvalue()) + len(buf.getvalue()) + 1000])
    for side in (320, None):
        image = load_image(cut, max_side=side)
        assert image.size == ((320, 240) if side else (800, 600))
        assert image.info[raw.RENDERING] == "its embedded 800x600 JPEG preview"
    assert load_image(whole).info[raw.RENDERING] == "a full demosaic"
    assert load_image(whole, max_side=320).info[raw.RENDERING].startswith("its embedded 800x600")
    cut.write_bytes(data[: data.find(buf.getvalue()) + 500])  # the preview cut too
    with pytest.raises(DecodeError) as err:
        load_image(cut, max_side=320)
    assert err.value.kind == FailKind.DAMAGED


def test_a_raw_has_one_content_hash_read_whole_or_streamed(tmp_path: Path):
    """RAWs are hashed with BLAKE3 (fast for 20-50 MB files), other photos with blake2b as
    before: a file's hash is the same from its bytes in memory and streamed from disk."""
    from photosim.library.pipeline import content_hash, hash_bytes

    data = np.random.default_rng(1).integers(0, 255, 3 << 20, np.uint8).tobytes()
    for name in ("a.NEF", "a.jpg"):
        (tmp_path / name).write_bytes(data)
        assert hash_bytes(data, name) == content_hash(str(tmp_path / name))
    assert hash_bytes(data, "a.NEF") != hash_bytes(data, "a.jpg")

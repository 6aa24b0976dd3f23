"""Decoding: upright RGB for every orientation, mode and format; bad files are DecodeErrors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core.errors import FailKind
from photosim.media.decode import DecodeError, load_image, sniff_image
from photosim.media.metadata import read_metadata

# Stored pixels for each EXIF orientation = the inverse of what the tag asks a viewer to do.
T = Image.Transpose
STORE_AS = {
    1: (),
    2: (T.FLIP_LEFT_RIGHT,),
    3: (T.ROTATE_180,),
    4: (T.FLIP_TOP_BOTTOM,),
    5: (T.TRANSPOSE,),
    6: (T.ROTATE_90,),
    7: (T.TRANSVERSE,),
    8: (T.ROTATE_270,),
}
RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (240, 240, 240)


def upright_quadrants(w: int = 600, h: int = 400) -> Image.Image:
    """A landscape picture whose four quadrants have four colours: any turn or flip shows."""
    img = Image.new("RGB", (w, h))
    for (x, y), colour in zip(
        [(0, 0), (1, 0), (0, 1), (1, 1)], [RED, GREEN, BLUE, WHITE], strict=False
    ):
        img.paste(colour, (x * w // 2, y * h // 2, (x + 1) * w // 2, (y + 1) * h // 2))
    return img


def quadrant_colours(img: Image.Image) -> list[tuple[int, ...]]:
    w, h = img.size
    pts = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    return [img.getpixel(p) for p in pts]


def close(a, b, tol=40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


@pytest.mark.parametrize("max_side", [None, 224])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_decodes_upright(tmp_path, orientation, max_side):
    stored = upright_quadrants()
    for op in STORE_AS[orientation]:
        stored = stored.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    stored.save(path, "JPEG", exif=exif, quality=95)

    img = load_image(path, max_side=max_side)
    assert img.mode == "RGB"
    assert img.width > img.height  # landscape again
    if max_side:
        assert max(img.size) == max_side
    else:
        assert img.size == (600, 400)
    for got, want in zip(quadrant_colours(img), [RED, GREEN, BLUE, WHITE], strict=False):
        assert close(got, want), (orientation, quadrant_colours(img))
    assert read_metadata(path)["orientation"] == orientation
    assert (read_metadata(path)["width"], read_metadata(path)["height"]) == (600, 400)


def test_draft_decodes_large_jpeg_at_reduced_size(tmp_path):
    path = tmp_path / "big.jpg"
    upright_quadrants(4000, 3000).save(path, "JPEG")
    with Image.open(path) as im:
        im.draft("RGB", (224, 224))
        assert max(im.size) < 4000  # Pillow honours draft for this file...
    img = load_image(path, max_side=224)
    assert img.size == (224, 168)  # ...and load_image still returns the exact bound


@pytest.mark.parametrize(
    ("mode", "fmt", "ext"),
    [
        ("P", "PNG", "png"),
        ("L", "JPEG", "jpg"),
        ("1", "PNG", "png"),
        ("CMYK", "JPEG", "jpg"),
        ("CMYK", "TIFF", "tif"),
        ("I;16", "PNG", "png"),
        ("RGBA", "PNG", "png"),
        ("LA", "PNG", "png"),
        ("RGB", "WEBP", "webp"),
        ("RGB", "BMP", "bmp"),
        ("RGB", "TIFF", "tiff"),
        ("RGB", "HEIF", "heic"),
    ],
)
def test_every_mode_and_format_becomes_rgb(tmp_path, mode, fmt, ext):
    img = upright_quadrants(200, 100)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L"), dtype=np.uint16) * 256)
    elif mode == "P":
        img = img.quantize(16)
    else:
        img = img.convert(mode)
    path = tmp_path / f"x.{ext}"
    img.save(path, fmt)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (200, 100)
    top_left, top_right = quadrant_colours(out)[:2]
    assert top_left != top_right  # still a picture, not a flat field


def test_transparency_is_composited_on_white(tmp_path):
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    img.paste((200, 0, 0, 255), (0, 0, 20, 40))
    img.save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.getpixel((30, 20)) == (255, 255, 255)
    assert out.getpixel((5, 20)) == (200, 0, 0)


def test_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (50, 50), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    assert close(load_image(tmp_path / "a.gif").getpixel((25, 25)), (255, 0, 0), 10)


def test_mpo_decodes_its_first_image(tmp_path):
    frames = [upright_quadrants(300, 200), upright_quadrants(300, 200).rotate(180)]
    frames[0].save(tmp_path / "a.mpo", "MPO", save_all=True, append_images=frames[1:])
    out = load_image(tmp_path / "a.mpo", max_side=150)
    assert out.size == (150, 100) and close(quadrant_colours(out)[0], RED)


@pytest.mark.parametrize(
    ("content", "reason", "kind"),
    [
        (b"", "empty file", FailKind.NOT_AN_IMAGE),
        (b"hello, I am a text file", "not an image", FailKind.NOT_AN_IMAGE),
        (None, "damaged or truncated", FailKind.DAMAGED),
    ],
)
def test_bad_files_raise_decode_error_with_reason(tmp_path, content, reason, kind):
    path = tmp_path / "bad.jpg"
    if content is None:  # a real JPEG cut in half
        upright_quadrants().save(path, "JPEG")
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason) as err:
        load_image(path, max_side=224)
    assert err.value.kind == kind
    meta = read_metadata(path)  # metadata never raises; a cut file still has its header
    assert meta["width"] == (600 if content is None else None)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(DecodeError, match="gone") as err:
        load_image(tmp_path / "nope.jpg")
    assert err.value.kind == FailKind.VANISHED


def test_sniff_decides_by_content_not_name(tmp_path):
    upright_quadrants(40, 30).save(tmp_path / "photo.svg", "JPEG")
    upright_quadrants(40, 30).save(tmp_path / "photo.dat", "WEBP")
    (tmp_path / "notes.jpg").write_text("not a photo")
    assert sniff_image(tmp_path / "photo.svg") and sniff_image(tmp_path / "photo.dat")
    assert not sniff_image(tmp_path / "notes.jpg")
    assert load_image(tmp_path / "photo.svg").size == (40, 30)


def test_metadata_reads_date_camera_and_gps(tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R6"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2024:07:14 18:03:59"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.88)
    gps[3], gps[4] = "W", (2.0, 17.0, 40.2)
    path = tmp_path / "gps.jpg"
    upright_quadrants(300, 200).save(path, "JPEG", exif=exif)
    meta = read_metadata(path)
    assert meta["taken"] == "2024-07-14T18:03:59"
    assert (meta["make"], meta["model"]) == ("Canon", "Canon EOS R6")
    assert (meta["width"], meta["height"]) == (200, 300)  # upright: orientation 6 is portrait
    assert meta["lat"] == pytest.approx(48.8583, abs=1e-3)
    assert meta["lon"] == pytest.approx(-2.2945, abs=1e-3)


def test_real_camera_photos(shared_photos: Path):
    meta = read_metadata(shared_photos / "camera" / "100000.jpg")
    assert (meta["make"], meta["model"]) == ("Panasonic", "DMC-FX33")
    assert meta["taken"].startswith("2007-")
    img = load_image(shared_photos / "camera" / "100000.jpg", max_side=224)
    assert max(img.size) == 224 and img.mode == "RGB"
    for name in ("ukbench09380.bmp", "ukbench09380.png", "ukbench09380.svg", "giphy.gif"):
        assert load_image(shared_photos / "formats" / name, max_side=224).mode == "RGB"
    with pytest.raises(DecodeError):
        load_image(shared_photos / "transforms" / "ukbench09268_corrupt.jpg")

"""The app on a photographer's folder: a RAW+JPEG pair is one item with a badge, its details
list both files; AVIF, JPEG XL and HEIC show; a Live Photo's video is not a photo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from dngs import write_dng, write_jpeg
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtGui import QImage

from photosim.app.browse.roles import ErrorRole, LabelRole, ThumbRole
from photosim.media.decode import load_image

WAIT = 60_000
WINDOW_SIZE = (1200, 800)  # the shared ``window`` fixture's size here
MODERN = ("8bit-sRGB.avif", "10bit-HDR-P3-nclx.avif", "8bit-sRGB.jxl", "16bit-HDR-P3-nclx.jxl",
          "IMG_2682.heic", "samsung-one-ui-6.heic", "portrait-orientation-6.jpg")  # fmt: skip


DEEP = "deep-16bit-orientation-6.heic"


def _deep_heic(photo: Image.Image, path: Path) -> None:
    """``photo`` as 16-bit pixels in a 10-bit HEIC, turned by EXIF orientation 6."""
    import pillow_heif

    deep = (np.asarray(photo).astype(np.uint16) * 257).tobytes()
    heif = pillow_heif.from_bytes(mode="RGB;16", size=photo.size, data=deep)
    exif = Image.Exif()
    exif[0x0112] = 6
    heif.save(path, quality=-1, exif=exif.tobytes())


@pytest.fixture
def folder(tmp_path, shared_photos) -> Path:
    root = tmp_path / "Pictures"
    root.mkdir()
    with Image.open(shared_photos / "ukbench" / "ukbench00120.jpg") as im:
        photo = im.convert("RGB")
    write_jpeg(photo, root / "IMG_0001.JPG", taken="2024:05:01 10:00:00")
    write_dng(
        photo, root / "IMG_0001.DNG", taken="2024:05:01 10:00:00", lens="EF-S18-55mm f/3.5-5.6"
    )
    (root / "IMG_0001.DNG.xmp").write_text("<x:xmpmeta/>")
    _deep_heic(photo, root / DEEP)
    for name in MODERN:
        shutil.copy(shared_photos / "modern" / name, root / name)
    (root / "IMG_2682.MOV").write_bytes(b"\0\0\0\x14ftypqt  ")  # the HEIC's Live Photo half
    return root


def _mean_rgb(image: QImage) -> np.ndarray:
    """The mean (R, G, B) of a QImage."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(rgb.constBits(), np.uint8, rgb.sizeInBytes())
    rows = data.reshape(rgb.height(), rgb.bytesPerLine())[:, : 3 * rgb.width()]
    return rows.reshape(rgb.height(), rgb.width(), 3).astype(np.float32).mean((0, 1))


def test_pair_badge_details_and_modern_formats(qtbot, window, folder, tmp_path):
    with qtbot.waitSignal(window.signals.scan_finished, timeout=WAIT):
        window.state.open_library(str(folder))
    model = window.browser.photos
    qtbot.waitUntil(lambda: model.rowCount() == 2 + len(MODERN), timeout=WAIT)
    names = sorted(os.path.basename(model.item(r).path) for r in range(model.rowCount()))
    assert names == sorted(["IMG_0001.DNG", DEEP, *MODERN])  # no JPEG half, no .MOV, no sidecar
    for row in range(model.rowCount()):
        model.data(model.index(row), ThumbRole)  # ask for every thumbnail
    shown = lambda r: model.data(model.index(r), ThumbRole) is not None  # noqa: E731
    qtbot.waitUntil(lambda: all(shown(r) for r in range(model.rowCount())), timeout=WAIT)
    assert not any(model.data(model.index(r), ErrorRole) for r in range(model.rowCount()))
    labels = {os.path.basename(model.item(r).path): model.data(model.index(r), LabelRole)
              for r in range(model.rowCount())}  # fmt: skip
    assert labels.pop("IMG_0001.DNG") == "RAW+JPG" and not any(labels.values())
    window.grab().save(str(tmp_path / "grid.png"))
    dng = str(folder / "IMG_0001.DNG")
    assert window.browser.select_path(dng)
    qtbot.waitUntil(lambda: "With:" in window.browser.preview.details.text(), timeout=WAIT)
    details = window.browser.preview.details.text()
    assert "IMG_0001.JPG" in details and "IMG_0001.DNG.xmp" in details
    assert "2024-05-01 10:00 · photosim test camera · EF-S18-55mm f/3.5-5.6" in details
    live = str(folder / "IMG_2682.heic")
    assert window.browser.select_path(live)
    qtbot.waitUntil(lambda: "IMG_2682.MOV" in window.browser.preview.details.text(), timeout=WAIT)
    window.grab().save(str(tmp_path / "preview.png"))
    rows = {os.path.basename(model.item(r).path): r for r in range(model.rowCount())}
    for name in ("10bit-HDR-P3-nclx.avif", "16bit-HDR-P3-nclx.jxl", DEEP):  # and screenshots
        assert window.browser.select_path(str(folder / name))
        qtbot.waitUntil(lambda: window.browser.preview._image is not None, timeout=WAIT)
        window.browser.preview.grab().save(str(tmp_path / f"preview-{name}.png"))
        seen = load_image(folder / name, max_side=256)  # upright, sRGB: checked in test_formats
        thumb = model.data(model.index(rows[name]), ThumbRole).toImage()
        for shown in (window.browser.preview._image, thumb):  # the large preview, the grid
            assert (shown.width() > shown.height()) == (seen.width > seen.height), name
            diff = np.abs(_mean_rgb(shown) - np.asarray(seen, np.float32).mean((0, 1)))
            assert diff.max() < 6, (name, diff)  # the same colours, not washed out

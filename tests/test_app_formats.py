"""The app on a photographer's folder: a RAW+JPEG pair is one item with a badge, its details
list both files; AVIF, JPEG XL and HEIC show; a Live Photo's video is not a photo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from dngs import write_dng
from PIL import Image

pytest.importorskip("pytestqt")

from photosim.app.browse.models import ErrorRole, LabelRole, ThumbRole

WAIT = 60_000
WINDOW_SIZE = (1200, 800)  # the shared ``window`` fixture's size here
MODERN = ("8bit-sRGB.avif", "10bit-HDR-P3-nclx.avif", "8bit-sRGB.jxl", "16bit-HDR-P3-nclx.jxl",
          "IMG_2682.heic", "samsung-one-ui-6.heic", "portrait-orientation-6.jpg")  # fmt: skip


@pytest.fixture
def folder(tmp_path, shared_photos) -> Path:
    root = tmp_path / "Pictures"
    root.mkdir()
    with Image.open(shared_photos / "ukbench" / "ukbench00120.jpg") as im:
        photo = im.convert("RGB")
    photo.save(root / "IMG_0001.JPG", quality=92)
    write_dng(photo, root / "IMG_0001.DNG")
    (root / "IMG_0001.DNG.xmp").write_text("<x:xmpmeta/>")
    for name in MODERN:
        shutil.copy(shared_photos / "modern" / name, root / name)
    (root / "IMG_2682.MOV").write_bytes(b"\0\0\0\x14ftypqt  ")  # the HEIC's Live Photo half
    return root


def test_pair_badge_details_and_modern_formats(qtbot, window, folder, tmp_path):
    with qtbot.waitSignal(window.signals.scan_finished, timeout=WAIT):
        window.state.open_library(str(folder))
    model = window.browser.photos
    qtbot.waitUntil(lambda: model.rowCount() == 1 + len(MODERN), timeout=WAIT)
    names = sorted(os.path.basename(model.item(r).path) for r in range(model.rowCount()))
    assert names == sorted(["IMG_0001.DNG", *MODERN])  # no JPEG half, no .MOV, no sidecar
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
    live = str(folder / "IMG_2682.heic")
    assert window.browser.select_path(live)
    qtbot.waitUntil(lambda: "IMG_2682.MOV" in window.browser.preview.details.text(), timeout=WAIT)
    window.grab().save(str(tmp_path / "preview.png"))
    for name in ("10bit-HDR-P3-nclx.avif", "16bit-HDR-P3-nclx.jxl"):  # screenshots to look at
        assert window.browser.select_path(str(folder / name))
        qtbot.waitUntil(lambda: window.browser.preview._image is not None, timeout=WAIT)
        window.browser.preview.grab().save(str(tmp_path / f"preview-{name}.png"))

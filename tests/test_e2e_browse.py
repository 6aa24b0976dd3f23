"""End to end on a real X server: a library of several folders spanning years, with the
sidebar, the grid and the viewer, screenshotted for the README (the trained test network).

The screenshots land in ``screenshots/`` (``e2e-browse-window.png``, ``e2e-browse-viewer.png``);
``resources/screenshot.png`` and ``resources/viewer.png`` are copies of them, looked at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED_PHOTOS, rotated_copy

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[1]


def stamp(path: Path, when: str) -> None:
    t = time.mktime(time.strptime(when, "%Y-%m-%d")) + 12 * 3600
    os.utime(path, (t, t))


@pytest.fixture
def collection(tmp_path) -> Path:
    """Folders of real photos over several years, as a personal collection is kept."""
    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/photos is not present")
    root = tmp_path / "Pictures"
    holidays = sorted((SHARED_PHOTOS / "holidays").glob("*.jpg"))
    plan = [("2016 Brittany", holidays[0:14], "2016-07-%02d"),
            ("2019 Alps", holidays[14:30], "2019-02-%02d"),
            ("2023 Lisbon", holidays[30:44], "2023-10-%02d")]  # fmt: skip
    for folder, photos, date in plan:
        for i, src in enumerate(photos):
            dst = root / folder / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            stamp(dst, date % (1 + i % 27))
    objects = root / "Objects"
    objects.mkdir()
    for src in sorted((SHARED_PHOTOS / "ukbench").glob("*.jpg")):
        shutil.copy2(src, objects / src.name)
        stamp(objects / src.name, "2021-05-08")
    camera = root / "Camera" / "2008"
    camera.mkdir(parents=True)
    for src in sorted((SHARED_PHOTOS / "camera").glob("*.jpg")):  # EXIF dates of their own
        shutil.copy2(src, camera / src.name)
    rotated_copy(camera / "100002.jpg", camera / "100002 (rotated copy).jpg")
    return root


def test_sidebar_grid_and_viewer_screenshots(xvfb, collection, effnet_backbone, tmp_path):
    shots = {"window": tmp_path / "window.png", "viewer": tmp_path / "viewer.png"}
    result = tmp_path / "result.json"
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"select": "100002.jpg", "screenshot": str(shots["window"]),
                                  "viewer_screenshot": str(shots["viewer"]),
                                  "result": str(result), "timeout_s": 240}))  # fmt: skip
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "PHOTOSIM_AUTOTEST": str(script)}  # fmt: skip
    command = [sys.executable, str(PROJECT / "tests" / "effnet_app.py"), str(collection)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert outcome["error"] is None, outcome
    assert Path(outcome["matches"][0]["path"]).name == "100002 (rotated copy).jpg"
    keep = PROJECT / "screenshots"
    keep.mkdir(exist_ok=True)
    for name, shot in shots.items():
        assert shot.stat().st_size > 10_000, name  # a real picture, not a blank window
        shutil.copy2(shot, keep / f"e2e-browse-{name}.png")

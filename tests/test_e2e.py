"""End to end: the real app, started like a user would, on a real X server (Xvfb).

It opens a folder of photos, selects one whose EXIF-rotated copy is in the
folder, and must show that copy as the first neighbour. A screenshot of the
window as the X server shows it is saved (``screenshots/`` in the project and
the test's temp folder). Skips cleanly where Xvfb is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_PHOTOS, rotated_copy, write_photo
from PIL import Image

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Real photos when ../shared is there, synthetic ones otherwise, plus a rotated copy."""
    root = tmp_path / "Photos"
    root.mkdir()
    if SHARED_PHOTOS.is_dir():
        for sub in ("camera", "ukbench"):
            for src in sorted((SHARED_PHOTOS / sub).glob("*.jpg")):
                shutil.copy2(src, root / src.name)
        shutil.copy2(SHARED_PHOTOS / "transforms" / "ukbench09268_corrupt.jpg", root)
        query = root / "100002.jpg"
    else:
        for seed in range(10):
            write_photo(root / f"photo{seed}.jpg", size=(800, 600), seed=seed)
        query = root / "photo3.jpg"
    rotated_copy(query, root / f"{query.stem} (rotated copy).jpg")
    return root


def test_real_app_shows_rotated_copy_first_on_x_server(
    xvfb, photo_folder, resnet18_weights, tmp_path
):
    query = "100002.jpg" if (photo_folder / "100002.jpg").exists() else "photo3.jpg"
    shot, result = tmp_path / "photosim.png", tmp_path / "result.json"
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {"select": query, "screenshot": str(shot), "result": str(result), "timeout_s": 240}
        )
    )
    env = {
        **os.environ,
        "DISPLAY": xvfb,
        "QT_QPA_PLATFORM": "xcb",
        "PHOTOSIM_AUTOTEST": str(script),
    }
    command = [sys.executable, "-m", "photosim", "gui", str(photo_folder),
               "--model", "resnet18", "--weights", str(resnet18_weights)]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert outcome["error"] is None, outcome
    assert outcome["platform"] == "xcb"
    assert outcome["title"] == f"photosim: {photo_folder}"
    first = outcome["matches"][0]
    assert Path(first["path"]).name == f"{Path(query).stem} (rotated copy).jpg"
    assert first["score"] > 0.95
    with Image.open(shot) as image:
        assert image.width >= 1000 and image.height >= 600
        assert (
            len(image.convert("RGB").resize((64, 40)).getcolors(4096) or []) > 200
        )  # photos, not a blank
    keep = PROJECT / "screenshots"
    keep.mkdir(exist_ok=True)
    shutil.copy2(shot, keep / "e2e-main-window.png")


def test_real_app_with_a_trained_network_shows_scores_people_recognise(
    xvfb, photo_folder, effnet_backbone, tmp_path
):
    """The README's screenshot: the trained test network, injected through the app's API."""
    if not (photo_folder / "100002.jpg").exists():
        pytest.skip("../shared/photos is not present")
    shot, result = tmp_path / "photosim.png", tmp_path / "result.json"
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"select": "100002.jpg", "screenshot": str(shot),
                                  "result": str(result), "timeout_s": 240}))  # fmt: skip
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "PHOTOSIM_AUTOTEST": str(script)}  # fmt: skip
    command = [sys.executable, str(PROJECT / "tests" / "effnet_app.py"), str(photo_folder)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(result.read_text())
    assert outcome["error"] is None, outcome
    scores = {Path(m["path"]).name: m["score"] for m in outcome["matches"]}
    assert max(scores, key=scores.get) == "100002 (rotated copy).jpg"
    assert scores["100002 (rotated copy).jpg"] > 0.95  # the same picture
    assert 0.5 < scores.get("100000.jpg", 0) < 0.95  # another shot of the scene: similar
    assert min(scores.values()) < 0.5  # unrelated objects score far lower
    keep = PROJECT / "screenshots"
    keep.mkdir(exist_ok=True)
    shutil.copy2(shot, keep / "e2e-effnet-window.png")

"""End to end: the app's Duplicates tab and compare view on a real X server (Xvfb).

A folder of photos with planted copies (a byte-identical backup, a resized copy,
a copy turned 90 degrees in its pixels, a PNG export, a photo copied to a phone
folder under the same name) and other shots of one scene is opened in the real app, in a child process on its own display. The
Duplicates tab must show the copies as exact / near groups with the original as
keeper; both views are screenshotted (``screenshots/`` in the project) to be
looked at. The trained EfficientNet-Lite0 is used where installed (the tiny
test model otherwise). Skips cleanly where Xvfb is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_PHOTOS, write_photo
from PIL import Image

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[1]


def plant(root: Path) -> tuple[dict[str, str], str, list[str], str]:
    """Fill ``root``: returns {copy: original} of the same-picture copies, the name with a
    byte-identical backup, the other shots of one scene (never ``near`` to each other), and
    the name of a photo with an identical copy in ``Phone/`` (nothing else like it)."""
    root.mkdir(parents=True)
    if SHARED_PHOTOS.is_dir():
        for sub in ("camera", "ukbench"):
            for src in sorted((SHARED_PHOTOS / sub).glob("*.jpg")):
                shutil.copy2(src, root / src.name)
        original, other = root / "ukbench00120.jpg", root / "ukbench09040.jpg"
        alone = root / "ukbench01380.jpg"
        shutil.copy2(SHARED_PHOTOS / "transforms" / "ukbench00120_resize.jpg", root)
        resized = root / "ukbench00120_resize.jpg"
    else:
        for seed in range(8):
            write_photo(root / f"photo{seed}.jpg", size=(800, 600), seed=seed, detail=True)
        original, other = root / "photo1.jpg", root / "photo2.jpg"
        alone = root / "photo5.jpg"
        resized = root / "photo1 small.jpg"
        Image.open(original).resize((400, 300)).save(resized, quality=85)
    (root / "backup").mkdir()
    shutil.copy2(other, root / "backup" / other.name)
    (root / "Phone").mkdir()
    shutil.copy2(alone, root / "Phone" / alone.name)
    turned = root / f"{other.stem} turned.jpg"
    Image.open(other).transpose(Image.Transpose.ROTATE_90).save(turned, quality=90)
    export = root / f"{original.stem} export.png"
    Image.open(original).save(export)
    copies = {resized.name: original.name, turned.name: other.name, export.name: original.name}
    shots = sorted(p.name for p in root.glob("10000?.jpg"))
    return copies, other.name, shots, alone.name


def test_duplicates_tab_and_compare_view_on_x_server(xvfb, tmp_path):
    folder, out = tmp_path / "Photos", tmp_path / "out"
    copies, backed_up, shots, alone = plant(folder)
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
           "XDG_DATA_HOME": str(tmp_path / "xdg")}  # fmt: skip
    proc = subprocess.run([sys.executable, __file__, str(folder), str(out)], env=env,
                          capture_output=True, text=True, timeout=400)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["error"] is None, result
    assert result["platform"] == "xcb"
    groups = result["groups"]
    # the backup is byte-identical: its own exact group, or inside its picture's near group
    backup = [g for g in groups if g["photos"].count(backed_up) == 2]
    assert len(backup) == 1 and backup[0]["keep"] == backed_up, groups
    assert backup[0]["keep_path"] == str(folder / "backup" / backed_up)  # a reference photo
    assert "identical" in backup[0]["reasons"][backup[0]["photos"].index(backed_up, 1)]
    for copy, original in copies.items():  # each copy is in a near group kept by its original
        assert any(
            copy in g["photos"] and g["keep"] == original and g["kind"] == "near" for g in groups
        ), (copy, groups)
    phone = [g for g in groups if g["photos"] == [alone, alone]]  # identical, named so
    assert (
        len(phone) == 1 and phone[0]["kind"] == "exact" and phone[0]["label"] == "Identical files"
    )
    assert sorted(phone[0]["names"]) == sorted([f"Phone/{alone}", f"Photos/{alone}"])
    shown = next(g for g in groups if g["photos"].count(backed_up) == 2)  # the screenshot's
    assert sorted(n for n in shown["names"] if n.endswith(backed_up)) == sorted(
        [f"backup/{backed_up}", f"Photos/{backed_up}"]  # same names, told apart by folder
    )
    for g in groups:  # other shots of one scene are similar, never the same picture
        assert g["kind"] != "near" or len(set(shots) & set(g["photos"])) < 2, g
    for name in ("duplicates.png", "compare.png"):
        with Image.open(out / name) as image:
            assert image.width >= 1000 and image.height >= 600
            assert len(image.convert("RGB").resize((64, 40)).getcolors(4096) or []) > 200
        keep = PROJECT / "screenshots"
        keep.mkdir(exist_ok=True)
        shutil.copy2(out / name, keep / f"e2e-{name}")


# -- the child process: the real app, driven by its own signals -------------------------
def main(folder: str, out: str) -> int:
    from PySide6.QtCore import QPointF, QTimer
    from PySide6.QtWidgets import QApplication

    from photosim.app.dupes.models import member_name
    from photosim.app.main_window import MainWindow

    try:
        from effnet import load_effnet_backbone, weights_file

        backbone = load_effnet_backbone() if weights_file() else None
    except ImportError:
        backbone = None
    if backbone is None:
        from conftest import make_tiny_backbone

        backbone = make_tiny_backbone()
    app = QApplication(sys.argv[:1])
    window = MainWindow(backbone=backbone)
    window.resize(1360, 820)
    window.show()
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    state = {"error": None, "groups": []}

    def finish(error: str | None = None) -> None:
        state["error"] = state["error"] or error
        state["platform"] = QApplication.platformName()
        (outdir / "result.json").write_text(json.dumps(state, indent=1))
        window.close()
        app.quit()

    def on_regrouped(result) -> None:
        window.duplicates.regrouped.disconnect(on_regrouped)
        view = window.duplicates
        labels = [
            view.group_model.data(view.group_model.index(r, 0)) for r in range(len(view.groups))
        ]
        state["groups"] = [{"kind": str(g.kind), "keep": g.keep.name, "keep_path": str(g.keep),
                            "photos": [m.path.name for m in g.photos],
                            "names": [member_name(g, m.path) for m in g.photos],
                            "reasons": [m.reason for m in g.photos], "label": label}
                           for g, label in zip(result.groups, labels, strict=True)]  # fmt: skip
        turned = [
            i for i, g in enumerate(view.groups) if any("turned" in m.path.name for m in g.photos)
        ]
        if turned:  # the group with a reference photo, a byte copy and a copy turned in its pixels
            view.select_row(turned[0])
        wait_for(lambda: not window.thumbnails.pending(), shoot_duplicates)

    def shoot_duplicates() -> None:
        window.grab().save(str(outdir / "duplicates.png"))
        group = window.duplicates.current_group()
        rows = [i for i, m in enumerate(group.photos) if "turned" in m.path.name] if group else []
        dialog = window.duplicates.compare_member(rows[0]) if rows else None
        if dialog is None:
            return finish("no group to compare")
        dialog.resize(1200, 720)
        dialog.view.loaded.connect(lambda: QTimer.singleShot(300, lambda: shoot_compare(dialog)))

    def shoot_compare(dialog) -> None:
        dialog.view.state.set(1.8, QPointF(0.45, 0.4))  # zoomed: both sides show the same part
        dialog.grab().save(str(outdir / "compare.png"))
        finish()

    def wait_for(ready, then, polls: list | None = None) -> None:
        polls = polls if polls is not None else [0]
        polls[0] += 1
        if ready() or polls[0] > 100:
            QTimer.singleShot(300, then)
        else:
            QTimer.singleShot(100, lambda: wait_for(ready, then, polls))

    window.signals.scan_finished.connect(lambda _final: window.show_duplicates())
    window.duplicates.regrouped.connect(on_regrouped)
    QTimer.singleShot(300_000, lambda: finish("timed out"))
    window.signals.library_opened.connect(  # the backup is protected
        lambda library: library.decisions.set_reference_folders([Path(folder) / "backup"])
    )
    window.state.open_library(folder)  # opens in a worker; library_opened follows
    app.exec()
    return 0


if __name__ == "__main__":
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # importing conftest set "offscreen"
    sys.exit(main(*sys.argv[1:3]))

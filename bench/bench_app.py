"""Measure the app's grid on a big library: model fill, sorting, filtering, a scroll's repaint.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_app.py [--photos 50000]

Uses synthetic Photo records (no files: thumbnails fail fast and paint the
broken tile, which costs about what a cached thumbnail does). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))

from PySide6.QtWidgets import QApplication

from photosim.app.window import MainWindow
from photosim.events import Photo


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    QApplication.processEvents()
    elapsed = (time.perf_counter() - start) * 1000
    print(f"{label:<40} {elapsed:8.1f} ms")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50_000)
    n = parser.parse_args().photos
    app = QApplication.instance() or QApplication([])
    win = MainWindow()
    win.resize(1400, 900)
    win.show()
    win.grid_stack.setCurrentWidget(win.grid)
    photos = [
        Photo(
            id=i,
            path=Path(f"/photos/{2000 + i % 25}/{i % 12:02}/IMG_{i:06}.jpg"),
            size=1,
            mtime=1.6e9 + i,
            taken=f"{2000 + i % 25}-{1 + i % 12:02}-01T12:00:00",
        )
        for i in range(n)
    ]
    timed(f"fill model with {n:,} photos (sorted by date)", lambda: win.photos.set_photos(photos))
    timed("sort by name", lambda: win.sort_box.setCurrentText("Name"))
    timed("filter 'IMG_0012'", lambda: win.filter_edit.setText("IMG_0012"))
    timed("clear filter", lambda: win.filter_edit.setText(""))
    bar = win.grid.verticalScrollBar()
    steps = 50
    start = time.perf_counter()
    for i in range(1, steps + 1):
        bar.setValue(bar.maximum() * i // steps)
        win.grid.viewport().repaint()
        QApplication.processEvents()
    total = (time.perf_counter() - start) * 1000
    print(f"{'scroll + repaint, mean of ' + str(steps) + ' jumps':<40} {total / steps:8.1f} ms")
    print(
        f"thumbnails queued after scrolling: {win.thumbnails.pending()} (queue dropped on scroll)"
    )
    win.close()
    app.quit()


if __name__ == "__main__":
    main()

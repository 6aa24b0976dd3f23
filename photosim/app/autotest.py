"""A scripted run of the real app, for the end-to-end test (``PHOTOSIM_AUTOTEST=script.json``).

The script names a photo to select once the scan is done, where to write the
neighbours found (JSON) and where to save a screenshot of the window as the
X server shows it. Then the app quits. Nothing here runs in normal use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from photosim.app.main_window import MainWindow


class AutoTest(QObject):
    def __init__(self, window: MainWindow, script: str) -> None:
        super().__init__(window)
        self.window = window
        self.script = json.loads(Path(script).read_text())
        self.matches: list = []
        self._polls = 0
        self._shot_taken = self._viewer_done = False
        window.signals.scan_finished.connect(self._on_scan_finished)
        window.signals.neighbours_ready.connect(self._on_neighbours)
        # the degraded state (no weights) is screenshotted too
        window.signals.similarity_unavailable.connect(lambda _text: self._wait_for_thumbnails())
        QTimer.singleShot(int(self.script.get("timeout_s", 240) * 1000), self._give_up)

    def _on_scan_finished(self, _final) -> None:
        name = self.script["select"]
        for row in range(self.window.browser.proxy.rowCount()):
            path = self.window.browser.proxy.path_at(row)
            if os.path.basename(path) == name:
                browser = self.window.browser
                browser.select_path(path)
                grid = browser.grid  # its month's header at the top, as a jump there shows it
                grid.scrollTo(grid.currentIndex(), grid.ScrollHint.PositionAtTop)
                return
        self._finish(error=f"{name} is not in the grid")

    def _on_neighbours(self, query: str, matches: list) -> None:
        self.matches = [{"path": str(m.path), "score": m.score} for m in matches]
        self._wait_for_thumbnails()

    def _wait_for_thumbnails(self) -> None:
        """Poll until visible thumbnails and the preview are painted (at most ~10 s)."""
        self._polls += 1
        busy = self.window.thumbnails.pending() or self.window.browser.preview._image is None
        if busy and self._polls < 100:
            QTimer.singleShot(100, self._wait_for_thumbnails)
            return
        QTimer.singleShot(300, self._finish)

    def _shoot(self, path: str) -> None:
        """Save the window as the X server shows it (else as Qt paints it)."""
        window = self.window
        window.raise_()
        screen = window.screen()
        pixmap = screen.grabWindow(0, window.x(), window.y(), window.frameGeometry().width(),
                                   window.frameGeometry().height())  # fmt: skip
        if pixmap.isNull() or _blank(pixmap):
            pixmap = window.grab()
        pixmap.save(path)

    def _finish(self, error: str | None = None) -> None:
        window = self.window
        shot = self.script.get("screenshot")
        if shot and not self._shot_taken:
            self._shot_taken = True
            self._shoot(shot)
        viewer_shot = self.script.get("viewer_screenshot")
        if viewer_shot and error is None and not self._viewer_done:  # then the viewer, too
            self._viewer_done = True
            window.browser.open_viewer()
            self._polls = 0
            self._wait_for_viewer(viewer_shot)
            return
        result = {"title": window.windowTitle(), "matches": self.matches, "error": error,
                  "photos": window.browser.photos.rowCount(), "platform": QApplication.platformName()}  # fmt: skip
        Path(self.script["result"]).write_text(json.dumps(result, indent=1))
        window.close()

    def _wait_for_viewer(self, path: str) -> None:
        self._polls += 1
        if self.window.browser.viewer.view.image is None and self._polls < 100:
            QTimer.singleShot(100, lambda: self._wait_for_viewer(path))
            return
        QTimer.singleShot(300, lambda: (self._shoot(path), self._finish()))

    def _give_up(self) -> None:
        self._finish(error="timed out")


def _blank(pixmap) -> bool:
    image = pixmap.toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2) == image.pixelColor(1, 1) and (
        image.pixelColor(image.width() // 3, image.height() // 3) == image.pixelColor(1, 1)
    )

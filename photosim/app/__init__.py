"""The PySide6 app: a photo browser on top of the engine's library API."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

CLOSE_GRACE_S = 1.5  # how long quitting lets cancelled work end (after the window is gone)

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.api import Backbone


def run(root=None, db=None, model: str | None = None, weights=None, device: str = "auto",
        backbone: Backbone | None = None) -> int:  # fmt: skip
    """Start the app on ``root`` (or ``db``); without either, on the welcome page or a picker."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from photosim.app.browse.delegate import resource_path
    from photosim.app.main_window import MainWindow
    from photosim.app.workers import drain
    from photosim.core.log import setup_logging

    setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("photosim")
    app.setDesktopFileName("photosim")
    app.setWindowIcon(QIcon(resource_path("photosim.svg")))
    window = MainWindow(model=model, weights=str(weights) if weights else None, device=device,
                        backbone=backbone)  # fmt: skip
    window.show()
    if root or db:
        window.state.open_library(root, db)
    elif not window.folders.recent_folders():
        QTimer.singleShot(0, window.folders.choose_folder)
    if script := os.environ.get("PHOTOSIM_AUTOTEST"):
        from photosim.app.autotest import AutoTest

        window._autotest = AutoTest(window, script)
    code = app.exec()
    drain(CLOSE_GRACE_S)  # the event loop has ended: a cancelled scan may finish its batch
    return code

"""The PySide6 app: a photo browser on top of the engine's library API."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

CLOSE_GRACE_S = 0.7  # how long quitting lets cancelled work end (after the window is gone);
# with the interpreter's exit the process is gone within a second of the window (issue 17)

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.api import Backbone


def run(root: str | os.PathLike | None = None, db: str | os.PathLike | None = None,
        model: str | None = None, weights: str | os.PathLike | None = None,
        device: str = "auto", backbone: Backbone | None = None) -> int:  # fmt: skip
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
    closer = _CloseOnSignals(app, window)
    if root or db:
        window.state.open_library(root, db)
    elif not window.folders.recent_folders():
        QTimer.singleShot(0, window.folders.choose_folder)
    if script := os.environ.get("PHOTOSIM_AUTOTEST"):
        from photosim.app.autotest import AutoTest

        window._autotest = AutoTest(window, script)
    try:
        code = app.exec()
    finally:
        closer.restore()
    drain(CLOSE_GRACE_S)  # the event loop has ended: a cancelled scan may finish its batch
    from photosim import terminal

    if closer.signum is not None:  # killed from the terminal: 128 + the signal, never an abort
        return terminal.end_promptly(128 + closer.signum)
    return terminal.end_promptly(code)  # a worker still running does not hold the exit


class _CloseOnSignals:
    """SIGINT, SIGTERM and SIGHUP from the terminal close the window as its close button does.

    Python runs a signal handler only between bytecodes, and Qt's event loop is C++: a timer
    wakes the interpreter every 200 ms so the handler runs at once. A second signal quits
    even if the window did not close.
    """

    def __init__(self, app, window) -> None:
        import signal

        from PySide6.QtCore import QTimer

        from photosim import terminal

        self.app, self.window, self.signum = app, window, None
        self.timer = QTimer(window)
        self.timer.timeout.connect(lambda: None)
        self.timer.start(200)
        self.before = {}
        for signum in terminal.SIGNALS:
            try:
                self.before[signum] = signal.signal(signum, self._on_signal)
            except (OSError, ValueError):  # not the main thread, or not settable here
                continue

    def _on_signal(self, signum: int, frame) -> None:
        first = self.signum is None
        self.signum = signum
        if first:
            self.window.close()
        else:
            self.app.quit()

    def restore(self) -> None:
        import signal

        self.timer.stop()
        for signum, handler in self.before.items():
            signal.signal(signum, handler)

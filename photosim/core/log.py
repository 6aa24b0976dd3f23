"""Logging: warnings and failure details go to a log file, not into the progress bar.

``setup_logging`` is called once by the CLI and the app. Python warnings (such
as Pillow's "Corrupt EXIF data") are routed into logging, and the loggers of
photosim, Pillow and exifread write to a rotating file at ``paths.log_file()``;
``verbose`` also echoes them to stderr. Without a writable log folder logging
still works, quietly. The file is opened at the first record, so a command that
logs nothing (``photosim info``) neither creates it nor imports ``logging.handlers``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from photosim.core import paths

# Loggers whose records belong in photosim's log: its own, Python warnings, decoders.
LOGGERS = ("photosim", "py.warnings", "PIL", "exifread")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
MAX_BYTES = 1_000_000
BACKUPS = 3


def _file_handler(path: Path) -> logging.Handler:
    import logging.handlers

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8",
            errors="backslashreplace",  # names with undecodable bytes are logged escaped
        )  # fmt: skip
    except OSError:  # a read-only or missing log folder never stops photosim
        return logging.NullHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


class _LogFile(logging.Handler):
    """The rotating log file, opened when the first record comes (see module docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._file is None:  # under this handler's lock: opened once
            self._file = _file_handler(self.path)
        self._file.handle(record)

    def close(self) -> None:
        self.acquire()  # the handler's own lock (``self.lock`` is typed optional)
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
        finally:
            self.release()
        super().close()


def setup_logging(verbose: bool = False) -> Path:
    """Send photosim's logs and Python warnings to the log file (and stderr when ``verbose``).

    Safe to call again (handlers are replaced, not added twice). Returns the
    log file's path (which may not exist when its folder is not writable).
    """
    path = paths.log_file()
    handlers: list[logging.Handler] = [_LogFile(path)]
    if verbose:
        echo = logging.StreamHandler(sys.stderr)
        echo.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handlers.append(echo)
    for handler in handlers:  # marked, so that a second call replaces them
        handler._photosim = True  # type: ignore[attr-defined]
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_photosim", False)]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
    logging.getLogger("photosim").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)
    return path

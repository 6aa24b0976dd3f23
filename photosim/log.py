"""Logging: warnings and failure details go to a log file, not into the progress bar.

``setup_logging`` is called once by the CLI and the app. Python warnings (such
as Pillow's "Corrupt EXIF data") are routed into logging, and the loggers of
photosim, Pillow and exifread write to a rotating file at ``paths.log_file()``;
``verbose`` also echoes them to stderr. Without a writable log folder logging
still works, quietly.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from photosim import paths

# Loggers whose records belong in photosim's log: its own, Python warnings, decoders.
LOGGERS = ("photosim", "py.warnings", "PIL", "exifread")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
MAX_BYTES = 1_000_000
BACKUPS = 3


def _file_handler(path: Path) -> logging.Handler:
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


def setup_logging(verbose: bool = False) -> Path:
    """Send photosim's logs and Python warnings to the log file (and stderr when ``verbose``).

    Safe to call again (handlers are replaced, not added twice). Returns the
    log file's path (which may not exist when its folder is not writable).
    """
    path = paths.log_file()
    handlers = [_file_handler(path)]
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

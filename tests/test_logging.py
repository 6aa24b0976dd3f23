"""Logging: warnings go to a log file in photosim's log dir, the terminal only with --verbose."""

from __future__ import annotations

import logging
import os
import warnings

import pytest

from photosim.core import paths
from photosim.core.log import LOGGERS, setup_logging


@pytest.fixture(autouse=True)
def _undo_logging():
    yield
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_photosim", False)]:
            logger.removeHandler(handler)
            handler.close()
    logging.getLogger("photosim").setLevel(logging.NOTSET)
    logging.captureWarnings(False)


def test_log_file_lives_in_photosims_log_dir(_isolated_home):
    assert paths.log_dir() == _isolated_home / "photosim" / "logs"
    assert setup_logging() == paths.log_file() == paths.log_dir() / "photosim.core.log"


def test_warnings_go_to_the_log_file_not_the_terminal(capfd):
    path = setup_logging()
    warnings.warn("Corrupt EXIF data. Expecting to read 12 bytes but only got 2.", stacklevel=1)
    logging.getLogger("photosim.library.scan").info(
        "scanned %s", os.fsdecode(b"latin1-\xe9t\xe9.jpg")
    )
    logging.getLogger("exifread").error("Possibly corrupted field")
    assert capfd.readouterr().err == ""
    text = path.read_text(encoding="utf-8")
    assert "Corrupt EXIF data" in text and "Possibly corrupted field" in text
    assert "latin1-\\udce9t\\udce9.jpg" in text  # an undecodable name is logged, escaped


def test_verbose_also_echoes_to_stderr(capfd):
    path = setup_logging(verbose=True)
    warnings.warn("Corrupt EXIF data", stacklevel=1)
    logging.getLogger("photosim.media.decode").debug("details")
    err = capfd.readouterr().err
    assert "Corrupt EXIF data" in err and "details" in err
    assert "Corrupt EXIF data" in path.read_text()


def test_calling_twice_does_not_log_twice(capfd):
    setup_logging(verbose=True)
    path = setup_logging(verbose=True)
    logging.getLogger("photosim").warning("once")
    assert capfd.readouterr().err.count("once") == 1
    assert path.read_text().count("once") == 1
    setup_logging(verbose=False)
    logging.getLogger("photosim").warning("quiet")
    assert "quiet" not in capfd.readouterr().err


def test_an_unwritable_log_dir_never_fails(_isolated_home, capfd):
    (_isolated_home / "photosim").mkdir(parents=True, exist_ok=True)
    paths.log_dir().write_text("a file where the folder should be")  # mkdir fails, as read-only
    setup_logging()
    warnings.warn("Corrupt EXIF data", stacklevel=1)
    logging.getLogger("photosim").error("nowhere to go")
    assert capfd.readouterr().err == ""

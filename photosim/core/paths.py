"""Where photosim keeps its own files: decided here, and only here.

Everything lives under the platform's user data / cache dirs (platformdirs);
``PHOTOSIM_HOME`` moves all of it to one folder, which is what tests use.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

APP_NAME = "photosim"
DB_NAME = "library.db"


def is_under(path: str | os.PathLike[str], folders: Iterable[str | os.PathLike[str]]) -> bool:
    """Whether ``path`` is one of ``folders`` or lies inside one, by name alone.

    The one test of "is this path under that folder" (walk, trash, references, library
    look-up). No file system access: callers pass the paths they mean (absolute, real).
    """
    text = os.fspath(path)
    for folder in folders:
        top = os.fspath(folder).rstrip(os.sep) + os.sep
        if text == top[:-1] or text.startswith(top) or top == os.sep:
            return True
    return False


def _user_dir(kind: str) -> Path:
    """platformdirs' per-user folder of ``kind`` (data, cache, config, log), imported on use."""
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))


def home_override() -> Path | None:
    """The folder named by PHOTOSIM_HOME, if set."""
    value = os.environ.get("PHOTOSIM_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Per-user folder for libraries (databases and indexes)."""
    home = home_override()
    return home / "data" if home else _user_dir("data")


def cache_dir() -> Path:
    """Per-user folder for re-creatable caches (thumbnails)."""
    home = home_override()
    return home / "cache" if home else _user_dir("cache")


def thumbnail_dir() -> Path:
    return cache_dir() / "thumbnails"


def library_key(roots: list[Path] | tuple[Path, ...]) -> str:
    """Stable short key for a set of library roots (order-independent)."""
    text = "\n".join(sorted(str(Path(r).expanduser().resolve()) for r in roots))
    # surrogateescape: a folder name that is not valid UTF-8 keys by its bytes
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def default_db_path(roots: list[Path] | tuple[Path, ...]) -> Path:
    """The database a library of these roots uses unless ``--db`` says otherwise."""
    first = Path(roots[0]).expanduser().resolve()
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in first.name)[:40] or "root"
    return data_dir() / "libraries" / f"{name}-{library_key(roots)}" / DB_NAME


def config_dir() -> Path:
    """Per-user folder for settings (window layout, recent folders)."""
    home = home_override()
    return home / "config" if home else _user_dir("config")


def settings_path() -> Path:
    """The app's settings file (INI, read and written by QSettings)."""
    return config_dir() / "photosim.ini"


def registry_path() -> Path:
    """JSON list of known libraries, most recently used first."""
    return data_dir() / "libraries.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: no half-written temporary file stays behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# -- logs (photosim.core.log writes there) ------------------------------------------
def log_dir() -> Path:
    """Per-user folder for log files (platformdirs' user log dir, or PHOTOSIM_HOME/logs)."""
    home = home_override()
    return home / "logs" if home else _user_dir("log")


def log_file() -> Path:
    """The log file: warnings from decoders, failures with their tracebacks."""
    return log_dir() / "photosim.core.log"


def return_free_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise); no-op elsewhere."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
            ctypes.CDLL("libc.so.6").malloc_trim(0)

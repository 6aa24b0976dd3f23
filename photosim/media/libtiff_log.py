"""libtiff's messages into photosim's log instead of the terminal.

Pillow decodes compressed TIFFs with libtiff, whose default error handler prints to the
process's stderr ("tempfile.tif: Using code not yet in table.") in the middle of a scan's
progress bar. Pillow itself raises an exception for the same file, which the scan records
as the photo's reason, so the text belongs in the log. :func:`route` installs handlers in
the libtiff Pillow loaded (found in the process's mapped libraries) that log the message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable

log = logging.getLogger("photosim.libtiff")

# void handler(const char *module, const char *fmt, va_list ap): a va_list travels as a
# pointer on the platforms Pillow ships wheels for (x86-64, arm64; Windows: char *).
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_installed: list = []  # the callbacks, kept alive for as long as libtiff may call them


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None)
    except OSError:  # pragma: no cover - no C library to format with
        return None


def _formatter() -> Callable[[bytes | None, bytes | None, int | None], str]:
    libc = _libc()
    vsnprintf = getattr(libc, "vsnprintf", None) if libc is not None else None
    if vsnprintf is not None:
        vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]

    def text(module: bytes | None, fmt: bytes | None, args: int | None) -> str:
        message = fmt or b""
        if vsnprintf is not None and fmt:
            buf = ctypes.create_string_buffer(1024)
            vsnprintf(buf, len(buf), fmt, args)
            message = buf.value
        where = (module or b"libtiff").decode("utf-8", "backslashreplace")
        return f"{where}: {message.decode('utf-8', 'backslashreplace')}"

    return text


def _pillow_libtiff() -> ctypes.CDLL | None:
    """The libtiff Pillow's decoder uses: the one mapped into this process (Linux), else
    the system's."""
    from PIL import Image  # noqa: F401 - loads _imaging and, with it, libtiff

    path = None
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                name = line.rsplit(None, 1)[-1] if "/" in line else ""
                if "libtiff" in name.rsplit("/", 1)[-1]:
                    path = name
                    break
    except OSError:
        path = None
    path = path or ctypes.util.find_library("tiff")
    if not path:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def route() -> bool:
    """Send libtiff's warnings and errors to the log; True when the handlers are in place."""
    if _installed:
        return True
    lib = _pillow_libtiff()
    if lib is None or sys.platform == "win32":
        return False
    text = _formatter()

    @_HANDLER
    def on_warning(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        log.info("%s", text(module, fmt, args))

    @_HANDLER
    def on_error(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        log.info("%s", text(module, fmt, args))

    try:
        for name, handler in (("TIFFSetWarningHandler", on_warning),
                              ("TIFFSetErrorHandler", on_error)):  # fmt: skip
            setter = getattr(lib, name)
            setter.restype, setter.argtypes = ctypes.c_void_p, [_HANDLER]
            setter(handler)
    except AttributeError:
        return False
    _installed.extend([on_warning, on_error])
    return True

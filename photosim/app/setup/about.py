"""Help > About: versions, the device and model in use, and where photosim keeps its files."""

from __future__ import annotations

import html
import sys

from photosim import __version__
from photosim.api import Library
from photosim.core import paths


def versions() -> list[tuple[str, str]]:
    """photosim, torch and Qt versions; torch only if already loaded (it is, once the engine is)."""
    import PySide6
    from PySide6.QtCore import qVersion

    torch = sys.modules.get("torch")
    rows = [("photosim", __version__)]
    rows.append(("PyTorch", torch.__version__ if torch else "not loaded"))
    rows.append(("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"))
    return rows


def engine_rows(library: Library | None, options: dict) -> list[tuple[str, str]]:
    """The model, the device and the backend in use (or that will be, once something is
    embedded; the backend then is the one the last scan ran on)."""
    if library is None:
        return [("Model", options.get("model") or "the library's"),
                ("Device", options.get("device") or "auto"),
                ("Backend", options.get("backend") or "auto")]  # fmt: skip
    backbone = getattr(library, "_backbone", None)
    if backbone is not None:
        device = str(backbone.device)
    else:
        device = f"{library.device} (the model loads when a photo needs embedding)"
    weights = library.weights or "torchvision's pretrained weights"
    ran = library.running_backend()
    backend = f"{ran} ({library.backend} asked for)" if ran else f"{library.backend} (not run yet)"
    if library.backend_notice:
        backend += f": {library.backend_notice}"
    return [("Model", f"{library.model_name}: {weights}"), ("Device", device),
            ("Backend", backend)]  # fmt: skip


def file_rows(library: Library | None) -> list[tuple[str, str]]:
    """Where the library, the thumbnail cache, the settings and the log are."""
    log_file = getattr(paths, "log_file", None)  # from the logging work; absent before it
    rows = [
        ("Library", str(library.db_path) if library is not None else "none open"),
        ("Thumbnail cache", str(paths.thumbnail_dir())),
        ("Settings", str(paths.settings_path())),
    ]
    if log_file is not None:
        rows.append(("Log", str(log_file())))
    return rows


def about_html(library: Library | None, options: dict) -> str:
    """The About box's text: a short line, then a table of the facts above."""
    rows = versions() + engine_rows(library, options) + file_rows(library)
    cells = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        "<p>photosim: browse your photos and find similar ones. "
        "Everything stays on this computer.</p>"
        f"<table>{cells}</table>"
    )

"""Help > About: versions, the device and model in use, and where photosim keeps its files."""

from __future__ import annotations

import html
import sys

from photosim import __version__
from photosim.api import DEFAULT_MODEL, Library, weights_in_use
from photosim.app import messages
from photosim.core import paths
from photosim.core.events import ModelInUse

WAITING = "…"  # until the facts arrive from a worker


def versions() -> list[tuple[str, str]]:
    """photosim, torch and Qt versions; torch only if already loaded (it is, once the engine is)."""
    import PySide6
    from PySide6.QtCore import qVersion

    torch = sys.modules.get("torch")
    rows = [("photosim", __version__)]
    rows.append(("PyTorch", torch.__version__ if torch else "not loaded"))
    rows.append(("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"))
    return rows


def model_facts(library: Library | None, options: dict) -> ModelInUse:
    """The model in use: the open library's, else the one the window's options name. Reads the
    disk and may import torch: run it in a worker."""
    if library is not None:
        return library.model.in_use()
    model = options.get("model") or DEFAULT_MODEL
    injected = options.get("backbone") is not None
    weights, size = (None, None) if injected else weights_in_use(model, options.get("weights"))
    return ModelInUse(
        model=model, key=None, weights=weights, weights_bytes=size,
        chosen=bool(options.get("weights")), injected=injected, loaded=False,
        device=options.get("device") or "auto", backend=None,
        backend_asked=options.get("backend") or "auto",
    )  # fmt: skip


def engine_rows(facts: ModelInUse | None) -> list[tuple[str, str]]:
    """The model, its weights, the device and the backend in use (or that will be, once
    something is embedded; the backend then is the one the last scan ran on)."""
    if facts is None:
        return [("Model", WAITING), ("Weights", WAITING), ("Device", WAITING),
                ("Backend", WAITING)]  # fmt: skip
    device = facts.device if facts.loaded else (
        f"{facts.device} (the model loads when a photo needs embedding)")  # fmt: skip
    ran, asked = facts.backend, facts.backend_asked
    backend = f"{ran} ({asked} asked for)" if ran else f"{asked} (not run yet)"
    if facts.backend_notice:
        backend += f": {facts.backend_notice}"
    model = facts.key if facts.injected and facts.key else facts.model
    return [("Model", model), ("Weights", messages.weights_file(facts)), ("Device", device),
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


def about_html(library: Library | None, facts: ModelInUse | None) -> str:
    """The About box's text: a short line, then a table of the facts above ("…" for the
    model's until ``facts`` arrive)."""
    rows = versions() + engine_rows(facts) + file_rows(library)
    cells = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        "<p>photosim: browse your photos and find similar ones. "
        "Everything stays on this computer.</p>"
        f"<table>{cells}</table>"
    )

"""The app's words: chosen here, where they are shown, by the error's type (Qt-free).

Errors travel as objects (``photosim.core.errors``); nothing matches message text.
"""

from __future__ import annotations

import contextlib
import os

from photosim.core import paths
from photosim.core.errors import (
    DecodeError,
    LibraryBusy,
    ModelMismatch,
    NotEmbedded,
    PhotosimError,
    WeightsInvalid,
    WeightsMissing,
    shown,
)
from photosim.core.events import ModelInUse, ScanProgress
from photosim.core.text import plural

BUSY = "Another photosim scan is running: the photos will appear when it finishes."
UNTRAINED = (
    "These weights look untrained: every pair of photos scores about 99% alike, so the "
    "similar photos shown mean nothing; choose trained weights or download the pretrained "
    "ones (Help > Model Weights)."
)


def model_problem(value: object) -> PhotosimError | None:
    """A scan's ``model_error`` as an error object (older engines sent the sentence)."""
    if value is None or isinstance(value, PhotosimError):
        return value
    return WeightsMissing(str(value))


def log_hint() -> str:
    """Where the details of an unexpected error are: the log file, when there is one."""
    log_file = getattr(paths, "log_file", None)
    if log_file is not None:
        with contextlib.suppress(Exception):  # a hint must never fail
            return f"the details are in {shown(log_file())}"
    return "the details were logged"


def describe(exc: BaseException, *, scanning: bool = False) -> str:
    """One sentence for people about ``exc``, by its type."""
    if isinstance(exc, WeightsMissing):  # WeightsInvalid too
        return weights_words(exc)
    if isinstance(exc, LibraryBusy):
        return BUSY
    if isinstance(exc, NotEmbedded):
        name = shown(os.path.basename(exc.path))
        if scanning:
            return f"{name} is not embedded yet; the running scan will get to it."
        return f"{name} is not embedded yet; press F5 to scan the folder again."
    if isinstance(exc, DecodeError):
        return f"Cannot read {shown(exc.name)}: {exc.reason}"
    if isinstance(exc, ModelMismatch | PhotosimError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({shown(exc.filename)})" if exc.filename else ""
        return f"Cannot read a file{where}: {exc.strerror}; {log_hint()}."
    return f"Something went wrong ({type(exc).__name__}); {log_hint()}."


def weights_words(exc: WeightsMissing, *, where: str = " (Help > Model Weights)") -> str:
    """A weights problem in the app's words: what happened and what to click (``where``: the
    place to click it). The engine's sentence is the command line's: it names flags and
    variables a GUI user has not got."""
    model = exc.model or "ResNet"
    if isinstance(exc, WeightsInvalid) and exc.chosen:
        name = shown(os.path.basename(exc.expected)) if exc.expected else "That file"
        return (f"{name} does not hold usable {model} weights; choose a {model} weights file "
                f"(.pth), or pick the matching model in Preferences.")  # fmt: skip
    if isinstance(exc, WeightsInvalid):
        return (f"The downloaded {model} weights are damaged (an interrupted download?); "
                f"download them again or choose a weights file{where}.")  # fmt: skip
    if exc.chosen and exc.expected:
        return (f"The {model} weights file {shown(exc.expected)} is no longer there (moved or "
                f"deleted?); choose it again or download the weights{where}.")  # fmt: skip
    return (f"Similarity needs the pretrained {model} weights, which are not on this computer; "
            f"download them or choose a {model} weights file{where}.")  # fmt: skip


def weights_file(facts: ModelInUse) -> str:
    """Which weights file is in use, with its size, or that none is (About's row)."""
    if facts.injected:
        return "none: the model was handed to photosim at start"
    if facts.weights is not None and facts.weights_bytes is not None:
        return f"{shown(facts.weights)} ({_megabytes(facts.weights_bytes)})"
    if facts.weights is not None:
        return f"{shown(facts.weights)} (not there any more)"
    return "none (similarity is off until there is one)"


def weights_state(facts: ModelInUse, problem: PhotosimError | None) -> str:
    """Help > Model Weights: which file is in use (path, size), or that none is and why."""
    if isinstance(problem, WeightsMissing):
        return weights_words(problem, where="")  # said in Help > Model Weights itself
    if problem is not None:
        return describe(problem)
    if facts.injected:
        return f"The model {facts.key or facts.model} was handed to photosim at start: no file."
    if facts.weights is not None and facts.weights_bytes is not None:
        return (f"Similarity uses the {facts.model} weights in {shown(facts.weights)} "
                f"({_megabytes(facts.weights_bytes)}); you can choose another file.")  # fmt: skip
    if facts.weights is not None:
        gone = WeightsMissing("", str(facts.weights), model=facts.model, chosen=True)
        return weights_words(gone, where="")
    return (f"No {facts.model} weights file is in use: similarity is off until you download "
            f"the weights or choose a {facts.model} weights file.")  # fmt: skip


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def reason(exc: BaseException) -> str:
    """Why one file cannot be shown, for a line that already names it."""
    if isinstance(exc, DecodeError):
        return exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read the file ({exc.strerror})"
    return describe(exc)


def eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def progress(ev: ScanProgress) -> str:
    """The status line while a scan runs."""
    if ev.kind in ("found", "removed") or not ev.total:
        return f"Looking for photos… {ev.found:,} found"
    if ev.kind == "indexing":
        return "Building the similarity index…"
    if ev.kind == "preparing":  # a first-time conversion of the model: seconds, once
        return f"{ev.reason}…"
    if ev.kind == "walked" and not ev.done:  # the model loads before the first photo
        return f"Loading the model… ({plural(ev.total, 'photo')} to scan)"
    parts = [f"Scanning {ev.done:,} / {ev.total:,}"]
    if ev.rate:
        parts.append(f"{ev.rate:.1f} photos/s")
    if left := eta(ev.eta_s):
        parts.append(left)
    return " · ".join(parts)


def summary(ev: ScanProgress, model_error: PhotosimError | None) -> str:
    """The status line after a scan."""
    if ev.cancelled:
        return f"Scan cancelled: {ev.done:,} of {ev.total:,} done; F5 resumes it."
    if not ev.found:
        return "No photos in this folder. Open another one (Ctrl+O)."
    parts = [plural(ev.found - ev.failed, "photo")]
    for label, value in (("new", ev.new), ("moved", ev.moved), ("removed", ev.removed),
                         ("skipped", ev.failed)):  # fmt: skip
        if value:
            parts.append(f"{value:,} {label}")
    text = "Up to date: " + ", ".join(parts)
    if ev.linked:  # folders elsewhere that links inside the library lead to
        text += "; followed links to " + ", ".join(shown(folder) for folder in ev.linked)
    if isinstance(model_error, WeightsMissing):
        text += ". Similarity is off until the model weights are found (Help > Model Weights)."
    elif model_error is not None:
        text += f". {describe(model_error)}"
    return text


def failure_lines(failures: list) -> list[tuple[str, str]]:
    """(shown path, reason) for each failed file, whatever shape the library returns."""
    out = []
    for item in failures:
        if isinstance(item, tuple):
            path, reason = item[0], item[1]
        else:
            path, reason = getattr(item, "path", item), getattr(item, "reason", "")
        out.append((shown(path), str(reason)))
    return out

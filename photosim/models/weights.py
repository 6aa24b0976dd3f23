"""Pretrained weights: where torchvision keeps them, download, and the checks before use.

One implementation shared by the engine (``load_backbone``), the CLI and the app (which
runs :func:`download` in its worker, with progress and Cancel). Qt-free; torch and
torchvision are imported only by the functions that need them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import threading
import urllib.error
from collections.abc import Callable
from pathlib import Path

from photosim.core.errors import WeightsInvalid, WeightsMissing, shown
from photosim.core.events import WeightsDownload
from photosim.models.registry import DEFAULT_MODEL, weights_enum

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# torch.hub's convention: "resnet50-11ad3fa6.pth" carries the start of the file's SHA-256.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")

Progress = Callable[[int, int], None]  # (bytes done, bytes in all or 0 when unknown)


def weights_url(name: str) -> str:
    """Where torchvision downloads the default weights of ``name`` from."""
    return weights_enum(name).url


def expected_weights_file(name: str = DEFAULT_MODEL) -> Path:
    """Where torchvision's cache keeps the pretrained weights of ``name``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights_url(name))


def _remedy(name: str, expected: Path) -> str:
    return (
        f"The file expected is {expected}. Either run photosim once with an internet "
        f"connection so torchvision downloads it there, or pass a local {name} state-dict file "
        f"with --weights FILE (or set PHOTOSIM_WEIGHTS=FILE)."
    )


def missing_weights_message(name: str, why: str = "could not be downloaded") -> str:
    """One message for people: why the weights are missing and both ways to get them."""
    expected = expected_weights_file(name)
    return (
        f"The pretrained {name} weights are needed and are not in torchvision's cache; "
        f"they {why}. {_remedy(name, expected)}"
    )


def download_failure(exc: BaseException) -> str:
    """Why a weights download failed, in words: network, disk space, permissions, data."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"could not be downloaded (the server answered {exc.code} {exc.reason})"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            return (
                "could not be downloaded (no network: the download server's name did not resolve)"
            )
        if isinstance(reason, TimeoutError | socket.timeout):
            return "could not be downloaded (the connection timed out)"
        return f"could not be downloaded (no network connection: {reason})"
    if isinstance(exc, TimeoutError):
        return "could not be downloaded (the connection timed out)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "could not be saved (no space left on the disk that holds the cache)"
    if isinstance(exc, PermissionError | OSError) and exc.errno in (errno.EACCES, errno.EPERM,
                                                                    errno.EROFS):  # fmt: skip
        return "could not be saved (no permission to write torchvision's cache folder)"
    if isinstance(exc, RuntimeError) and "hash" in str(exc):
        return "were downloaded damaged (their checksum is wrong; try again)"
    if isinstance(exc, ConnectionError | OSError):
        return f"could not be downloaded ({exc.__class__.__name__}: {exc})"
    return f"could not be loaded ({exc.__class__.__name__})"


def download(
    url: str,
    dest: Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> bool:
    """Fetch ``url`` into ``dest`` through a temporary file; False when cancelled.

    A cancelled or failed download leaves nothing half-written; a file whose SHA-256 does
    not start with the hash in its name (torch.hub's convention) raises ``RuntimeError``.
    Other failures raise as they come (:func:`download_failure` says them in words).
    """
    import urllib.request  # here, not at launch: ~80 ms of imports (http, email, ssl)

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
    digest = hashlib.sha256()
    cancelled = cancel.is_set if cancel is not None else lambda: False
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            read = getattr(response, "read1", response.read)  # what has arrived: Cancel is quick
            while not cancelled() and (chunk := read(CHUNK)):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if cancelled():
            return False
        if (m := _HASH_IN_NAME.search(os.path.basename(url))) and not (
            digest.hexdigest().startswith(m.group(1))
        ):
            raise RuntimeError(
                f"invalid hash value (expected {m.group(1)!r}, got {digest.hexdigest()[:8]!r})"
            )
        os.replace(tmp, dest)
        return True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_file(path: Path) -> object:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers, never code."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def state_dict_from_file(path: Path, model: str | None = None, *, cached: bool = False) -> dict:
    """The state dict of a weights file (loaded safely); one sentence when it is not.

    ``cached``: the file is torchvision's download, not one the user chose; then the remedy
    is another download.
    """
    if not path.is_file():
        raise WeightsMissing(
            f"The weights file {path} does not exist; pass an existing ResNet state-dict file "
            f"with --weights FILE.",
            expected=str(path), model=model, chosen=not cached,
        )  # fmt: skip
    try:
        state = load_file(path)
    except Exception as exc:
        log.warning("could not load weights file %s", path, exc_info=True)
        if cached:
            what = f"The cached {model} weights file {path} is damaged (an interrupted download?)"
            remedy = (f"delete it and run photosim again with an internet connection, or pass a "
                      f"local {model} state-dict file with --weights FILE.")  # fmt: skip
        else:
            what = f"{path} is not a PyTorch state-dict file photosim can load safely"
            remedy = "pass a file saved with torch.save(model.state_dict(), FILE)."
        raise WeightsInvalid(
            f"{what} ({exc.__class__.__name__}); {remedy}",
            expected=str(path), model=model, chosen=not cached,
        ) from None  # fmt: skip
    return as_state_dict(state, path, model, chosen=not cached)


def as_state_dict(
    state: object, path: Path | None, model: str | None = None, *, chosen: bool = True
) -> dict:
    """``state`` as a dict of tensors (a checkpoint's ``state_dict``, DataParallel names)."""
    import torch

    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsInvalid(
            f"{path or 'The weights file'} holds no state dict of tensors; save one with "
            f"torch.save(model.state_dict(), FILE).",
            expected=str(path) if path else None, model=model, chosen=chosen,
        )  # fmt: skip
    return {k.removeprefix("module."): v for k, v in state.items()}


def weights_download(name: str = DEFAULT_MODEL) -> WeightsDownload:
    """What downloading torchvision's weights of ``name`` fetches: url, size and target file."""
    weights = weights_enum(name)
    size = weights.meta.get("_file_size")  # MB, in torchvision's metadata since 0.17
    return WeightsDownload(name, weights.url, float(size) if size else None,
                           expected_weights_file(name))  # fmt: skip


def torchvision_state_dict(
    name: str,
    download_allowed: bool,
    announce: Callable[[WeightsDownload], None] | None = None,
) -> tuple[dict, str]:
    """torchvision's weights of ``name`` from its cache (loaded safely), else downloaded once
    (``announce`` is told what is fetched, how big and where, before it starts)."""
    weights = weights_enum(name)
    cached = expected_weights_file(name)
    if not cached.is_file():
        if not download_allowed:
            raise WeightsMissing(
                missing_weights_message(
                    name, "were not downloaded (downloads are off: --offline or PHOTOSIM_OFFLINE=1)"
                ),
                expected=str(cached), model=name,
            )  # fmt: skip
        if announce is not None:
            announce(weights_download(name))
        try:
            download(weights.url, cached, _log_progress(name))
        except Exception as exc:
            log.warning("downloading %s weights failed", name, exc_info=True)
            raise WeightsMissing(
                missing_weights_message(name, download_failure(exc)), expected=str(cached),
                model=name,
            ) from None  # fmt: skip
    return state_dict_from_file(cached, name, cached=True), weights.name


def _log_progress(name: str) -> Progress:
    """A download's progress in the log, every tenth of it (the CLI shows its own status)."""
    step = [0]

    def report(done: int, total: int) -> None:
        if total and done * 10 // total > step[0]:
            step[0] = done * 10 // total
            log.info("downloading %s weights: %d%%", name, step[0] * 10)

    return report


def validate_weights(path: str | Path, model_name: str = DEFAULT_MODEL) -> None:
    """Check that ``path`` is a state dict of ``model_name`` before anything uses it.

    Loads with ``weights_only=True`` (no code runs) and compares names and shapes with
    the model's own; raises :class:`WeightsInvalid` with one sentence when it does not fit.
    """
    import torch
    import torchvision.models as tvm

    path = Path(path).expanduser()
    name = shown(path.name)
    try:
        state = state_dict_from_file(path, model_name)
    except WeightsMissing:
        raise WeightsInvalid(
            f"{name} is not a PyTorch weights file; choose a {model_name} state-dict file "
            f"(.pth) saved with torch.save(model.state_dict(), FILE).",
            expected=str(path), model=model_name, chosen=True,
        ) from None  # fmt: skip
    weights_enum(model_name)  # a known model name
    with torch.device("meta"):  # shapes only: nothing is allocated
        wanted = tvm.get_model(model_name, weights=None).state_dict()
    fits = all(
        hasattr(state.get(k), "shape") and tuple(state[k].shape) == tuple(v.shape)
        for k, v in wanted.items()
        if not k.startswith("fc.")
    )
    if not fits:
        raise WeightsInvalid(
            f"{name} does not hold {model_name} weights; choose a {model_name} state-dict "
            f"file, or pick the matching model in Preferences.",
            expected=str(path), model=model_name, chosen=True,
        )  # fmt: skip


def weights_in_use(name: str, weights: str | os.PathLike | None) -> tuple[Path | None, int | None]:
    """The file the weights of ``name`` come from and its size: ``weights`` when given, else
    torchvision's cached download; (the file, None) when it is not there, (None, None) when
    torchvision's was never downloaded. Imports torch (to find its cache)."""
    path = Path(weights).expanduser() if weights else expected_weights_file(name)
    try:
        return path, path.stat().st_size
    except OSError:
        return (path if weights else None), None

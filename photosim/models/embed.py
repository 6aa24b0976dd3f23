"""Turn photos into vectors with a torchvision ResNet, at the device's best native precision.

A :class:`Backbone` is a module that maps a normalised image batch to pooled
features, plus the input size and a ``key`` naming the model and weights that
made a vector (vectors of different keys never mix; precision is not part of
the key). Tests inject tiny ones. Importing this module imports torch: code
that needs no model imports :mod:`photosim.models.registry` instead.
"""

from __future__ import annotations

import errno
import logging
import os
import platform
import socket
import urllib.error
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from photosim.core.errors import PhotosimError, WeightsInvalid, WeightsMissing
from photosim.core.events import WeightsDownload
from photosim.models.registry import (  # re-exported: the torch-free names
    DEFAULT_MODEL,
    MODELS,
    PRECISIONS,
    downloads_allowed,
    file_digest,
    model_key,
    weights_from_env,
)

__all__ = ["DEFAULT_MODEL", "MODELS", "PRECISIONS", "Backbone", "file_digest", "letterbox",
           "load_backbone", "model_key", "resolve_device", "resolve_precision",
           "weights_from_env"]  # fmt: skip

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Letterbox fill: the ImageNet mean, which normalises to zero.
_FILL = tuple(round(m * 255) for m in IMAGENET_MEAN)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# GPU memory one 224 px image needs in a ResNet-50 forward pass (fp16, generous): the batch
# size comes from free memory; an out-of-memory error still halves it (photosim.library.pipeline).
_GPU_BYTES_PER_IMAGE = 48 * 2**20


# -- precision -------------------------------------------------------------------------
def cpu_flags() -> set[str]:
    """The CPU's feature flags as torch reports them (or /proc/cpuinfo as a fallback)."""
    flags: set[str] = set()
    probe = getattr(getattr(torch._C, "_cpu", None), "_get_cpu_capability", None)
    if probe is not None:
        try:
            flags = {k for k, v in probe().items() if v is True}
        except Exception:  # an older or newer torch without this private helper
            flags = set()
    if not flags:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("flags"):
                        flags = set(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
    return flags


def cpu_bf16_native() -> bool:
    """True when the CPU computes bf16 natively (AMX or AVX512-BF16): then bf16 is ~2x fp32."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False  # ARM bf16 support in torch varies by build: do not guess
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` to the fastest precision the device runs natively: fp32, bf16 or fp16."""
    if precision not in PRECISIONS:
        raise PhotosimError(f"Unknown precision {precision!r}: use {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    return "bf16" if cpu_bf16_native() else "fp32"


@dataclass
class Backbone:
    """A feature extractor: ``module(batch) -> (N, D)`` features, before normalisation.

    ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) is the arithmetic of the
    forward pass; vectors are always float32 and L2-normalised.
    """

    module: nn.Module
    key: str
    input_size: int = 224
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    precision: str = "fp32"

    def __post_init__(self) -> None:
        self.module.eval()
        self.precision = resolve_precision(self.precision, self.device)
        self._place()

    def _place(self) -> None:
        """Put the module and the normalisation constants on ``device`` in its layout."""
        if self.device.type == "mps" and self.precision == "fp16":
            self.module = self.module.to(self.device).half()  # autocast on MPS needs torch 2.5
        else:
            self.module = self.module.to(self.device).float()
        if self.device.type in ("cuda", "cpu"):
            self.module = self.module.to(memory_format=torch.channels_last)
        self._mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        self._pinned: torch.Tensor | None = None

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Letterbox an RGB image into a square uint8 array: the whole frame, no crop."""
        return letterbox(image, self.input_size)

    def embed(self, batch: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """L2-normalised float32 vectors for prepared (H, W, 3) uint8 images."""
        array = np.ascontiguousarray(
            np.stack(list(batch)) if not isinstance(batch, np.ndarray) else batch
        )
        x = self._to_device(torch.from_numpy(array))
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        if self.device.type in ("cuda", "cpu"):
            x = x.contiguous(memory_format=torch.channels_last)
        if self.device.type == "mps" and self.precision == "fp16":
            x = x.half()
        with torch.inference_mode(), self._autocast():
            features = self.module(x)
        features = torch.flatten(features.float(), 1)
        features = nn.functional.normalize(features, dim=1)
        return features.cpu().numpy().astype(np.float32, copy=False)

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels to the device; on CUDA through a reused pinned buffer, asynchronously.

        The buffer may be reused at the next call: ``embed`` ends with ``.cpu()``, which
        waits for the stream, so this copy has finished by then.
        """
        if self.device.type != "cuda":
            return x.to(self.device)
        if self._pinned is None or self._pinned.numel() < x.numel():
            self._pinned = torch.empty(x.numel(), dtype=torch.uint8).pin_memory()
        staged = self._pinned[: x.numel()].view(x.shape)
        staged.copy_(x)
        return staged.to(self.device, non_blocking=True)

    def _autocast(self):
        dtype = _DTYPES.get(self.precision)
        if dtype is None or self.device.type == "mps":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def batch_size(self, requested: int) -> int:
        """The batch to run: ``requested`` on a CPU; on a GPU as many as free memory allows."""
        if self.device.type != "cuda":
            return requested
        try:
            free, _total = torch.cuda.mem_get_info(self.device)
        except Exception:  # no memory query on this build: keep what was asked
            return requested
        per_image = _GPU_BYTES_PER_IMAGE * (2 if self.precision == "fp32" else 1)
        fits = max(1, int(free * 0.6) // per_image)
        return max(requested, min(512, 1 << (fits.bit_length() - 1)))

    def to_cpu(self) -> None:
        """Move to the CPU (after the GPU ran out of memory) at the CPU's best precision."""
        self.device = torch.device("cpu")
        self.precision = resolve_precision("auto", self.device)
        self._place()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def dim(self) -> int:
        """Length of the vectors (found by running one blank image)."""
        if not hasattr(self, "_dim"):
            blank = np.zeros((1, self.input_size, self.input_size, 3), np.uint8)
            self._dim = int(self.embed(blank).shape[1])
        return self._dim


def letterbox(image: Image.Image, size: int) -> np.ndarray:
    """Fit ``image`` into ``size``x``size`` keeping its aspect ratio, padded with the mean colour."""
    w, h = image.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = image.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("RGB", (size, size), _FILL)
    canvas.paste(resized, ((size - nw) // 2, (size - nh) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PhotosimError(
            "--device cuda was asked for, but no CUDA GPU is available; use --device auto."
        )
    if name not in ("cpu", "cuda", "mps"):
        raise PhotosimError(f"Unknown device {name!r}: use auto, cpu, cuda or mps.")
    return torch.device(name)


# -- weights ---------------------------------------------------------------------------
def _weights_enum(name: str):
    import torchvision.models as tvm

    if name not in MODELS:
        raise PhotosimError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    return tvm.get_model_weights(name).DEFAULT


def expected_weights_file(name: str = DEFAULT_MODEL) -> Path:
    """Where torchvision's cache keeps the pretrained weights of ``name``."""
    url = _weights_enum(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


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


def _download_failure(exc: BaseException) -> str:
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


def _load_file(path: Path) -> object:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers, never code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _state_dict_from_file(path: Path) -> dict:
    if not path.is_file():
        raise WeightsMissing(
            f"The weights file {path} does not exist; pass an existing ResNet state-dict file "
            f"with --weights FILE.",
            expected=str(path),
        )
    try:
        state = _load_file(path)
    except Exception as exc:
        log.warning("could not load weights file %s", path, exc_info=True)
        raise WeightsInvalid(
            f"{path} is not a PyTorch state-dict file photosim can load safely "
            f"({exc.__class__.__name__}); pass a file saved with "
            f"torch.save(model.state_dict(), FILE).",
            expected=str(path),
        ) from None
    return _as_state_dict(state, path)


def _as_state_dict(state: object, path: Path | None) -> dict:
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsInvalid(
            f"{path or 'The weights file'} holds no state dict of tensors; save one with "
            f"torch.save(model.state_dict(), FILE).",
            expected=str(path) if path else None,
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def weights_download(name: str = DEFAULT_MODEL) -> WeightsDownload:
    """What downloading torchvision's weights of ``name`` fetches: url, size and target file."""
    weights = _weights_enum(name)
    size = weights.meta.get("_file_size")  # MB, in torchvision's metadata since 0.17
    return WeightsDownload(name, weights.url, float(size) if size else None,
                           expected_weights_file(name))  # fmt: skip


def _torchvision_state_dict(
    name: str, download: bool, announce: Callable[[WeightsDownload], None] | None = None
) -> tuple[dict, str]:
    """torchvision's weights from its cache (loaded safely), else downloaded once
    (``announce`` is told what is fetched first)."""
    weights = _weights_enum(name)
    cached = expected_weights_file(name)
    if cached.is_file():
        try:
            return _as_state_dict(_load_file(cached), cached), weights.name
        except Exception as exc:
            log.warning("cached weights %s do not load", cached, exc_info=True)
            raise WeightsInvalid(
                f"The cached {name} weights file {cached} is damaged (an interrupted download?) "
                f"({exc.__class__.__name__}); delete it and run photosim again with an internet "
                f"connection, or pass a local {name} state-dict file with --weights FILE.",
                expected=str(cached),
            ) from None
    if not download:
        raise WeightsMissing(
            missing_weights_message(
                name, "were not downloaded (downloads are off: --offline or PHOTOSIM_OFFLINE=1)"
            ),
            expected=str(cached),
        )
    if announce is not None:
        announce(weights_download(name))
    try:
        state = weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except Exception as exc:
        log.warning("downloading %s weights failed", name, exc_info=True)
        raise WeightsMissing(
            missing_weights_message(name, _download_failure(exc)), expected=str(cached)
        ) from None
    return _as_state_dict(state, cached), weights.name


def load_backbone(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    device: str = "auto",
    download: bool | None = None,
    precision: str = "auto",
    announce: Callable[[WeightsDownload], None] | None = None,
) -> Backbone:
    """Build a pretrained ResNet feature extractor.

    ``weights`` (or PHOTOSIM_WEIGHTS) names a local state-dict file; otherwise the
    torchvision weights come from its cache (TORCH_HOME), downloaded once if allowed.
    ``precision`` ``auto`` picks bf16 on CPUs that run it natively, fp16/bf16 on GPUs.
    ``download`` None allows it unless :func:`downloads_allowed` says no; ``announce`` is
    told what a download fetches before it starts.
    Raises :class:`WeightsMissing` (missing) or :class:`WeightsInvalid` (unusable file).
    """
    import torchvision.models as tvm

    _weights_enum(name)  # validates the name
    if download is None:
        download = downloads_allowed()
    path = weights_from_env(weights)
    if path is not None:
        state, key = _state_dict_from_file(path), model_key(name, path)
    else:
        state, tag = _torchvision_state_dict(name, download, announce)
        key = f"{name}:{tag}"
    model = tvm.get_model(name, weights=None)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError:  # tensors of the wrong shape: another architecture
        missing, unexpected = ["shapes"], []
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise WeightsInvalid(
            f"{path or 'The weights'} do not fit {name}; pass a {name} state-dict file or "
            f"choose the matching --model.",
            expected=str(path),
        )
    model.fc = nn.Identity()
    return Backbone(module=model, key=key, device=resolve_device(device), precision=precision)


# -- weights chosen in the app ----------------------------------
def validate_weights(path: str | Path, model_name: str = DEFAULT_MODEL) -> None:
    """Check that ``path`` is a state dict of ``model_name`` before anything uses it.

    Loads with ``weights_only=True`` (no code runs) and compares names and shapes with
    the model's own; raises :class:`WeightsInvalid` with one sentence when it does not fit.
    """
    import torchvision.models as tvm

    from photosim.core.errors import WeightsInvalid, shown

    path = Path(path).expanduser()
    name = shown(path.name)
    try:
        state = _state_dict_from_file(path)
    except WeightsMissing:
        raise WeightsInvalid(
            f"{name} is not a PyTorch weights file; choose a {model_name} state-dict file "
            f"(.pth) saved with torch.save(model.state_dict(), FILE).",
            expected=str(path),
        ) from None
    _weights_enum(model_name)  # a known model name
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
            expected=str(path),
        )

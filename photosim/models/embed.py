"""Turn photos into vectors with a torchvision ResNet, at the device's default precision.

A :class:`Backbone` is a module that maps a normalised image batch to pooled
features, plus the input size and a ``key`` naming the model and weights that
made a vector (vectors of different keys never mix; precision is not part of
the key). Tests inject tiny ones. Importing this module imports torch: code
that needs no model imports :mod:`photosim.models.registry` instead.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image
from torch import nn

from photosim.core.errors import PhotosimError, WeightsInvalid
from photosim.core.events import WeightsDownload
from photosim.models.registry import (  # re-exported: the torch-free names
    DEFAULT_MODEL,
    MODELS,
    PRECISIONS,
    downloads_allowed,
    file_digest,
    model_key,
    weights_enum,
    weights_from_env,
)
from photosim.models.weights import state_dict_from_file, torchvision_state_dict

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
    """``auto`` to the device's default: fp32 on a CPU, fp16/bf16 on a GPU.

    A CPU's default is fp32 even where bf16 is native (AMX, AVX512-BF16; about 2x faster):
    on the trained test network over the shared photos, torch bf16 keeps the same top-5 for
    only 86% of queries (cosine mean 0.9988, min 0.991) against the 98% people could not
    tell from fp32 (README "Backends"); bf16 stays an explicit choice. GPUs keep half
    precision (not measured against that bar here: no GPU was lent).
    """
    if precision not in PRECISIONS:
        raise PhotosimError(f"Unknown precision {precision!r}: use {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    return "fp32"


@dataclass
class Backbone:
    """A feature extractor: ``module(batch) -> (N, D)`` features, before normalisation.

    ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) is the arithmetic of the
    forward pass; vectors are always float32 and L2-normalised. ``backend`` names the runtime
    (photosim.models.backends compiles one for CPUs).
    """

    backend: ClassVar[str] = "torch"
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

    def _autocast(self) -> AbstractContextManager[object]:
        dtype = _DTYPES.get(self.precision)
        if dtype is None or self.device.type == "mps":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def take_notice(self) -> str | None:
        """A sentence for people about how this model now runs, once: torch has none
        (a compiled backbone's fallback to torch has, photosim.models.backends)."""
        return None

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
    ``precision`` ``auto`` is fp32 on a CPU, fp16/bf16 on a GPU (:func:`resolve_precision`).
    ``download`` None allows it unless :func:`downloads_allowed` says no (PHOTOSIM_OFFLINE);
    ``announce`` is told what a download fetches before it starts.
    Raises :class:`WeightsMissing` (missing) or :class:`WeightsInvalid` (unusable file).
    """
    import torchvision.models as tvm

    weights_enum(name)  # validates the name
    if download is None:
        download = downloads_allowed()
    path = weights_from_env(weights)
    if path is not None:
        state, key = state_dict_from_file(path, name), model_key(name, path)
    else:
        state, tag = torchvision_state_dict(name, download, announce)
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
            expected=str(path), model=name, chosen=path is not None,
        )  # fmt: skip
    model.fc = nn.Identity()
    return Backbone(module=model, key=key, device=resolve_device(device), precision=precision)

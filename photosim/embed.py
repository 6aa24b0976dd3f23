"""Turn photos into vectors with a torchvision ResNet.

A :class:`Backbone` is a module that maps a normalised image batch to pooled
features, plus the input size and a ``key`` naming the model and weights that
made a vector (vectors of different keys never mix). Tests inject tiny ones.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from photosim.errors import PhotosimError, WeightsUnavailable

MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
DEFAULT_MODEL = "resnet50"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Letterbox fill: the ImageNet mean, which normalises to zero.
_FILL = tuple(round(m * 255) for m in IMAGENET_MEAN)


@dataclass
class Backbone:
    """A feature extractor: ``module(batch) -> (N, D)`` features, before normalisation."""

    module: nn.Module
    key: str
    input_size: int = 224
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        self.module.eval()
        self._mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Letterbox an RGB image into a square uint8 array: the whole frame, no crop."""
        return letterbox(image, self.input_size)

    def embed(self, batch: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """L2-normalised float32 vectors for prepared (H, W, 3) uint8 images."""
        array = np.ascontiguousarray(
            np.stack(list(batch)) if not isinstance(batch, np.ndarray) else batch
        )
        x = torch.from_numpy(array).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        if self.device.type in ("cuda", "cpu"):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(self.device):
            features = self.module(x)
        features = torch.flatten(features.float(), 1)
        features = nn.functional.normalize(features, dim=1)
        return features.cpu().numpy().astype(np.float32, copy=False)

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


def _autocast(device: torch.device):
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return nullcontext()


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


def _weights_enum(name: str):
    import torchvision.models as tvm

    if name not in MODELS:
        raise PhotosimError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    return tvm.get_model_weights(name).DEFAULT


def expected_weights_file(name: str = DEFAULT_MODEL) -> Path:
    """Where torchvision's cache keeps the pretrained weights of ``name``."""
    url = _weights_enum(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def weights_from_env(weights: str | Path | None) -> Path | None:
    """The weights file given explicitly, else by PHOTOSIM_WEIGHTS, else None."""
    value = weights or os.environ.get("PHOTOSIM_WEIGHTS")
    return Path(value).expanduser() if value else None


def missing_weights_message(name: str) -> str:
    expected = expected_weights_file(name)
    return (
        f"photosim needs the pretrained {name} weights and could not get them: they are not "
        f"in torchvision's cache and could not be downloaded (no network?). The file expected "
        f"is {expected}. Either run photosim once with an internet connection so torchvision "
        f"downloads it there, or pass a local {name} state-dict file with --weights FILE "
        f"(or set PHOTOSIM_WEIGHTS=FILE)."
    )


def file_digest(path: Path) -> str:
    """Hex blake2b of a whole file (used to tell weights files apart)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=8)).hexdigest()


def _state_dict_from_file(path: Path) -> dict:
    if not path.is_file():
        raise WeightsUnavailable(
            f"The weights file {path} does not exist; pass an existing ResNet state-dict file "
            f"with --weights FILE.",
            expected=str(path),
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(
            f"{path} could not be read as a PyTorch state dict ({exc.__class__.__name__}); "
            f"pass a file saved with torch.save(model.state_dict(), FILE).",
            expected=str(path),
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailable(
            f"{path} holds no state dict; save one with torch.save(model.state_dict(), FILE)."
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def _torchvision_state_dict(name: str, download: bool) -> tuple[dict, str]:
    weights = _weights_enum(name)
    cached = expected_weights_file(name)
    if not cached.is_file() and not download:
        raise WeightsUnavailable(missing_weights_message(name), expected=str(cached))
    try:
        state = weights.get_state_dict(progress=not cached.is_file(), check_hash=False)
    except Exception:
        raise WeightsUnavailable(missing_weights_message(name), expected=str(cached)) from None
    return state, weights.name


def model_key(name: str = DEFAULT_MODEL, weights: str | Path | None = None) -> str:
    """The tag stored with every vector: model name plus which weights made it."""
    path = weights_from_env(weights)
    if path is None:
        return f"{name}:{_weights_enum(name).name}"
    if not path.is_file():
        raise WeightsUnavailable(
            f"The weights file {path} does not exist; pass an existing {name} state-dict file "
            f"with --weights FILE.",
            expected=str(path),
        )
    return f"{name}:file-{file_digest(path)}"


def load_backbone(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    device: str = "auto",
    download: bool | None = None,
) -> Backbone:
    """Build a pretrained ResNet feature extractor.

    ``weights`` (or PHOTOSIM_WEIGHTS) names a local state-dict file; otherwise the
    torchvision weights come from its cache (TORCH_HOME), downloaded once if allowed.
    Raises :class:`WeightsUnavailable` with a message for people when there are none.
    """
    import torchvision.models as tvm

    _weights_enum(name)  # validates the name
    if download is None:
        download = not os.environ.get("PHOTOSIM_NO_DOWNLOAD")
    path = weights_from_env(weights)
    if path is not None:
        state, key = _state_dict_from_file(path), model_key(name, path)
    else:
        state, tag = _torchvision_state_dict(name, download)
        key = f"{name}:{tag}"
    model = tvm.get_model(name, weights=None)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError:  # tensors of the wrong shape: another architecture
        missing, unexpected = ["shapes"], []
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise WeightsUnavailable(
            f"{path or 'The weights'} do not fit {name}; pass a {name} state-dict file or "
            f"choose the matching --model.",
            expected=str(path),
        )
    model.fc = nn.Identity()
    dev = resolve_device(device)
    model = model.to(dev)
    if dev.type in ("cuda", "cpu"):
        model = model.to(memory_format=torch.channels_last)
    return Backbone(module=model, key=key, device=dev)


# -- (desktop helper) weights chosen in the app ----------------------------------
def validate_weights(path: str | Path, model_name: str = DEFAULT_MODEL) -> None:
    """Check that ``path`` is a state dict of ``model_name`` before anything uses it.

    Loads with ``weights_only=True`` (no code runs) and compares names and shapes with
    the model's own; raises :class:`WeightsInvalid` with one sentence when it does not fit.
    """
    import torchvision.models as tvm

    from photosim.errors import WeightsInvalid, shown

    path = Path(path).expanduser()
    name = shown(path.name)
    try:
        state = _state_dict_from_file(path)
    except WeightsUnavailable:
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

"""What names a model and its vectors, without importing torch.

Answers that need no model (``photosim info``, ``similar`` on a library photo,
the app's browsing) import only this module, so they never pay torch's ~1.5 s
import. :mod:`photosim.models.embed` re-exports these names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

# Each model and torchvision's default weights for it: the weights' name (part of the model
# key) and where torchvision downloads them. Data, so that naming a model needs no torch;
# tests/test_backends.py checks it against torchvision.
WEIGHTS: dict[str, tuple[str, str]] = {
    "resnet18": ("IMAGENET1K_V1", "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    "resnet34": ("IMAGENET1K_V1", "https://download.pytorch.org/models/resnet34-b627a593.pth"),
    "resnet50": ("IMAGENET1K_V2", "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"),
    "resnet101": ("IMAGENET1K_V2", "https://download.pytorch.org/models/resnet101-cd907fc2.pth"),
    "resnet152": ("IMAGENET1K_V2", "https://download.pytorch.org/models/resnet152-f82ba261.pth"),
}
MODELS = tuple(WEIGHTS)
DEFAULT_MODEL = "resnet50"
# Numeric precision of the model's arithmetic; vectors of all of them share one model key.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Where the network runs on a CPU (photosim.models.backends): auto picks the fastest installed
# runtime whose vectors agree with torch's; a GPU always runs torch.
BACKENDS = ("auto", "torch", "openvino")


def runtime_version(name: str = "openvino") -> str | None:
    """The installed version of a runtime's package (BACKENDS), or None when it is not."""
    import importlib.metadata  # ~10 ms: only when a runtime is chosen

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_threads_from_env() -> int | None:
    """Threads for the model from PHOTOSIM_MODEL_THREADS (or the older PHOTOSIM_TORCH_THREADS),
    else None (the thread plan decides): for measuring plans (bench/scan.py)."""
    for name in ("PHOTOSIM_MODEL_THREADS", "PHOTOSIM_TORCH_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def downloads_allowed() -> bool:
    """False when the user forbade downloads: ``PHOTOSIM_OFFLINE=1`` (or the older
    ``PHOTOSIM_NO_DOWNLOAD``); the CLI's ``--offline`` sets the former."""
    return not any(
        os.environ.get(name, "").strip() not in ("", "0")
        for name in ("PHOTOSIM_OFFLINE", "PHOTOSIM_NO_DOWNLOAD")
    )


def weights_from_env(weights: str | os.PathLike | None) -> Path | None:
    """The weights file given explicitly, else by PHOTOSIM_WEIGHTS, else None."""
    value = weights or os.environ.get("PHOTOSIM_WEIGHTS")
    return Path(value).expanduser() if value else None


def file_digest(path: Path) -> str:
    """Hex blake2b of a whole file (used to tell weights files apart)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=8)).hexdigest()


def weights_enum(name: str) -> Any:
    """torchvision's default weights entry of ``name`` (its url and tag); imports torchvision."""
    from photosim.core.errors import PhotosimError

    if name not in MODELS:
        raise PhotosimError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    import torchvision.models as tvm

    return tvm.get_model_weights(name).DEFAULT


def model_key(name: str = DEFAULT_MODEL, weights: str | os.PathLike | None = None) -> str:
    """The tag stored with every vector: model name plus which weights made it.

    Precision is not part of it: fp32, bf16 and fp16 vectors agree (cosine > 0.999).
    """
    from photosim.core.errors import PhotosimError, WeightsMissing

    if name not in WEIGHTS:
        raise PhotosimError(f"Unknown model {name!r}: choose one of {', '.join(MODELS)}.")
    path = weights_from_env(weights)
    if path is None:
        return f"{name}:{WEIGHTS[name][0]}"
    if not path.is_file():
        raise WeightsMissing(
            f"The weights file {path} does not exist; pass an existing {name} state-dict file "
            f"with --weights FILE.",
            expected=str(path), model=name, chosen=True,
        )  # fmt: skip
    return f"{name}:file-{file_digest(path)}"

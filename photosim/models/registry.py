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

MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
DEFAULT_MODEL = "resnet50"
# Numeric precision of the model's arithmetic; vectors of all of them share one model key.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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
    Only torchvision's own weights need torchvision (to name them), which scans load anyway.
    """
    from photosim.core.errors import WeightsMissing

    path = weights_from_env(weights)
    if path is None:
        return f"{name}:{weights_enum(name).name}"
    if not path.is_file():
        raise WeightsMissing(
            f"The weights file {path} does not exist; pass an existing {name} state-dict file "
            f"with --weights FILE.",
            expected=str(path),
        )
    return f"{name}:file-{file_digest(path)}"

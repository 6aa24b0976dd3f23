"""What embeds photos, as the scan, the queries and the duplicates use it: a Protocol.

The torch :class:`~photosim.models.embed.Backbone` and the OpenVINO
:class:`~photosim.models.backends.CompiledBackbone` both fit it; a text-image model's image
side would too. Torch-free: importing this imports no model runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image


class Embedder(Protocol):
    """Turns prepared images into L2-normalised float32 vectors of one model (``key``)."""

    key: str  # the model's tag: vectors of one key are comparable
    input_size: int  # the side of the square images ``prepare`` makes
    device: torch.device

    @property
    def precision(self) -> str:
        """The arithmetic the vectors are computed in (``fp32``, ``bf16``, ``fp16``)."""
        ...

    @property
    def backend(self) -> str:
        """The runtime that computes the vectors (``torch``, ``openvino``)."""
        ...

    @property
    def dim(self) -> int:
        """The length of the vectors."""
        ...

    def prepare(self, image: Image.Image) -> np.ndarray:
        """An RGB image letterboxed into the model's square uint8 input."""
        ...

    def embed(self, batch: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(N, dim) vectors of ``prepare``'d images."""
        ...

    def batch_size(self, requested: int) -> int:
        """The batch to run when ``requested`` is asked for (a GPU may take more)."""
        ...

    def to_cpu(self) -> None:
        """Move to the CPU, after a GPU ran out of memory."""
        ...

    def take_notice(self) -> str | None:
        """A sentence for people about how the model now runs (a compiled runtime that failed
        and fell back to torch), once; None when there is none."""
        ...

"""The model that embeds a library's photos: chosen at opening (else the one its vectors were
made with), loaded once on its backend, released after a scan, recorded in the library's meta.

Kept apart from :class:`~photosim.library.facade.Library` so that what a query needs (the key
of the stored vectors) never imports torch, and switching model, device or backend is one
object's state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core import paths
from photosim.core.errors import WeightsMissing
from photosim.core.events import ModelInUse, WeightsDownload
from photosim.models.registry import DEFAULT_MODEL, model_key
from photosim.storage.store import Store

if TYPE_CHECKING:  # torch is imported only when a photo must be embedded
    from photosim.models.embed import Backbone
    from photosim.models.embedder import Embedder


class LibraryModel:
    """Which model embeds a library's photos, and the loaded one (see module docstring).

    ``name`` and ``weights``: the model asked for, else the library's (its weights file is
    reused only for the same model). ``download``: may missing torchvision weights be fetched
    (None: unless PHOTOSIM_OFFLINE); ``announce`` hears of a download first. ``backend`` (auto,
    torch, openvino: photosim.models.backends) is where the model runs on a CPU; None is auto
    (or PHOTOSIM_BACKEND) for a model loaded here, while an injected ``backbone`` runs as given.
    """

    def __init__(
        self,
        store: Store,
        *,
        model: str | None = None,
        weights: Path | str | None = None,
        device: str = "auto",
        backbone: Backbone | None = None,
        precision: str = "auto",
        download: bool | None = None,
        announce: Callable[[WeightsDownload], None] | None = None,
        backend: str | None = None,
    ) -> None:
        self.store = store
        self.asked = model  # a query for another model than the vectors': ModelMismatch
        self._source = backbone  # the torch backbone
        self._injected = backbone is not None  # the caller's: never released here
        self._backbone: Embedder | None = None  # what embeds: see backend
        self._lock = threading.Lock()
        self.backend = backend or ("torch" if backbone is not None else "auto")
        self.backend_notice: str | None = None  # why the backend asked for is not the one running
        self._ran_on: str | None = None  # "backend precision" of the model released last
        self.device = device
        self.precision = precision  # auto, fp32, bf16, fp16: see photosim.models.embed
        self.download, self.announce = download, announce
        stored_model = store.get_meta("model_name")
        self.name = model or stored_model or DEFAULT_MODEL
        # The weights file of the last scan is reused only for the same model.
        same_model = self.name == (stored_model or DEFAULT_MODEL)
        self.weights = weights or (store.get_meta("weights") if same_model else None) or None
        self._key = backbone.key if backbone else None

    @property
    def key(self) -> str:
        """The tag of the vectors this library uses now (model + weights)."""
        if self._key is None:
            self._key = model_key(self.name, self.weights)
        return self._key

    def current_key(self) -> str | None:
        """The model tag of the last scan (what queries use), without loading anything."""
        if self._key is not None:
            return self._key
        return self.store.get_meta("model_key")

    def ensure_backbone(self) -> Embedder:
        """Load the model once, on its backend; raises WeightsMissing with a message for
        people. A backend that cannot run leaves torch running and says why in ``backend_notice``."""
        with self._lock:
            if self._backbone is None:
                from photosim.models import backends

                choice = backends.choose(self._torch_backbone(), self.backend, self.precision)
                self._backbone, self.backend_notice = choice.backbone, choice.notice
                self._key = self._backbone.key
            return self._backbone

    def release(self) -> bool:
        """Let go of the model loaded here (not one handed in), its memory back to the system:
        a scan ends with this (1.4 GB stayed resident in the app before). The next embedding
        loads it again. True when one was released."""
        with self._lock:
            if self._injected or (self._backbone is None and self._source is None):
                return False
            if (running := self._backbone) is not None:  # still said after the release
                self._ran_on = f"{running.backend} {running.precision}"
            self._backbone, self._source = None, None
        import gc

        gc.collect()
        paths.return_free_memory()
        return True

    def _torch_backbone(self) -> Backbone:
        if self._source is None:
            from photosim.models import embed  # torch loads only to embed

            self._source = embed.load_backbone(
                self.name, self.weights, self.device, download=self.download,
                precision=self.precision, announce=self.announce)  # fmt: skip
        return self._source

    def preparing_step(self) -> str | None:
        """Words for a slow first-time step :meth:`ensure_backbone` is about to take (converting
        the model for this CPU's runtime), or None when the model is ready or quick to load."""
        with self._lock:
            if self._backbone is not None:
                return None
            from photosim.models import backends

            return backends.pending(self._torch_backbone(), self.backend, self.precision)

    # -- what a scan records ---------------------------------------------------
    def scan_key(self) -> str:
        """The key a scan files vectors under. When the library's own weights file has gone
        (moved, deleted), the key its vectors were made with: the scan still lists the photos
        and says the weights are missing (as without any weights), instead of stopping."""
        try:
            return self.key
        except WeightsMissing:
            stored, made_with = self.store.get_meta("model_key"), self.store.get_meta("weights")
            if not (stored and made_with and self.weights) or made_with != str(
                Path(self.weights).expanduser().resolve()
            ):
                raise  # another file asked for (a typo in --weights): said at once
            return stored

    def backbone_for_scan(self) -> Embedder:
        """The loaded model, recorded as the one making this library's vectors."""
        backbone = self.ensure_backbone()
        self.record(backbone.key)
        self.store.set_meta(backend=f"{backbone.backend} {backbone.precision}")
        return backbone

    def record(self, key: str) -> None:
        """The model and weights that make this library's vectors (one transaction)."""
        weights = str(Path(self.weights).resolve()) if self.weights else None
        self.store.set_meta(model_key=key, model_name=self.name, weights=weights)

    def record_backend(self) -> None:
        """The runtime the loaded model runs on (after a scan: one that failed mid-scan is torch)."""
        if (running := self._backbone) is not None:
            self.store.set_meta(backend=f"{running.backend} {running.precision}")

    # -- what runs, and switching it ---------------------------------------------
    def running_backend(self) -> str | None:
        """Where the model runs ("openvino bf16", "torch fp32"): the loaded model's, else the
        one the last scan ran on (None before any)."""
        backbone = self._backbone
        if backbone is not None:
            return f"{backbone.backend} {backbone.precision}"
        if self._ran_on:  # released when the scan ended
            return self._ran_on
        return self.store.get_meta("backend")

    def in_use(self) -> ModelInUse:
        """Which model, weights file (path, size), device and backend embed this library's
        photos, for About and Help > Model Weights. Reads the disk and imports torch (to find
        torchvision's cache) unless a model was handed in: call it off a GUI thread."""
        backbone = self._backbone or self._source  # the source: loaded, or handed in
        weights: Path | None = None
        size: int | None = None
        if not self._injected:
            from photosim.models.weights import weights_in_use

            weights, size = weights_in_use(self.name, self.weights)
        key = backbone.key if backbone is not None else self.current_key()
        device = str(backbone.device) if backbone is not None else self.device
        return ModelInUse(
            model=self.name, key=key, weights=weights, weights_bytes=size,
            chosen=bool(self.weights), injected=self._injected, loaded=backbone is not None,
            device=device, backend=self.running_backend(), backend_asked=self.backend,
            backend_notice=self.backend_notice,
        )  # fmt: skip

    def set_weights(
        self, weights: Path | str | None, model: str | None = None, *, check: bool = True
    ) -> None:
        """Use other weights (or model) from now on; the next scan embeds what lacks a vector.

        A weights file is validated first (``WeightsInvalid``, nothing changes); None means
        torchvision's cache. ``check=False`` skips the check (the caller has just made it).
        """
        model = model or self.name
        if weights is not None:
            if check:
                from photosim.models.weights import validate_weights  # torch: only now

                validate_weights(weights, model)
            weights = str(Path(weights).expanduser().resolve())
        with self._lock:
            self.name, self.weights = model, weights
            self._backbone, self._source, self._key = None, None, None
            self.asked = None  # a model asked for at opening no longer applies

    def set_device(self, device: str) -> None:
        """Embed on another device from now on (vectors stay valid: the key has no device)."""
        with self._lock:
            if device != self.device:
                self.device, self._backbone, self._source = device, None, None

    def set_backend(self, backend: str) -> None:
        """Run the model on another backend from now on (vectors agree: the key is the same)."""
        with self._lock:
            if backend != self.backend:
                self.backend, self._backbone = backend, None

"""Where a model runs on a CPU: PyTorch eager, or the same network compiled by OpenVINO.

The torch :class:`~photosim.models.embed.Backbone` stays the source of truth (weights,
torchvision, the GPU path). On a CPU, :func:`choose` converts its module once per model key,
weights, precision and runtime version to OpenVINO (pixels in, features out: the
normalisation is part of the compiled graph), caches the conversion beside torch's weights
cache, and falls back to torch with one sentence for people when the runtime is missing or
fails. The compiled network is checked against torch fp32 when it is built; README
"Backends" has the measured speed and agreement.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from photosim.core.errors import PhotosimError
from photosim.models.embed import Backbone
from photosim.models.registry import BACKENDS, model_threads_from_env, runtime_version

if TYPE_CHECKING:
    import openvino as ov

log = logging.getLogger(__name__)

# The compiled network's vectors must agree this well with torch fp32 on the probe images
# when it is built, or torch runs instead. A guard against a broken conversion, not the
# agreement measured on real photos (bench/backends.py, README): bf16 gives 0.998-0.9999.
BUILD_AGREEMENT = 0.98
_FORMAT = 1  # the layout of a cache entry; bump to rebuild every cached conversion
_OV_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


@dataclass(frozen=True)
class Choice:
    """What :func:`choose` decided: the backbone to embed with, and a sentence to show or None."""

    backbone: Backbone | CompiledBackbone
    notice: str | None = None


def requested(backend: str | None) -> str:
    """The backend asked for: ``backend``, unless it is None or ``auto`` and PHOTOSIM_BACKEND
    names one (a user's standing choice, e.g. ``torch`` to never convert)."""
    if backend and backend != "auto":
        return backend
    return os.environ.get("PHOTOSIM_BACKEND") or "auto"


def cache_root() -> Path:
    """Where conversions are kept: beside torchvision's weights cache (TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "photosim-openvino"


def resolve_precision(precision: str) -> str:
    """The compiled network's precision: ``auto`` is fp32, the fastest people cannot tell apart.

    Measured on the trained EfficientNet-Lite0 over the 434 shared photos (holidays and the
    classic folders) against torch fp32 (bench/backends.py, README "Backends"), the bar being
    cosine mean >= 0.998, min >= 0.99 and the same top-5 (ties within 0.002 aside) for
    >= 98% of queries: OpenVINO fp32 1.0000 / 1.0000 / 100%; fp16 0.99997 / 0.99986 / 100%
    but slower than fp32 on CPUs without AMX-FP16; bf16 (2-5x faster with AMX) 0.9982 /
    0.9895 / 83%, short of the bar like torch's own bf16 (86%). bf16 and fp16 are choices.
    """
    if precision not in _OV_PRECISIONS and precision != "auto":
        raise PhotosimError(f"Unknown precision {precision!r}: use auto, fp32, bf16 or fp16.")
    return "fp32" if precision == "auto" else precision


# Digests already made, per module: (what its tensors were, digest). Asking whether a
# conversion is pending and then choosing it hashes ~100 MB of resnet50 weights once, not twice.
_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tensors_state(module: torch.nn.Module) -> tuple:
    """Which tensors the module holds and their in-place version counters: changes when
    weights are loaded or edited in place, costs no hashing."""
    return tuple((name, t.data_ptr(), t._version, t.dtype, tuple(t.shape))
                 for name, t in module.state_dict(keep_vars=True).items())  # fmt: skip


def weights_digest(backbone: Backbone) -> str:
    """A digest of the network itself: its class, input and every tensor of its state
    (remembered per module until a tensor changes)."""
    module = backbone.module
    state = (_tensors_state(module), backbone.input_size, backbone.mean, backbone.std)
    known = _DIGESTS.get(module)
    if known is not None and known[0] == state:
        return known[1]
    digest = _weights_digest(backbone)
    _DIGESTS[module] = (state, digest)
    return digest


def _weights_digest(backbone: Backbone) -> str:
    h = hashlib.blake2b(digest_size=12)
    module = backbone.module
    h.update(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    h.update(repr((backbone.input_size, backbone.mean, backbone.std)).encode())
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        data = tensor.detach().cpu().contiguous()
        h.update(str((data.dtype, tuple(data.shape))).encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class _Entry:
    """One cached conversion: a folder named by everything that makes it."""

    folder: Path
    manifest: dict

    @classmethod
    def of(cls, backbone: Backbone, precision: str, root: Path, version: str) -> _Entry:
        weights = weights_digest(backbone)
        manifest = {"format": _FORMAT, "key": backbone.key, "weights": weights,
                    "precision": precision, "runtime": f"openvino {version}"}  # fmt: skip
        ident = hashlib.blake2b(json.dumps(manifest, sort_keys=True).encode(), digest_size=8)
        return cls(root / f"{_slug(backbone.key)}-{precision}-{ident.hexdigest()}", manifest)

    @property
    def xml(self) -> Path:
        return self.folder / "model.xml"

    @property
    def bin(self) -> Path:
        return self.folder / "model.bin"

    def valid(self) -> bool:
        """The folder holds this conversion, whole: manifest matches and the files' digests."""
        try:
            stored = json.loads((self.folder / "manifest.json").read_text())
            return {k: stored.get(k) for k in self.manifest} == self.manifest and all(
                stored.get(p.name) == _file_digest(p) for p in (self.xml, self.bin)
            )
        except (OSError, ValueError, AttributeError):
            return False


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:60]


def _file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def pending(backbone: object, backend: str | None = "auto", precision: str = "auto",
            root: Path | None = None) -> str | None:  # fmt: skip
    """Words for the conversion :func:`choose` is about to run, or None: cached or not needed."""
    if _target(backbone, backend) != "openvino" or (version := runtime_version()) is None:
        return None
    assert isinstance(backbone, Backbone)
    entry = _Entry.of(backbone, resolve_precision(precision), root or cache_root(), version)
    if entry.valid():
        return None
    return (
        f"Preparing the model for this CPU with OpenVINO (once for this model; "
        f"about {_expected_seconds(backbone)} s)"
    )


def _expected_seconds(backbone: Backbone) -> int:
    params = sum(p.numel() for p in backbone.module.parameters())
    return max(5, round(params / 2.5e6))  # measured: resnet50 (25M parameters) ~8 s on 2 cores


def _target(backbone: object, backend: str | None) -> str:
    """The runtime ``backend`` means for this backbone: torch off the CPU or for non-modules.

    ``auto`` compiles on every CPU: at the default precision (fp32 on both, the one that
    agrees with fp32 eager) OpenVINO gives the same vectors faster than torch, and at an
    explicit bf16 or fp16 it is the faster of the two as well (README "Backends").
    """
    backend = requested(backend)
    if backend not in BACKENDS:
        raise PhotosimError(f"Unknown backend {backend!r}: use {', '.join(BACKENDS)}.")
    if backend == "torch" or not isinstance(backbone, Backbone):
        return "torch"
    if backbone.device.type != "cpu":
        return "torch"  # a GPU runs torch: the runtimes here are for CPUs
    return "openvino"


def choose(
    backbone: Backbone,
    backend: str | None = "auto",
    precision: str = "auto",
    *,
    root: Path | None = None,
    threads: int | None = None,
) -> Choice:
    """The backbone to embed with: ``backbone`` compiled by OpenVINO where ``backend`` allows.

    A missing runtime, a failed conversion or one that does not agree with torch gives
    ``backbone`` itself (torch) and a notice; a damaged cache entry is rebuilt.
    """
    if _target(backbone, backend) == "torch":
        return Choice(backbone)
    version = runtime_version()
    if version is None:
        return Choice(backbone, "OpenVINO is not installed, so photos are embedded with "
                                "PyTorch (slower); install it with: pip install openvino")  # fmt: skip
    ov_precision = resolve_precision(precision)
    entry = _Entry.of(backbone, ov_precision, root or cache_root(), version)
    try:
        return Choice(_load_or_build(backbone, entry, ov_precision, threads))
    except Exception as exc:
        log.warning("OpenVINO could not run %s", backbone.key, exc_info=True)
        return Choice(backbone, f"OpenVINO could not run this model ({_reason(exc)}), so photos "
                                f"are embedded with PyTorch (slower).")  # fmt: skip


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _load_or_build(backbone: Backbone, entry: _Entry, precision: str,
                   threads: int | None) -> CompiledBackbone:  # fmt: skip
    import openvino as ov

    core = ov.Core()
    if entry.valid():
        try:
            model = core.read_model(entry.xml)
            return CompiledBackbone(backbone, _compile(core, model, precision, threads), precision)
        except Exception:
            log.warning("cached conversion %s does not load: rebuilding", entry.folder,
                        exc_info=True)  # fmt: skip
    model = _convert(backbone)
    compiled = CompiledBackbone(backbone, _compile(core, model, precision, threads), precision)
    agreement = _agreement(backbone, compiled)
    if agreement < BUILD_AGREEMENT:
        raise PhotosimError(f"its vectors differ from PyTorch's (cosine {agreement:.3f})")
    _save(ov, model, entry, agreement)
    return compiled


def _convert(backbone: Backbone) -> ov.Model:
    """The backbone's module as an OpenVINO model taking (N, S, S, 3) uint8 pixels."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    size = backbone.input_size
    module = backbone.module.float().eval()
    example = torch.zeros(1, 3, size, size)
    with torch.inference_mode(False), torch.no_grad():
        model = ov.convert_model(module, example_input=example, input=[(-1, 3, size, size)])
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    pre = ppp.input().preprocess()
    pre.convert_element_type(ov.Type.f32)
    pre.mean([m * 255.0 for m in backbone.mean]).scale([s * 255.0 for s in backbone.std])
    ppp.output().tensor().set_element_type(ov.Type.f32)
    return ppp.build()


def _compile(
    core: ov.Core, model: ov.Model, precision: str, threads: int | None
) -> ov.CompiledModel:
    """Compile for this CPU: one stream of ``threads`` unpinned threads (the decoders share
    the cores; pinned threads would fight them), at ``precision``."""
    config = {
        "INFERENCE_PRECISION_HINT": _OV_PRECISIONS[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": str(threads or model_threads_from_env() or os.cpu_count() or 1),
        "ENABLE_CPU_PINNING": "NO",
    }
    return core.compile_model(model, "CPU", config)


def probe_images(size: int, count: int = 4) -> np.ndarray:
    """Photo-like test images (smooth colour fields with edges and texture), fixed by seed."""
    rng = np.random.default_rng(20261204)
    out = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
        noise = rng.normal(0, 12, (size, size, 3))
        out.append(np.clip(np.asarray(image, np.float64) + noise, 0, 255).astype(np.uint8))
    return np.stack(out)


def _agreement(backbone: Backbone, compiled: CompiledBackbone) -> float:
    """Lowest cosine between the compiled network's vectors and torch fp32's on the probes."""
    images = probe_images(backbone.input_size)
    precision = backbone.precision
    backbone.precision = "fp32"
    try:
        reference = backbone.embed(images)
    finally:
        backbone.precision = precision
    return float((reference * compiled.embed(images)).sum(axis=1).min())


def _save(ov: ModuleType, model: ov.Model, entry: _Entry, agreement: float) -> None:
    """Write the conversion to a private folder, then move it into place in one rename;
    older conversions of the same model (other weights, runtime) are removed."""
    entry.folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.folder.with_name(f".{entry.folder.name}.{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        ov.save_model(model, tmp / "model.xml", compress_to_fp16=False)
        manifest = {**entry.manifest, "agreement": round(agreement, 5),
                    **{p: _file_digest(tmp / p) for p in ("model.xml", "model.bin")}}  # fmt: skip
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        shutil.rmtree(entry.folder, ignore_errors=True)  # a damaged one
        os.replace(tmp, entry.folder)
    except OSError:
        log.warning("could not cache the conversion in %s", entry.folder, exc_info=True)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    prefix = f"{_slug(entry.manifest['key'])}-{entry.manifest['precision']}-"
    for old in entry.folder.parent.glob(f"{prefix}*"):
        if old != entry.folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


class CompiledBackbone:
    """A :class:`Backbone` whose forward pass runs in OpenVINO: same interface, same vectors.

    ``source`` is the torch backbone it was compiled from (it still prepares the images).
    ``compiled`` is the runtime's compiled model (anything with ``create_infer_request()``).
    When the runtime raises while embedding, the batch and every later one run on
    ``source`` instead (``backend`` then says torch) and :meth:`take_notice` has one
    sentence for people: a scan continues, no photo is lost or embedded twice.
    """

    def __init__(self, source: Backbone, compiled: ov.CompiledModel, precision: str) -> None:
        self.source = source
        self.key = source.key
        self.input_size = source.input_size
        self.device = source.device
        self._precision = precision
        self._compiled = compiled
        self._lock = threading.Lock()  # one infer request, used by one thread at a time
        self._request = compiled.create_infer_request()
        self._failed: str | None = None  # why the runtime stopped; torch runs from then on
        self._notice: str | None = None  # said once, by take_notice

    @property
    def backend(self) -> str:
        return "torch" if self._failed else "openvino"

    @property
    def precision(self) -> str:
        return self.source.precision if self._failed else self._precision

    def prepare(self, image: Image.Image) -> np.ndarray:
        return self.source.prepare(image)

    def embed(self, batch: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """L2-normalised float32 vectors for prepared (H, W, 3) uint8 images."""
        array = np.ascontiguousarray(
            np.stack(list(batch)) if not isinstance(batch, np.ndarray) else batch, np.uint8
        )
        with self._lock:
            if self._failed is None:
                try:
                    result = self._request.infer({0: array})
                    features = np.array(result[0], np.float32).reshape(len(array), -1)
                except Exception as exc:  # a runtime failure must cost speed, not the scan
                    log.warning("OpenVINO failed while embedding: using torch", exc_info=True)
                    self._failed = _reason(exc)
                    self._notice = (f"OpenVINO failed while embedding ({self._failed}), so "
                                    f"the rest is embedded with PyTorch (slower).")  # fmt: skip
        if self._failed is not None:
            return self.source.embed(array)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return features / np.maximum(norms, 1e-12)

    def take_notice(self) -> str | None:
        """The sentence about a fallback to torch, once (None before, and after it was taken)."""
        with self._lock:
            notice, self._notice = self._notice, None
        return notice

    def batch_size(self, requested: int) -> int:
        return requested

    def to_cpu(self) -> None:
        """Already on the CPU (the pipeline calls this after a GPU ran out of memory)."""

    @property
    def dim(self) -> int:
        if not hasattr(self, "_dim"):
            blank = np.zeros((1, self.input_size, self.input_size, 3), np.uint8)
            self._dim = int(self.embed(blank).shape[1])
        return self._dim

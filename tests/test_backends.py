"""The compiled CPU backend: conversion, its cache, fallbacks, and vectors that agree with torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_photo
from torch import nn

from photosim.library.pipeline import model_image
from photosim.models import backends
from photosim.models.backends import CompiledBackbone
from photosim.models.embed import Backbone

needs_openvino = pytest.mark.skipif(
    backends.runtime_version() is None, reason="openvino is not installed"
)


class _SmallNet(nn.Module):
    """Two convolutions and a pooling: parameters whose change must rebuild the conversion."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 16, 3, 2), nn.ReLU())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.body(x), 1), 1)


def _backbone() -> Backbone:
    return Backbone(module=_SmallNet(), key="small:test", input_size=64, precision="fp32")


def _images(n: int = 6, size: int = 64) -> np.ndarray:
    return backends.probe_images(size, n)


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# -- conversion and its cache ----------------------------------------------------------
@needs_openvino
def test_conversion_runs_the_same_network_and_is_cached(tmp_path):
    torch_bb = _backbone()
    assert backends.pending(torch_bb, "openvino", "fp32", root=tmp_path)  # words for the step
    choice = backends.choose(torch_bb, "openvino", "fp32", root=tmp_path)
    assert choice.notice is None and isinstance(choice.backbone, CompiledBackbone)
    compiled = choice.backbone
    assert (compiled.backend, compiled.key, compiled.input_size) == ("openvino", "small:test", 64)
    images = _images()
    cosine = (compiled.embed(images) * torch_bb.embed(images)).sum(axis=1)
    assert cosine.min() > 0.9999
    assert np.allclose(np.linalg.norm(compiled.embed(images), axis=1), 1, atol=1e-5)
    [entry] = _entries(tmp_path)
    assert {p.name for p in entry.iterdir()} == {"model.xml", "model.bin", "manifest.json"}
    assert backends.pending(torch_bb, "openvino", "fp32", root=tmp_path) is None


@needs_openvino
def test_a_cached_conversion_is_reused_without_converting(tmp_path, monkeypatch):
    backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)

    def no_convert(backbone):
        raise AssertionError("converted again")

    monkeypatch.setattr(backends, "_convert", no_convert)
    choice = backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)
    assert choice.notice is None and choice.backbone.backend == "openvino"


@needs_openvino
def test_changed_weights_rebuild_the_conversion_and_drop_the_old_one(tmp_path):
    first = _backbone()
    backends.choose(first, "openvino", "fp32", root=tmp_path)
    [old] = _entries(tmp_path)
    changed = _backbone()
    with torch.no_grad():
        changed.module.body[0].weight.mul_(-1)  # same key, other weights (a fine-tuned file)
    assert backends.pending(changed, "openvino", "fp32", root=tmp_path)
    compiled = backends.choose(changed, "openvino", "fp32", root=tmp_path).backbone
    images = _images()
    assert (compiled.embed(images) * changed.embed(images)).sum(axis=1).min() > 0.9999
    [new] = _entries(tmp_path)
    assert new != old


@needs_openvino
def test_a_runtime_upgrade_rebuilds_the_conversion(tmp_path, monkeypatch):
    backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)
    [old] = _entries(tmp_path)
    monkeypatch.setattr(backends, "runtime_version", lambda name="openvino": "9999.1.0")
    assert backends.pending(_backbone(), "openvino", "fp32", root=tmp_path)
    choice = backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)
    assert choice.notice is None
    [new] = _entries(tmp_path)
    assert new != old and "9999.1.0" in (new / "manifest.json").read_text()


@needs_openvino
def test_precision_is_part_of_the_cache_key(tmp_path):
    backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)
    assert backends.pending(_backbone(), "openvino", "bf16", root=tmp_path)


@needs_openvino
@pytest.mark.parametrize("damage", ["truncate-bin", "garbage-xml", "no-manifest", "flip-bytes"])
def test_a_damaged_cache_is_rebuilt_never_a_crash(tmp_path, damage):
    backends.choose(_backbone(), "openvino", "fp32", root=tmp_path)
    [entry] = _entries(tmp_path)
    if damage == "truncate-bin":
        data = (entry / "model.bin").read_bytes()
        (entry / "model.bin").write_bytes(data[: len(data) // 2])
    elif damage == "garbage-xml":
        (entry / "model.xml").write_text("<net> not a model")
    elif damage == "no-manifest":
        (entry / "manifest.json").unlink()
    else:  # same size, other values: only the digest can tell
        data = bytearray((entry / "model.bin").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (entry / "model.bin").write_bytes(bytes(data))
    torch_bb = _backbone()
    assert backends.pending(torch_bb, "openvino", "fp32", root=tmp_path)
    choice = backends.choose(torch_bb, "openvino", "fp32", root=tmp_path)
    assert choice.notice is None and choice.backbone.backend == "openvino"
    images = _images()
    assert (choice.backbone.embed(images) * torch_bb.embed(images)).sum(axis=1).min() > 0.9999
    assert backends.pending(torch_bb, "openvino", "fp32", root=tmp_path) is None


# -- fallbacks -------------------------------------------------------------------------
def test_a_missing_runtime_falls_back_to_torch_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(backends, "runtime_version", lambda name="openvino": None)
    monkeypatch.delenv("PHOTOSIM_BACKEND")  # auto, as for a user
    torch_bb = _backbone()
    assert backends.pending(torch_bb, "auto", "auto", root=tmp_path) is None
    for asked in ("auto", "openvino"):
        choice = backends.choose(torch_bb, asked, "auto", root=tmp_path)
        assert choice.backbone is torch_bb
        assert "\n" not in choice.notice and "pip install openvino" in choice.notice


@needs_openvino
def test_a_failing_runtime_falls_back_to_torch(tmp_path, monkeypatch):
    def broken(backbone):
        raise RuntimeError("Exception from src/core: unsupported operation")

    monkeypatch.setattr(backends, "_convert", broken)
    torch_bb = _backbone()
    choice = backends.choose(torch_bb, "openvino", "fp32", root=tmp_path)
    assert choice.backbone is torch_bb
    assert "PyTorch" in choice.notice and "\n" not in choice.notice
    assert not _entries(tmp_path) if tmp_path.exists() else True


def test_torch_asked_for_or_a_gpu_or_a_duck_typed_model_never_converts(tmp_path, monkeypatch):
    torch_bb = _backbone()
    assert backends.choose(torch_bb, "torch", root=tmp_path).backbone is torch_bb
    monkeypatch.setenv("PHOTOSIM_BACKEND", "torch")
    assert backends.choose(torch_bb, "auto", root=tmp_path).backbone is torch_bb
    assert backends.choose(torch_bb, None, root=tmp_path).backbone is torch_bb
    torch_bb.device = torch.device("cuda")  # as if on a GPU: never moved, only asked
    monkeypatch.delenv("PHOTOSIM_BACKEND")
    assert backends.choose(torch_bb, "openvino", root=tmp_path).backbone is torch_bb
    with pytest.raises(backends.PhotosimError):
        backends.choose(_backbone(), "tensorrt", root=tmp_path)


# -- the registry names models without torch ---------------------------------------------
def test_registry_names_torchvisions_weights_without_importing_torch():
    import torchvision.models as tvm

    from photosim.models.registry import WEIGHTS

    for name, (tag, url) in WEIGHTS.items():
        weights = tvm.get_model_weights(name).DEFAULT
        assert (weights.name, weights.url) == (tag, url)
    code = ("import sys; from photosim.models.registry import model_key; "
            "assert model_key('resnet50') == 'resnet50:IMAGENET1K_V2'; "
            "assert not {'torch', 'photosim.models.embed'} & set(sys.modules), 'imported'")  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, env={**__import__("os").environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert result.returncode == 0, result.stderr


# -- the library: a step of the scan, info, and the same answers -------------------------
@needs_openvino
def test_first_scan_shows_the_conversion_as_a_step_and_info_names_the_backend(tmp_path):
    from photosim.core.events import ScanKind
    from photosim.library import Library

    folder = tmp_path / "photos"
    for i in range(3):
        write_photo(folder / f"p{i}.jpg", seed=i)
    with Library([folder], tmp_path / "a.db", backbone=_backbone(), backend="openvino") as lib:
        events = list(lib.scan())
        kinds = [e.kind for e in events]
        assert ScanKind.PREPARING in kinds
        assert kinds.index(ScanKind.PREPARING) < kinds.index(ScanKind.EMBEDDED)
        assert lib.info()["backend"].startswith("openvino")
        assert not [e for e in events if e.kind == ScanKind.NOTICE]
    write_photo(folder / "p3.jpg", seed=3)
    with Library([folder], tmp_path / "a.db", backbone=_backbone(), backend="openvino") as lib:
        kinds = [e.kind for e in lib.scan()]
        assert ScanKind.EMBEDDED in kinds and ScanKind.PREPARING not in kinds  # cached
    with Library(db_path=tmp_path / "a.db", read_only=True) as lib:  # as `photosim info` does
        assert lib.info()["backend"].startswith("openvino")


def test_a_missing_runtime_is_one_notice_of_the_scan(tmp_path, monkeypatch):
    from photosim.core.events import ScanKind
    from photosim.library import Library

    monkeypatch.setattr(backends, "runtime_version", lambda name="openvino": None)
    folder = tmp_path / "photos"
    write_photo(folder / "p0.jpg")
    with Library([folder], tmp_path / "a.db", backbone=_backbone(), backend="openvino") as lib:
        events = list(lib.scan())
        notices = [e.reason for e in events if e.kind == ScanKind.NOTICE]
        assert len(notices) == 1 and "pip install openvino" in notices[0]
        assert events[-1].embedded == 1
        assert lib.info()["backend"] == "torch fp32"


def _mixed_folder(root: Path, classic: Path) -> Path:
    """The classic photos, the first holiday scenes with the identical pairs, and planted
    copies (near duplicates) and other pictures (mirrors, crops) of some of them."""
    import shutil

    from conftest import SHARED_PHOTOS
    from PIL import Image, ImageOps
    from planted import COPIES, OTHERS

    shutil.copytree(classic, root / "classic")
    holidays = sorted((SHARED_PHOTOS / "holidays").glob("*.jpg"))
    scenes = sorted({p.stem[:4] for p in holidays})[:16]
    chosen = [p for p in holidays if p.stem[:4] in scenes or p.stem[:4] in ("1031", "1039")]
    (root / "copies").mkdir(parents=True)
    for src in chosen:
        shutil.copy2(src, root / src.name)
    edits = [*COPIES, *OTHERS]
    for i, src in enumerate(chosen[::4]):
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for edit in (edits[(2 * i) % len(edits)], edits[(2 * i + 1) % len(edits)]):
            suffix, data = {**COPIES, **OTHERS}[edit](im)
            (root / "copies" / f"{src.stem}-{edit}{suffix}").write_bytes(data)
    return root


def _answers(lib, calibration: dict | None) -> tuple[list[Path], np.ndarray, dict, set, dict]:
    """What a user sees of a library: its vectors, each photo's top 5 and its duplicate groups,
    under ``calibration`` (another library's, or its own when None). One calibration for
    both: the scan stores photos in completion order, so a second calibration samples other
    photos and moves the thresholds by ~2e-4, enough to join a chain of similar shots."""
    photos = sorted(p.path for p in lib.photos() if p.has_vector)
    vectors = np.stack([lib.vector_of(p) for p in photos])
    top5 = {p: [m.path for m in lib.similar(p, k=5)] for p in photos}
    key = lib.model.current_key()
    if calibration is None:
        lib.calibrate(sample=12)
        calibration = lib.store.dupes.get_calibration(key)
    else:
        lib.store.dupes.put_calibration(key, calibration)
    groups = {(g.kind, frozenset(m.path for m in g.photos)) for g in lib.duplicates().groups}
    return photos, vectors, top5, groups, calibration


@needs_openvino
@pytest.mark.slow
def test_the_default_backend_answers_as_torch_fp32(tmp_path, effnet_backbone, classic_photos,
                                                   monkeypatch):  # fmt: skip
    """Trained network, real photos: the CPU default (auto: OpenVINO at its default
    precision) meets the agreement bar against torch fp32 eager, and a library scanned on it
    answers ``similar`` and ``duplicates`` as one scanned on torch (tests/agreement.py)."""
    from agreement import COSINE_MEAN, COSINE_MIN, TOP5_SAME, same_up_to_ties

    from photosim.library import Library

    monkeypatch.delenv("PHOTOSIM_BACKEND")  # auto, as for a user
    folder = _mixed_folder(tmp_path / "photos", classic_photos)
    reference = Backbone(module=effnet_backbone.module, key=effnet_backbone.key,
                         input_size=224, mean=effnet_backbone.mean, std=effnet_backbone.std,
                         precision="fp32")  # fmt: skip
    seen, calibration = {}, None
    for backend in ("torch", "auto"):
        with Library([folder], tmp_path / f"{backend}.db", backbone=reference,
                     backend=backend) as lib:  # fmt: skip
            assert list(lib.scan())[-1].failed < 5
            assert lib.info()["backend"] == ("torch fp32" if backend == "torch"
                                             else "openvino fp32")  # fmt: skip
            seen[backend] = _answers(lib, calibration)
            calibration = seen[backend][-1]
    photos, fp32, want, want_groups, _ = seen["torch"]
    photos_ov, vectors, got, groups, _ = seen["auto"]
    assert photos == photos_ov and len(photos) >= 100
    cosine = (fp32 * vectors).sum(axis=1)
    assert cosine.mean() >= COSINE_MEAN and cosine.min() >= COSINE_MIN, (
        cosine.mean(),
        cosine.min(),
    )
    sims = fp32 @ fp32.T
    index = {p: i for i, p in enumerate(photos)}
    same = [same_up_to_ties({n: sims[index[p], index[n]] for n in {*want[p], *got[p]}},
                            want[p], got[p]) for p in photos]  # fmt: skip
    assert np.mean(same) >= TOP5_SAME, [
        p.name for p, ok in zip(photos, same, strict=True) if not ok
    ]
    assert groups == want_groups and any(k == "near" for k, _ in groups)


def test_cli_backend_option_falls_back_with_one_line_and_info_names_it(
    tmp_path, resnet18_weights, monkeypatch, capsys
):
    from photosim.cli import main

    monkeypatch.setattr(backends, "runtime_version", lambda name="openvino": None)  # uninstalled
    write_photo(tmp_path / "p" / "a.jpg")
    db = str(tmp_path / "lib.db")
    argv = ["scan", str(tmp_path / "p"), "--db", db, "--model", "resnet18", "--weights",
            str(resnet18_weights), "--backend", "openvino"]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    err = [line for line in err.splitlines() if "OpenVINO" in line]
    assert len(err) == 1 and "pip install openvino" in err[0]
    assert "Embedded 1 photo with resnet18:file-" in out and " on torch " in out
    assert main(["info", "--db", db]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("backend")]
    assert line.split()[1] == "torch"


@needs_openvino
def test_auto_compiles_on_a_cpu_at_fp32_unless_another_precision_is_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("PHOTOSIM_BACKEND")  # auto, as for a user
    compiled = backends.choose(_backbone(), "auto", root=tmp_path).backbone
    assert (compiled.backend, compiled.precision) == ("openvino", "fp32")
    bf16 = _backbone()
    bf16.precision = "bf16"  # torch's own precision does not change the compiled default
    assert backends.choose(bf16, "auto", root=tmp_path).backbone.precision == "fp32"
    compiled = backends.choose(bf16, "auto", "bf16", root=tmp_path).backbone
    assert (compiled.backend, compiled.precision) == ("openvino", "bf16")  # when asked for


# -- a runtime failing mid-scan, and the weights hashed once ------------------------------
class _FailingRuntime:
    """A compiled model whose infer requests answer ``works`` batches (as torch fp32
    would), then raise as a runtime does when it breaks mid-scan."""

    def __init__(self, source: Backbone, works: int) -> None:
        self.source, self.works, self.calls = source, works, 0

    def create_infer_request(self):
        return self

    def infer(self, inputs):
        self.calls += 1
        if self.calls > self.works:
            raise RuntimeError("Exception from src/plugins/intel_cpu/src/node.cpp: bad alloc")
        return [self.source.embed(inputs[0])]


def test_a_runtime_failing_mid_scan_costs_one_notice_and_no_photo(tmp_path):
    from photosim.core.events import ScanKind
    from photosim.library import Library

    torch_bb = _backbone()
    runtime = _FailingRuntime(torch_bb, works=1)
    compiled = CompiledBackbone(torch_bb, runtime, "fp32")
    folder = tmp_path / "photos"
    paths = [write_photo(folder / f"p{i}.jpg", seed=i) for i in range(7)]
    with Library([folder], tmp_path / "a.db", backbone=compiled) as lib:
        events = list(lib.scan(batch_size=2, workers=2))
        notices = [e.reason for e in events if e.kind == ScanKind.NOTICE]
        assert len(notices) == 1 and "\n" not in notices[0], notices
        assert "OpenVINO failed" in notices[0] and "PyTorch" in notices[0]
        embedded = [e.path for e in events if e.kind == ScanKind.EMBEDDED]
        assert sorted(embedded) == sorted(p.resolve() for p in paths)  # each once, none lost
        assert events[-1].embedded == 7 and not events[-1].failures
        assert runtime.calls == 2  # the runtime is not tried again after it failed
        assert lib.info()["backend"] == "torch fp32"
        for path in paths:
            want = torch_bb.embed([torch_bb.prepare(model_image(path, 64))])[0]
            assert float(lib.vector_of(path) @ want) > 0.999  # stored as float16
    with Library(db_path=tmp_path / "a.db", read_only=True) as lib:  # as `photosim info` does
        assert lib.info()["backend"] == "torch fp32"


def test_the_weights_are_hashed_once_until_they_change(monkeypatch):
    torch_bb = _backbone()
    calls = []
    real = backends._weights_digest
    monkeypatch.setattr(backends, "_weights_digest", lambda bb: calls.append(1) or real(bb))
    first = backends.weights_digest(torch_bb)
    assert backends.weights_digest(torch_bb) == first and len(calls) == 1
    with torch.no_grad():
        torch_bb.module.body[0].weight.add_(1.0)  # edited in place: hashed again
    assert backends.weights_digest(torch_bb) != first and len(calls) == 2

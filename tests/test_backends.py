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


def _top5(lib, photos) -> dict[str, list[tuple[str, float]]]:
    return {str(p): [(str(m.path), m.score) for m in lib.similar(p, k=5)] for p in photos}


@needs_openvino
@pytest.mark.slow
def test_libraries_scanned_with_either_backend_answer_similar_alike(
    tmp_path, effnet_backbone, classic_photos
):
    """Trained network, real photos: the compiled default agrees with torch fp32 and a
    library scanned on OpenVINO ranks neighbours as one scanned on torch (ties aside)."""
    from photosim.library import Library

    reference = Backbone(module=effnet_backbone.module, key=effnet_backbone.key,
                         input_size=224, mean=effnet_backbone.mean, std=effnet_backbone.std,
                         precision="fp32")  # fmt: skip
    answers, vectors = {}, {}
    for backend in ("torch", "openvino"):
        with Library([classic_photos], tmp_path / f"{backend}.db", backbone=reference,
                     backend=backend) as lib:  # fmt: skip
            assert list(lib.scan())[-1].failed < 5
            assert lib.info()["backend"].split()[0] == backend
            photos = sorted(p.path for p in lib.photos() if p.has_vector)
            answers[backend] = _top5(lib, photos)
            vectors[backend] = np.stack([lib.vector_of(p) for p in photos])
    cosine = (vectors["torch"] * vectors["openvino"]).sum(axis=1)
    assert cosine.mean() >= 0.998 and cosine.min() >= 0.99, (cosine.mean(), cosine.min())
    index = {str(p): i for i, p in enumerate(photos)}
    torch_sims = vectors["torch"] @ vectors["torch"].T
    same = 0
    for name, want in answers["torch"].items():
        fifth = want[-1][1]
        got = [n for n, _ in answers["openvino"][name]]
        # A neighbour not in torch's top 5 is a tie when torch scores it within 0.002 of its fifth.
        same += all(n in dict(want) or torch_sims[index[name], index[n]] >= fifth - 0.002
                    for n in got)  # fmt: skip
    assert same / len(answers["torch"]) >= 0.98, (same, len(answers["torch"]))


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
def test_auto_compiles_where_torch_runs_fp32_and_keeps_torchs_native_bf16(tmp_path, monkeypatch):
    monkeypatch.delenv("PHOTOSIM_BACKEND")  # auto, as for a user
    fp32 = _backbone()
    assert backends.choose(fp32, "auto", root=tmp_path).backbone.backend == "openvino"
    bf16 = _backbone()
    bf16.precision = "bf16"  # as resolve_precision("auto") gives on AMX / AVX512-BF16 CPUs
    assert backends.choose(bf16, "auto", root=tmp_path).backbone is bf16
    assert backends.pending(bf16, "auto", root=tmp_path) is None
    compiled = backends.choose(bf16, "openvino", "bf16", root=tmp_path).backbone
    assert (compiled.backend, compiled.precision) == ("openvino", "bf16")  # when asked for

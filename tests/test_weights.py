"""Weights problems carry what the app and the CLI each need to word them, and the engine
says which weights file is in use (models/weights.py, LibraryModel.in_use)."""

from __future__ import annotations

import pytest
import torch
from conftest import make_tiny_backbone, write_photo

from photosim.app import messages
from photosim.core.errors import WeightsInvalid, WeightsMissing
from photosim.library import Library
from photosim.models.embed import load_backbone
from photosim.models.registry import model_key
from photosim.models.weights import expected_weights_file, weights_in_use


def damaged(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 half a download")
    return path


def test_an_unloadable_file_is_one_error_told_apart_by_whose_file_it_is(tmp_path):
    chosen = damaged(tmp_path / "mine.pth")
    with pytest.raises(WeightsInvalid) as mine:
        load_backbone("resnet18", weights=chosen, device="cpu")
    cached = damaged(expected_weights_file("resnet18"))
    with pytest.raises(WeightsInvalid) as download:
        load_backbone("resnet18", device="cpu")
    assert (mine.value.chosen, download.value.chosen) == (True, False)
    assert mine.value.model == download.value.model == "resnet18"
    assert mine.value.expected == str(chosen) and download.value.expected == str(cached)
    # the CLI's sentences name its flags; the app's name what to click
    assert "torch.save" in str(mine.value) and "delete it" in str(download.value)
    assert "mine.pth does not hold usable resnet18" in messages.describe(mine.value)
    assert "downloaded resnet18 weights are damaged" in messages.describe(download.value)
    for exc in (mine.value, download.value):
        assert "--weights" not in messages.describe(exc)


def test_missing_weights_say_which_model_and_whose_file():
    with pytest.raises(WeightsMissing) as gone:
        model_key("resnet34", "/nowhere/r34.pth")
    assert gone.value.chosen and gone.value.model == "resnet34"
    with pytest.raises(WeightsMissing) as never:
        load_backbone("resnet18", device="cpu", download=False)
    assert not never.value.chosen and never.value.model == "resnet18"


def test_weights_in_use_names_the_file_and_its_size(tmp_path, resnet18_weights):
    assert weights_in_use("resnet18", resnet18_weights) == (
        resnet18_weights, resnet18_weights.stat().st_size)  # fmt: skip
    assert weights_in_use("resnet18", tmp_path / "gone.pth") == (tmp_path / "gone.pth", None)
    assert weights_in_use("resnet18", None) == (None, None)  # torchvision's: never downloaded
    cached = expected_weights_file("resnet18")
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save({}, cached)
    assert weights_in_use("resnet18", None) == (cached, cached.stat().st_size)


def test_the_library_says_which_model_weights_and_device_are_in_use(tmp_path, resnet18_weights):
    write_photo(tmp_path / "p" / "a.jpg")
    with Library([tmp_path / "p"], model="resnet18", weights=resnet18_weights) as lib:
        before = lib.model.in_use()
        assert before.weights == resnet18_weights and not before.loaded and before.chosen
        assert before.weights_bytes == resnet18_weights.stat().st_size
        lib.model.ensure_backbone()
        after = lib.model.in_use()
        assert after.loaded and after.device == "cpu" and after.key.startswith("resnet18:file-")
    with Library([tmp_path / "p"], backbone=make_tiny_backbone()) as lib:
        facts = lib.model.in_use()
        assert facts.injected and facts.weights is None and facts.key == "tiny:test"


def test_a_scan_goes_on_when_the_librarys_weights_file_has_moved(tmp_path, resnet18_weights):
    import shutil

    folder, weights = tmp_path / "p", tmp_path / "mine.pth"
    write_photo(folder / "a.jpg", seed=1)
    write_photo(folder / "c.jpg", seed=3)
    shutil.copy2(resnet18_weights, weights)
    with Library([folder], model="resnet18", weights=weights) as lib:
        assert list(lib.scan())[-1].embedded == 2
    write_photo(folder / "b.jpg", seed=2)
    weights.rename(tmp_path / "moved.pth")
    with Library([folder]) as lib:  # the library remembers its file, which has gone
        done = list(lib.scan())[-1]
        assert done.new == 1 and isinstance(done.model_error, WeightsMissing)
        assert done.model_error.chosen and done.model_error.expected == str(weights)
        assert "no longer there" in messages.describe(done.model_error)
        assert lib.photo(folder / "b.jpg") is not None  # listed, waiting for weights
        assert len(lib.similar(folder / "a.jpg", 1)) == 1  # the vectors made before still answer
    with (
        Library([folder], weights=tmp_path / "typo.pth") as lib,
        pytest.raises(WeightsMissing, match=r"typo\.pth"),
    ):
        list(lib.scan())  # another file asked for that is not there: said at once

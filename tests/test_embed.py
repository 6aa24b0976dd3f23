"""The ResNet backbone: weights from a file or torchvision's cache, and no network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from PIL import Image

from photosim.embed import expected_weights_file, letterbox, load_backbone, resolve_device
from photosim.errors import PhotosimError, WeightsUnavailable


def test_weights_file_gives_unit_vectors_of_the_model_dimension(resnet18_weights):
    backbone = load_backbone("resnet18", weights=resnet18_weights, device="cpu")
    assert backbone.key.startswith("resnet18:file-")
    images = [backbone.prepare(Image.new("RGB", (300, 200), c)) for c in ("red", "navy")]
    vectors = backbone.embed(images)
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_weights_from_environment_variable(resnet18_weights, monkeypatch):
    monkeypatch.setenv("PHOTOSIM_WEIGHTS", str(resnet18_weights))
    assert load_backbone("resnet18", device="cpu").key.startswith("resnet18:file-")


def test_weights_of_another_architecture_are_refused_clearly(resnet18_weights):
    with pytest.raises(WeightsUnavailable, match="do not fit resnet50"):
        load_backbone("resnet50", weights=resnet18_weights, device="cpu")


def test_missing_weights_message_names_the_file_and_both_remedies():
    with pytest.raises(WeightsUnavailable) as info:
        load_backbone("resnet50", device="cpu")
    message = str(info.value)
    assert str(expected_weights_file("resnet50")) in message
    assert "--weights FILE" in message and "PHOTOSIM_WEIGHTS" in message and "internet" in message


def test_torchvision_cache_is_used_without_network(tmp_path):
    cached = expected_weights_file("resnet18")
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tvm.resnet18(weights=None).state_dict(), cached)
    backbone = load_backbone("resnet18", device="cpu", download=False)
    assert backbone.key == "resnet18:IMAGENET1K_V1"


def test_letterbox_keeps_the_whole_frame():
    portrait = Image.new("RGB", (100, 200), (255, 0, 0))
    array = letterbox(portrait, 64)
    assert array.shape == (64, 64, 3)
    assert tuple(array[32, 32]) == (255, 0, 0)  # centre is photo
    assert tuple(array[32, 0]) != (255, 0, 0)  # sides are padding, nothing was cropped
    assert (array[:, 16:48, 0] > 250).all()  # the whole height of the photo is there


def test_asking_for_cuda_without_one_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(PhotosimError, match="no CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "mps")

"""The ResNet backbone: weights from a file or torchvision's cache, and no network."""

from __future__ import annotations

import errno
import socket
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from PIL import Image

from photosim.core.errors import PhotosimError, WeightsInvalid, WeightsMissing
from photosim.models.embed import letterbox, load_backbone, resolve_device
from photosim.models.weights import expected_weights_file


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
    with pytest.raises(WeightsMissing, match="do not fit resnet50"):
        load_backbone("resnet50", weights=resnet18_weights, device="cpu")


def test_missing_weights_message_names_the_file_and_both_remedies():
    with pytest.raises(WeightsMissing) as info:
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


# -- weights: safe loading and honest errors ------------------------------------------
class _Payload:
    """Unpickling this would create ``marker``: what a malicious weights file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_malicious_pickle_never_runs(tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    zipped = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Payload(marker)}, zipped)  # torch's zip format
    raw = tmp_path / "evil-raw.pth"
    raw.write_bytes(pickle.dumps({"conv1.weight": _Payload(marker)}, protocol=2))  # a bare pickle
    for path in (zipped, raw):
        with pytest.raises(WeightsInvalid) as info:
            load_backbone("resnet18", weights=path, device="cpu")
        assert not marker.exists()
        assert str(path) in str(info.value) and str(info.value).count(". ") <= 1


def test_a_file_that_is_not_a_state_dict_of_tensors_is_invalid(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(WeightsInvalid, match="no state dict"):
        load_backbone("resnet18", weights=path, device="cpu")
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(WeightsInvalid, match="state-dict file"):
        load_backbone("resnet18", weights=text, device="cpu")


def test_weights_of_another_architecture_are_invalid(resnet18_weights):
    with pytest.raises(WeightsInvalid, match="do not fit resnet50"):
        load_backbone("resnet50", weights=resnet18_weights, device="cpu")


def test_a_damaged_cache_file_is_told_apart_from_a_missing_one():
    cached = expected_weights_file("resnet18")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"PK\x03\x04 half a download")
    with pytest.raises(WeightsInvalid) as info:
        load_backbone("resnet18", device="cpu")
    message = str(info.value)
    assert "damaged" in message and str(cached) in message and "delete it" in message
    assert not message.startswith("photosim")


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (urllib.error.URLError(socket.gaierror(-3, "Temporary failure")), "no network"),
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), "no network connection"),
        (urllib.error.HTTPError("https://x", 503, "Service Unavailable", None, None), "503"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left"),
        (PermissionError(errno.EACCES, "Permission denied"), "no permission"),
        (RuntimeError('invalid hash value (expected "11ad3fa6", got "00")'), "checksum"),
    ],
)
def test_download_failures_say_what_went_wrong(monkeypatch, failure, words):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr("photosim.models.weights.download", fail)  # never the network in tests
    with pytest.raises(WeightsMissing) as info:
        load_backbone("resnet18", device="cpu", download=True)
    message = str(info.value)
    assert words in message and "--weights FILE" in message
    assert not message.startswith("photosim")
    assert not isinstance(info.value, WeightsInvalid)


def test_missing_weights_message_does_not_start_with_photosim():
    with pytest.raises(WeightsMissing) as info:
        load_backbone("resnet50", device="cpu")
    assert not str(info.value).lower().startswith("photosim")

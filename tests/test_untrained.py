"""Untrained (randomly initialised) weights are detected and said once: the CLI after scan,
info and similar, the app in one notice; the trained test network is never taken for them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from effnet import KEY, EfficientNetLite0

from photosim.cli import main
from photosim.library import Library
from photosim.models.embed import Backbone
from photosim.models.sanity import median_similarity

SCAN_TIMEOUT = 120_000


def random_effnet() -> Backbone:
    """The test network's architecture with random weights, as a state dict saved before
    training would give it."""
    torch.manual_seed(3)
    return Backbone(module=EfficientNetLite0(), key=KEY.replace("imagenet", "random"),
                    input_size=224, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)  # fmt: skip


@pytest.fixture
def objects(shared_photos, tmp_path) -> Path:
    """Ten photos of ten different objects (ukbench): unrelated to one another."""
    return Path(shutil.copytree(shared_photos / "ukbench", tmp_path / "objects"))


def scanned(folder: Path, backbone: Backbone) -> Library:
    library = Library([folder], backbone=backbone)
    for _ in library.scan():
        pass
    return library


def test_the_engine_tells_untrained_weights_from_trained_ones(objects, effnet_backbone):
    with scanned(objects, effnet_backbone) as trained:
        assert not trained.weights_look_untrained()
    with scanned(objects, random_effnet()) as untrained:
        assert untrained.weights_look_untrained()
        vectors = untrained.store.vectors.sample_vectors(untrained.model.current_key(), 200)
        assert median_similarity(np.stack(vectors)) > 0.95


def test_too_few_photos_are_never_taken_for_untrained_weights(objects):
    for extra in sorted(objects.iterdir())[4:]:
        extra.unlink()
    with scanned(objects, random_effnet()) as library:
        assert not library.weights_look_untrained()  # 4 photos cannot tell


def cli(capsys, *argv) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def test_the_cli_says_it_once_after_scan_info_and_similar(
    objects, resnet18_weights, effnet_backbone, capsys, monkeypatch
):
    rc, err = cli(capsys, "scan", objects, "--model", "resnet18", "--weights", resnet18_weights)
    assert rc == 0 and err.count("look untrained") == 1 and "--weights" in err
    assert cli(capsys, "info", objects)[1].count("look untrained") == 1
    photo = sorted(objects.iterdir())[0]
    assert cli(capsys, "similar", photo, objects)[1].count("look untrained") == 1
    trained = objects.parent / "trained"
    shutil.copytree(objects, trained)
    monkeypatch.setattr("photosim.models.embed.load_backbone", lambda *a, **k: effnet_backbone)
    rc, err = cli(capsys, "scan", trained)
    assert rc == 0 and "untrained" not in err
    assert "untrained" not in cli(capsys, "info", trained)[1]


def test_the_app_gives_one_notice_for_untrained_weights(qtbot, objects, effnet_backbone):
    pytest.importorskip("pytestqt")
    from photosim.app.main_window import MainWindow

    for backbone, expected in ((effnet_backbone, False), (random_effnet(), True)):
        win = MainWindow(backbone=backbone)
        qtbot.addWidget(win)
        win.show()
        for _scan in range(2):  # opened, then scanned again (F5): one notice in all
            with qtbot.waitSignal(win.signals.scan_finished, timeout=SCAN_TIMEOUT):
                win.state.open_library(str(objects))
            qtbot.waitUntil(lambda w=win: w.setup.untrained_answer is not None, timeout=10_000)
            assert win.setup.untrained_answer[1] is (backbone is not effnet_backbone)
            if expected:
                box = win.setup.untrained_box
                assert "untrained" in box.text() and "Help > Model Weights" in box.text()
                assert "--weights" not in box.text()
                box.close()
                win.setup.untrained_box = None
                expected = False  # not again for the same weights
            else:
                assert win.setup.untrained_box is None
        win.close()

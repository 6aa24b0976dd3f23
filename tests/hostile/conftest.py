"""Fixtures of the hostile-environment tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _TinyNet

from photosim.cli import main
from photosim.models.embed import Backbone, model_key

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def fsync_shim(tmp_path_factory) -> Path:
    """The LD_PRELOAD library that snapshots a file at each fsync (a C compiler is needed)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.platform != "linux":
        pytest.skip("no C compiler (or not Linux): the power-cut shim cannot be built")
    out = tmp_path_factory.mktemp("shim") / "fsync_snapshot.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out),
                    str(HERE / "fsync_snapshot.c"), "-ldl"], check=True)  # fmt: skip
    return out


def fake_load(name="resnet50", weights=None, device="auto", download=None, **_options):
    """A tiny model under the key the named ResNet would have: no weights, no network."""
    return Backbone(module=_TinyNet(), key=model_key(name, weights), input_size=64)


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """`photosim ARGS` in-process with a tiny model under the ResNet's key: (exit code, stderr)."""
    monkeypatch.setattr("photosim.models.embed.load_backbone", fake_load)
    monkeypatch.setenv("PHOTOSIM_HOME", str(tmp_path / "home"))

    def run(*argv) -> tuple[int, str]:
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        return rc, capsys.readouterr().err

    return run

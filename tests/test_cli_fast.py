"""Answers without the model stay light: `info`, `similar` on a library photo, `duplicates`.

Timings live in bench/cli.py; these tests check the behaviour that makes the commands
fast: a fresh process answering them imports no model, no decoder and nothing it does
not use, and a library whose model cannot be loaded does not try again on every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.cli import main
from photosim.core.errors import WeightsMissing
from photosim.dupes.calibrate import DEFAULT
from photosim.library import Library

ROOT = Path(__file__).resolve().parents[1]
# Never needed to answer from the cache: the model, decoders, the scan, a log file nobody
# writes to, and the entry-point scan of sqlite-utils plugins (importlib.metadata).
HEAVY = ("torch", "torchvision", "PIL", "pillow_heif", "exifread", "photosim.models.embed",
         "photosim.library.pipeline", "photosim.media.decode", "photosim.library.scan", "photosim.library.locking",
         "logging.handlers", "importlib.metadata")  # fmt: skip
# ... and for info and similar, nothing of duplicate finding either.
DUPLICATES = ("photosim.dupes.finder", "photosim.dupes.candidates", "photosim.media.pixels",
              "photosim.dupes.calibrate", "threadpoolctl")  # fmt: skip


def make_library(tmp_path: Path, calibrate: bool = True) -> tuple[Path, Path]:
    """(folder, db) of a library of five photos and an exact copy, scanned (and calibrated)."""
    folder = tmp_path / "photos"
    for seed in range(5):
        write_photo(folder / f"p{seed}.jpg", size=(320, 240), seed=seed)
    shutil.copy2(folder / "p1.jpg", folder / "copy.jpg")
    db = tmp_path / "library.db"
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        assert list(lib.scan())[-1].kind == "done"
        if calibrate:
            lib.calibrate(sample=3)
    return folder, db


@pytest.fixture
def scanned(tmp_path) -> tuple[Path, Path]:
    return make_library(tmp_path)


def run_cli(args: list[str]) -> tuple[str, set[str]]:
    """``photosim ARGS`` in a fresh process: (stdout, the modules it imported)."""
    code = (
        "import sys; from photosim.cli import main; code = main(sys.argv[1:]); "
        "print('MODULES', ' '.join(sorted(sys.modules))); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out, _, modules = proc.stdout.rpartition("MODULES ")
    return out, set(modules.split())


def test_info_and_similar_import_no_model_decoder_or_duplicate_finder(scanned):
    folder, db = scanned
    out, modules = run_cli(["info", "--db", str(db)])
    assert "photos    6" in out
    assert not modules & {*HEAVY, *DUPLICATES, "annoy", "filelock"}  # no search, no build
    out, modules = run_cli(["similar", str(folder / "p1.jpg"), "--db", str(db)])
    assert "copy.jpg" in out.splitlines()[0]  # the exact copy first
    assert not modules & {*HEAVY, *DUPLICATES, "filelock"}  # the index is there: no build


def test_duplicates_of_a_scanned_library_import_no_model_or_decoder(scanned):
    _folder, db = scanned
    out, modules = run_cli(["duplicates", "--db", str(db), "--kind", "exact"])
    assert "copy.jpg" in out and "p1.jpg" in out
    assert not modules & set(HEAVY)


def test_duplicates_of_a_library_without_vectors_never_load_the_model(tmp_path, monkeypatch):
    """Scanned without weights: the thresholds apply to no vector, so nothing is calibrated."""
    folder = tmp_path / "photos"
    write_photo(folder / "a.jpg", seed=1)
    shutil.copy2(folder / "a.jpg", folder / "b.jpg")
    db = tmp_path / "library.db"

    def no_weights(*_args, **_kwargs):
        raise WeightsMissing("no weights here", expected=str(tmp_path / "weights.pth"))

    monkeypatch.setattr("photosim.models.embed.load_backbone", no_weights)
    with Library([folder], db, model="resnet18") as lib:
        assert list(lib.scan())[-1].model_error
    with Library(db_path=db, read_only=True) as lib:
        assert (
            lib.model.current_key() is None and lib.store.photos.count() == 2
        )  # listed, no vectors
    out, modules = run_cli(["duplicates", "--db", str(db)])
    assert "exact (2 photos" in out
    assert not modules & {
        "torch",
        "torchvision",
        "photosim.models.embed",
    }  # decodes: no fingerprints
    out, modules = run_cli(["duplicates", "--db", str(db)])  # fingerprints stored the first time
    assert "exact (2 photos" in out
    assert not modules & set(HEAVY)


def test_a_model_that_cannot_load_is_tried_again_only_once_the_weights_change(
    tmp_path, monkeypatch, capsys
):
    """Vectors but no loadable model: DEFAULT thresholds, remembered until the weights change."""
    _folder, db = make_library(tmp_path, calibrate=False)
    weights = tmp_path / "resnet50.pth"
    tries = []

    def no_weights(*_args, **_kwargs):
        tries.append(1)
        raise WeightsMissing("no weights here", expected=str(weights))

    monkeypatch.setattr("photosim.models.embed.load_backbone", no_weights)
    assert main(["duplicates", "--db", str(db)]) == 0
    assert len(tries) == 1 and "Calibrating" in capsys.readouterr().err
    assert main(["duplicates", "--db", str(db)]) == 0
    assert len(tries) == 1 and "Calibrating" not in capsys.readouterr().err
    with Library(db_path=db) as lib:
        assert lib.calibration() == DEFAULT and len(tries) == 1
        weights.write_bytes(b"the weights file arrived")
        assert lib.calibration() == DEFAULT and len(tries) == 2  # tried again, remembered again
        assert lib.calibration() == DEFAULT and len(tries) == 2


def test_the_command_line_alone_loads_no_library_code():
    """`photosim --help`, a bad argument or install-desktop answer before numpy or SQLite load."""
    code = "import sys, photosim.cli; print(' '.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not set(proc.stdout.split()) & {"numpy", "sqlite_utils", "photosim.library", *HEAVY}

"""Ctrl+C, SIGTERM and SIGHUP at any moment of `photosim scan`: one line, exit 128 + signal,
finished work kept, and never the C++ runtime's "terminate called" abort (issue 15 item 6)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim.library import Library

TESTS = Path(__file__).resolve().parents[1]

# `photosim scan` as a user runs it, with the tiny test network loaded in place of a ResNet;
# each stage prints a marker on stderr and dwells there, so the test can signal it at that moment.
SCAN = textwrap.dedent(
    """
    import sys, time
    import torch
    from conftest import make_tiny_backbone
    from photosim.models import embed
    from photosim.search import index

    def mark(stage):
        print("STAGE " + stage, file=sys.stderr, flush=True)

    def load(*args, **kwargs):
        mark("load")
        time.sleep(0.5)  # a model load takes a while
        backbone = make_tiny_backbone()
        forward = backbone.module.forward

        def busy_forward(x):  # keeps torch's own threads working while the signal comes
            mark("batch")
            for _ in range(40):
                torch.randn(192, 192) @ torch.randn(192, 192)
            return forward(x)

        backbone.module.forward = busy_forward
        return backbone

    build = index.VectorIndex.build

    def slow_build(self, key, *args, **kwargs):
        mark("index")
        time.sleep(0.5)
        return build(self, key, *args, **kwargs)

    embed.load_backbone = load
    index.VectorIndex.build = slow_build
    from photosim.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)
LINE = "Interrupted: the photos embedded so far are kept"


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "photos"
    for seed in range(24):
        write_photo(root / f"p{seed:02d}.jpg", size=(96, 64), seed=seed)
    return root


def scan_until(stage: str, sig: int, folder: Path, db: Path) -> tuple[int, str]:
    """Start a scan, send ``sig`` when it reaches ``stage``; (exit status, stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    args = [sys.executable, "-c", SCAN, "scan", str(folder), "--db", str(db), "--batch-size", "2"]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.strip() == f"STAGE {stage}":
                time.sleep(0.05)
                proc.send_signal(sig)
                break
        start = time.monotonic()
        _, rest = proc.communicate(timeout=30)  # never hangs the test on a process that stays
        code = proc.returncode
        assert time.monotonic() - start < 15, "the scan did not stop promptly"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, "".join(seen) + rest


def stored(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select count(*) from vectors").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("stage", "sig"),
    [
        ("load", signal.SIGINT),
        ("batch", signal.SIGTERM),
        ("index", signal.SIGHUP),
    ],
)
def test_a_signal_at_any_stage_ends_the_scan_with_one_line(folder, tmp_path, stage, sig):
    db = tmp_path / "library.db"
    code, err = scan_until(stage, sig, folder, db)
    assert f"STAGE {stage}" in err, err  # the signal came at that stage
    assert code == 128 + sig, err
    assert "terminate called" not in err and "Traceback" not in err, err
    assert err.count(LINE) == 1, err
    # Finished work is kept: the next scan embeds only the rest.
    before = stored(db) if db.exists() else 0
    with Library(db_path=db, read_only=True) as lib:
        backbone = make_tiny_backbone()  # the same network, under the key the CLI stored
        backbone.key = lib.model.key
    with Library([folder], db, backbone=backbone) as lib:
        done = list(lib.scan(batch_size=4))[-1]
    assert (done.embedded, done.found) == (24 - before, 24)
    if stage == "index":
        assert before == 24  # every batch was committed before the index build


# The app on a folder, scanning with a slow tiny network, as `photosim gui FOLDER` runs it.
APP = textwrap.dedent(
    """
    import sys
    import torch
    from PySide6.QtWidgets import QApplication
    from conftest import make_tiny_backbone
    from photosim.app import run

    app = QApplication(sys.argv[:1])
    backbone = make_tiny_backbone()
    forward = backbone.module.forward

    def busy_forward(x):
        print("STAGE batch", file=sys.stderr, flush=True)
        for _ in range(40):
            torch.randn(192, 192) @ torch.randn(192, 192)
        return forward(x)

    backbone.module.forward = busy_forward
    sys.exit(run(root=sys.argv[1], db=sys.argv[2], backbone=backbone))
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_app_killed_from_its_terminal_closes_as_its_window_would(folder, tmp_path, sig):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
           "QT_QPA_PLATFORM": "offscreen"}  # fmt: skip
    args = [sys.executable, "-c", APP, str(folder), str(tmp_path / "library.db")]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if line.strip() == "STAGE batch":  # mid-scan
                proc.send_signal(sig)
                break
        _, err = proc.communicate(timeout=30)
        code = proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 128 + sig, err
    assert "terminate called" not in err and "Traceback" not in err, err


# `photosim duplicates` with its grouping held up: the signal comes while it searches.
DUPLICATES = textwrap.dedent(
    """
    import sys, time
    from photosim.dupes import finder

    group = finder.DuplicateFinder.group

    def slow_group(self, *args, **kwargs):
        print("STAGE search", file=sys.stderr, flush=True)
        time.sleep(20)
        return group(self, *args, **kwargs)

    finder.DuplicateFinder.group = slow_group
    from photosim.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_a_signal_during_the_duplicates_search_ends_it_with_one_line(folder, tmp_path, sig):
    db = tmp_path / "library.db"
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        list(lib.scan())
        lib.calibrate(sample=3)  # no model load in the child
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    args = [sys.executable, "-c", DUPLICATES, "duplicates", "--db", str(db)]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        for line in proc.stderr:
            if line.strip() == "STAGE search":
                proc.send_signal(sig)
                break
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert err.count("Interrupted:") == 1 and "Traceback" not in err, err


def test_a_second_ctrl_c_while_the_scan_stops_leaves_at_once_without_a_traceback(folder, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    db = tmp_path / "library.db"
    args = [sys.executable, "-c", SCAN, "scan", str(folder), "--db", str(db), "--batch-size", "2"]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        for line in proc.stderr:
            if line.strip() == "STAGE batch":
                proc.send_signal(signal.SIGINT)
                for line in proc.stderr:  # the line is printed, the batch being finished
                    if line.startswith("Interrupted"):
                        proc.send_signal(signal.SIGINT)
                        break
                break
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "terminate called" not in err, err

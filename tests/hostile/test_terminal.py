"""Terminals (issue 18, finding 11): hostile names print as escapes, one photo a line; a closed
pipe ends a command quietly; libtiff's complaints go to the log; an over-long palette
transparency chunk is read as Pillow reads it."""

from __future__ import annotations

import io
import logging
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo
from PIL import Image

from photosim.cli import main
from photosim.library import Library
from photosim.media.decode import load_image

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# An OSC sequence that sets the terminal's title, a colour change, and a newline.
HOSTILE = ("title\x1b]0;owned\x07.jpg", "red\x1b[31mtext.jpg", "two\nlines.jpg", "bell\x07.jpg")


@pytest.fixture(autouse=True)
def _logging_undone():
    """``main`` sets up logging (and captures warnings): undone for the tests that follow."""
    yield
    for name in ("photosim", "py.warnings", "PIL", "exifread"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_photosim", False)]:
            logger.removeHandler(handler)
            handler.close()
    logging.captureWarnings(False)


def raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]


@pytest.fixture
def hostile(tmp_path) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    for seed, name in enumerate(HOSTILE):
        write_photo(folder / name, size=(96, 64), seed=seed)
    shutil.copy(folder / HOSTILE[0], folder / "plain.jpg")
    (folder / "broken\x1b[2Jnews.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    db = tmp_path / "library.db"
    with Library([folder], db, backbone=make_tiny_backbone()) as lib:
        assert list(lib.scan())[-1].found == 6
    return folder, db


def test_hostile_names_print_escaped_one_photo_per_line(hostile, capsys, monkeypatch):
    folder, db = hostile
    assert main(["similar", str(folder / "plain.jpg"), "--db", str(db), "-k", "4"]) == 0
    out = capsys.readouterr().out
    assert not raw_controls(out), out
    lines = out.splitlines()
    assert len(lines) == 4  # a newline in a name does not split its line
    assert "title\\x1b]0;owned\\x07.jpg" in lines[0]  # the exact copy first, readable
    assert any("two\\nlines.jpg" in line for line in lines)

    assert main(["info", "--db", str(db), "--failed"]) == 0
    out = capsys.readouterr().out
    assert not raw_controls(out) and "broken\\x1b[2Jnews.jpg" in out

    monkeypatch.setattr("photosim.models.embed.load_backbone", lambda *a, **k: make_tiny_backbone())
    (folder / "more\x1b[5mblink.jpg").write_bytes(b"GIF89a broken")
    assert main(["scan", str(folder), "--db", str(db)]) == 0
    captured = capsys.readouterr()
    assert not raw_controls(captured.out + captured.err), captured
    assert "more\\x1b[5mblink.jpg" in captured.out


def cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys; from photosim.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.parametrize("command", [["info", "--failed"], ["duplicates", "--csv"]])
def test_a_closed_pipe_ends_the_command_quietly(hostile, command):
    """`photosim info --failed | head`: the reader is gone before the command writes."""
    folder, db = hostile
    if command[0] == "duplicates":
        with Library([folder], db, backbone=make_tiny_backbone()) as lib:
            lib.calibrate(sample=3)  # no model load in the child
    proc = cli([*command, "--db", str(db)])
    proc.stdout.close()  # what `head` does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141, err
    assert err == ""


def test_libtiff_complaints_go_to_the_log_not_the_terminal(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    good = tmp_path / "good.tif"
    Image.fromarray(arr).save(good, compression="tiff_lzw")
    data = bytearray(good.read_bytes())
    for i in range(1000, len(data) - 200, 7):  # scramble the LZW codes
        data[i] ^= 0x5A
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    code = (
        "import sys; from photosim.core.log import setup_logging; print(setup_logging());"
        "from photosim.media.decode import load_image, DecodeError\n"
        "try: load_image(sys.argv[1])\nexcept DecodeError as e: print('failed', e.kind)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, str(bad)], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.stderr == "" and "failed damaged" in proc.stdout, proc
    log = Path(proc.stdout.splitlines()[0]).read_text()
    assert "photosim.libtiff" in log and "bad.tif" in log


def palette_png_with_long_transparency() -> bytes:
    """A palette PNG whose tRNS chunk has 300 entries (more than any palette holds)."""
    im = Image.new("P", (40, 30))
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    im.paste(1, (0, 0, 20, 30))
    im.paste(2, (20, 0, 40, 30))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    at = data.index(b"IDAT") - 4
    return data[:at] + chunk(b"tRNS", bytes([0, 128] + [255] * 298)) + data[at:]


def test_a_palette_png_with_an_over_long_transparency_chunk_reads(tmp_path):
    path = tmp_path / "palette.png"
    path.write_bytes(palette_png_with_long_transparency())
    image = load_image(path)
    assert image.size == (40, 30)
    assert image.getpixel((5, 5)) == (255, 127, 127)  # red at half alpha over white
    assert image.getpixel((30, 5)) == (0, 255, 0)

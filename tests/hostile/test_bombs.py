"""Decompression bombs and endless headers (issue 18, findings 1 and 2): a file's header is
checked against the memory its decode really takes before a pixel is allocated, and a JPEG
header followed by zeros (or a huge sparse file) is refused at once."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from conftest import write_photo
from PIL import Image

from photosim.core.errors import DecodeError, FailKind
from photosim.media.decode import load_image
from photosim.media.metadata import read_metadata

ROOT = Path(__file__).resolve().parents[2]
W, H = 22000, 23000  # 506 MP: under Pillow's 512 MP limit, 2-5 GB once decoded


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def gif_bomb() -> bytes:
    """A 10x10 GIF whose logical screen says 22000x23000 (Pillow allocates the screen)."""
    im = Image.new("P", (10, 10), 1)
    im.putpalette([0, 0, 0, 255, 0, 0])
    buf = io.BytesIO()
    im.save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", W, H)
    return bytes(data)


def png_bomb(width: int = W, height: int = H, rows: int = 64) -> bytes:
    """A palette PNG of ``width`` x ``height`` whose first ``rows`` rows hold zeros."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    pack = zlib.compressobj(9)
    idat = pack.compress(b"\0" * (width + 1) * rows) + pack.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"PLTE", bytes(6))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))  # fmt: skip


def webp_bomb() -> bytes:
    """A lossless WebP of one colour whose header says 16383x16383 (libwebp decodes it)."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 99, 199)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8L") + 8
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    bits = 16382 | (16382 << 14) | (bits >> 28 << 28)
    data[at + 1 : at + 5] = bits.to_bytes(4, "little")
    return bytes(data)


def heic_bomb() -> bytes:
    """A small HEIC whose image-size box says 16000x16000."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, "HEIF", quality=50)
    data = bytearray(buf.getvalue())
    at = data.index(b"ispe") + 8
    data[at : at + 8] = struct.pack(">II", 16000, 16000)
    return bytes(data)


def progressive_bomb() -> bytes:
    """A 687-byte progressive JPEG whose frame says 20000x20000: libjpeg keeps every DCT
    coefficient of the full size (1.2 GB) even when decoding at 1/8."""
    import numpy as np

    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", progressive=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"\xff\xc2") + 5
    data[at : at + 4] = struct.pack(">HH", 20000, 20000)
    return bytes(data)


BOMBS = {"screen.gif": gif_bomb, "palette.png": png_bomb, "canvas.webp": webp_bomb,
         "iloc.heic": heic_bomb, "progressive.jpg": progressive_bomb}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_too_large_with_its_size_and_allocates_nothing(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BOMBS[name]())
    with pytest.raises(DecodeError) as caught:
        load_image(path, max_side=256)
    assert caught.value.kind == FailKind.TOO_LARGE
    assert "x" in caught.value.reason and "MB" in caught.value.reason  # the size, in words
    assert caught.value.reason.startswith("too large to decode safely (")


def test_a_bomb_below_the_budget_decodes_within_it(tmp_path):
    """A 7000x7000 palette PNG of zeros (49 MP) is within the budget: decoded, and small."""
    path = tmp_path / "zeros.png"
    path.write_bytes(png_bomb(7000, 7000, rows=7000))
    assert load_image(path, max_side=256).size == (256, 256)


def test_a_jpeg_header_followed_by_zeros_is_refused_at_once(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "JPEG")
    zeros = tmp_path / "zeros.jpg"
    zeros.write_bytes(buf.getvalue()[:20] + bytes(50_000_000))
    sparse = tmp_path / "sparse.jpg"  # a huge sparse file: no disk used
    with open(sparse, "wb") as f:
        f.write(buf.getvalue()[:20])
        f.truncate(600 * 2**20)
    for path in (zeros, sparse):
        start = time.monotonic()
        with pytest.raises(DecodeError) as caught:
            load_image(path, max_side=256)
        assert caught.value.kind == FailKind.DAMAGED and "no JPEG frame header" in str(caught.value)
        assert read_metadata(path)["width"] is None
        assert time.monotonic() - start < 2


SCAN = textwrap.dedent(
    """
    import json, resource, sys
    from conftest import make_tiny_backbone
    from photosim.library import Library

    with Library([sys.argv[1]], sys.argv[2], backbone=make_tiny_backbone(224)) as lib:
        done = list(lib.scan(batch_size=4, workers=2))[-1]
    failed = {f.path.name: [f.kind.value, f.reason] for f in done.failures}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps([peak, done.embedded, failed]))
    """
)


def peak_scan(folder: Path, db: Path) -> tuple[int, int, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run([sys.executable, "-c", SCAN, str(folder), str(db)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak, embedded, failed = json.loads(proc.stdout.splitlines()[-1])
    return peak, embedded, failed


def test_a_scan_of_a_bomb_folder_stays_within_300_mb_of_a_normal_scan(tmp_path):
    normal, bombs = tmp_path / "normal", tmp_path / "bombs"
    for seed in range(8):
        for folder in (normal, bombs):
            write_photo(folder / f"p{seed}.jpg", size=(1200, 900), seed=seed)
    for name, make in BOMBS.items():
        (bombs / name).write_bytes(make())
    (bombs / "copy.gif").write_bytes(gif_bomb())
    base, embedded, _ = peak_scan(normal, tmp_path / "normal.db")
    assert embedded == 8
    peak, embedded, failed = peak_scan(bombs, tmp_path / "bombs.db")
    assert embedded == 8  # the good photos of the folder are embedded
    assert set(failed) == {*BOMBS, "copy.gif"}
    assert all(kind == FailKind.TOO_LARGE for kind, _ in failed.values())
    assert "22000x23000" in failed["screen.gif"][1]
    print(f"peak RSS: normal scan {base} MB, bomb folder {peak} MB")
    assert peak - base < 300

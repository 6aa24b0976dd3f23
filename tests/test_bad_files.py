"""Bad and strange files: each is a recorded skip with a typed reason, never a stopped scan."""

from __future__ import annotations

import builtins
import io
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo
from PIL import Image

import photosim.media.decode
from photosim.core.errors import FailKind
from photosim.core.log import setup_logging
from photosim.library import Library
from photosim.media import thumbs
from photosim.media.decode import MAX_PIXELS, DecodeError, load_image, read_photo_bytes, sniff_image
from photosim.media.metadata import read_metadata


# -- builders of bad and strange files ------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat))
    return path


def _rgb16(w: int = 64, h: int = 48) -> np.ndarray:
    arr = np.zeros((h, w, 3), dtype=np.uint16)
    arr[..., 0] = np.linspace(0, 65535, w)[None, :]
    arr[: h // 2, :, 2] = 60000
    return arr


def png16_rgb(path: Path) -> Path:
    """A 48-bit RGB PNG (16 bits a channel), as scanners and editors write."""
    arr = _rgb16()
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )
    return path


def tiff16_rgb(path: Path) -> Path:
    """A 48-bit RGB TIFF, uncompressed, written by hand (Pillow writes only 8-bit RGB)."""
    arr = _rgb16()
    h, w = arr.shape[:2]
    data = arr.astype("<u2").tobytes()
    n, ifd = 9, 8
    bps = ifd + 2 + n * 12 + 4
    strip = bps + 6

    def entry(tag, typ, value, count=1):
        fmt = "<HHII" if typ == 4 or count > 1 else "<HHIHH"
        return struct.pack(fmt, tag, typ, count, value, *([] if fmt == "<HHII" else [0]))

    table = [
        entry(256, 4, w), entry(257, 4, h), entry(258, 3, bps, 3), entry(259, 3, 1),
        entry(262, 3, 2), entry(273, 4, strip), entry(277, 3, 3), entry(278, 4, h),
        entry(279, 4, len(data)),
    ]  # fmt: skip
    body = struct.pack("<H", n) + b"".join(table) + struct.pack("<I", 0)
    path.write_bytes(
        b"II*\x00" + struct.pack("<I", ifd) + body + struct.pack("<3H", 16, 16, 16) + data
    )
    return path


def corrupt_exif_jpeg(path: Path, seed: int = 0) -> Path:
    """A good photo whose EXIF claims more data than the file holds (Pillow warns on it)."""
    write_photo(path, seed=seed)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "Canon", 1
    with Image.open(path) as im:
        im.save(buffer, "JPEG", exif=exif)
    data = bytearray(buffer.getvalue())
    tiff = data.find(b"Exif\x00\x00") + 6
    data[tiff + 14 : tiff + 18] = struct.pack(">I", 0x100000)  # Make's count: 1 MB
    path.write_bytes(bytes(data))
    return path


def animated(path: Path, fmt: str) -> Path:
    frames = [Image.new("RGB", (60, 40), c) for c in [(230, 20, 20), (20, 20, 230)]]
    for frame in frames:
        frame.paste((250, 250, 250), (0, 0, 10, 10))
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def palette_with_transparency(path: Path) -> Path:
    img = Image.new("P", (60, 40), 0)
    img.putpalette([0, 0, 0, 230, 20, 20] + [0] * 762)
    img.paste(1, (0, 0, 30, 40))
    img.save(path, transparency=0)
    return path


def cmyk_jpeg(path: Path) -> Path:
    with Image.open(write_photo(path, seed=5)) as im:
        im.convert("CMYK").save(path, "JPEG")
    return path


def truncated_jpeg(path: Path) -> Path:
    write_photo(path, size=(600, 400), seed=6)
    path.write_bytes(path.read_bytes()[:1500])
    return path


NON_UTF8 = os.fsdecode(b"latin1-\xe9t\xe9.jpg")  # a str with surrogate escapes
ODD_NAMES = ["new\nline.jpg", "-leading-dash.jpg", "x" * 251 + ".jpg", "tab\tand space .jpg"]


class Blocked(BaseException):
    """Raised by ``deadline``; not an OSError, so no ``except OSError`` can hide it."""


@pytest.fixture
def deadline():
    def _timeout(signum, frame):
        raise Blocked("blocked on a FIFO")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def logging_set_up():
    """``setup_logging`` as the CLI and the app call it; undone afterwards."""
    import logging

    # An in-process ``main()`` of an earlier test left logging capturing warnings into a
    # pytest recorder that is gone now; captureWarnings(True) alone would keep that one.
    logging.captureWarnings(False)
    path = setup_logging()
    yield path
    for name in ("photosim", "py.warnings", "PIL", "exifread"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_photosim", False)]:
            logger.removeHandler(handler)
            handler.close()
    logging.captureWarnings(False)


# -- decode level: every kind is a typed DecodeError --------------------------
@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.write_bytes(b"") and p, FailKind.NOT_AN_IMAGE),
        (lambda p: p.write_text("I am not a photo") and p, FailKind.NOT_AN_IMAGE),
        (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50) and p, FailKind.NOT_AN_IMAGE),
        (truncated_jpeg, FailKind.DAMAGED),
        (lambda p: png_claiming(p, 100_000, 100_000), FailKind.TOO_LARGE),  # over 2x the limit
        (lambda p: png_claiming(p, 25_000, 25_000), FailKind.TOO_LARGE),  # just over the limit
    ],
    ids=["empty", "text", "jpeg-header-only", "truncated", "bomb", "just-over-limit"],
)
def test_bad_files_raise_a_typed_decode_error(tmp_path, make, kind, recwarn):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(DecodeError) as err:
        load_image(path, max_side=224)
    assert err.value.kind == kind and err.value.reason
    assert read_metadata(path)["taken"] is None  # metadata never raises


def test_pixel_limit_stays_on():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS == 512_000_000


def test_a_bomb_is_refused_before_its_pixels_are_decoded(tmp_path, monkeypatch, recwarn):
    path = png_claiming(tmp_path / "bomb.png", 25_000, 25_000)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded a bomb"))
    with pytest.raises(DecodeError, match="too many pixels") as err:
        load_image(path)
    assert err.value.kind == FailKind.TOO_LARGE


@pytest.mark.parametrize(
    "make",
    [
        lambda p: animated(p.with_suffix(".gif"), "GIF"),
        lambda p: animated(p.with_suffix(".webp"), "WEBP"),
        lambda p: png16_rgb(p.with_suffix(".png")),
        lambda p: tiff16_rgb(p.with_suffix(".tif")),
        cmyk_jpeg,
        lambda p: palette_with_transparency(p.with_suffix(".png")),
        corrupt_exif_jpeg,
    ],
    ids=["gif", "webp", "png16", "tiff16", "cmyk", "palette-alpha", "corrupt-exif"],
)
def test_strange_but_good_images_decode_to_rgb(tmp_path, make, recwarn):
    path = make(tmp_path / "x.jpg")
    image = load_image(path, max_side=64)
    assert image.mode == "RGB" and max(image.size) <= 64
    assert image.getextrema()[0][0] != image.getextrema()[0][1]  # a picture, not a flat field


def test_16_bit_images_keep_their_colours(tmp_path):
    for path in (png16_rgb(tmp_path / "a.png"), tiff16_rgb(tmp_path / "a.tif")):
        image = load_image(path)
        assert image.getpixel((63, 0))[0] > 240 and image.getpixel((0, 0))[2] > 200, path


def test_animations_give_their_first_frame(tmp_path):
    for fmt, ext in (("GIF", "gif"), ("WEBP", "webp")):
        image = load_image(animated(tmp_path / f"a.{ext}", fmt))
        r, _, b = image.getpixel((30, 20))
        assert r > 200 and b < 50, fmt


def test_a_fifo_is_refused_without_blocking(tmp_path, deadline):
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(DecodeError) as err:
        load_image(tmp_path / "pipe.jpg")
    assert err.value.kind == FailKind.NOT_A_FILE
    assert not sniff_image(tmp_path / "pipe.jpg")
    assert read_metadata(tmp_path / "pipe.jpg")["width"] is None
    with pytest.raises(DecodeError):
        read_photo_bytes(tmp_path / "pipe.jpg")


def test_a_folder_with_an_image_name_is_not_a_file(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(DecodeError) as err:
        load_image(tmp_path / "folder.jpg")
    assert err.value.kind == FailKind.NOT_A_FILE


def _deny(monkeypatch, denied: Path) -> None:
    """Reading ``denied`` fails as chmod 000 would for a normal user (tests run as root)."""
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, *args, **kwargs):
        if os.fspath(path) == str(denied):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    def open_(file, *args, **kwargs):
        if not isinstance(file, int) and os.fspath(file) == str(denied):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)


def test_an_unreadable_file_is_a_typed_error(tmp_path, monkeypatch):
    path = write_photo(tmp_path / "secret.jpg")
    _deny(monkeypatch, path)
    with pytest.raises(DecodeError, match="permission") as err:
        load_image(path)
    assert err.value.kind == FailKind.UNREADABLE
    assert read_metadata(path)["width"] is None and not sniff_image(path)


def test_a_file_changed_while_being_read_says_so(tmp_path, monkeypatch):
    path = write_photo(tmp_path / "busy.jpg", seed=1)
    st = os.stat(path)
    with pytest.raises(DecodeError) as err:  # differs from what the scan saw
        load_image(path, expect=(st.st_size + 1, st.st_mtime_ns))
    assert err.value.kind == FailKind.CHANGED
    real_to_rgb = photosim.media.decode.to_rgb

    def rewrite_meanwhile(image):
        write_photo(path, size=(100, 80), seed=2)  # another program saves over it
        return real_to_rgb(image)

    monkeypatch.setattr(photosim.media.decode, "to_rgb", rewrite_meanwhile)
    with pytest.raises(DecodeError, match="changed while being read") as err:
        load_image(path)
    assert err.value.kind == FailKind.CHANGED


def test_read_photo_bytes_checks_what_the_scan_saw(tmp_path):
    path = write_photo(tmp_path / "a.jpg")
    st = os.stat(path)
    assert read_photo_bytes(path, expect=(st.st_size, st.st_mtime_ns)) == path.read_bytes()
    with pytest.raises(DecodeError) as err:
        read_photo_bytes(path, expect=(st.st_size, st.st_mtime_ns - 1))
    assert err.value.kind == FailKind.CHANGED
    with pytest.raises(DecodeError) as err:
        read_photo_bytes(tmp_path / "gone.jpg")
    assert err.value.kind == FailKind.VANISHED


@pytest.mark.parametrize("name", [NON_UTF8, *ODD_NAMES])
def test_any_file_name_decodes_and_reads_metadata(tmp_path, name):
    path = os.path.join(os.fsdecode(tmp_path), name)
    write_photo(Path(path), size=(120, 90))
    assert load_image(path).size == (120, 90)
    assert load_image(os.fsencode(path)).size == (120, 90)  # bytes paths too
    assert (read_metadata(path)["width"], read_metadata(path)["height"]) == (120, 90)
    assert sniff_image(path)
    with pytest.raises(DecodeError) as err:
        load_image(path + ".missing")
    assert "\\xe9" in str(err.value) or name[:4] in str(err.value)
    str(err.value).encode("utf-8")  # printable: no lone surrogates


def test_thumbnail_cache_takes_any_name(tmp_path, monkeypatch):
    a = write_photo(Path(os.path.join(os.fsdecode(tmp_path), NON_UTF8)), seed=1)
    b = write_photo(tmp_path / "latin1-été.jpg", seed=2)  # the same letters, as UTF-8
    st_a = os.stat(a)
    key_a = thumbs.cache_file(a, st_a.st_size, st_a.st_mtime_ns)
    assert key_a != thumbs.cache_file(b, st_a.st_size, st_a.st_mtime_ns)
    first = thumbs.load_thumbnail(a)
    assert key_a.is_file()  # cached under the escaped name...
    assert thumbs.load_thumbnail(b).size == first.size
    with monkeypatch.context() as m:
        m.setattr(thumbs, "load_image", lambda *a, **k: pytest.fail("not read from the cache"))
        assert thumbs.load_thumbnail(a).size == first.size  # ...and read back from it


# -- scan level: one folder full of bad inputs, scanned in one go ---------------
def failures_of(lib: Library) -> dict[Path, tuple[str, str | None]]:
    """``{path: (reason, kind)}`` from ``lib.failures()`` (pairs, or records with a kind)."""
    out = {}
    for failure in lib.failures():
        if isinstance(failure, tuple) and len(failure) == 2:
            out[Path(failure[0])] = (failure[1], None)
        else:
            out[Path(failure.path)] = (failure.reason, getattr(failure, "kind", None))
    return out


def build_bad_folder(root: Path) -> tuple[list[Path], dict[str, FailKind]]:
    """Good photos (some strange) and bad files; returns (good, {bad name: kind})."""
    good = [write_photo(root / f"good{i}.jpg", seed=i) for i in range(3)]
    good += [
        write_photo(root / "sub" / "png.png", seed=10, fmt="PNG"),
        corrupt_exif_jpeg(root / "corrupt-exif.jpg", seed=11),
        animated(root / "animated.gif", "GIF"),
        animated(root / "animated.webp", "WEBP"),
        png16_rgb(root / "deep.png"),
        tiff16_rgb(root / "deep.tif"),
        cmyk_jpeg(root / "cmyk.jpg"),
        palette_with_transparency(root / "palette.png"),
    ]
    good += [write_photo(root / name, seed=20 + i) for i, name in enumerate(ODD_NAMES)]
    bad = {
        "empty.jpg": FailKind.NOT_AN_IMAGE,
        "text.jpg": FailKind.NOT_AN_IMAGE,
        "truncated.jpg": FailKind.DAMAGED,
        "bomb.png": FailKind.TOO_LARGE,
        "just-over.png": FailKind.TOO_LARGE,
    }
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not a photo")
    truncated_jpeg(root / "truncated.jpg")
    png_claiming(root / "bomb.png", 100_000, 100_000)
    png_claiming(root / "just-over.png", 25_000, 25_000)
    os.mkfifo(root / "pipe.jpg")
    (root / "folder.jpg").mkdir()
    outside = write_photo(root.parent / "outside" / "private.jpg")
    (root / "link-out.jpg").symlink_to(outside)
    (root / "link-in.jpg").symlink_to(good[0])
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    return good, bad


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every regular file's mtime and bytes (links and FIFOs are not read)."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if os.path.isfile(path) and not os.path.islink(path):
                out[path] = (st.st_mtime_ns, Path(path).read_bytes())
    return out


def test_a_folder_full_of_bad_inputs_scans_to_the_end(
    tmp_path, capfd, deadline, monkeypatch, logging_set_up
):
    root = tmp_path / "photos"
    good, bad = build_bad_folder(root)
    denied = write_photo(root / "denied.jpg", seed=40)
    _deny(monkeypatch, denied)
    before = snapshot(tmp_path)
    with Library([root], backbone=make_tiny_backbone()) as lib:
        events = list(lib.scan())
        assert events[-1].kind == "done" and not events[-1].cancelled
        photos = {p.path: p for p in lib.photos()}
        for path in good:
            assert photos[path].has_vector, path
        assert set(photos) == {*good, *(root / n for n in bad), denied}  # no pipe, folder, link
        failures = failures_of(lib)
        assert set(failures) == {*(root / n for n in bad), denied}
        assert all(reason for reason, _ in failures.values())
        assert "ermission" in failures[denied][0]
        assert "pixels" in failures[root / "bomb.png"][0]
        for name, kind in [*bad.items(), (denied.name, FailKind.UNREADABLE)]:
            stored = failures[root / name][1]
            assert stored is None or stored == kind, (
                name,
                stored,
            )  # kinds where the store has them
        assert [m.path for m in lib.similar(good[1], k=3)]  # searchable
    assert snapshot(tmp_path) == before  # no photo's bytes or mtime changed
    assert capfd.readouterr().err == ""
    assert "EXIF" in logging_set_up.read_text() or "Tag data" in logging_set_up.read_text()


def test_a_non_utf8_name_is_scanned_and_shown(tmp_path):
    root = tmp_path / "photos"
    good = [write_photo(root / "a.jpg", seed=1)]
    good.append(write_photo(Path(os.path.join(os.fsdecode(root), NON_UTF8)), seed=2))
    (Path(os.path.join(os.fsdecode(root), os.fsdecode(b"bad-\xff.jpg")))).write_text("x")
    with Library([root], backbone=make_tiny_backbone()) as lib:
        events = list(lib.scan())
        assert events[-1].kind == "done"
        assert all(p.has_vector for p in lib.photos() if p.path in good)
        assert {p.path for p in lib.photos()} >= set(good)
        assert len(failures_of(lib)) == 1


def test_files_that_vanish_or_change_after_the_walk(tmp_path, monkeypatch):
    import photosim.library.walk

    root = tmp_path / "photos"
    keep = write_photo(root / "keep.jpg", seed=1)
    gone = write_photo(root / "gone.jpg", seed=2)
    busy = write_photo(root / "busy.jpg", seed=3)
    real = photosim.library.walk.is_candidate

    def after_stat(name, path):  # the walk has stat'ed the file: now others act
        if name == "gone.jpg":
            os.remove(path)
        elif name == "busy.jpg":
            write_photo(Path(path), size=(200, 100), seed=4)
        return real(name, path)

    monkeypatch.setattr(photosim.library.walk, "is_candidate", after_stat)
    with Library([root], backbone=make_tiny_backbone()) as lib:
        events = list(lib.scan())
        assert events[-1].kind == "done"
        assert lib.photo(keep).has_vector
        monkeypatch.setattr(photosim.library.walk, "is_candidate", real)
        events = list(lib.scan())  # the changed file is read again; the gone one swept
        assert events[-1].kind == "done"
        assert lib.photo(gone) is None
        assert lib.photo(busy).has_vector and lib.photo(busy).width == 200


def test_a_file_changed_during_its_decode_is_retried_next_scan(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    busy = write_photo(root / "busy.jpg", seed=3)
    real_to_rgb = photosim.media.decode.to_rgb
    rewrites = []

    def rewrite_once(image):
        if not rewrites:
            rewrites.append(1)
            write_photo(busy, size=(200, 100), seed=4)
        return real_to_rgb(image)

    monkeypatch.setattr(photosim.media.decode, "to_rgb", rewrite_once)
    with Library([root], backbone=make_tiny_backbone()) as lib:
        assert list(lib.scan())[-1].kind == "done"
        first = failures_of(lib).get(busy)
        assert first is None or "changed" in first[0]
        assert list(lib.scan())[-1].kind == "done"
        assert lib.photo(busy).has_vector and not lib.failures()
        assert lib.photo(busy).width == 200


def test_nothing_reaches_the_terminal_in_a_real_process(tmp_path):
    """Pillow's EXIF warnings go to the log file, not stderr (pytest's own capture is bypassed)."""
    root = tmp_path / "photos"
    build_bad_folder(root)
    tests = Path(__file__).parent
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from photosim.core.log import setup_logging\n"
        "log = setup_logging()  # first, as the CLI does\n"
        "from conftest import make_tiny_backbone\n"
        "from photosim.library import Library\n"
        "lib = Library([sys.argv[1]], backbone=make_tiny_backbone())\n"
        "assert list(lib.scan())[-1].kind == 'done'\n"
        "print(log.read_text())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tests.parent), "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root), str(tests)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Tag data larger than file" in proc.stdout or "EXIF" in proc.stdout


def test_exif_that_pillow_cannot_parse_does_not_lose_the_photo(tmp_path, monkeypatch):
    path = write_photo(tmp_path / "a.jpg", size=(120, 90))

    def broken(self):
        raise struct.error("unpack requires a buffer of 12 bytes")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    assert load_image(path).size == (120, 90)
    assert read_metadata(path)["width"] == 120


def test_a_vanished_file_has_no_thumbnail_but_a_typed_error(tmp_path):
    with pytest.raises(DecodeError) as err:
        thumbs.load_thumbnail(tmp_path / "gone.jpg")
    assert err.value.kind == FailKind.VANISHED


def test_bytes_already_read_decode_like_the_file(tmp_path, recwarn):
    from photosim.media.decode import decode_bytes

    path = write_photo(tmp_path / "a.jpg", size=(300, 200), orientation=6)
    data = read_photo_bytes(path)
    assert decode_bytes(data, "a.jpg", 100).size == load_image(path, 100).size == (67, 100)
    assert read_metadata(io.BytesIO(data)) == read_metadata(path)
    for bad, kind in [
        (b"", FailKind.NOT_AN_IMAGE),
        (truncated_jpeg(tmp_path / "t.jpg").read_bytes(), FailKind.DAMAGED),
        (png_claiming(tmp_path / "b.png", 100_000, 100_000).read_bytes(), FailKind.TOO_LARGE),
    ]:
        with pytest.raises(DecodeError) as err:
            decode_bytes(bad, "x.jpg", 64)
        assert err.value.kind == kind

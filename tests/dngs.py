"""Full-size DNGs written from real photos (pidng): RAW content tests need real pictures."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

# linear sRGB -> XYZ (D65); a DNG's ColorMatrix1 maps XYZ to the camera's RGB, which here is
# linear sRGB itself, so LibRaw develops the mosaic back into the photo's own colours.
_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)


def _rational(matrix: np.ndarray) -> list[list[int]]:
    return [[round(float(v) * 10000), 10000] for v in matrix.flatten()]


def write_dng(
    photo: Image.Image, path: Path, taken: str | None = None, lens: str | None = None
) -> Path:
    """``photo`` as an RGGB Bayer mosaic in a DNG at ``path`` (12-bit values, uncompressed,
    no embedded preview: LibRaw demosaics it). ``taken``: its DateTimeOriginal
    ("2024:05:01 10:00:00", optionally ".25" for SubSecTimeOriginal); ``lens``: its LensModel."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation

    rgb = np.asarray(photo.convert("RGB"), dtype=np.float64) / 255.0
    h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    rgb = rgb[:h, :w]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    bayer = np.empty((h, w), dtype=np.uint16)
    white = 4095
    bayer[0::2, 0::2] = linear[0::2, 0::2, 0] * white
    bayer[0::2, 1::2] = linear[0::2, 1::2, 1] * white
    bayer[1::2, 0::2] = linear[1::2, 0::2, 1] * white
    bayer[1::2, 1::2] = linear[1::2, 1::2, 2] * white

    t = DNGTags()
    t.set(Tag.ImageWidth, w)
    t.set(Tag.ImageLength, h)
    t.set(Tag.TileWidth, w)
    t.set(Tag.TileLength, h)
    t.set(Tag.Orientation, 1)
    t.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    t.set(Tag.SamplesPerPixel, 1)
    t.set(Tag.BitsPerSample, 16)
    t.set(Tag.CFARepeatPatternDim, [2, 2])
    t.set(Tag.CFAPattern, CFAPattern.RGGB)
    t.set(Tag.BlackLevel, 0)
    t.set(Tag.WhiteLevel, white)
    t.set(Tag.ColorMatrix1, _rational(np.linalg.inv(_SRGB_TO_XYZ)))
    t.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    t.set(Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]])
    t.set(Tag.BaselineExposure, [[0, 1]])
    t.set(Tag.Make, "photosim")
    t.set(Tag.Model, "test camera")
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    t.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    t.set(Tag.PreviewColorSpace, 2)
    if taken:
        date, _, subsec = taken.partition(".")
        t.set(Tag.DateTimeOriginal, date)
        if subsec:
            t.set(Tag.SubsecTimeOriginal, subsec)
    if lens:
        t.set(Tag.EXIFPhotoLensModel, lens)
    r = RAW2DNG()
    r.options(t, path="", compress=False)
    written = path.with_name(path.stem + ".pidng")
    r.convert(bayer, filename=str(written))  # pidng adds ".dng" to the name it is given
    written.with_name(written.name + ".dng").replace(path)
    return path


def write_jpeg(photo: Image.Image, path: Path, taken: str | None = None) -> Path:
    """``photo`` as a camera JPEG at ``path`` with ``taken`` as its EXIF DateTimeOriginal
    ("2024:05:01 10:00:00", optionally ".25" for SubSecTimeOriginal)."""
    exif = Image.Exif()
    if taken:
        date, _, subsec = taken.partition(".")
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = date
        if subsec:
            ifd[0x9291] = subsec
    photo.save(path, quality=92, exif=exif.tobytes())
    return path


# -- a minimal DNG writer (IFD0: the JPEG preview; SubIFD: the 16-bit RGGB mosaic) ---------
def _entries(tags: list[tuple[int, int, list]], at: int) -> tuple[bytes, bytes]:
    """One IFD at offset ``at``: (entries + next-IFD pointer, the values stored after it)."""
    codes = {1: "B", 2: "B", 3: "H", 4: "I", 13: "I"}
    head = struct.pack("<H", len(tags))
    extra = b""
    data_at = at + 2 + 12 * len(tags) + 4
    for tag, kind, values in sorted(tags):
        if kind in (5, 10):
            payload = b"".join(struct.pack("<ii" if kind == 10 else "<II", *v) for v in values)
        else:
            payload = struct.pack(f"<{len(values)}{codes[kind]}", *values)
        count = len(values)
        if len(payload) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, data_at + len(extra))
            extra += payload + (b"\0" if len(payload) % 2 else b"")
    return head + struct.pack("<I", 0), extra


def write_dng_with_preview(rgb: np.ndarray, path: Path, preview: bytes | None) -> None:
    """``rgb`` (uint8 HxWx3) as a DNG: its 12-bit RGGB mosaic (packed), and
    ``preview`` (JPEG bytes) in IFD0, as a camera writes it."""
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    v = rgb[:h, :w].astype(np.float32) / 255
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4) * 4095
    mosaic = np.empty((h, w), np.uint16)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = lin[0::2, 0::2, 0], lin[0::2, 1::2, 1]
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = lin[1::2, 0::2, 1], lin[1::2, 1::2, 2]
    # 12-bit values packed as TIFF packs them (pidng's packer; its lossless-JPEG encoder does
    # not load on Python 3.11): 18 MB for 12 MP, where cameras' compressed RAWs are 10-15 MB
    from pidng.packing import pack12

    raw = pack12(mosaic).tobytes()
    xyz_to_srgb = [[32406, -15372, -4986], [-9689, 18758, 415], [557, -2040, 10570]]
    matrix = [(v, 10000) for row in xyz_to_srgb for v in row]
    preview = preview or b""

    # layout: header | IFD0 | IFD0 values | SubIFD | SubIFD values | preview | mosaic
    def ifd0(sub_at: int, preview_at: int, pw: int, ph: int) -> list:
        tags = [(254, 4, [1 if preview else 0]), (271, 2, list(b"Bench\0")),
                (272, 2, list(b"DNG 12\0")), (330, 4, [sub_at]),
                (50706, 1, [1, 4, 0, 0]), (50708, 2, list(b"Bench DNG 12\0")),
                (50721, 10, matrix), (50728, 5, [(1, 1)] * 3), (50778, 3, [21])]  # fmt: skip
        if preview:
            tags += [(256, 4, [pw]), (257, 4, [ph]), (258, 3, [8, 8, 8]), (259, 3, [7]),
                     (262, 3, [6]), (273, 4, [preview_at]), (277, 3, [3]), (278, 4, [ph]),
                     (279, 4, [len(preview)])]  # fmt: skip
        else:
            tags += [(256, 4, [1]), (257, 4, [1])]
        return tags

    def sub(raw_at: int) -> list:
        return [(254, 4, [0]), (256, 4, [w]), (257, 4, [h]), (258, 3, [12]), (259, 3, [1]),
                (262, 3, [32803]), (273, 4, [raw_at]), (277, 3, [1]), (278, 4, [h]),
                (279, 4, [len(raw)]), (33421, 3, [2, 2]), (33422, 1, [0, 1, 1, 2]),
                (50714, 4, [0]), (50717, 4, [4095])]  # fmt: skip

    pw, ph = Image.open(io.BytesIO(preview)).size if preview else (0, 0)
    # two passes: sizes first (offsets do not change the sizes), then the real offsets
    a, b = _entries(ifd0(0, 0, pw, ph), 8)
    sub_at = 8 + len(a) + len(b)
    c, d = _entries(sub(0), sub_at)
    preview_at = sub_at + len(c) + len(d)
    raw_at = preview_at + len(preview) + (len(preview) % 2)
    a, b = _entries(ifd0(sub_at, preview_at, pw, ph), 8)
    c, d = _entries(sub(raw_at), sub_at)
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<I", 8) + a + b + c + d + preview)
        f.write(b"\0" * (len(preview) % 2) + raw)

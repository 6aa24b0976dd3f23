"""Full-size DNGs written from real photos (pidng): RAW content tests need real pictures."""

from __future__ import annotations

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

"""Colour: every decoded photo in sRGB, so a Display-P3 or HDR photo never looks washed out.

Two ways a file states its colours: an ICC profile (JPEG, PNG, TIFF, HEIC, JPEG XL),
converted to sRGB with LittleCMS (``PIL.ImageCms``); or an ISO-BMFF ``nclx`` colour box
(AVIF, some HEIF) naming primaries and a transfer curve, converted here with numpy:
linearise, change primaries, tone-map HDR (PQ, HLG) into SDR, encode as sRGB.
"""

from __future__ import annotations

import io
import logging
import struct
from functools import cache

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

# ISO/IEC 23091-2 colour primaries -> RGB-to-XYZ matrices (D65).
_PRIMARIES = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),  # BT.709 / sRGB
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),  # BT.2020
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),  # Display P3 (SMPTE EG 432-1)
}
_SRGB, _PQ, _HLG = 13, 16, 18
_SDR_TRANSFERS = {1, 6, 13, 14, 15}  # BT.709/601/sRGB/BT.2020: one curve is close enough
_REFERENCE_WHITE_NITS = 203.0  # ITU-R BT.2408: HDR reference white is shown as SDR white


def nclx(head: bytes) -> tuple[int, int] | None:
    """(primaries, transfer) from the first ``colr``/``nclx`` box in ``head``; None if absent."""
    at = head.find(b"colrnclx")
    if at < 0 or len(head) < at + 14:
        return None
    primaries, transfer, _matrix = struct.unpack(">HHH", head[at + 8 : at + 14])
    return primaries, transfer


def to_srgb(image: Image.Image, icc: bytes | None = None, head: bytes = b"") -> Image.Image:
    """``image`` converted to sRGB when its file says its colours are something else.

    ``icc``: the file's embedded profile; ``head``: the file's first bytes, where an
    ISO-BMFF ``nclx`` box would be. Images without either are taken to be sRGB, as
    browsers do.
    """
    if icc:
        return _from_icc(image, icc)
    colours = nclx(head) if head else None
    if colours is None or colours == (1, _SRGB) or image.mode not in {"RGB", "RGBA"}:
        return image
    primaries, transfer = colours
    if primaries not in _PRIMARIES or (transfer not in _SDR_TRANSFERS | {_PQ, _HLG}):
        return image
    return _convert(image, primaries, transfer)


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _from_icc(image: Image.Image, icc: bytes) -> Image.Image:
    """The embedded profile applied (perceptual intent); the image unchanged if LittleCMS refuses it."""
    if image.mode not in {"RGB", "RGBA", "CMYK", "L"}:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source).strip().lower()
        if description.startswith("srgb") and image.mode != "CMYK":
            return image  # already sRGB: skip a conversion that changes nothing
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, _srgb_profile(), renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode=out_mode,
        )  # fmt: skip
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        log.debug("ICC profile not applied", exc_info=True)
        return image
    assert converted is not None  # None only for inPlace=True
    converted.info = {k: v for k, v in image.info.items() if k != "icc_profile"}
    return converted


def _matrix(primaries: int) -> np.ndarray:
    """RGB-to-XYZ for the given primaries and a D65 white."""
    xy = np.array(_PRIMARIES[primaries])
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(3), (1 - xy.sum(1)) / xy[:, 1]])
    white = np.array([0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])
    return xyz * np.linalg.solve(xyz, white)


def _linear(v: np.ndarray, transfer: int) -> np.ndarray:
    """Encoded values (0..1) to linear light, 1.0 = SDR reference white."""
    if transfer == _PQ:
        m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
        p = np.power(v, 1 / m2)
        nits = 10000 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)
        return nits / _REFERENCE_WHITE_NITS
    if transfer == _HLG:
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        scene = np.where(v <= 0.5, v * v / 3, (np.exp((v - c) / a) + b) / 12)
        return scene * 1000 / _REFERENCE_WHITE_NITS  # 1000-nit display, system gamma ~1
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4))


def _tone_map(rgb: np.ndarray) -> np.ndarray:
    """HDR linear light into 0..1: unchanged up to a knee below white, then a soft shoulder
    (extended Reinhard on luminance) that brings the photo's peak to white."""
    knee = 0.75
    lum = rgb @ np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
    peak = max(float(np.percentile(lum, 99.9)), 1.0)
    x = np.maximum(lum - knee, 0) / (1 - knee)
    white = (peak - knee) / (1 - knee)
    mapped = knee + (1 - knee) * x * (1 + x / (white * white)) / (1 + x)
    scale = np.where(lum > knee, mapped / np.maximum(lum, 1e-6), 1.0)
    return rgb * scale[..., None].astype(np.float32)


def _convert(image: Image.Image, primaries: int, transfer: int) -> Image.Image:
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    v = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    rgb = _linear(v, transfer)
    if primaries != 1:
        to_srgb = np.linalg.solve(_matrix(1), _matrix(primaries)).astype(np.float32)
        rgb = rgb @ to_srgb.T
    if transfer in {_PQ, _HLG}:
        rgb = _tone_map(rgb)
    rgb = np.clip(rgb, 0.0, 1.0)
    encoded = np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    out = Image.fromarray(np.round(encoded * 255).astype(np.uint8), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    out.info = dict(image.info)
    return out

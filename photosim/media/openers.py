"""Pillow's openers for the formats it does not read by itself, registered on import: HEIC/HEIF
(pillow-heif), JPEG XL (pillow-jxl-plugin) and, on a Pillow older than 11.3, AVIF. Every module
that opens photos with Pillow imports this first."""

from __future__ import annotations

import contextlib

from PIL import features

try:  # HEIC/HEIF from phones; optional at runtime, required by pyproject.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIF = False

with contextlib.suppress(ImportError):  # JPEG XL; pillow-jxl-plugin is a dependency
    import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)

if not features.check("avif"):  # pragma: no cover - Pillow >= 11.3 reads AVIF itself
    with contextlib.suppress(ImportError):
        import pillow_avif  # noqa: F401  (an older Pillow with pillow-avif-plugin installed)

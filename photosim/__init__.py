"""photosim: find similar photos and near-duplicates in your own photo library.

The engine (scan, decode, embed, store, index) is free of Qt; the CLI and the
desktop app sit on the same :class:`photosim.library.Library` API.
"""

__version__ = "0.1.0"

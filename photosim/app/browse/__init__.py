"""Browsing photos: the grid, the preview, the neighbours strip, thumbnails and their models."""

"""Errors the engine raises for people to read: one clear message, no traceback."""

from __future__ import annotations


class PhotosimError(Exception):
    """Base class: ``str(err)`` is a message fit to show a user as is."""


class WeightsUnavailable(PhotosimError):
    """The ResNet weights are neither cached nor downloadable, nor given as a file."""

    def __init__(self, message: str, expected: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected


class UnknownLibrary(PhotosimError):
    """No library matches what the user asked for."""


class ModelMismatch(PhotosimError):
    """The library's vectors were made by another model than the one loaded."""

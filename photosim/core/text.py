"""Words for counts, shared by the CLI and the app: "1 photo", "2 photos", "1,204 files"."""

from __future__ import annotations

import os
from collections.abc import Mapping


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word`` agreeing in number: ``plural(1, "photo")`` is "1 photo".

    ``many`` is the plural when it is not ``word + "s"`` (``plural(2, "copy", "copies")``).
    """
    noun = word if count == 1 else (many or f"{word}s")
    return f"{count:,} {noun}"


def camera_name(make: str | None, model: str | None) -> str:
    """The camera as people say it: "Canon PowerShot S230", not "Canon Canon PowerShot S230"
    (most models repeat the make; "NIKON CORPORATION" + "NIKON D70" is "NIKON D70")."""
    make, model = (make or "").strip(), (model or "").strip()
    if not model:
        return make
    if not make or model.casefold().startswith(make.split()[0].casefold()):
        return model
    return f"{make} {model}"


def name_in_folder(path: str, names: Mapping[str, int]) -> str:
    """The name shown for a photo: its file name, with its folder's name when ``names`` (how
    many photos shown bear each file name) says another one has the same name
    (``2016 Brittany/100002.jpg``), so same-name files can be told apart."""
    name = os.path.basename(path)
    if names.get(name, 0) < 2:
        return name
    return f"{os.path.basename(os.path.dirname(path))}/{name}"

"""What photosim does with each file of shared/photos/raw and shared/photos/modern (the table
of issue 16's closing note). ``python tests/formats_table.py`` prints it as Markdown;
tests/test_formats.py asserts it."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from photosim.core.errors import DecodeError
from photosim.media import colour, formats, raw
from photosim.media.decode import load_image, read_photo_bytes
from photosim.media.metadata import read_metadata

SIDE = 320  # the size the scan decodes to (the fingerprint's side; a model's is smaller)


def what_photosim_does(path: Path) -> str:
    """One line: a photo decoded from what (preview, demosaic, Pillow), or failed and why, or a
    file that is not a photo."""
    role = formats.role_of(path.name)
    if role is not formats.Role.PHOTO:
        return f"not a photo: a {role or 'unknown'} file, counted as other file when alone"
    try:
        image = load_image(path, max_side=SIDE)
    except DecodeError as exc:
        return f"fails ({exc.kind.value}): {exc.reason}"
    meta = read_metadata(path)
    upright = f"{meta['width']}x{meta['height']} upright"
    rendering = image.info.get(raw.RENDERING)
    if rendering:
        return f"decodes from {rendering} ({upright})"
    head = read_photo_bytes(path)[:4096]
    fmt = formats.by_content(head)
    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
    colours = colour.nclx(head)
    if icc:
        source = "its ICC profile converted to sRGB"
    elif colours in (None, (1, 13)):
        source = "sRGB as it is"
    else:
        names = {1: "BT.709", 9: "BT.2020", 12: "Display P3", 16: "PQ (HDR, tone-mapped)",
                 18: "HLG (HDR, tone-mapped)", 13: "sRGB curve"}  # fmt: skip
        source = "nclx " + " / ".join(names.get(c, str(c)) for c in colours) + " to sRGB"
    return f"decodes with Pillow ({fmt.name if fmt else '?'}; {upright}; {source})"


def table(shared: Path) -> list[tuple[str, str]]:
    """(folder/name, what photosim does) for every file of raw/ and modern/."""
    return [
        (f"{folder}/{path.name}", what_photosim_does(path))
        for folder in ("raw", "modern")
        for path in sorted((shared / folder).iterdir())
        if path.is_file()
    ]


if __name__ == "__main__":
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/photos")
    print("| file | what photosim does |\n| --- | --- |")
    for name, what in table(shared):
        print(f"| {name} | {what} |")

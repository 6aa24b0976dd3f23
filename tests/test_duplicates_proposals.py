"""The proposal lanes (photosim.dupes.proposals): copies the CNN cannot see are proposed."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps

from photosim.dupes import proposals
from photosim.media import pixels


def _fingerprint(im: Image.Image) -> pixels.Fingerprint:
    im = im.copy()
    im.thumbnail((256, 256))
    return pixels.decode(pixels.fingerprint(im))


def test_copies_turned_and_cropped_are_proposed_by_the_turned_frames_lane():
    """A copy turned a quarter and cropped 8% on two sides (its rotation descriptor no longer
    agrees: the crop moved the centre it is symmetric about) is proposed with its original
    among 60 real photos; the photos themselves are not paired with their own turns."""
    from conftest import SHARED_PHOTOS

    files = sorted((SHARED_PHOTOS / "holidays").glob("*.jpg"))[:60]
    if len(files) < 60:
        pytest.skip("../shared/photos/holidays is not present")
    images = []
    for f in files:
        with Image.open(f) as im:
            images.append(ImageOps.exif_transpose(im).convert("RGB"))
    fps: list[pixels.Fingerprint | None] = [_fingerprint(im) for im in images]
    copies = {}
    for n, i in enumerate(range(0, 60, 6)):
        w, h = images[i].size
        cut = images[i].crop((int(0.08 * w), 0, w, int(0.92 * h)))  # left and bottom
        turned = cut.transpose([Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                Image.Transpose.ROTATE_270][n % 3])  # fmt: skip
        copies[len(fps)] = i
        fps.append(_fingerprint(turned))
    fps.append(None)  # a photo without a fingerprint is left out
    got = proposals.turned_pairs(fps)
    found = {(min(a, b), max(a, b)) for a, b, _ in got}
    for copy, original in copies.items():
        assert (original, copy) in found, (files[original].name, copy)
    assert all(a != b and agree >= proposals.TURNED_MIN for a, b, agree in got)
    # the rotation descriptor, symmetric about a centre the crop moved, misses some of them
    described = {(min(a, b), max(a, b)) for a, b, _ in proposals.rotation_pairs(fps)}
    assert sum((o, c) not in described for c, o in copies.items()) >= 3

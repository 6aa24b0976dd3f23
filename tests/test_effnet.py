"""The trained test network gives real similarity scores: copies high, other objects low."""

from __future__ import annotations

from photosim.media.decode import load_image


def test_copies_score_high_and_other_objects_low(effnet_backbone, shared_photos):
    b = effnet_backbone
    names = ["ukbench00120.jpg", "ukbench00120_resize.jpg", "ukbench00120_gray.jpg"]
    files = [shared_photos / "transforms" / n for n in names]
    files += sorted((shared_photos / "ukbench").glob("*.jpg"))[1:]
    vectors = b.embed([b.prepare(load_image(f, b.input_size)) for f in files])
    scores = vectors[1:] @ vectors[0]
    assert scores[0] > 0.85 and scores[1] > 0.75  # a resized and a grey copy
    assert scores[2:].max() < 0.5  # nine other objects

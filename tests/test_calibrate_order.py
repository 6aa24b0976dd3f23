"""Thresholds depend on the photos, not on their names or the order they were scanned in.

Two libraries of the same ten photos, one under their own names and one under shuffled
names in nested folders, must calibrate to the same thresholds: a user who reorganises a
folder and scans again gets the same duplicate groups.
"""

from __future__ import annotations

import shutil

import pytest

from photosim.library import Library


@pytest.fixture
def ukbench():
    from conftest import SHARED_PHOTOS

    folder = SHARED_PHOTOS / "ukbench"
    if not folder.is_dir():
        pytest.skip("../shared/photos is not present")
    return sorted(folder.glob("*.jpg"))


def _thresholds(root, db, backbone):
    lib = Library([root], db, backbone=backbone)
    try:
        assert list(lib.scan())[-1].failed == 0
        return lib.calibrate(sample=4)
    finally:
        lib.close()


def test_same_photos_under_other_names_calibrate_alike(tmp_path, ukbench, effnet_backbone):
    plain, shuffled = tmp_path / "plain", tmp_path / "shuffled"
    plain.mkdir()
    for i, src in enumerate(ukbench):
        shutil.copy2(src, plain / src.name)
        # reversed order of names, in folders of their own: another scan and path order
        dst = shuffled / f"z{len(ukbench) - i:02d}" / f"{len(ukbench) - i:02d}.jpg"
        dst.parent.mkdir(parents=True)
        shutil.copy2(src, dst)
    first = _thresholds(plain, tmp_path / "a.db", effnet_backbone)
    second = _thresholds(shuffled, tmp_path / "b.db", effnet_backbone)
    assert first == second

"""Same picture = same capture, on real holiday photos with the trained network.

``holidays/`` holds different shots of each scene (other takes, angles, moments) and
three byte-identical pairs: no two files whose bytes differ may be claimed ``exact`` or
``near``. Planted copies (tests/planted.py) of some of them must be ``near`` with their
original; mirrored and 25%-cropped copies and the burst of scene 1000 (camera/) never. A subset keeps
the test bounded (bench/holidays_duplicates.py measures the whole folder).
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from planted import COPIES, OTHERS

from photosim.dupes.finder import DupKind
from photosim.library import Library

SCENES = 36  # the first scenes of holidays/ (~100 photos), plus the identical pairs


@pytest.fixture(scope="module")
def holidays(tmp_path_factory, effnet_backbone):
    from conftest import SHARED_PHOTOS

    source = SHARED_PHOTOS / "holidays"
    if not source.is_dir():
        pytest.skip("../shared/photos/holidays is not present")
    base = tmp_path_factory.mktemp("holidays")
    root = base / "photos"
    (root / "copies").mkdir(parents=True)
    files = sorted(source.glob("*.jpg"))
    scenes = sorted({p.stem[:4] for p in files})[:SCENES]
    chosen = [p for p in files if p.stem[:4] in scenes or p.stem[:4] in ("1031", "1039")]
    origin: dict[Path, str] = {}  # file -> the picture it shows (an original's name)
    first: dict[str, str] = {}  # digest -> the first file with those bytes
    for src in chosen:
        shutil.copy2(src, root / src.name)
        origin[root / src.name] = first.setdefault(_digest(src), src.name)
    copies, others = list(COPIES), list(OTHERS)
    for i, src in enumerate(chosen[:: len(chosen) // 24][:24]):  # 24 originals, 2 copies each
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for edit in (copies[(2 * i) % len(copies)], copies[(2 * i + 1) % len(copies)]):
            suffix, data = COPIES[edit](im)
            path = root / "copies" / f"{src.stem}-{edit}{suffix}"
            path.write_bytes(data)
            origin[path] = src.name
        edit = others[i % len(others)]
        suffix, data = OTHERS[edit](im)
        path = root / "copies" / f"{src.stem}-{edit}{suffix}"
        path.write_bytes(data)
        origin[path] = f"{src.name}-{edit}"  # another picture
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOSIM_HOME", str(base / "home"))
        lib = Library([root], base / "library.db", backbone=effnet_backbone)
        assert list(lib.scan())[-1].failed == 0
        lib.calibrate(sample=12)
        result = lib.duplicates()
    return origin, result


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def test_no_two_different_pictures_are_claimed_the_same(holidays):
    origin, result = holidays
    claimed = [g for g in result.groups if g.kind in (DupKind.EXACT, DupKind.NEAR)]
    for g in claimed:
        for m in g.photos:  # each member was confirmed against the keeper itself
            assert origin[m.path] == origin[g.keep], (g.kind, g.keep.name, m.path.name, m.reason)
    exact = [g for g in claimed if g.kind == DupKind.EXACT]
    for g in exact:
        assert len({_digest(m.path) for m in g.photos}) == 1
    identical = {frozenset((p.name, f"1039{p.name[4:]}")) for p in origin
                 if p.name[:4] == "1031" and p.parent.name == "photos"}  # fmt: skip
    found = {frozenset(pair) for g in claimed
             for pair in itertools.combinations((m.path.name for m in g.photos), 2)}  # fmt: skip
    assert len(identical) == 3 and identical <= found


def test_planted_copies_are_the_same_picture(holidays):
    origin, result = holidays
    near = {m.path: g for g in result.groups if g.kind == DupKind.NEAR for m in g.photos}
    copies = [p for p in origin if p.parent.name == "copies" and origin[p].endswith(".jpg")]
    found = [p for p in copies if p in near and origin[near[p].keep] == origin[p]]
    missed = sorted(p.name for p in copies if p not in found)
    recall = len(found) / len(copies)
    print(f"planted copies found near their original: {len(found)}/{len(copies)}; missed {missed}")
    assert recall >= 0.98, missed


def test_mirrors_crops_and_bursts_are_never_near(holidays):
    _origin, result = holidays
    for g in result.groups:
        if g.kind in (DupKind.EXACT, DupKind.NEAR):
            assert not any("-mirror" in m.path.name or "-crop25" in m.path.name
                           for m in g.photos)  # fmt: skip
    shots = [g for g in result.groups if g.kind == DupKind.SIMILAR
             and any(m.path.name.startswith("1000") for m in g.photos)]  # fmt: skip
    assert shots and all(g.reclaimable == 0 for g in shots)  # nothing marked: frees nothing

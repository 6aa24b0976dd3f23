"""The geometric check of many pairs (photosim.dupes.batch): chunks of connected photos,
the same verdicts in worker processes as here, and verdicts kept by content between searches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageOps
from planted import COPIES

from photosim.dupes import batch, verify
from photosim.dupes import cache as dupcache
from photosim.dupes.types import SAME, UNCHECKED
from photosim.media import pixels
from photosim.media.decode import decode_bytes


def test_chunks_cover_every_pair_once_and_keep_small_sets_whole():
    rng = np.random.default_rng(0)
    sets = [
        list(range(s, s + k))
        for s, k in zip(range(0, 400, 10), rng.integers(2, 8, 40), strict=True)
    ]
    pairs = np.array([p for s in sets for p in itertools.combinations(s, 2)], np.int32)
    big = np.array([(1000 + i, 1000 + j) for i in range(60) for j in range(i + 1, min(60, i + 4))])
    pairs = np.concatenate([pairs, big]).astype(np.int32)
    parts = batch.chunks(pairs, limit=16)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(pairs)))
    for part in parts:
        photos = set(pairs[part].ravel().tolist())
        assert len(photos) <= 16
        for s in sets:  # a set of up to 7 photos is never cut
            assert not (0 < len(photos & set(s)) < len(s))


@pytest.fixture(scope="module")
def views():
    """Views of 12 real photos and 2 planted copies of each: (views, pairs to check)."""
    from conftest import SHARED_PHOTOS

    if not (SHARED_PHOTOS / "holidays").is_dir():
        pytest.skip("../shared/photos/holidays is not present")
    files = sorted((SHARED_PHOTOS / "holidays").glob("*.jpg"))[:12]
    out: list[bytes] = []
    for src in files:
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        for data in (src.read_bytes(), COPIES["crop10"](im)[1], COPIES["rot90"](im)[1]):
            fp = pixels.decode(pixels.fingerprint(decode_bytes(data, "x", max_side=256)))
            out.append(fp.view)
    copies = [
        (3 * i + j, 3 * i + k) for i in range(len(files)) for j, k in ((0, 1), (0, 2), (1, 2))
    ]
    others = [(3 * i, 3 * i + 4) for i in range(len(files) - 1)]
    return out, np.array(copies + others, np.int32)


def test_worker_processes_give_the_verdicts_of_this_process(views, monkeypatch):
    found, pairs = views
    here = batch.Checker(found, processes=1).pairs(pairs)
    monkeypatch.setattr(batch, "POOL_MIN_PHOTOS", 0)
    monkeypatch.setattr(batch, "CHUNK_PHOTOS", 8)
    with batch.Checker(found, processes=2) as checker:
        pooled = checker.pairs(pairs)
        assert checker._pool is not None  # it did run in workers
    for a, b in zip(here, pooled, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (here[0] == SAME).sum() >= 8 and (here[0] != UNCHECKED).all()


def test_kept_verdicts_are_reused_and_only_new_pairs_checked(views, tmp_path):
    found, pairs = views
    hashes = [f"h{i}" for i in range(len(found))]
    first = batch.Checker(found, processes=1, hashes=hashes, memo={})
    expected = first.pairs(pairs)
    db = dupcache.verdicts_path(tmp_path / "library.dupes.npz")
    assert db is not None and db.name == "library.verdicts.npz"
    dupcache.save_verdicts(db, verify.SIGNATURE, first.memo, set(hashes))
    memo = dupcache.load_verdicts(db, verify.SIGNATURE)
    assert len(memo) == len(pairs)
    more = np.concatenate([pairs, [[0, 5]]]).astype(np.int32)
    again = batch.Checker(found, processes=1, hashes=hashes, memo=memo)
    verdict, residual, turns = again.pairs(more)
    assert again.stats["kept"] == len(pairs) and again.stats["checks"] == 1
    np.testing.assert_array_equal(verdict[:-1], expected[0])
    np.testing.assert_array_equal(turns[:-1], expected[2])
    np.testing.assert_allclose(residual[:-1], expected[1])
    # another check method, or a damaged file: nothing kept, no error
    assert dupcache.load_verdicts(db, verify.SIGNATURE + "x") == {}
    db.write_bytes(b"not a numpy file")
    assert dupcache.load_verdicts(db, verify.SIGNATURE) == {}


def test_features_kept_by_the_scan_give_the_same_verdicts_and_none_is_computed(views):
    found, pairs = views
    expected = batch.Checker(found, processes=1).pairs(pairs)
    packed: list[bytes | None] = [verify.pack(verify.view_features(v)) for v in found]

    def kept(nodes: list[int]) -> dict[int, bytes]:
        return {i: f for i in nodes if (f := packed[i])}

    batch._FEATURES.clear()
    with batch.Checker(found, kept=kept, processes=1) as checker:
        got = checker.pairs(pairs)
        assert checker.stats["features"] == 0  # every photo's features came packed
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
    # features of another version of the check, or damaged ones: computed again, same verdicts
    packed[0] = b"\x01XXXX" + packed[0][5:]  # another tag
    packed[1] = packed[1][:-7]  # cut short
    packed[2] = None  # a photo scanned before features were kept
    with batch.Checker(found, kept=kept, processes=1) as checker:
        again = checker.pairs(pairs)
        assert checker.stats["features"] == 3
    for a, b in zip(expected, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_packed_features_are_exact_and_their_image_is_decoded_only_when_needed(views):
    view = views[0][0]
    fresh = verify.view_features(view)
    back = verify.unpack(verify.pack(fresh), view)
    assert back is not None and back._grey is None and back.shape == fresh.shape
    np.testing.assert_array_equal(back.points, fresh.points)
    np.testing.assert_array_equal(back.descriptors, fresh.descriptors)
    np.testing.assert_array_equal(back.grey, fresh.grey)  # decoded from the view on use

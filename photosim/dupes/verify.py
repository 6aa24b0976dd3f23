"""Is this file the same capture as that one? The geometric check behind ``near``.

Two files show the same picture when one's pixels are the other's under a *global*
transform: a scale (also squeezed), a crop of up to ~10% a side, a quarter turn,
a global tone curve (brightness, contrast, gamma, greyscale) and compression
noise. So the check (1) matches local features (ORB, binary: ~1.5 ms a photo where
SIFT took 17, on the greyscale views the scan keeps, see :mod:`photosim.media.pixels`)
and fits an affine transform with RANSAC, then refits it on the tight matches; (2)
accepts only fits that are a quarter turn plus an axis-aligned scale (no mirror, no
shear) whose frames contain one another up to the crop limit; (3) warps one onto the
other, maps its tones onto the other's (a monotone curve), and requires the residual
to be small in *every* tile of the frame, not on average: a moved subject, parallax,
a changed pose or a reframed horizon leaves a tile that disagrees; (4) for a pair
that passed, aligns the two on all their pixels (ECC) and requires that alignment to
be a quarter turn within a tenth of a degree: a burst frame of a still scene, whose
moved subject sits where the tiles cannot see it, is the camera turned by a little.
Photos with too little detail for the check to see anything (night sky, fog, black
frames) are never confirmed: weak evidence is ``similar``.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from photosim.media.pixels import Fingerprint

WORK_SIDE = 256  # thumbnails are matched at this longer side (upscaled when smaller)
MIN_INLIERS = 20  # feature matches that agree with the fit, at least
MIN_INLIER_SHARE = 0.35  # of the matches that passed the ratio test
CROP_LIMIT = 0.12  # a frame may lose this share of each side to the other (~10% crops)
FRAME_SLACK = 0.025  # how far a frame may reach outside the other (fit and rounding)
TURN_SLACK_DEG = 0.6  # the feature fit must be a quarter turn within this (ORB points: +-0.5)
FINE_TURN_SLACK_DEG = 0.1  # and the fine alignment within this: copies <= 0.05 (99%), bursts 0.13+
SHEAR_SLACK = 0.03
GRID = 8  # residual tiles per side
RESIDUAL_MAX = 7.5  # worst tile's mean |difference| (grey levels): copies <= 6, retakes >= 9.6
DETAIL_MIN = 5.0  # a tile has detail when its grey levels vary this much (std)
DETAIL_TILES = 0.4  # the share of compared tiles with detail that makes the evidence strong
DETAIL_COUNT = 12  # and at least this many tiles with detail
ORB_FEATURES = 400
ORB_SCALE = 1.2
ORB_LEVELS = 3  # 256, 213, 178 px: the scales copies of one capture come at
ORB_PATCH = 19  # px: a smaller patch than ORB's 31 leaves less of a 256-px frame out at the edges
ECC_ITERS = 5  # iterations of the fine alignment (it starts from the refined feature fit)
REFINE_PX = 1.5  # the fit is refined on the matches it maps this close (see _refine)
RATIO = 0.8  # a match's distance under this share of the second best's (the ratio test)


# what a verdict depends on besides the two views: kept verdicts of another check are void
SIGNATURE = repr((cv2.__version__, WORK_SIDE, MIN_INLIERS, MIN_INLIER_SHARE, CROP_LIMIT,
                  FRAME_SLACK, TURN_SLACK_DEG, FINE_TURN_SLACK_DEG, ECC_ITERS, SHEAR_SLACK,
                  GRID, RESIDUAL_MAX, DETAIL_MIN, DETAIL_TILES, DETAIL_COUNT, "orb",
                  ORB_FEATURES, ORB_SCALE, ORB_LEVELS, ORB_PATCH, RATIO, REFINE_PX, 3.0, 2000,
                  0.995))  # fmt: skip


class Verdict(StrEnum):
    """What the check says of a pair."""

    SAME = "same"  # one is the other under a global transform
    DIFFERENT = "different"  # aligned, but some part of the frame differs (or no fit)
    WEAK = "weak"  # too little detail to tell: never ``near``


@dataclass(frozen=True)
class Check:
    """The check of one pair: the verdict, the quarter turns bringing ``b`` onto ``a``
    (counter-clockwise), the worst tile's residual and the share of tiles with detail."""

    verdict: Verdict
    turns: int = 0
    residual: float = math.inf
    detail: float = 0.0
    inliers: int = 0
    why: str = ""
    angle: float = 0.0  # degrees the fit is off a quarter turn (a camera turned, not an edit)


class Features:
    """One photo prepared for checks: ORB points and descriptors of its verification view,
    and the working image, decoded from the view only when a check gets that far (most
    pairs end at the feature fit, and features kept from the scan need no decode at all)."""

    __slots__ = ("_grey", "descriptors", "points", "shape", "view")

    def __init__(
        self,
        points: np.ndarray,
        descriptors: np.ndarray | None,
        shape: tuple[int, int],
        view: bytes | None = None,
        grey: np.ndarray | None = None,
    ) -> None:
        self.points = points  # (n, 2) float32 keypoint positions in the working image
        self.descriptors = descriptors  # (n, 32) uint8: ORB's binary descriptors
        self.shape = shape  # the working image's (height, width)
        self.view = view
        self._grey = grey

    @property
    def grey(self) -> np.ndarray:
        """The working image (uint8, longer side WORK_SIDE)."""
        if self._grey is None:
            if self.view is None:
                raise ValueError("these features were kept without their view")
            self._grey = _working_image(self.view)
        return self._grey


_ORB: cv2.ORB | None = None


def _orb() -> cv2.ORB:
    global _ORB
    if _ORB is None:
        # views of one capture are at about the same scale (each the whole frame at 256 px,
        # crops <= 12% a side): three pyramid levels are plenty, and coarser ones only add
        # imprecise points (a level's rounded size scales x and y differently: a false shear)
        _ORB = cv2.ORB_create(nfeatures=ORB_FEATURES, scaleFactor=ORB_SCALE, nlevels=ORB_LEVELS,  # type: ignore[attr-defined]
                              edgeThreshold=ORB_PATCH, patchSize=ORB_PATCH)  # fmt: skip
    return _ORB


def features(fp: Fingerprint) -> Features:
    """The working image and ORB features of a fingerprint's verification thumbnail."""
    return view_features(fp.view)


def view_features(view: bytes) -> Features:
    """The working image and ORB features of a verification view (``pixels.view``)."""
    grey = _working_image(view)
    # global tone normalisation before detection: tone-edited copies give the same keypoints
    eq = cv2.equalizeHist(grey)
    kps, desc = _orb().detectAndCompute(eq, None)
    found = cv2.KeyPoint_convert(kps) if kps else None  # type: ignore[attr-defined]
    pts = np.zeros((0, 2), np.float32) if found is None else found.reshape(-1, 2)
    return Features(pts, desc, (grey.shape[0], grey.shape[1]), view, grey)


def _working_image(view: bytes) -> np.ndarray:
    grey = cv2.imdecode(np.frombuffer(view, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:  # photosim wrote this JPEG itself: unreadable means a bug or damage
        raise ValueError("the verification view is not a readable JPEG")
    h, w = grey.shape
    scale = WORK_SIDE / max(h, w)
    if abs(scale - 1) > 0.01:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        grey = cv2.resize(
            grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        )
    return grey


# -- features kept with the library ---------------------------------------------------
# The scan computes each photo's features from the view it makes anyway (~1.6 ms a photo)
# and keeps them (~40 bytes a point, <= ORB_FEATURES points); a search then checks pairs
# without computing any. Packed exactly (float32 points, raw descriptors): a verdict is the
# same whether its features were kept or computed. The tag names what they depend on.
_PACKED = struct.Struct("<B4sHHH")  # format, tag, height, width, points
FEATURE_TAG = hashlib.blake2s(
    repr((cv2.__version__, WORK_SIDE, ORB_FEATURES, ORB_SCALE, ORB_LEVELS, ORB_PATCH)).encode(),
    digest_size=4,
).digest()


def pack(f: Features) -> bytes:
    """``f``'s points and descriptors (not its image) as bytes to keep."""
    n = 0 if f.descriptors is None else len(f.descriptors)
    head = _PACKED.pack(1, FEATURE_TAG, f.shape[0], f.shape[1], n)
    if n == 0:
        return head
    assert f.descriptors is not None
    return head + f.points[:n].astype("<f4").tobytes() + f.descriptors.astype(np.uint8).tobytes()


def unpack(data: bytes, view: bytes | None) -> Features | None:
    """Kept features (:func:`pack`) with the view their image comes from; None when they
    were made by another version of the check or are damaged (computed again then)."""
    if len(data) < _PACKED.size:
        return None
    version, tag, h, w, n = _PACKED.unpack_from(data)
    if version != 1 or tag != FEATURE_TAG or len(data) != _PACKED.size + 40 * n:
        return None
    at = _PACKED.size
    points = np.frombuffer(data, "<f4", 2 * n, at).reshape(n, 2).astype(np.float32)
    descriptors = np.frombuffer(data, np.uint8, 32 * n, at + 8 * n).reshape(n, 32) if n else None
    return Features(points, descriptors, (h, w), view)


def check(a: Features, b: Features) -> Check:
    """Whether ``b`` is ``a`` under a global transform (see the module docstring)."""
    if a.descriptors is None or b.descriptors is None or len(a.points) < 8 or len(b.points) < 8:
        return Check(Verdict.WEAK, why="too few features")
    # each of b's descriptors' two nearest of a's (as BFMatcher.knnMatch, without its objects)
    dist, nearest = cv2.batchDistance(
        b.descriptors, a.descriptors, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=2
    )
    good = np.flatnonzero(dist[:, 0] < RATIO * dist[:, 1])
    if len(good) < MIN_INLIERS:
        return Check(Verdict.DIFFERENT, why=f"{len(good)} matches")
    src = b.points[good]
    dst = a.points[nearest[good, 0]]
    m, inl = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=2000, confidence=0.995
    )
    if m is None:
        return Check(Verdict.DIFFERENT, why="no fit")
    inliers = int(inl.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(good):
        return Check(Verdict.DIFFERENT, inliers=inliers, why=f"{inliers} inliers")
    m = _refine(src, dst, m)
    turns, off = _quarter_turns(m, TURN_SLACK_DEG)
    if turns is None:
        return Check(
            Verdict.DIFFERENT, inliers=inliers, why="not a quarter turn and scale", angle=off
        )
    frame = _frames_contain(m, a.shape, b.shape)
    if frame:
        return Check(Verdict.DIFFERENT, turns, inliers=inliers, why=frame)
    residual, detail = _residual(a.grey, b.grey, m)
    verdict = Verdict.SAME if residual <= RESIDUAL_MAX else Verdict.DIFFERENT
    if verdict is Verdict.SAME and detail < DETAIL_TILES:
        verdict = Verdict.WEAK
    if verdict is Verdict.SAME:
        # every part agrees: a copy, or a burst frame of a still scene whose camera barely
        # moved. Only a precise angle tells those apart: a copy is turned by none
        _, off = _quarter_turns(_align(a.grey, b.grey, m))
        if abs(off) > FINE_TURN_SLACK_DEG:
            why = f"turned {off:.2f} degrees off a quarter turn: another shot"
            return Check(Verdict.DIFFERENT, turns, residual, detail, inliers, why, off)
    return Check(verdict, turns, residual, detail, inliers, angle=off)


def _align(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The fit ``m`` (``b`` onto ``a``) refined on all the pixels (OpenCV's ECC alignment,
    on the equalised frames): to a few hundredths of a degree where features give tenths."""
    warp = cv2.invertAffineTransform(m.astype(np.float64)).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, ECC_ITERS, 1e-5)
    try:
        _, warp = cv2.findTransformECC(  # type: ignore[call-overload]  # no mask: stubs want one
            cv2.equalizeHist(a), cv2.equalizeHist(b), warp, cv2.MOTION_AFFINE, criteria, None, 1
        )
    except cv2.error:  # did not converge: the feature fit is what there is
        return m
    return cv2.invertAffineTransform(warp.astype(np.float64))


def _refine(src: np.ndarray, dst: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The fit again by least squares over the matches it maps within REFINE_PX, twice.

    ORB's points sit on whole pixels of their pyramid level, and RANSAC's 3-px tolerance
    lets a copy's fit lean by half a degree: too much for the quarter-turn test (retakes
    are turned 0.3-1.4 degrees). The tight matches pin the angle down.
    """
    ones = np.ones((len(src), 1), np.float64)
    xs = np.hstack([src.astype(np.float64), ones])
    ys = dst.astype(np.float64)
    for _ in range(2):
        err = np.linalg.norm(xs @ m.T.astype(np.float64) - ys, axis=1)
        close = err <= REFINE_PX
        if close.sum() < MIN_INLIERS:
            break
        fit, *_ = np.linalg.lstsq(xs[close], ys[close], rcond=None)
        m = fit.T
    return m


def _quarter_turns(m: np.ndarray, slack: float = FINE_TURN_SLACK_DEG) -> tuple[int | None, float]:
    """Counter-clockwise quarter turns of an affine map that is a turn plus axis scales."""
    lin = m[:, :2].astype(np.float64)
    if np.linalg.det(lin) <= 0:  # a mirror (or degenerate)
        return None, 0.0
    angle = math.degrees(math.atan2(lin[1, 0], lin[0, 0]))
    k = round(angle / 90.0)
    off = angle - 90 * k
    if abs(off) > slack:
        return None, off
    # undo the quarter turn: what is left must be diagonal (axis scales, no shear)
    c, s = round(math.cos(math.radians(90 * k))), round(math.sin(math.radians(90 * k)))
    rest = np.array([[c, s], [-s, c]], np.float64) @ lin
    sx, sy = rest[0, 0], rest[1, 1]
    if sx <= 0 or sy <= 0:
        return None, off
    if abs(rest[0, 1]) > SHEAR_SLACK * sx or abs(rest[1, 0]) > SHEAR_SLACK * sy:
        return None, off
    return (-k) % 4, off  # image y points down: a positive angle here is clockwise on screen


def _frames_contain(m: np.ndarray, shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> str:
    """'' when one frame holds the other, losing at most CROP_LIMIT a side; else why not."""
    ha, wa = shape_a
    hb, wb = shape_b
    corners = np.array([[0, 0], [wb, 0], [wb, hb], [0, hb]], np.float64)
    mapped = corners @ m[:, :2].T.astype(np.float64) + m[:, 2]
    x0, y0 = mapped.min(axis=0)
    x1, y1 = mapped.max(axis=0)
    # b's frame in a's coordinates, as margins of a (positive: b lies inside a)
    inside = np.array([x0 / wa, y0 / ha, (wa - x1) / wa, (ha - y1) / ha])
    # a's frame in b's coordinates (margins of b): the same margins scaled by the sizes
    outside = -inside * np.array([wa / (x1 - x0), ha / (y1 - y0)] * 2)
    if (inside >= -FRAME_SLACK).all() and (inside <= CROP_LIMIT).all():
        return ""  # b is a crop of a
    if (outside >= -FRAME_SLACK).all() and (outside <= CROP_LIMIT).all():
        return ""  # a is a crop of b
    return "another framing (crop beyond the limit or shifted)"


def _residual(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """(worst tile's mean |a - tone(b warped)|, share of tiles with detail) over the overlap."""
    h, w = a.shape
    warped = cv2.warpAffine(b, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    covered = cv2.warpAffine(np.full(b.shape, 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
    valid = cv2.erode(covered, np.ones((5, 5), np.uint8)) > 0
    # the resolution of the coarser side: blur both to it, so resampling is no difference
    scale = math.sqrt(abs(np.linalg.det(m[:, :2].astype(np.float64))))
    sigma = 1.0 * max(1.0, scale)
    fa = cv2.GaussianBlur(a.astype(np.float32), (0, 0), sigma)
    fb = cv2.GaussianBlur(warped.astype(np.float32), (0, 0), sigma)
    # tones clipped by the edit (a brightened sky turns white) carry no evidence either way
    clipped = (a <= 3) | (a >= 251) | (warped <= 3) | (warped >= 251)
    use = valid & ~cv2.dilate(clipped.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    if use.sum() < 0.2 * use.size:
        return math.inf, 0.0
    # compared in the tones of each side in turn, the lower of the two per tile: where an
    # edit compressed a range of tones (highlights pushed up), that side's tones are fair
    qa, qb = _quantiles(fa[use]), _quantiles(fb[use])
    in_a = _match_tones(fb, qb, qa)
    in_b = _match_tones(fa, qa, qb)
    diffs = (np.maximum(_outside(fa, in_a), _outside(in_a, fa)),
             np.maximum(_outside(fb, in_b), _outside(in_b, fb)))  # fmt: skip
    x, y, bw, bh = cv2.boundingRect(valid.view(np.uint8))
    if bw == 0 or bh == 0:
        return math.inf, 0.0
    # GRID x GRID tiles of the covered box, their sums at once (np.add.reduceat on both axes)
    rows = y + bh * np.arange(GRID) // GRID
    cols = x + bw * np.arange(GRID) // GRID
    box = np.s_[y : y + bh, x : x + bw]
    heights = np.diff(np.append(rows, y + bh))
    widths = np.diff(np.append(cols, x + bw))
    if heights.min() == 0 or widths.min() == 0:
        return math.inf, 0.0

    def tile_sums(values: np.ndarray) -> np.ndarray:
        inner = np.add.reduceat(values[box], rows - y, axis=0, dtype=np.float64)
        return np.add.reduceat(inner, cols - x, axis=1)

    weight = use.astype(np.float32)
    count = tile_sums(weight)
    area = heights[:, None] * widths[None, :]
    compared = count >= 0.3 * area
    tiles = int(compared.sum())
    if tiles < GRID * GRID // 3:
        return math.inf, 0.0
    n = np.maximum(count, 1)
    worst = np.minimum(tile_sums(diffs[0] * weight), tile_sums(diffs[1] * weight)) / n
    ua = fa * weight
    mean = tile_sums(ua) / n
    var = np.maximum(tile_sums(ua * fa) / n - mean * mean, 0)
    detailed = int((compared & (var >= DETAIL_MIN * DETAIL_MIN)).sum())
    # the share of the tiles compared that have detail; a few detailed tiles are not enough
    return float(worst[compared].max()), detailed / tiles if detailed >= DETAIL_COUNT else 0.0


def _outside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far ``x`` lies outside the range of ``y`` over each 3x3 neighbourhood: a shift
    of a pixel (the fit, the resampling) is no difference; a changed shape is."""
    kernel = np.ones((3, 3), np.uint8)
    return np.maximum(0, np.maximum(x - cv2.dilate(y, kernel), cv2.erode(y, kernel) - x))


_QS = np.linspace(0, 1, 65)  # the tone curve's knots: quantiles of the compared pixels


def _quantiles(values: np.ndarray) -> np.ndarray:
    """The _QS quantiles of ``values`` (linear interpolation, as ``np.quantile``): one sort."""
    v = np.sort(values).astype(np.float64)
    at = _QS * (len(v) - 1)
    lo = np.floor(at).astype(np.intp)
    hi = np.minimum(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (at - lo)


def _match_tones(src: np.ndarray, s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``src`` with its tones mapped monotonically onto another's: quantiles ``s`` of
    ``src`` onto quantiles ``r`` of the other (quantile matching)."""
    s = np.maximum.accumulate(s + np.arange(len(s)) * 1e-4)
    return np.interp(src, s, r).astype(np.float32)

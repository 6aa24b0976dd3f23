"""Is this file the same capture as that one? The geometric check behind ``near``.

Two files show the same picture when one's pixels are the other's under a *global*
transform: a scale (also squeezed), a crop of up to ~10% a side, a quarter turn,
a global tone curve (brightness, contrast, gamma, greyscale) and compression
noise. So the check (1) matches local features (SIFT, on the greyscale thumbnails
the scan keeps, see :mod:`photosim.media.pixels`) and fits an affine transform
with RANSAC; (2) accepts only fits that are a quarter turn plus an axis-aligned
scale (no mirror, no shear) whose frames contain one another up to the crop
limit; (3) warps one onto the other, maps its tones onto the other's (a monotone
curve), and requires the residual to be small in *every* tile of the frame, not on
average: a moved subject, parallax, a changed pose or a reframed horizon leaves a
tile that disagrees. Photos with too little detail for the check to see anything
(night sky, fog, black frames) are never confirmed: weak evidence is ``similar``.
"""

from __future__ import annotations

import math
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
TURN_SLACK_DEG = 0.4  # the fit must be a quarter turn within this: copies 0.2, retakes 0.3-1.4
SHEAR_SLACK = 0.03
GRID = 8  # residual tiles per side
RESIDUAL_MAX = 7.5  # worst tile's mean |difference| (grey levels): copies <= 6, retakes >= 9.6
DETAIL_MIN = 5.0  # a tile has detail when its grey levels vary this much (std)
DETAIL_TILES = 0.4  # the share of compared tiles with detail that makes the evidence strong
DETAIL_COUNT = 12  # and at least this many tiles with detail


# what a verdict depends on besides the two views: kept verdicts of another check are void
SIGNATURE = repr((cv2.__version__, WORK_SIDE, MIN_INLIERS, MIN_INLIER_SHARE, CROP_LIMIT,
                  FRAME_SLACK, TURN_SLACK_DEG, SHEAR_SLACK, GRID, RESIDUAL_MAX, DETAIL_MIN,
                  DETAIL_TILES, DETAIL_COUNT, 600, 0.02, 0.8, 3.0, 2000, 0.995))  # fmt: skip


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


@dataclass
class Features:
    """One photo prepared for checks (computed once per photo and reused across pairs)."""

    grey: np.ndarray  # uint8, longer side WORK_SIDE
    points: np.ndarray  # (n, 2) float32 keypoint positions
    descriptors: np.ndarray | None  # (n, 128) float32


_SIFT: cv2.SIFT | None = None


def _sift() -> cv2.SIFT:
    global _SIFT
    if _SIFT is None:
        # OpenCV's stubs leave SIFT_create out; it is in cv2 itself since 4.4
        _SIFT = cv2.SIFT_create(nfeatures=600, contrastThreshold=0.02)  # type: ignore[attr-defined]
    return _SIFT


def features(fp: Fingerprint) -> Features:
    """The working image and SIFT features of a fingerprint's verification thumbnail."""
    return view_features(fp.view)


def view_features(view: bytes) -> Features:
    """The working image and SIFT features of a verification view (``pixels.view``)."""
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
    # global tone normalisation before detection: tone-edited copies give the same keypoints
    eq = cv2.equalizeHist(grey)
    kps, desc = _sift().detectAndCompute(eq, None)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    return Features(grey, pts, desc)


def check(a: Features, b: Features) -> Check:
    """Whether ``b`` is ``a`` under a global transform (see the module docstring)."""
    if a.descriptors is None or b.descriptors is None or len(a.points) < 8 or len(b.points) < 8:
        return Check(Verdict.WEAK, why="too few features")
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(b.descriptors, a.descriptors, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.8 * rest[0].distance]
    if len(good) < MIN_INLIERS:
        return Check(Verdict.DIFFERENT, why=f"{len(good)} matches")
    src = b.points[[m.queryIdx for m in good]]
    dst = a.points[[m.trainIdx for m in good]]
    m, inl = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=2000, confidence=0.995
    )
    if m is None:
        return Check(Verdict.DIFFERENT, why="no fit")
    inliers = int(inl.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(good):
        return Check(Verdict.DIFFERENT, inliers=inliers, why=f"{inliers} inliers")
    turns, off = _quarter_turns(m)
    if turns is None:
        return Check(
            Verdict.DIFFERENT, inliers=inliers, why="not a quarter turn and scale", angle=off
        )
    frame = _frames_contain(m, a.grey.shape, b.grey.shape)
    if frame:
        return Check(Verdict.DIFFERENT, turns, inliers=inliers, why=frame)
    residual, detail = _residual(a.grey, b.grey, m)
    verdict = Verdict.SAME if residual <= RESIDUAL_MAX else Verdict.DIFFERENT
    if verdict is Verdict.SAME and detail < DETAIL_TILES:
        verdict = Verdict.WEAK
    return Check(verdict, turns, residual, detail, inliers, angle=off)


def _quarter_turns(m: np.ndarray) -> tuple[int | None, float]:
    """Counter-clockwise quarter turns of an affine map that is a turn plus axis scales."""
    lin = m[:, :2].astype(np.float64)
    if np.linalg.det(lin) <= 0:  # a mirror (or degenerate)
        return None, 0.0
    angle = math.degrees(math.atan2(lin[1, 0], lin[0, 0]))
    k = round(angle / 90.0)
    off = angle - 90 * k
    if abs(off) > TURN_SLACK_DEG:
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
    in_a = _match_tones(fb, fa, use)
    in_b = _match_tones(fa, fb, use)
    diffs = (np.maximum(_outside(fa, in_a), _outside(in_a, fa)),
             np.maximum(_outside(fb, in_b), _outside(in_b, fb)))  # fmt: skip
    ys, xs = np.nonzero(valid)
    if len(ys) == 0:
        return math.inf, 0.0
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    worst, tiles, detailed = 0.0, 0, 0
    for i in range(GRID):
        for j in range(GRID):
            r0 = top + (bottom - top) * i // GRID
            r1 = top + (bottom - top) * (i + 1) // GRID
            c0 = left + (right - left) * j // GRID
            c1 = left + (right - left) * (j + 1) // GRID
            sel = use[r0:r1, c0:c1]
            if sel.sum() < 0.3 * sel.size:
                continue
            tiles += 1
            worst = max(worst, min(float(d[r0:r1, c0:c1][sel].mean()) for d in diffs))
            if float(fa[r0:r1, c0:c1][sel].std()) >= DETAIL_MIN:
                detailed += 1
    if tiles < GRID * GRID // 3:
        return math.inf, 0.0
    # the share of the tiles compared that have detail; a few detailed tiles are not enough
    return worst, detailed / tiles if detailed >= DETAIL_COUNT else 0.0


def _outside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far ``x`` lies outside the range of ``y`` over each 3x3 neighbourhood: a shift
    of a pixel (the fit, the resampling) is no difference; a changed shape is."""
    kernel = np.ones((3, 3), np.uint8)
    return np.maximum(0, np.maximum(x - cv2.dilate(y, kernel), cv2.erode(y, kernel) - x))


def _match_tones(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``src`` with its tones mapped monotonically onto ``ref``'s (quantile matching)."""
    qs = np.linspace(0, 100, 65)
    s = np.percentile(src[mask], qs)
    r = np.percentile(ref[mask], qs)
    s = np.maximum.accumulate(s + np.arange(len(s)) * 1e-4)
    return np.interp(src, s, r).astype(np.float32)

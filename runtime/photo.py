"""Bring a real photo of a garment into the Fashion-MNIST domain.

Fashion-MNIST items are product photos trimmed to the garment, resized so the
longest edge is 28 px, centered on the shorter edge, converted to gray and
negated: a light garment on a black background. A user's photo shows a garment
on a bed, a floor, a hanger or a table, so before any of that the garment must
be separated from its background:

1. work at a small size (speed on a Pi; :data:`SEGMENT_PATHS`);
2. mask: the alpha channel when the image has one; otherwise GrabCut seeded
   with the image border as background, checked against a border-colour
   distance mask, with morphological clean-up and the largest blob kept;
3. crop to the mask, gray, negate, zero the background, stretch contrast;
4. fit the longest edge to 28 px (keeping the aspect ratio) and center.

Each step is a small function so tests can check crop boxes and polarity on
synthetic scenes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from fmnistedge.labels import IMAGE_SIZE
from fmnistedge.runtime import imageio

# OpenCL probing costs ~0.1 s on the first OpenCV call and buys nothing at these sizes.
cv2.ocl.setUseOpenCL(False)

# Segmentation: the border-distance mask and GrabCut work on the photo reduced to
# ``side`` px (longest side), GrabCut running ``iters`` iterations. "fast" is the default
# of classify, evaluate, photo training and the scan's fall-back; "grabcut" is the
# slower path they all used before (about 4x the CPU time per photo; selectable with
# --segment grabcut so both are measured in one run, docs/runtime.md "Speed").
SEGMENT_PATHS = {"fast": (80, 1), "grabcut": (160, 2)}
DEFAULT_SEGMENT = "fast"
# Rendering resolution (longest side, imageio.RENDER_SIDE): a larger image is reduced to
# this first, so the cost of masking, blurring and cropping is bounded whatever the input's
# size (a 28 px output needs no more).
RENDER_SIDE = imageio.RENDER_SIDE
BORDER = 0.04  # fraction of each side treated as background seed for GrabCut
MIN_AREA, MAX_AREA = 0.02, 0.97  # plausible garment area fractions
HYSTERESIS_NOISE_FACTOR = 1.5
# An "empty" view: no pixel is this much farther from the border colours than the
# border's own noise, nor EMPTY_MIN_DISTANCE Lab units (x255/100 for L) away.
EMPTY_CONTRAST_FACTOR = 2.0
EMPTY_MIN_DISTANCE = 12.0
MAX_GAIN = 4.0
GARMENT_FLOOR = 48.0
# A photo whose pixels all lie within this many gray levels of each other (a blank,
# all-black or all-white image, a 1x1 image) shows no garment: method "empty".
FLAT_RANGE = 6


@dataclass
class PhotoInfo:
    method: str  # "alpha", "grabcut", "border-distance", "whole-image" or "empty" (a flat image)
    box: tuple[int, int, int, int]  # x, y, w, h of the garment in the original image
    area: float  # mask area as a fraction of the image
    notes: list[str] = field(default_factory=list)


def _linear_percentile(n: int, q: float, pick) -> float:
    """numpy's "linear" percentile of ``n`` values, its arithmetic step for step;
    ``pick(lo, hi)`` gives the lo-th and hi-th smallest values."""
    if not 0 <= q <= 100:
        raise ValueError(f"Percentiles must be in the range [0, 100]. Received: {q}")
    index = (n - 1) * (q / 100)
    lo = math.floor(index)
    hi = min(lo + 1, n - 1)
    x, y = pick(lo, hi)
    t = index - lo
    d = y - x
    return float(y - d * (1 - t)) if t >= 0.5 else float(x + d * t)


def percentile(values: np.ndarray, q: float) -> float:
    """``float(np.percentile(values, q))`` for 0 <= q <= 100 and a non-empty array: the same
    number to the last bit (numpy's "linear" method, its types and its rounding; NaN when
    a float array holds one), without importing ``numpy.ma``, which ``np.percentile`` does
    on its first call: 30-40 ms of every ``classify``'s start-up."""
    if not 0 <= q <= 100:
        raise ValueError(f"Percentiles must be in the range [0, 100]. Received: {q}")
    a = np.asarray(values).ravel()
    if a.dtype.kind == "f" and np.isnan(a).any():
        return float("nan")

    def pick(lo: int, hi: int):
        part = np.partition(a, [lo, hi])
        return part[lo], part[hi]

    return _linear_percentile(a.size, q, pick)


def byte_percentile(values: np.ndarray, q: float) -> float:
    """:func:`percentile` of uint8 values, as if they were float32 (``render`` takes the 99th
    percentile of the negated garment pixels): the same number to the last bit, from a
    256-bin histogram instead of a partition of every pixel."""
    a = np.asarray(values, dtype=np.uint8).ravel()
    if not a.size:
        raise ValueError("byte_percentile of an empty array")
    cum = np.cumsum(np.bincount(a, minlength=256))
    return _linear_percentile(a.size, q, lambda lo, hi: (np.float32(np.searchsorted(cum, lo, "right")),
                                                         np.float32(np.searchsorted(cum, hi, "right"))))


def _resize_longest(img: np.ndarray, side: int, interp=cv2.INTER_AREA) -> np.ndarray:
    h, w = img.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)


def _clean(mask: np.ndarray) -> np.ndarray:
    """Close small gaps, drop specks, keep the largest connected blob, fill its holes."""
    k = max(3, (max(mask.shape) // 40) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = np.where(labels == largest, 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled


_SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                         [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]], np.float32)
_D65_WHITE = np.array([0.950456, 1.0, 1.088754], np.float32)


# sRGB -> linear light for each 8-bit value: a table lookup instead of a power per pixel.
_LEVELS = np.arange(256, dtype=np.float32) / 255.0
_SRGB_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4).astype(np.float32)
_TO_XYZ_D65 = np.ascontiguousarray((_SRGB_TO_XYZ / _D65_WHITE[:, None]).T)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) in OpenCV's 8-bit scaling (L*255/100, a+128, b+128), as float32.

    Same formula as ``cv2.cvtColor(..., COLOR_RGB2LAB)``, whose first call builds
    lookup tables for 0.1-0.2 s: too much for every cold start on a Pi.
    """
    xyz = _SRGB_LINEAR[rgb] @ _TO_XYZ_D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lum = np.where(xyz[..., 1] > 0.008856, 116.0 * f[..., 1] - 16.0, 903.3 * xyz[..., 1])
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([lum * 255.0 / 100.0, a + 128.0, b + 128.0], axis=-1).astype(np.float32)


def nearest_distance(lab: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Per pixel, the Euclidean distance to the nearest of ``centers`` (one pass per centre:
    no (H, W, K, 3) temporary)."""
    best = None
    for c in centers:
        e = lab - c
        d = np.einsum("ijk,ijk->ij", e, e)
        best = d if best is None else np.minimum(best, d)
    return np.sqrt(best)


def border_distance_mask(rgb: np.ndarray, detect_empty: bool = False) -> np.ndarray:
    """Foreground = pixels far (in Lab) from every colour seen on the image border.

    With ``detect_empty`` (camera frames), a view where nothing stands out from the
    border's own noise gives an empty mask instead of the best split of the noise.
    """
    lab = rgb_to_lab(rgb)
    h, w = lab.shape[:2]
    b = max(2, int(round(BORDER * min(h, w))))
    ring = np.concatenate([lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
                           lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)])
    k = min(4, len(ring))
    cv2.setRNGSeed(0)  # k-means++ seeding is random: the same photo must give the same mask every call
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, _, centers = cv2.kmeans(ring, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    dist = nearest_distance(lab, centers)
    ring_mask = np.zeros((h, w), bool)
    ring_mask[:b], ring_mask[-b:], ring_mask[:, :b], ring_mask[:, -b:] = True, True, True, True
    smooth = cv2.GaussianBlur(dist, (5, 5), 0)
    ring_noise = percentile(smooth[ring_mask], 99)
    if detect_empty and percentile(smooth, 99.5) < max(EMPTY_CONTRAST_FACTOR * ring_noise, EMPTY_MIN_DISTANCE):
        return np.zeros((h, w), np.uint8)  # nothing stands out from the background: empty view
    dist8 = cv2.normalize(dist, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    dist8 = cv2.GaussianBlur(dist8, (5, 5), 0)
    _, strong = cv2.threshold(dist8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Hysteresis: pale parts of a garment are only a little farther from the
    # background colours than the background's own noise, which the border ring
    # measures. Weak pixels above that noise join the mask where they touch strong ones.
    noise = percentile(dist8[ring_mask], 99)
    weak = np.where(dist8 > min(noise * HYSTERESIS_NOISE_FACTOR + 2, 254), 255, 0).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    # The weak components that touch a strong pixel, as a lookup table over component ids
    # (np.unique would import numpy.ma, ~20 ms of every cold start).
    touched = np.zeros(n, bool)
    touched[labels[(strong > 0) & (weak > 0)]] = True
    touched[0] = False  # the background of the weak mask
    grown = np.where(touched[labels], 255, 0).astype(np.uint8)
    mask = cv2.bitwise_or(strong, grown)
    return _clean(mask)


def grabcut_mask(rgb: np.ndarray, seed: np.ndarray | None = None, iters: int = 1) -> np.ndarray:
    """GrabCut with the border as sure background (and ``seed`` as probable foreground)."""
    h, w = rgb.shape[:2]
    b = max(2, int(round(BORDER * min(h, w))))
    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    if seed is not None:
        gc[seed > 0] = cv2.GC_PR_FGD
    else:
        gc[b:h - b, b:w - b] = cv2.GC_PR_FGD
    gc[:b], gc[-b:], gc[:, :b], gc[:, -b:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    cv2.setRNGSeed(0)  # GrabCut's GMM init is random; a photo must always give the same answer
    cv2.grabCut(bgr, gc, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    mask = np.where((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    return _clean(mask)


def _plausible(mask: np.ndarray) -> bool:
    area = float(mask.mean()) / 255.0
    return MIN_AREA <= area <= MAX_AREA


def segment(rgb: np.ndarray, alpha: np.ndarray | None = None,
            detect_empty: bool = False, path: str = DEFAULT_SEGMENT) -> tuple[np.ndarray, str]:
    """A 0/255 garment mask at the resolution of ``rgb`` and the method that produced it.

    ``detect_empty`` (for camera frames) reports a view with nothing in it as
    "whole-image" instead of segmenting noise; a photo is assumed to show a garment.
    ``path`` is one of :data:`SEGMENT_PATHS`.
    """
    if path not in SEGMENT_PATHS:
        raise ValueError(f"Unknown segmentation path. Received: path={path!r}")
    side, iters = SEGMENT_PATHS[path]
    if alpha is not None:
        mask = _clean(np.where(alpha > 127, 255, 0).astype(np.uint8))
        if _plausible(mask):
            return mask, "alpha"
    small = _resize_longest(rgb, side)
    coarse = border_distance_mask(small, detect_empty)
    if not coarse.any():
        return np.full(rgb.shape[:2], 255, np.uint8), "whole-image"
    method = "border-distance"
    mask = coarse
    try:
        refined = grabcut_mask(small, coarse if _plausible(coarse) else None, iters)
        if _plausible(refined):
            mask, method = refined, "grabcut"
    except cv2.error:
        pass  # e.g. a single-colour image: GrabCut has nothing to model
    if not _plausible(mask):
        return np.full(rgb.shape[:2], 255, np.uint8), "whole-image"
    full = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.where(full > 127, 255, 0).astype(np.uint8), method


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def fit_to_square(img: np.ndarray, size: int = IMAGE_SIZE, margin: int = 0) -> np.ndarray:
    """Resize so the longest edge is ``size - 2*margin`` (aspect kept) and center on black."""
    h, w = img.shape[:2]
    inner = size - 2 * margin
    s = inner / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.zeros((size, size), dtype=img.dtype)
    y, x = (size - nh) // 2, (size - nw) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def render(rgb: np.ndarray, mask: np.ndarray, size: int = IMAGE_SIZE) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Crop to the mask, negate, zero the background, stretch, fit into ``size`` x ``size``
    (28x28 for every shipped model; uint8)."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        x, y, h, w = 0, 0, *mask.shape[:2]
    crop = _gray(rgb[y:y + h, x:x + w])
    m = mask[y:y + h, x:x + w].astype(np.float32) / 255.0
    m = cv2.GaussianBlur(m, (0, 0), sigmaX=max(0.5, max(w, h) / 200))  # soft edge like FM
    neg = 255.0 - crop.astype(np.float32)
    inside = m > 0.5
    if inside.any():
        # Brighten dim garments (light clothes negate to near black) so the brightest
        # part reaches 255, at most 4x; keep every garment pixel at least GARMENT_FLOOR
        # so a white garment is still a visible shape, as in Fashion-MNIST.
        gain = min(MAX_GAIN, 255.0 / max(byte_percentile(255 - crop[inside], 99), 1.0))
        neg = np.maximum(neg * gain, GARMENT_FLOOR)
    img = np.clip(neg * m, 0, 255).astype(np.uint8)
    return fit_to_square(img, size), (int(x), int(y), int(w), int(h))


def photo_to_fashion_mnist(rgb: np.ndarray, alpha: np.ndarray | None = None, detect_empty: bool = False,
                           timings: dict | None = None,
                           path: str = DEFAULT_SEGMENT, size: int = IMAGE_SIZE) -> tuple[np.ndarray, PhotoInfo]:
    """Segment (along ``path``, see :data:`SEGMENT_PATHS`) and render ``rgb``; the box
    in the result is in ``rgb``'s own pixels. ``timings``, when given, receives the
    CPU milliseconds of ``segment`` and ``render``."""
    start = time.thread_time()
    h, w = rgb.shape[:2]
    small = _resize_longest(rgb, RENDER_SIDE)
    if alpha is not None and small.shape[:2] != alpha.shape[:2]:
        alpha = cv2.resize(alpha, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    gray = _gray(small)
    if int(gray.max()) - int(gray.min()) <= FLAT_RANGE and (alpha is None or alpha.min() == alpha.max()):
        mask, method = np.full(small.shape[:2], 255, np.uint8), "empty"
    else:
        mask, method = segment(small, alpha, detect_empty, path)
    segmented = time.thread_time()
    img, (x, y, bw, bh) = render(small, mask, size)
    if timings is not None:
        timings["segment"] = 1000 * (segmented - start)
        timings["render"] = 1000 * (time.thread_time() - segmented)
    box = imageio.scale_box((x, y, bw, bh), (small.shape[1], small.shape[0]), (w, h))
    return img, PhotoInfo(method, box, float(mask.mean()) / 255.0)


def naive(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The baseline: plain resize to 28x28 (``size``) and negate (what tutorials do)."""
    return 255 - cv2.resize(_gray(rgb), (size, size), interpolation=cv2.INTER_AREA)


def raw(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """An image already in Fashion-MNIST style: gray, resized to 28x28 (``size``) if needed, as
    is; a 28x28 one for a larger model is enlarged by pixel repetition, as its training images were."""
    from fmnistedge.runtime.preprocess import enlarge

    g = _gray(rgb)
    if g.shape == (IMAGE_SIZE, IMAGE_SIZE) and size % IMAGE_SIZE == 0:
        return enlarge(g[None], size)[0]
    if g.shape != (size, size):
        g = cv2.resize(g, (size, size), interpolation=cv2.INTER_AREA)
    return g

"""Segment a fixed camera's view by its difference from the learned empty scene.

A scanning camera does not move: what differs from the empty view is the garment
(and the hand holding it). So instead of GrabCut on every frame (~25 ms here, 4-8x
that on a Pi), :class:`BackgroundModel` learns the empty scene inside the guide box at
a small size and marks the pixels that differ from it, in a way that ignores the
camera's brightness drift:

* colour is compared as chromaticity (each channel over the sum of the three), which
  a global change of exposure or light level leaves unchanged;
* brightness is compared after dividing the frame by its gain against the background,
  the median ratio over the pixels whose chromaticity still matches the background
  (auto-exposure and a slow light change scale the whole view);
* the thresholds come from the noise measured while learning (at least
  ``MIN_CHROMA``/``MIN_BRIGHTNESS``), so a noisy camera does not see garments in its noise;
* while the view is empty the background follows slow changes (``UPDATE_RATE``).

Learning starts with the first frames: ``LEARN_FRAMES`` frames in a row that are
still (no pixel moving) and in which the classic path finds nothing (the caller says
so). :meth:`BackgroundModel.reset` starts over (the preview's ``b`` key). What it
cannot handle, and what then happens, is in docs/scan.md: a camera that moves (the
whole view differs: the caller falls back to GrabCut until ``reset``), a garment the
colour and brightness of the background (parts of it are missed).
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 96  # the guide box is compared at this size (pixels per side)
LEARN_FRAMES = 5  # still, empty frames in a row that make the background
UPDATE_RATE = 0.05  # share of each empty frame blended into the background
NOISE_FACTOR = 4.0  # a pixel differs when it is this many noise levels away ...
MIN_CHROMA = 0.03  # ... and at least this far in chromaticity (sum of |r,g,b shares|)
MIN_BRIGHTNESS = 0.12  # ... or this far in relative brightness after the gain
EMPTY_FRACTION = 0.015  # fewer differing pixels than this share: an empty view
STILL_LEVEL = 12.0  # a pixel changed when its gray level moves more than this between frames
STILL_FRACTION = 0.02  # a view is still (for learning) when at most this share of pixels changed
BORDER_TOUCH = 0.01  # a mask on more than this share of the box's edge crosses it (an arm)
CROSSING_MIN_RADIUS = 24.0  # RGB distance within which a pixel has a crossing colour
STILL_OVERLAP = 0.75  # a garment is still when its mask overlaps the previous frame's this much (IoU)


def shrink(rgb: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The guide box at ``side`` x ``side`` pixels, float32 RGB."""
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)


def _split(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(brightness, chromaticity): the channel sum and each channel's share of it."""
    total = small.sum(axis=2) + 3.0
    return total, small / total[..., None]


def changed_fraction(small: np.ndarray, previous: np.ndarray | None) -> float:
    """Share of pixels whose brightness changed by more than ``STILL_LEVEL`` gray levels
    since ``previous`` (1.0 when there is no previous frame)."""
    if previous is None:
        return 1.0
    change = np.abs(small.sum(axis=2) - previous.sum(axis=2)) > 3.0 * STILL_LEVEL
    return float(change.mean())


def overlap(mask: np.ndarray, previous: np.ndarray | None) -> float:
    """Intersection over union of two 0/255 masks (0.0 without a previous one). A held
    garment sways a few pixels (overlap ~0.9); one coming into view grows (much less)."""
    if previous is None:
        return 0.0
    a, b = mask > 0, previous > 0
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b)) / union if union else 1.0


def border_share(mask: np.ndarray) -> float:
    """Share of the mask's outermost pixel ring that is foreground."""
    ring = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(np.count_nonzero(ring)) / ring.size


def drop_crossing(small: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Remove from ``mask`` what crosses the box's edge: the colours the mask has on the
    edge (an arm, a sleeve of the holder's) are taken out everywhere, as the photo path's
    border colours are. 0/255 uint8, to be cleaned by the caller."""
    h, w = mask.shape
    ring = np.zeros((h, w), bool)
    ring[:2], ring[-2:], ring[:, :2], ring[:, -2:] = True, True, True, True
    crossing = small[ring & (mask > 0)]
    if len(crossing) < 4:
        return mask
    k = min(3, len(crossing))
    cv2.setRNGSeed(0)  # k-means++ seeding is random: the same frame gives the same mask
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centers = cv2.kmeans(crossing.astype(np.float32), k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    spread = np.linalg.norm(crossing - centers[labels.ravel()], axis=1)
    radius = max(CROSSING_MIN_RADIUS, 2.5 * float(np.percentile(spread, 90)))
    best = None
    for c in centers:
        d = np.einsum("ijk,ijk->ij", small - c, small - c)
        best = d if best is None else np.minimum(best, d)
    out = mask.copy()
    out[best < radius * radius] = 0
    return out


class BackgroundModel:
    """The empty view inside the guide box; :meth:`foreground` marks what differs."""

    def __init__(self, side: int = SIDE, learn_frames: int = LEARN_FRAMES) -> None:
        self.side, self.learn_frames = side, learn_frames
        self.reset()

    def reset(self) -> None:
        """Forget the background; the next still, empty frames are learned again."""
        self._frames: list[np.ndarray] = []
        self.brightness: np.ndarray | None = None
        self.chroma: np.ndarray | None = None
        self.chroma_threshold = MIN_CHROMA
        self.brightness_threshold = MIN_BRIGHTNESS

    @property
    def ready(self) -> bool:
        return self.brightness is not None

    def learn(self, small: np.ndarray, still: bool) -> bool:
        """Add an empty frame; a moving one starts the count again. True once learned."""
        if not still:
            self._frames.clear()
        self._frames.append(small)
        if len(self._frames) < self.learn_frames:
            return False
        stack = np.stack(self._frames)
        self._frames.clear()
        self.brightness, self.chroma = _split(stack.mean(axis=0))
        # The camera's own noise: how far single learned frames are from their mean.
        chroma_noise, bright_noise = [], []
        for frame in stack:
            d_chroma, d_bright = self._distances(frame, gain=1.0)
            chroma_noise.append(np.percentile(d_chroma, 99))
            bright_noise.append(np.percentile(d_bright, 99))
        self.chroma_threshold = max(MIN_CHROMA, NOISE_FACTOR * float(np.median(chroma_noise)))
        self.brightness_threshold = max(MIN_BRIGHTNESS, NOISE_FACTOR * float(np.median(bright_noise)))
        return True

    def _distances(self, small: np.ndarray, gain: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        total, chroma = _split(small)
        d_chroma = np.abs(chroma - self.chroma).sum(axis=2)
        if gain is None:
            matching = d_chroma < self.chroma_threshold
            ratio = total / self.brightness
            gain = float(np.median(ratio[matching])) if matching.mean() > 0.2 else float(np.median(ratio))
        d_bright = np.abs(total / max(gain, 1e-3) - self.brightness) / (self.brightness + 48.0)
        return d_chroma, d_bright

    def foreground(self, small: np.ndarray) -> tuple[np.ndarray, float]:
        """(0/255 uint8 mask of what differs from the background, its raw share of the view)."""
        d_chroma, d_bright = self._distances(small)
        differs = (d_chroma > self.chroma_threshold) | (d_bright > self.brightness_threshold)
        mask = np.where(differs, 255, 0).astype(np.uint8)
        mask = cv2.medianBlur(mask, 3)
        return mask, float(np.count_nonzero(mask)) / mask.size

    def update(self, small: np.ndarray) -> None:
        """Blend an empty frame into the background (slow light changes)."""
        total, chroma = _split(small)
        self.brightness += UPDATE_RATE * (total - self.brightness)
        self.chroma += UPDATE_RATE * (chroma - self.chroma)

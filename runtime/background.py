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

from fmnistedge.runtime.photo import nearest_distance, percentile

SIDE = 96  # the guide box is compared at this size (pixels per side)
LEARN_FRAMES = 5  # still, empty frames in a row that make the background
UPDATE_RATE = 0.05  # share of each empty frame blended into the background
NOISE_FACTOR = 4.0  # a pixel differs when it is this many noise levels away ...
MIN_CHROMA = 0.03  # ... and at least this far in chromaticity (sum of |r,g,b shares|)
MIN_BRIGHTNESS = 0.12  # ... or this far in relative brightness after the gain
GAIN_STEP = 0.15  # the gain is sought within 15% of the last empty view's (exposure drifts slowly)
EMPTY_FRACTION = 0.015  # fewer differing pixels than this share: an empty view
STILL_LEVEL = 12.0  # a pixel changed when its gray level moves more than this between frames
STILL_FRACTION = 0.02  # a view is still (for learning) when at most this share of pixels changed
BORDER_TOUCH = 0.01  # a mask on more than this share of the box's edge crosses it (an arm)
CROSSING_MIN_RADIUS = 24.0  # RGB distance within which a pixel has a crossing colour
STILL_OVERLAP = 0.75  # a garment is still when its mask overlaps the previous frame's this much (IoU)


class View:
    """The guide box at ``side`` x ``side`` pixels: float32 RGB, its brightness (the channel
    sum) and chromaticity (each channel's share of it), computed once per frame."""

    __slots__ = ("rgb", "total", "chroma")

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self.total = cv2.transform(rgb, np.ones((1, 3), np.float32)) + np.float32(3.0)
        self.chroma = rgb / self.total[..., None]


def shrink(rgb: np.ndarray, side: int = SIDE) -> View:
    """The guide box at ``side`` x ``side`` pixels."""
    return View(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32))


def changed_fraction(view: View, previous: View | None) -> float:
    """Share of pixels whose brightness changed by more than ``STILL_LEVEL`` gray levels
    since ``previous`` (1.0 when there is no previous frame)."""
    if previous is None:
        return 1.0
    change = cv2.absdiff(view.total, previous.total) > np.float32(3.0 * STILL_LEVEL)
    return float(np.count_nonzero(change)) / change.size


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


def drop_crossing(view: View, mask: np.ndarray) -> np.ndarray:
    """Remove from ``mask`` what crosses the box's edge: the colours the mask has on the
    edge (an arm, a sleeve of the holder's) are taken out everywhere, as the photo path's
    border colours are. 0/255 uint8, to be cleaned by the caller."""
    h, w = mask.shape
    ring = np.zeros((h, w), bool)
    ring[:2], ring[-2:], ring[:, :2], ring[:, -2:] = True, True, True, True
    small = view.rgb
    crossing = small[ring & (mask > 0)]
    if len(crossing) < 4:
        return mask
    k = min(3, len(crossing))
    cv2.setRNGSeed(0)  # k-means++ seeding is random: the same frame gives the same mask
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centers = cv2.kmeans(crossing.astype(np.float32), k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    spread = np.linalg.norm(crossing - centers[labels.ravel()], axis=1)
    radius = max(CROSSING_MIN_RADIUS, 2.5 * percentile(spread, 90))
    out = mask.copy()
    out[nearest_distance(small, centers) < radius] = 0
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
        self.gain = 1.0  # the view's gain against the background when it was last empty
        self._gain = 1.0  # the last frame's

    @property
    def ready(self) -> bool:
        return self.brightness is not None

    def learn(self, view: View, still: bool) -> bool:
        """Add an empty frame; a moving one starts the count again. True once learned."""
        if not still:
            self._frames.clear()
        self._frames.append(view.rgb)
        if len(self._frames) < self.learn_frames:
            return False
        stack = np.stack(self._frames)
        self._frames.clear()
        mean = View(stack.mean(axis=0))
        self.brightness, self.chroma = mean.total, mean.chroma
        # The camera's own noise: how far single learned frames are from their mean.
        chroma_noise, bright_noise = [], []
        for frame in stack:  # each with its own gain: exposure still settling is not noise
            d_chroma, d_bright = self._distances(View(frame))
            chroma_noise.append(percentile(d_chroma, 99))
            bright_noise.append(percentile(d_bright, 99))
        self.chroma_threshold = max(MIN_CHROMA, NOISE_FACTOR * float(np.median(chroma_noise)))
        self.brightness_threshold = max(MIN_BRIGHTNESS, NOISE_FACTOR * float(np.median(bright_noise)))
        return True

    def _distances(self, view: View, gain: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        d_chroma = cv2.transform(cv2.absdiff(view.chroma, self.chroma), np.ones((1, 3), np.float32))
        if gain is None:
            # The median brightness ratio over the pixels whose colour matches the background and
            # whose ratio lies within GAIN_STEP of the last empty view's gain: a gray garment
            # covering half the box matches in colour too, and its ratio must not become the
            # gain. A larger jump (a lamp switched on) takes all colour-matching pixels.
            ratio = view.total / self.brightness
            matching = d_chroma < self.chroma_threshold
            near = matching & (np.abs(ratio - np.float32(self.gain)) <= np.float32(GAIN_STEP * self.gain))
            if np.count_nonzero(near) > 0.1 * near.size:
                gain = float(np.median(ratio[near]))
            elif np.count_nonzero(matching) > 0.2 * matching.size:
                gain = float(np.median(ratio[matching]))
            else:
                gain = float(np.median(ratio))
            self._gain = gain
        d_bright = cv2.absdiff(view.total / np.float32(max(gain, 1e-3)), self.brightness) / (self.brightness + np.float32(48.0))
        return d_chroma, d_bright

    def foreground(self, view: View) -> tuple[np.ndarray, float]:
        """(0/255 uint8 mask of what differs from the background, its raw share of the view)."""
        d_chroma, d_bright = self._distances(view)
        differs = (d_chroma > self.chroma_threshold) | (d_bright > self.brightness_threshold)
        mask = cv2.medianBlur(differs.astype(np.uint8) * np.uint8(255), 3)
        return mask, float(np.count_nonzero(mask)) / mask.size

    def update(self, view: View) -> None:
        """Blend an empty frame into the background (slow light changes); its gain becomes
        the reference the next frames' gains are kept near."""
        self.gain = self._gain
        cv2.accumulateWeighted(view.total, self.brightness, UPDATE_RATE)
        cv2.accumulateWeighted(view.chroma, self.chroma, UPDATE_RATE)

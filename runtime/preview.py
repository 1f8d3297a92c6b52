"""The scan preview window: guide box, current guess, rolling FPS and latency.

Keys: ``q`` or Esc quits, ``u`` undoes the last record, ``b`` learns the empty view again
(``--segment background``). While the view is learned the window says so; a garment being
moved reads "hold it still". Used only when the installed
OpenCV has a GUI (``opencv_has_gui``: the ``gui`` extra's opencv-python, not the base
install's opencv-python-headless) and a display is available (``display_available``).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import deque
from typing import Callable

import cv2
import numpy as np

from fmnistedge.isolated import python_argv
from fmnistedge.labels import LABELS
from fmnistedge.runtime.scan import MOVING, UNKNOWN_CLASS, Guess, ScanStats, roi_box

WINDOW = "fmnistedge scan (q: quit, u: undo last)"
NO_GUI = ("The installed OpenCV has no GUI (opencv-python-headless, the base install); scanning without a "
          "preview. For the window: pip install 'fmnistedge[gui]' (docs/scan.md, 'The preview window')")


def opencv_has_gui() -> bool:
    """Whether the installed OpenCV was built with a GUI backend. The headless wheel's
    build information says ``GUI: NONE``; its ``namedWindow`` raises instead of opening
    a window. A build information without a GUI line is given the benefit of the doubt
    (``display_available`` still probes it)."""
    found = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return found is None or found.group(1).upper() != "NONE"


def display_set() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def display_available() -> bool:
    """A display we can open a window on. Probed in a child process: with a stale
    $DISPLAY (an SSH session without X), OpenCV's GUI backend aborts the process.
    The child keeps the current directory off sys.path, so a ``cv2.py`` left there
    is not run (see :mod:`fmnistedge.isolated`)."""
    if not display_set():
        return False
    probe = "import cv2; cv2.namedWindow('probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
    try:
        return subprocess.run(python_argv("-c", probe), capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def guess_text(guess: Guess) -> str:
    """The current guess as the preview window and ``serve``'s page show it."""
    if guess.path == "learning":
        return "learning the empty view: keep it clear"
    if guess.class_index is None:
        return "no garment"
    if guess.class_index == MOVING:
        return "hold it still"
    if guess.class_index == UNKNOWN_CLASS:
        return f"unknown garment {100 * guess.confidence:.0f}%"
    return f"{LABELS[guess.class_index]} {100 * guess.confidence:.0f}%"


def annotate(rgb: np.ndarray, guess: Guess, fps: float, items: int, fraction: float,
             extra: list[str] | tuple = ()) -> np.ndarray:
    """A BGR copy of ``rgb`` with the guide box, the guess and a status line (and ``extra``
    lines): the preview window's picture, and ``serve``'s."""
    frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    x, y, w, h = roi_box(rgb.shape, fraction)
    cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 255), 2)
    scale = max(0.4, min(0.7, rgb.shape[1] / 900))
    lines = [guess_text(guess), f"{fps:.1f} FPS  {guess.latency_ms:.1f} ms  items {items}", *extra]
    thickness = 2 if scale >= 0.6 else 1  # thick strokes blur into each other at small sizes
    for i, line in enumerate(lines):
        cv2.putText(frame, line, (8, int(20 + 36 * scale * (i + 0.5))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 255, 0), thickness, cv2.LINE_AA)
    return frame


class Preview:
    def __init__(self, undo: Callable[[], str | None], fraction: float,
                 reset_background: Callable[[], None] | None = None) -> None:
        self.undo, self.fraction, self.reset_background = undo, fraction, reset_background
        self.times: deque[float] = deque(maxlen=30)
        self.message, self.message_until = "", 0.0

    def __call__(self, rgb: np.ndarray, guess: Guess, stats: ScanStats) -> bool:
        self.times.append(time.perf_counter())
        fps = (len(self.times) - 1) / (self.times[-1] - self.times[0]) if len(self.times) > 1 else 0.0
        extra = [self.message] if time.monotonic() < self.message_until else []
        frame = annotate(rgb, guess, fps, len(stats.records), self.fraction, extra)
        cv2.imshow(WINDOW, frame)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        if key == ord("u"):
            self.message = self.undo() or "nothing to undo"
            self.message_until = time.monotonic() + 2.0
        if key == ord("b") and self.reset_background is not None:
            self.reset_background()
            self.message, self.message_until = "learning the empty view again", time.monotonic() + 2.0
        return True

    def close(self) -> None:
        cv2.destroyAllWindows()

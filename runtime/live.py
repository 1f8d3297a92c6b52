"""The scan loop in a background thread, with what a viewer needs: the latest frame
annotated like the preview window (guide box, current guess, FPS), a status snapshot
and the reason the scan ended.

Built on :func:`fmnistedge.runtime.scan.run_scan`; ``fmnistedge serve`` shows it in a
browser. JPEG encoding is lazy: a frame is encoded only when a viewer asks for it, so a
scan nobody watches costs no more than a headless one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from fmnistedge.errors import first_line
from fmnistedge.runtime.preview import annotate, guess_text
from fmnistedge.runtime.scan import MOVING, Guess, LatestFrames, Record, ScanStats, Voter, run_scan, source_end

JPEG_QUALITY = 80
LATENCY_WINDOW = 10_000  # frames whose latency the summary averages
MAX_PACED_FPS = 120.0  # a container reporting more than this is not trusted for pacing


def paced(frames: Iterable, fps: float) -> Iterator:
    """Yield ``frames`` no faster than ``fps``: a video file then plays at its own speed,
    as a camera would deliver it, instead of as fast as the model runs. A slow frame is
    not made up for with a burst."""
    period = 1.0 / fps
    due = time.monotonic()
    for frame in frames:
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        due = max(due + period, time.monotonic() - period)
        yield frame


class LiveScan:
    """Runs ``run_scan`` on a thread; everything a web handler reads goes through a lock.

    ``record`` stores one :class:`Record` and returns its wardrobe id; ``source`` is the
    frame source (closed when the loop ends; its ``lost`` and ``ended_early`` attributes,
    as :class:`~fmnistedge.runtime.scan.OpenCVSource` sets them, explain the end).
    """

    def __init__(self, source, frames: Iterable, guess: Callable[[np.ndarray], Guess], voter: Voter,
                 record: Callable[[Record], int], fraction: float, describe: dict | None = None) -> None:
        self.source, self.frames, self.guess, self.voter = source, frames, guess, voter
        self.record, self.fraction = record, fraction
        self.describe = dict(describe or {})
        # A server runs for days: keep the latencies of the last frames only (scan's summary
        # keeps every frame's, which at 10 FPS grows by tens of MB a day).
        self.stats = ScanStats(latencies_ms=deque(maxlen=LATENCY_WINDOW))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._times: deque[float] = deque(maxlen=30)
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._status = {"guess": None, "confidence": None, "fps": 0.0, "latency_ms": None}
        self.recorded = 0
        self.stopped: str | None = None
        self.error: str | None = None  # the one line that says why the scan failed
        self._relearn = threading.Event()  # set by a viewer, applied by the scan thread
        self._thread = threading.Thread(target=self._run, name="fmnistedge-scan", daemon=True)

    # --- the scan thread -----------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _on_record(self, r: Record) -> None:
        self.record(r)  # commits before the loop goes on
        with self._lock:
            self.recorded += 1

    def relearn(self) -> bool:
        """Ask the scan to learn the empty view again (the preview's 'b' key); False when the
        guess has no background model (--segment fast or grabcut)."""
        if not hasattr(self.guess, "reset_background"):
            return False
        self._relearn.set()
        return True

    def _on_frame(self, rgb: np.ndarray, guess: Guess, stats: ScanStats) -> bool:
        if self._relearn.is_set():  # applied here, on the scan thread, between two frames
            self._relearn.clear()
            self.guess.reset_background()
        self._times.append(time.perf_counter())
        span = self._times[-1] - self._times[0]
        fps = (len(self._times) - 1) / span if span > 0 else 0.0
        frame = annotate(rgb, guess, fps, self.recorded, self.fraction)
        with self._lock:
            self._frame, self._seq = frame, self._seq + 1
            self._status = {"guess": guess_text(guess), "confidence": None if guess.class_index in (None, MOVING)
                            else round(guess.confidence, 4), "fps": round(fps, 2),
                            "latency_ms": round(guess.latency_ms, 2)}
        return True

    def _run(self) -> None:
        reason, error = "source ended", None
        try:
            run_scan(self.frames, self.guess, self.voter, self._on_record, on_frame=self._on_frame,
                     should_stop=self._stop.is_set, stats=self.stats)
            ended, error = source_end(self.source, self.describe.get("source", "the video"))
            reason = ended or self.stats.stopped
        except Exception as exc:  # noqa: BLE001 - one line for the page and stderr; the wardrobe stays served
            reason, error = "failed", first_line(exc)
        finally:
            if isinstance(self.frames, LatestFrames):
                self.frames.close()  # before the source: never release a camera under a read
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001 - closing a lost camera must not hide why it ended
                error = error or f"closing the source failed: {first_line(exc)}"
            with self._lock:
                self.stopped, self.error = reason, error
            self._ended.set()

    # --- read by the web handlers and the command ------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    @property
    def seq(self) -> int:
        return self._seq

    def jpeg(self) -> tuple[int, bytes] | None:
        """(frame number, JPEG of the latest annotated frame), encoded once per frame."""
        with self._lock:
            frame, seq, cached = self._frame, self._seq, self._jpeg
        if frame is None:
            return None
        if cached is not None and cached[0] == seq:
            return cached
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return cached
        with self._lock:
            self._jpeg = (seq, buf.tobytes())
            return self._jpeg

    def status(self) -> dict:
        with self._lock:
            return {**self.describe, **self._status, "scanning": not self._ended.is_set(),
                    "stopped": self.stopped, "error": self.error, "frames": self.stats.frames,
                    "recorded": self.recorded}

"""Camera scanning built from pure parts: frame source -> region of interest ->
preprocess -> classify -> vote -> sinks (wardrobe, printer, preview).

Nothing here calls ``sys.exit``; the loop stops when the source ends, a limit
is reached, or ``should_stop()`` turns true (SIGTERM, the preview's quit key).
Tests feed frames from a list or a video file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from fmnistedge.errors import FmnistEdgeError, first_line
from fmnistedge.labels import LABELS
from fmnistedge.runtime import background, photo
from fmnistedge.runtime.backends import input_size
from fmnistedge.runtime.photo import DEFAULT_SEGMENT
from fmnistedge.runtime.preprocess import prepare_frame, to_model_input

RECONNECT_SECONDS = 5.0  # how long a lost camera is retried before the scan ends cleanly
ROI_FRACTION = 0.8  # the guide box: a centered square, this fraction of the shorter side
THUMBNAIL_SIDE = 96


class ScanError(FmnistEdgeError):
    """A camera or video cannot be opened."""


def to_rgb(frame: np.ndarray | None) -> np.ndarray | None:
    """OpenCV frame (BGR, BGRA or gray) -> RGB uint8; None for an empty frame."""
    if frame is None or frame.size == 0:
        return None
    if frame.dtype != np.uint8:
        frame = cv2.normalize(frame, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _quiet_opencv() -> int:
    """Silence OpenCV's and FFmpeg's own log lines (13 for a missing camera, one per broken
    packet of a damaged video): the scan says what matters in one line. A user who set
    OPENCV_LOG_LEVEL or OPENCV_FFMPEG_LOGLEVEL keeps that. FFmpeg reads its variable at
    the first capture, so this runs before it. Returns the log level to restore."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    previous = cv2.utils.logging.getLogLevel()
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(0)  # LOG_LEVEL_SILENT
    return previous


class OpenCVSource:
    """USB webcams (index), video files and stream URLs through ``cv2.VideoCapture``.

    A file that ends before the frame count its container reports (a damaged or
    cut video) sets ``ended_early`` to (frames read, frames expected).
    """

    def __init__(self, target: int | str, reconnect_seconds: float = RECONNECT_SECONDS,
                 capture_factory: Callable = cv2.VideoCapture) -> None:
        self.target, self.reconnect_seconds, self._factory = target, reconnect_seconds, capture_factory
        self.is_file = isinstance(target, str) and Path(target).is_file()
        if isinstance(target, str) and not self.is_file and "://" not in target:
            raise ScanError(f"No such video file: {target}")
        self._log_level = _quiet_opencv()
        self.cap = self._factory(target)
        self.lost = False
        self.frames_read, self.ended_early = 0, None
        if not self.cap.isOpened():
            cv2.utils.logging.setLogLevel(self._log_level)
            what = f"camera {target}" if isinstance(target, int) else f"video source {target}"
            raise ScanError(f"Cannot open {what} with OpenCV VideoCapture (tried its default backends)"
                            + ("; on a Raspberry Pi camera module try --picamera" if isinstance(target, int) else ""))

    def __iter__(self) -> Iterator[np.ndarray | None]:
        lost_at = None
        while True:
            ok, frame = self.cap.read()
            if ok:
                lost_at = None
                self.frames_read += 1
                yield to_rgb(frame)
                continue
            if self.is_file:
                self._check_complete()
                return  # end of the video
            now = time.monotonic()
            lost_at = lost_at or now
            if now - lost_at > self.reconnect_seconds:
                self.lost = True
                return
            time.sleep(0.2)
            self.cap.release()
            self.cap = self._factory(self.target)

    def _check_complete(self) -> None:
        """Compare the frames read with the container's count; 1% slack (at least one frame)
        for containers that estimate it from duration and frame rate."""
        expected = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if expected > 0 and self.frames_read + max(1, expected // 100) < expected:
            self.ended_early = (self.frames_read, expected)

    def close(self) -> None:
        self.cap.release()
        cv2.utils.logging.setLogLevel(self._log_level)


class PicameraSource:
    """Raspberry Pi camera modules through Picamera2/libcamera (optional dependency)."""

    def __init__(self, size: tuple[int, int] = (640, 480), camera_factory: Callable | None = None) -> None:
        if camera_factory is None:
            try:
                from picamera2 import Picamera2
            except ImportError:
                raise ScanError("--picamera needs Picamera2: on Raspberry Pi OS 'sudo apt install "
                                "python3-picamera2' and create the venv with --system-site-packages") from None
            except Exception as exc:  # noqa: BLE001 - the system's picamera2 fails to import in this venv
                # Pi OS's simplejpeg (which picamera2 imports) is built for the system's numpy 1.x;
                # our venv has numpy 2 (OpenCV 5 needs it): "numpy.dtype size changed".
                hint = ("; the system's simplejpeg was built for numpy 1.x: in this venv run 'pip install "
                        "--force-reinstall simplejpeg' (docs/pi.md)" if "size changed" in str(exc) else "")
                raise ScanError(f"Cannot import Picamera2 ({type(exc).__name__}: {first_line(exc)}){hint}") from None
            camera_factory = Picamera2
        self.cam = None
        try:
            # Picamera2 raises IndexError when no camera is detected, RuntimeError when it is busy.
            self.cam = camera_factory()
            self.cam.configure(self.cam.create_preview_configuration(main={"size": size, "format": "RGB888"}))
            self.cam.start()
        except Exception as exc:  # noqa: BLE001 - any failure here means the camera cannot be used
            if self.cam is not None:
                with contextlib.suppress(Exception):
                    self.cam.close()  # release a camera that was acquired but would not start
            detail = first_line(exc)
            raise ScanError(f"Cannot open the Pi camera through Picamera2 ({detail}); check the ribbon "
                            "cable, 'rpicam-hello --list-cameras', and that no other program uses it") from None
        self.lost = False

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            try:
                frame = self.cam.capture_array()
            except Exception:  # noqa: BLE001 - the camera went away mid-scan
                self.lost = True
                return
            # Picamera2's "RGB888" is BGR in memory, like OpenCV's frames.
            yield to_rgb(frame)

    def close(self) -> None:
        """Stop and release the camera (``close``: another program, or the next scan, can
        open it). A camera that failed mid-scan may fail to stop as well; that must not
        turn the scan's clean end into a traceback."""
        with contextlib.suppress(Exception):
            self.cam.stop()
        with contextlib.suppress(Exception):
            self.cam.close()


class LatestFrames:
    """A live camera read on a thread of its own: the loop always gets the newest frame.

    A camera delivers frames at its own rate whether or not the loop is ready. Read in the
    loop, a frame that takes longer to process than the camera's interval leaves the loop
    working on ever older buffered frames, and the capture waits on the compute. Here the
    capture thread keeps only the newest frame; the loop takes it when it is ready (and waits
    for the next one otherwise). Frames replaced before the loop took them are counted in
    ``dropped``. Video files are not read this way: every frame of a file is processed.

    :meth:`close` stops the thread and waits for it (a camera read can take a frame
    interval) before the source itself is closed, so the camera is never released under a
    read. An exception in the capture thread is raised in the loop.
    """

    def __init__(self, frames: Iterable, join_seconds: float = 5.0) -> None:
        self._frames, self.join_seconds = iter(frames), join_seconds
        self._cond = threading.Condition()
        self._frame = None
        self._seq = self._taken = 0
        self._done = self._stop = False
        self.dropped = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._capture, name="fmnistedge-capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        try:
            for frame in self._frames:
                with self._cond:
                    if self._seq > self._taken:
                        self.dropped += 1
                    self._frame, self._seq = frame, self._seq + 1
                    self._cond.notify()
                    if self._stop:
                        break
        except BaseException as exc:  # noqa: BLE001 - handed to the loop's thread
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify()

    def __iter__(self) -> Iterator[np.ndarray | None]:
        while True:
            with self._cond:
                while self._seq == self._taken and not self._done:
                    self._cond.wait(0.5)  # a timeout keeps Ctrl-C responsive
                if self._seq == self._taken:  # the source ended
                    if self._error is not None:
                        raise self._error
                    return
                frame, self._taken = self._frame, self._seq
            yield frame

    def close(self) -> bool:
        """Stop reading; True when the capture thread has ended."""
        with self._cond:
            self._stop = True
        self._thread.join(self.join_seconds)
        return not self._thread.is_alive()


def source_end(source, name: str) -> tuple[str | None, str | None]:
    """Why ``source`` stopped giving frames, when the source knows (a lost camera, a video file
    cut short: the attributes :class:`OpenCVSource` and :class:`PicameraSource` set): the
    reason for the summary, and for a cut video the error line; (None, None) otherwise."""
    early = getattr(source, "ended_early", None)
    if early:
        return (f"video ended after {early[0]} of its {early[1]} frames",
                f"{name} ended after {early[0]} of the {early[1]} frames it reports (damaged or cut short); "
                "the items recorded from it are kept")
    return ("camera lost" if getattr(source, "lost", False) else None), None


def frames_of(source) -> Iterable:
    """The frames the loop reads: a live camera through :class:`LatestFrames`, a video file
    frame by frame."""
    return iter(source) if getattr(source, "is_file", False) else LatestFrames(source)


def roi_box(shape: tuple[int, ...], fraction: float = ROI_FRACTION) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    side = max(1, int(min(h, w) * fraction))
    return (w - side) // 2, (h - side) // 2, side, side


_END = object()  # the source has no more frames
UNKNOWN_CLASS = -1  # a garment in view, but of none of the ten classes (never recorded)
MOVING = -2  # the view is moving: not classified; the voter waits for it to settle
SEGMENT_PATHS = ("background", "fast", "grabcut")  # scan --segment


@dataclass
class Guess:
    class_index: int | None  # None: no garment in view; UNKNOWN_CLASS: none of the ten; MOVING: not classified
    confidence: float
    latency_ms: float
    roi: np.ndarray
    stages: dict = field(default_factory=dict)  # CPU milliseconds per stage (segment, render, inference)
    path: str = ""  # how the frame was handled: background, crossing, empty, learning, fallback, reused,
    # moving (the background path), or fast / grabcut (the photo path on every frame)


def _decide(probs: np.ndarray, openset) -> tuple[int, float]:
    if openset is not None:
        probs = openset.calibrate(probs[None])[0]
    best = int(np.argmax(probs))
    if openset is not None and not openset.known(probs):
        best = UNKNOWN_CLASS
    return best, float(probs.max())


def classify_frame(rgb: np.ndarray, backend, fraction: float = ROI_FRACTION, openset=None,
                   segment: str | None = None) -> Guess:
    """Classify the region of interest with the photo path (GrabCut on every frame,
    ``segment`` one of ``photo.SEGMENT_PATHS``, default "fast"); ``openset`` (the model's
    photo calibration) rescales the probabilities and turns a garment of none of the
    ten classes into ``UNKNOWN_CLASS``."""
    x, y, w, h = roi_box(rgb.shape, fraction)
    roi = rgb[y:y + h, x:x + w]
    start = time.perf_counter()
    stages: dict = {}
    path = segment or DEFAULT_SEGMENT
    img, info = prepare_frame(roi, timings=stages, segment=path, size=input_size(backend))
    if info.get("method") in ("whole-image", "empty"):  # nothing separable from the background (or a flat view)
        return Guess(None, 0.0, 1000 * (time.perf_counter() - start), roi, stages, path)
    cpu = time.thread_time()
    probs = backend.predict(to_model_input(img[None]))[0]
    stages["inference"] = 1000 * (time.thread_time() - cpu)
    best, confidence = _decide(probs, openset)
    return Guess(best, confidence, 1000 * (time.perf_counter() - start), roi, stages, path)


class FrameClassifier:
    """The scan loop's ``guess``: one guide-box frame in, one :class:`Guess` out.

    ``segment="background"`` (the default) learns the empty view and segments each
    frame by its difference from it (:mod:`fmnistedge.runtime.background`), with
    motion gating: a frame in which much of the view moves is not classified
    (``MOVING``), and a frame that has not changed since the last classified one
    reuses its answer. Until the background is learned, and whenever the difference
    covers nearly the whole box (a moved camera, a sudden light change), the frame
    goes the photo path ("fast"). ``segment="fast"`` or ``"grabcut"`` takes that photo
    path (GrabCut, see ``photo.SEGMENT_PATHS``) on every frame.
    """

    def __init__(self, backend, fraction: float = ROI_FRACTION, openset=None,
                 segment: str = "background") -> None:
        if segment not in SEGMENT_PATHS:
            raise ValueError(f"Unknown segmentation path. Received: segment={segment!r}")
        self.backend, self.fraction, self.openset, self.segment = backend, fraction, openset, segment
        self.model = background.BackgroundModel()
        self._previous = None  # the last frame (a background.View), for motion
        self._last: Guess | None = None  # the last classified frame's guess ...
        self._last_small = None  # ... and that frame (a background.View)
        self._mask: np.ndarray | None = None  # the last frame's garment mask, for motion

    def reset_background(self) -> None:
        """Learn the empty view again (the preview's ``b`` key; after moving the camera)."""
        self.model.reset()
        self._last = self._last_small = self._mask = None

    def __call__(self, rgb: np.ndarray) -> Guess:
        if self.segment != "background":
            return classify_frame(rgb, self.backend, self.fraction, self.openset, self.segment)
        start, cpu = time.perf_counter(), time.thread_time()
        if rgb.ndim == 2:  # a gray frame from an API caller (sources give RGB)
            rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
        elif rgb.shape[2] == 4:
            rgb = np.ascontiguousarray(rgb[..., :3])
        x, y, w, h = roi_box(rgb.shape, self.fraction)
        roi = rgb[y:y + h, x:x + w]
        small = background.shrink(roi, self.model.side)
        still = background.changed_fraction(small, self._previous) <= background.STILL_FRACTION
        self._previous = small

        def finish(guess: Guess) -> Guess:
            guess.latency_ms = 1000 * (time.perf_counter() - start)
            return guess

        def quick(class_index: int | None, path: str, confidence: float = 0.0) -> Guess:
            return finish(Guess(class_index, confidence, 0.0, roi, {"segment": 1000 * (time.thread_time() - cpu)}, path))

        def photo_path(name: str) -> Guess:
            """The frame along the photo path (GrabCut), its whole CPU time counted."""
            guess = classify_frame(rgb, self.backend, self.fraction, self.openset)
            guess.path = name
            guess.stages["segment"] = 1000 * (time.thread_time() - cpu) - sum(
                v for k, v in guess.stages.items() if k != "segment")
            return finish(guess)

        if not self.model.ready:
            guess = photo_path("learning")
            if guess.class_index is None:
                self.model.learn(small, still)
            else:
                self.model.reset()  # a garment in view: the learned frames must be consecutive and empty
            return guess
        if self._last is not None and background.changed_fraction(small, self._last_small) == 0.0:
            return quick(self._last.class_index, "reused", self._last.confidence)  # nothing changed
        mask, share = self.model.foreground(small)
        if share < background.EMPTY_FRACTION:
            if still:
                self.model.update(small)
            self._last = self._last_small = self._mask = None
            return quick(None, "empty")
        mask = photo._clean(mask)
        area = float(np.count_nonzero(mask)) / mask.size
        if area < photo.MIN_AREA:  # specks: nothing held up
            self._last = self._last_small = self._mask = None
            return quick(None, "empty")
        settled = background.overlap(mask, self._mask) >= background.STILL_OVERLAP
        self._mask = mask
        if not settled:  # coming into view or moving: wait until it is held still
            self._last = self._last_small = None
            return quick(MOVING, "moving")
        path = "background"
        if area > photo.MAX_AREA:
            # The whole box differs (a moved camera, a sudden light change): the photo path.
            self._last, self._last_small = photo_path("fallback"), small
            return self._last
        if background.border_share(mask) > background.BORDER_TOUCH:
            # Something crosses the guide box's edge (an arm, a garment larger than the box):
            # the colours it has there are taken out, as the photo path does with its border.
            mask = photo._clean(background.drop_crossing(small, mask))
            path = "crossing"
            if float(np.count_nonzero(mask)) / mask.size < photo.MIN_AREA:  # it was all crossing: the photo path
                self._last, self._last_small = photo_path("fallback"), small
                return self._last
        segmented = time.thread_time()
        mid = photo._resize_longest(roi, photo.RENDER_SIDE)  # a 28 px image needs no more
        full = cv2.resize(mask, (mid.shape[1], mid.shape[0]), interpolation=cv2.INTER_LINEAR)
        img, _ = photo.render(mid, np.where(full > 127, 255, 0).astype(np.uint8), input_size(self.backend))
        rendered = time.thread_time()
        probs = self.backend.predict(to_model_input(img[None]))[0]
        best, confidence = _decide(probs, self.openset)
        done = time.thread_time()
        guess = Guess(best, confidence, 0.0, roi, {"segment": 1000 * (segmented - cpu),
                                                    "render": 1000 * (rendered - segmented),
                                                    "inference": 1000 * (done - rendered)}, path)
        self._last, self._last_small = guess, small
        return finish(guess)


@dataclass
class Voter:
    """Turns a stream of guesses into record events.

    An item is recorded when the same label tops ``stable_frames`` frames in a row with a
    mean confidence of at least ``min_confidence`` (its calibrated probability, averaged:
    a hand crossing the garment lowers a frame or two without changing the label, and a
    calibrated model is not sure of every frame). It is not recorded again until the
    scene changes: ``rearm_empty_frames`` frames in a row with no garment. A
    garment of none of the ten classes (``UNKNOWN_CLASS``) is never recorded; a
    frame that was not classified because the view moved (``MOVING``) is skipped.
    """

    stable_frames: int = 5
    min_confidence: float = 0.6
    rearm_empty_frames: int = 3
    armed: bool = True
    _history: deque = field(default_factory=deque)
    _empty_run: int = 0

    def update(self, class_index: int | None, confidence: float) -> tuple[int, float] | None:
        if class_index is None:
            self._history.clear()
            self._empty_run += 1
            if self._empty_run >= self.rearm_empty_frames:
                self.armed = True
            return None
        if class_index == MOVING:  # not classified: neither a garment nor an empty view
            return None
        self._empty_run = 0
        if class_index == UNKNOWN_CLASS:
            self._history.clear()
            return None
        self._history.append((class_index, confidence))
        while len(self._history) > self.stable_frames:
            self._history.popleft()
        if not self.armed or len(self._history) < self.stable_frames:
            return None
        if len({c for c, _ in self._history}) > 1:
            return None
        mean = float(np.mean([p for _, p in self._history]))
        if mean >= self.min_confidence:
            self.armed = False
            return class_index, mean
        return None


@dataclass
class Record:
    label: str
    class_index: int
    confidence: float
    frame: int
    thumbnail: bytes


@dataclass
class ScanStats:
    frames: int = 0
    empty_frames: int = 0
    records: list[Record] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = "source ended"
    # CPU milliseconds per frame and stage: capture, segment, render, inference, vote, database
    stage_ms: dict[str, list[float]] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)  # frames per Guess.path

    def add_stage(self, name: str, ms: float) -> None:
        self.stage_ms.setdefault(name, []).append(ms)

    def summary(self) -> dict:
        per_label: dict[str, int] = {}
        for r in self.records:
            per_label[r.label] = per_label.get(r.label, 0) + 1
        lat = self.latencies_ms
        return {"items": len(self.records), "per_label": per_label, "frames": self.frames,
                "empty_frames": self.empty_frames, "seconds": round(self.seconds, 3),
                "fps": round(self.frames / self.seconds, 2) if self.seconds else 0.0,
                "latency_ms_mean": round(float(np.mean(lat)), 3) if lat else None,
                "latency_ms_p50": round(float(np.median(lat)), 3) if lat else None,
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 3) if lat else None,
                "paths": dict(self.paths), "stopped": self.stopped}


def thumbnail(roi: np.ndarray) -> bytes:
    small = cv2.resize(roi, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes() if ok else b""


def run_scan(
    frames: Iterable[np.ndarray | None], guess: Callable[[np.ndarray], Guess], voter: Voter,
    on_record: Callable[[Record], None], on_frame: Callable[[np.ndarray, Guess, ScanStats], bool] | None = None,
    max_frames: int | None = None, max_seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False, stats: ScanStats | None = None,
) -> ScanStats:
    """The loop. ``on_frame`` returning False stops it (the preview's quit key).

    ``stats`` may be passed in so a caller still holds the counts if a
    KeyboardInterrupt escapes the loop.
    """
    stats = stats if stats is not None else ScanStats()
    start = time.perf_counter()
    frames = iter(frames)
    while True:
        cpu = time.thread_time()
        rgb = next(frames, _END)
        if rgb is _END:
            break
        if should_stop():
            stats.stopped = "stop requested"
            break
        if rgb is None:  # an empty frame from the source
            stats.empty_frames += 1
            continue
        stats.frames += 1
        stats.add_stage("capture", 1000 * (time.thread_time() - cpu))
        g = guess(rgb)
        stats.latencies_ms.append(g.latency_ms)
        for name, ms in g.stages.items():
            stats.add_stage(name, ms)
        stats.paths[g.path or "other"] = stats.paths.get(g.path or "other", 0) + 1
        cpu = time.thread_time()
        event = voter.update(g.class_index, g.confidence)
        stats.add_stage("vote", 1000 * (time.thread_time() - cpu))
        if event is not None:
            cpu = time.thread_time()
            record = Record(LABELS[event[0]], event[0], event[1], stats.frames, thumbnail(g.roi))
            on_record(record)  # commits before the loop goes on
            stats.records.append(record)
            stats.add_stage("database", 1000 * (time.thread_time() - cpu))
        stats.seconds = time.perf_counter() - start
        if on_frame is not None and on_frame(rgb, g, stats) is False:
            stats.stopped = "quit key"
            break
        if max_frames is not None and stats.frames >= max_frames:
            stats.stopped = "max frames"
            break
        if max_seconds is not None and stats.seconds >= max_seconds:
            stats.stopped = "max seconds"
            break
    stats.seconds = time.perf_counter() - start
    return stats

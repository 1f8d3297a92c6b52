"""A scan session: a frame source, the per-frame guess and the wardrobe, wired once for
``scan`` and ``serve`` (and anything else that scans).

:class:`ScanSession` owns what surrounds :func:`~fmnistedge.runtime.scan.run_scan`:
recording each item in the wardrobe, undo, closing the source, the preview and the
database whatever happens, and the summary with why the scan stopped.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from fmnistedge.errors import EXIT_INPUT_FAILED, EXIT_INTERRUPTED, CommandFailed, UsageError


def check_one_source(camera: int | None, source: str | None, picamera: bool) -> None:
    """A usage error (before any slow work) when more than one frame source is given."""
    if sum(x is not None and x is not False for x in (camera, source, picamera or None)) > 1:
        raise UsageError("Choose one of --camera, --source and --picamera.")


def open_source(camera: int | None, source: str | None, picamera: bool):
    """(the frame source, its name for the wardrobe and messages): Picamera2, a video file
    or stream, or a USB camera (0 when none is given)."""
    from fmnistedge.runtime.scan import OpenCVSource, PicameraSource

    if picamera:
        return PicameraSource(), "picamera"
    if source is not None:
        return OpenCVSource(source), source
    return OpenCVSource(camera or 0), f"camera:{camera or 0}"


def frame_guesser(ref, threads: int, roi: float, segment: str = "background"):
    """The per-frame guess of ``scan`` and ``serve``: the model loaded with its photo
    calibration, in a :class:`~fmnistedge.runtime.scan.FrameClassifier`."""
    from fmnistedge.runtime import models
    from fmnistedge.runtime.openset import for_model
    from fmnistedge.runtime.scan import FrameClassifier

    return FrameClassifier(models.load(ref, threads=threads), roi, for_model(ref), segment)


@dataclass
class StopRequest:
    flag: bool = False  # stop between frames
    sigint: bool = False  # the stop came from Ctrl-C (exit 130)


@contextlib.contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """SIGTERM and the first Ctrl-C ask the loop to stop between frames (no exception inside
    a commit or a native call); a second Ctrl-C interrupts whatever is running."""
    request = StopRequest()

    def on_sigint(*_):
        if request.sigint:
            raise KeyboardInterrupt
        request.flag = request.sigint = True

    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: setattr(request, "flag", True)),
                signal.SIGINT: signal.signal(signal.SIGINT, on_sigint)}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def open_preview(show: bool | None, quiet: bool, undo, roi: float, relearn, say: Callable[[str], None]):
    """The preview window when asked for (``show``) or by default when there is a display
    (unless ``quiet``); None otherwise, saying why when a window was expected."""
    if not (show or (show is None and not quiet)):
        return None
    from fmnistedge.runtime.preview import NO_GUI, Preview, display_available, display_set, opencv_has_gui

    if not opencv_has_gui():  # the base install's headless OpenCV: say so when a window was expected
        if show or display_set():
            say(NO_GUI)
        return None
    if display_available():
        return Preview(undo, roi, relearn)
    if show:
        say("No display available; scanning without a preview.")
    return None


@dataclass
class ScanOutcome:
    summary: dict
    interrupted: bool
    error: str | None  # why the source failed (a video file cut short), one line

    def check(self) -> None:
        """Raise the scan's exit code: 130 when interrupted, 1 when a video ended early."""
        if self.interrupted:
            raise CommandFailed(EXIT_INTERRUPTED)
        if self.error:
            raise CommandFailed(EXIT_INPUT_FAILED, self.error)


class ScanSession:
    """Scan ``source`` with ``guess`` and record every voted item in ``store`` (a
    :class:`~fmnistedge.runtime.wardrobe.Wardrobe`) at once; ``on_item(item_id, record)``
    hears of each."""

    def __init__(self, source, source_name: str, guess, voter, store, ref,
                 on_item: Callable[[int, object], None] = lambda *_: None) -> None:
        from fmnistedge.runtime.scan import ScanStats

        self.source, self.source_name, self.guess, self.voter, self.store = source, source_name, guess, voter, store
        self.model = (ref.arch, (ref.entry or {}).get("sha256"))
        self.on_item = on_item
        self.ids: list[int] = []
        self.stats = ScanStats()

    def record(self, r) -> None:
        from fmnistedge.runtime.wardrobe import Item

        self.ids.append(self.store.add(Item(r.label, r.class_index, r.confidence, *self.model, self.source_name,
                                            r.thumbnail)))
        self.on_item(self.ids[-1], r)

    def undo(self) -> str | None:
        """Remove the last item this session recorded (the preview's undo key)."""
        if self.ids and self.store.remove(self.ids[-1]):
            if self.stats.records:
                self.stats.records.pop()
            return f"removed #{self.ids.pop()}"
        return None

    def run(self, preview=None, max_frames: int | None = None, max_seconds: float | None = None,
            stop: StopRequest | None = None) -> ScanOutcome:
        """Scan until the source ends, a limit, the preview's quit key or ``stop``; the source,
        the preview and the wardrobe are closed whatever happens."""
        from fmnistedge.runtime.scan import LatestFrames, frames_of, run_scan, source_end

        stop = stop or StopRequest()
        interrupted = False
        frames = frames_of(self.source)  # a live camera on a capture thread of its own
        try:
            run_scan(frames, self.guess, self.voter, self.record, preview, max_frames, max_seconds,
                     should_stop=lambda: stop.flag, stats=self.stats)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if isinstance(frames, LatestFrames):
                frames.close()  # before the source: never release a camera under a read
            self.source.close()
            if preview is not None:
                preview.close()
            self.store.close()
        if interrupted or stop.sigint:
            interrupted, self.stats.stopped = True, "interrupted"
        ended, error = source_end(self.source, self.source_name)
        self.stats.stopped = ended or self.stats.stopped
        summary = {**self.stats.summary(), "wardrobe": str(self.store.path)}
        if isinstance(frames, LatestFrames):
            summary["frames_dropped"] = frames.dropped  # newer frames arrived while one was processed
        return ScanOutcome(summary, interrupted, error)


def open_source_and_store(camera: int | None, source: str | None, picamera: bool, open_store):
    """(source, its name, ``open_store()``): the source first, so a camera or file that cannot be
    opened does not leave a new wardrobe behind; the source is closed if the store fails."""
    src, source_name = open_source(camera, source, picamera)
    try:
        return src, source_name, open_store()
    except BaseException:
        src.close()
        raise


def open_scan(camera: int | None, source: str | None, picamera: bool, wardrobe: Path | None, guess, voter, ref,
              on_item: Callable[[int, object], None] = lambda *_: None) -> ScanSession:
    """A :class:`ScanSession` on the given source and wardrobe (created if missing)."""
    from fmnistedge.runtime.wardrobe import Wardrobe

    src, source_name, store = open_source_and_store(camera, source, picamera, lambda: Wardrobe(wardrobe))
    return ScanSession(src, source_name, guess, voter, store, ref, on_item)


def recorded_text(summary: dict) -> str:
    """"N item(s) recorded (label n, ...)" of a scan summary (``scan``'s and ``serve``'s last line)."""
    per = ", ".join(f"{k} {v}" for k, v in summary["per_label"].items()) or "none"
    return f"{summary['items']} item(s) recorded ({per})"


def summary_line(summary: dict) -> str:
    return (f"{recorded_text(summary)}; {summary['frames']} frames, {summary['fps']} FPS, "
            f"{summary['latency_ms_mean']} ms per frame; stopped: {summary['stopped']}")

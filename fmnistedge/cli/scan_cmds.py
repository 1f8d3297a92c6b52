"""Camera scanning and the wardrobe inventory: scan, wardrobe list/stats/export/remove/clear."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (_ErrorMappingGroup, ArtifactsOpt, EngineOpt, JsonFlag, ModelOpt, PrecisionOpt,
                                ScanSegment, ThreadsOpt, _print_json, app, resolve_model, stderr)
from fmnistedge.progress import print_error, printable


# OpenCV reads larger indices as a backend code plus an index (e.g. 200 = V4L2) and a
# negative one crashes it (exit 139), so only plain device numbers are accepted.
MAX_CAMERA_INDEX = 99

WardrobeOpt = Annotated[Optional[Path], typer.Option(
    "--wardrobe", help="Wardrobe database (default: ~/.local/share/fmnistedge/wardrobe.db).")]


# Options that scan and serve share.
CameraOpt = Annotated[Optional[int], typer.Option(
    min=0, max=MAX_CAMERA_INDEX, help="USB webcam index (default 0 when no other source is given).")]
SourceOpt = Annotated[Optional[str], typer.Option(help="A video file or stream URL instead of a camera.")]
PicameraOpt = Annotated[bool, typer.Option("--picamera", help="Raspberry Pi camera module through Picamera2.")]
MinConfidenceOpt = Annotated[float, typer.Option(min=0.0, max=1.0, help="Record only guesses this confident.")]
StableFramesOpt = Annotated[int, typer.Option(min=1, help="Frames in a row with the same label to record an item.")]
RoiOpt = Annotated[float, typer.Option(
    min=0.1, max=1.0, help="Guide box: centered square, this fraction of the shorter side.")]
ScanSegmentOpt = Annotated[ScanSegment, typer.Option(
    help="'background': learn the empty view (keep it clear for the first frames; 'b' in the preview "
         "learns it again) and segment by difference from it, classifying only when the garment is "
         "held still; 'fast' or 'grabcut': the photo path (GrabCut) on every frame, 5-20x the CPU time. "
         "See docs/scan.md.")]


def check_one_source(camera: Optional[int], source: Optional[str], picamera: bool) -> None:
    """A usage error (before any slow work) when more than one frame source is given."""
    if sum(x is not None and x is not False for x in (camera, source, picamera or None)) > 1:
        raise errors.UsageError("Choose one of --camera, --source and --picamera.")


def frame_guesser(ref, threads: int, roi: float, segment: str = "background"):
    """The per-frame guess of ``scan`` and ``serve``: the model loaded with its photo
    calibration, in a :class:`~fmnistedge.runtime.scan.FrameClassifier`."""
    from fmnistedge.runtime import models
    from fmnistedge.runtime.openset import for_model
    from fmnistedge.runtime.scan import FrameClassifier

    return FrameClassifier(models.load(ref, threads=threads), roi, for_model(ref), segment)


def open_source(camera: Optional[int], source: Optional[str], picamera: bool):
    """(the frame source, its name for the wardrobe and messages): Picamera2, a video file
    or stream, or a USB camera (0 when none is given)."""
    from fmnistedge.runtime.scan import OpenCVSource, PicameraSource

    if picamera:
        return PicameraSource(), "picamera"
    if source is not None:
        return OpenCVSource(source), source
    return OpenCVSource(camera or 0), f"camera:{camera or 0}"


@app.command()
def scan(
    camera: CameraOpt = None,
    source: SourceOpt = None,
    picamera: PicameraOpt = False,
    model: ModelOpt = None,
    engine: EngineOpt = None,
    precision: PrecisionOpt = None,
    show: Annotated[Optional[bool], typer.Option(
        "--show/--no-show", help="Preview window (default: when a display is available).")] = None,
    wardrobe: WardrobeOpt = None,
    min_confidence: MinConfidenceOpt = 0.6,
    stable_frames: StableFramesOpt = 5,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(min=0.1, help="Stop after this many seconds.")] = None,
    roi: RoiOpt = 0.8,
    segment: ScanSegmentOpt = ScanSegment.background,
    threads: ThreadsOpt = 1,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout: one per item, then the summary.")] = False,
) -> None:
    """Scan garments held in front of a camera and record them in the wardrobe.

    An item is recorded when the same label stays above --min-confidence for
    --stable-frames frames; the same item is not recorded again until the scene
    changes (the item is removed and the view is empty). With a model trained on
    real photos, confidences are its calibrated photo probabilities, and a garment
    of none of the ten classes (below the model's threshold) is never recorded. Every item is committed
    at once: Ctrl-C (exit 130) or SIGTERM (exit 0) keeps everything recorded.
    """
    import signal

    from fmnistedge.runtime.scan import ScanStats, Voter, run_scan
    from fmnistedge.runtime.wardrobe import Item, Wardrobe, check_writable

    check_one_source(camera, source, picamera)
    check_writable(wardrobe)  # not at the first record, minutes into the scan
    ref = resolve_model(model, engine, precision, artifacts)
    guesser = frame_guesser(ref, threads, roi, segment.value)  # a bad model fails before the camera opens
    # The source first: a camera or file that cannot be opened must not leave a new wardrobe behind.
    src, source_name = open_source(camera, source, picamera)
    try:
        store = Wardrobe(wardrobe)
    except BaseException:
        src.close()
        raise
    recorded_ids: list[int] = []

    def on_record(r) -> None:
        recorded_ids.append(store.add(Item(r.label, r.class_index, r.confidence, ref.arch,
                                           (ref.entry or {}).get("sha256"), source_name, r.thumbnail)))
        line = {"id": recorded_ids[-1], "label": r.label, "confidence": round(r.confidence, 4), "frame": r.frame}
        typer.echo(json.dumps(line) if as_json else f"#{line['id']} {r.label} ({100 * r.confidence:.0f}%) at frame {r.frame}")

    def undo() -> str | None:
        if recorded_ids and store.remove(recorded_ids[-1]):
            if stats.records:
                stats.records.pop()
            return f"removed #{recorded_ids.pop()}"
        return None

    preview = None
    if show or (show is None and not as_json):
        from fmnistedge.runtime.preview import NO_GUI, Preview, display_available, display_set, opencv_has_gui

        if not opencv_has_gui():  # the base install's headless OpenCV: say so when a window was expected
            if show or display_set():
                stderr.print(NO_GUI, markup=False, highlight=False, soft_wrap=True)
        elif display_available():
            preview = Preview(undo, roi, guesser.reset_background)
        elif show:
            stderr.print("No display available; scanning without a preview.")
    stop = {"flag": False, "sigint": False}

    def on_sigint(*_):
        # The first Ctrl-C stops the loop between frames (no exception inside a commit
        # or a native call); a second one interrupts whatever is running.
        if stop["sigint"]:
            raise KeyboardInterrupt
        stop.update(flag=True, sigint=True)

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    previous_int = signal.signal(signal.SIGINT, on_sigint)
    stats = ScanStats()
    stderr.print(printable(f"Scanning {source_name} with {ref.arch} ({ref.engine} {ref.precision}); "
                           f"wardrobe {store.path}. Ctrl-C to stop."), markup=False)
    interrupted = False
    try:
        run_scan(iter(src), guesser,
                 Voter(stable_frames, min_confidence), on_record, preview, max_frames, max_seconds,
                 should_stop=lambda: stop["flag"], stats=stats)
    except KeyboardInterrupt:
        interrupted, stats.stopped = True, "interrupted"
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        src.close()
        if preview is not None:
            preview.close()
        store.close()
    if stop["sigint"]:
        interrupted, stats.stopped = True, "interrupted"
    if getattr(src, "lost", False):
        stats.stopped = "camera lost"
    ended_early = getattr(src, "ended_early", None)  # a damaged or cut video file
    if ended_early:
        stats.stopped = f"video ended after {ended_early[0]} of its {ended_early[1]} frames"
    summary = stats.summary()
    summary["wardrobe"] = str(store.path)
    if as_json:
        typer.echo(json.dumps({"summary": summary}))
    else:
        per = ", ".join(f"{k} {v}" for k, v in summary["per_label"].items()) or "none"
        stderr.print(f"{summary['items']} item(s) recorded ({per}); {summary['frames']} frames, "
                     f"{summary['fps']} FPS, {summary['latency_ms_mean']} ms per frame; stopped: {summary['stopped']}")
    if interrupted:
        raise typer.Exit(errors.EXIT_INTERRUPTED)
    if ended_early:
        print_error(f"{source_name} ended after {ended_early[0]} of the {ended_early[1]} frames it reports "
                    "(damaged or cut short); the items recorded from it are kept")
        raise typer.Exit(errors.EXIT_INPUT_FAILED)


wardrobe_app = typer.Typer(cls=_ErrorMappingGroup, no_args_is_help=True,
                           help="The wardrobe inventory that 'scan' fills.")
app.add_typer(wardrobe_app, name="wardrobe")


def _open_wardrobe(path: Optional[Path], write: bool = False):
    """The wardrobe at ``path`` (default: the user's), read-only unless ``write``; None
    when the default one does not exist yet. Only 'scan' creates a wardrobe: a
    ``--wardrobe`` file that does not exist is an error, not a new empty database
    (it is most likely a typo), and the default one is not created by looking at it."""
    from fmnistedge.runtime.wardrobe import Wardrobe, default_path

    if path is not None and not Path(path).exists():
        raise errors.FmnistEdgeError(f"No wardrobe at {path}; 'fmnistedge scan --wardrobe {path}' creates one")
    if path is None and not default_path().exists():
        message = f"No wardrobe yet at {default_path()}; 'fmnistedge scan' creates one"
        if write:
            raise errors.FmnistEdgeError(message)
        stderr.print(printable(message), markup=False, highlight=False)
        return None
    return Wardrobe(path, readonly=not write)


@wardrobe_app.command("list")
def wardrobe_list(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """List every recorded item."""
    store = _open_wardrobe(wardrobe)
    items = store.items() if store is not None else []
    if as_json:
        _print_json(items)
        return
    for it in items:
        typer.echo(printable(f"#{it['id']} {it['label']} ({100 * it['confidence']:.0f}%) {it['first_seen']} "
                             f"[{it['model']}, {it['source']}]"))
    if not items and store is not None:
        stderr.print("The wardrobe is empty; add items with 'fmnistedge scan'.")


@wardrobe_app.command("stats")
def wardrobe_stats(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """Items per label."""
    store = _open_wardrobe(wardrobe)
    stats = store.stats() if store is not None else {"items": 0, "per_label": {}}
    if as_json:
        _print_json(stats)
        return
    typer.echo(f"{stats['items']} item(s)")
    for label, n in stats["per_label"].items():
        typer.echo(f"  {printable(label)}: {n}")


@wardrobe_app.command("export")
def wardrobe_export(
    wardrobe: WardrobeOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV (the default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the wardrobe as CSV or JSON (thumbnails are not included)."""
    from fmnistedge import fileio

    if as_csv and as_json:
        raise errors.UsageError("Choose --csv or --json, not both.")
    store = _open_wardrobe(wardrobe)
    text = store.export("json" if as_json else "csv") if store is not None else ("[]\n" if as_json else "")
    if out is None:
        typer.echo(text, nl=False)
    else:
        fileio.write_text(out, text)


@wardrobe_app.command("remove")
def wardrobe_remove(item_id: Annotated[int, typer.Argument(metavar="ID")], wardrobe: WardrobeOpt = None) -> None:
    """Remove one item by its id."""
    if not _open_wardrobe(wardrobe, write=True).remove(item_id):
        raise errors.FmnistEdgeError(f"No item #{item_id} in the wardrobe")
    typer.echo(f"removed #{item_id}")


@wardrobe_app.command("clear")
def wardrobe_clear(
    wardrobe: WardrobeOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete every item.")] = False,
) -> None:
    """Delete every item (needs --yes)."""
    if not yes:
        raise errors.UsageError("This deletes every item; pass --yes to confirm.")
    typer.echo(f"removed {_open_wardrobe(wardrobe, write=True).clear()} item(s)")


@app.command("service-unit")
def service_unit(
    camera: Annotated[Optional[int], typer.Option(
        min=0, max=MAX_CAMERA_INDEX, help="USB webcam index (default 0 unless --picamera).")] = None,
    picamera: Annotated[bool, typer.Option("--picamera", help="Raspberry Pi camera module through Picamera2.")] = False,
    wardrobe: WardrobeOpt = None,
    user: Annotated[Optional[str], typer.Option(help="Account the scan runs as (default: the current one).")] = None,
    model: ModelOpt = None,
    restart_seconds: Annotated[int, typer.Option(
        min=1, max=3600, help="Seconds before a scan that ended (camera missing or lost) starts again.")] = 10,
) -> None:
    """Print a systemd unit that runs a headless scan from boot, restarts it when the camera
    is missing or lost, and logs to the journal.

    Run it as the user who will scan, in the venv that has fmnistedge, and install its output:
    fmnistedge service-unit --picamera | sudo tee /etc/systemd/system/fmnistedge-scan.service
    (docs/pi.md).
    """
    import re

    from fmnistedge.service import scan_unit
    from fmnistedge.runtime.wardrobe import default_path

    if picamera and camera is not None:
        raise errors.UsageError("Choose one of --camera and --picamera.")
    if user is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}", user):
        raise errors.UsageError(f"Not a user name: {user!r}")
    path = wardrobe if wardrobe is not None else default_path()
    for value in (str(path), model or ""):
        if not value.isprintable():
            raise errors.UsageError(f"A unit file line cannot hold control characters. Received: {value!r}")
    typer.echo(scan_unit(path, camera=camera, picamera=picamera, user=user, model=model,
                         restart_seconds=restart_seconds), nl=False)

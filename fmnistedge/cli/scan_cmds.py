"""Camera scanning and the wardrobe inventory: scan, wardrobe list/stats/export/remove/clear, service-unit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.progress import printable
from fmnistedge.cli.app import (_ErrorMappingGroup, ArtifactsOpt, EngineOpt, JsonFlag, ModelOpt, PrecisionOpt,
                                ScanSegment, ThreadsOpt, app, print_json, resolve_model, say)

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
MinConfidenceOpt = Annotated[float, typer.Option(
    min=0.0, max=1.0, help="Record an item when its label's mean confidence over --stable-frames frames reaches this.")]
StableFramesOpt = Annotated[int, typer.Option(
    min=1, max=10_000, help="Frames in a row with the same label to record an item.")]
RoiOpt = Annotated[float, typer.Option(
    min=0.1, max=1.0, help="Guide box: centered square, this fraction of the shorter side.")]
ScanSegmentOpt = Annotated[ScanSegment, typer.Option(
    help="'background': learn the empty view (keep it clear for the first frames; 'b' in the preview "
         "learns it again) and segment by difference from it, classifying only when the garment is "
         "held still; 'fast' or 'grabcut': the photo path (GrabCut) on every frame, 5-20x the CPU time. "
         "See docs/scan.md.")]


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
    max_frames: Annotated[Optional[int], typer.Option(min=1, max=10**9, help="Stop after this many frames.")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(min=0.1, max=10**9, help="Stop after this many seconds.")] = None,
    roi: RoiOpt = 0.8,
    segment: ScanSegmentOpt = ScanSegment.background,
    threads: ThreadsOpt = 1,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout: one per item, then the summary.")] = False,
) -> None:
    """Scan garments held in front of a camera and record them in the wardrobe.

    An item is recorded when the same label tops --stable-frames frames in a row
    with a mean confidence of at least --min-confidence; the same item is not recorded again until the scene
    changes (the item is removed and the view is empty). With a model trained on
    real photos, confidences are its calibrated photo probabilities, and a garment
    of none of the ten classes (below the model's threshold) is never recorded. Every item is committed
    at once: Ctrl-C (exit 130) or SIGTERM (exit 0) keeps everything recorded.
    """
    from fmnistedge.runtime.scan import Voter
    from fmnistedge.runtime.session import check_one_source, frame_guesser, open_preview, open_scan, stop_signals
    from fmnistedge.runtime.session import summary_line
    from fmnistedge.runtime.wardrobe import check_writable

    def on_item(item_id: int, r) -> None:
        line = {"id": item_id, "label": r.label, "confidence": round(r.confidence, 4), "frame": r.frame}
        typer.echo(json.dumps(line) if as_json else f"#{item_id} {r.label} ({100 * r.confidence:.0f}%) at frame {r.frame}")

    check_one_source(camera, source, picamera)
    check_writable(wardrobe)  # not at the first record, minutes into the scan
    ref = resolve_model(model, engine, precision, artifacts)
    guess = frame_guesser(ref, threads, roi, segment.value)  # a bad model fails before the camera opens
    session = open_scan(camera, source, picamera, wardrobe, guess, Voter(stable_frames, min_confidence), ref, on_item)
    preview = open_preview(show, as_json, session.undo, roi, guess.reset_background, say)
    with stop_signals() as stop:
        say(f"Scanning {session.source_name} with {ref.arch} ({ref.engine} {ref.precision}); "
            f"wardrobe {session.store.path}. Ctrl-C to stop.")
        outcome = session.run(preview, max_frames, max_seconds, stop)
    typer.echo(json.dumps({"summary": outcome.summary})) if as_json else say(summary_line(outcome.summary))
    outcome.check()


wardrobe_app = typer.Typer(cls=_ErrorMappingGroup, no_args_is_help=True, help="The wardrobe inventory that 'scan' fills.")
app.add_typer(wardrobe_app, name="wardrobe")


def _open(path: Optional[Path], write: bool = False):
    from fmnistedge.runtime.wardrobe import open_existing

    return open_existing(path, write, say)


@wardrobe_app.command("list")
def wardrobe_list(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """List every recorded item."""
    store = _open(wardrobe)
    items = store.items() if store is not None else []
    if as_json:
        return print_json(items)
    for it in items:
        line = f"#{it['id']} {it['label']} ({100 * it['confidence']:.0f}%) {it['first_seen']} [{it['model']}, {it['source']}]"
        typer.echo(printable(line))
    if not items and store is not None:
        say("The wardrobe is empty; add items with 'fmnistedge scan'.")


@wardrobe_app.command("stats")
def wardrobe_stats(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """Items per label."""
    store = _open(wardrobe)
    stats = store.stats() if store is not None else {"items": 0, "per_label": {}}
    if as_json:
        return print_json(stats)
    typer.echo("\n".join([f"{stats['items']} item(s)"] + [f"  {printable(k)}: {n}" for k, n in stats["per_label"].items()]))


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
    store = _open(wardrobe)
    text = store.export("json" if as_json else "csv") if store is not None else ("[]\n" if as_json else "")
    typer.echo(text, nl=False) if out is None else fileio.write_text(out, text)


@wardrobe_app.command("remove")
def wardrobe_remove(item_id: Annotated[int, typer.Argument(metavar="ID")], wardrobe: WardrobeOpt = None) -> None:
    """Remove one item by its id."""
    if not _open(wardrobe, write=True).remove(item_id):
        raise errors.FmnistEdgeError(f"No item #{item_id} in the wardrobe")
    typer.echo(f"removed #{item_id}")


@wardrobe_app.command("clear")
def wardrobe_clear(wardrobe: WardrobeOpt = None,
                   yes: Annotated[bool, typer.Option("--yes", help="Really delete every item.")] = False) -> None:
    """Delete every item (needs --yes)."""
    if not yes:
        raise errors.UsageError("This deletes every item; pass --yes to confirm.")
    typer.echo(f"removed {_open(wardrobe, write=True).clear()} item(s)")


@app.command("service-unit")
def service_unit(
    camera: Annotated[Optional[int], typer.Option(
        min=0, max=MAX_CAMERA_INDEX, help="USB webcam index (default 0 unless --picamera).")] = None,
    picamera: PicameraOpt = False,
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
    from fmnistedge.runtime.wardrobe import default_path
    from fmnistedge.service import scan_unit

    path = wardrobe if wardrobe is not None else default_path()
    typer.echo(scan_unit(path, camera, picamera, user, model, restart_seconds), nl=False)

"""``fmnistedge serve``: scan in a background thread and show the camera and the wardrobe in a browser
(:mod:`fmnistedge.runtime.server`). The options are scan's (``scan_cmds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fmnistedge.cli.app import (ArtifactsOpt, EngineOpt, ModelOpt, PrecisionOpt, ScanSegment, ThreadsOpt, app,
                                resolve_model, say)
from fmnistedge.cli.scan_cmds import (CameraOpt, MinConfidenceOpt, PicameraOpt, RoiOpt, ScanSegmentOpt, SourceOpt,
                                      StableFramesOpt, WardrobeOpt)

DEFAULT_PORT = 8080


@app.command()
def serve(
    camera: CameraOpt = None,
    source: SourceOpt = None,
    picamera: PicameraOpt = False,
    model: ModelOpt = None,
    engine: EngineOpt = None,
    precision: PrecisionOpt = None,
    wardrobe: WardrobeOpt = None,
    min_confidence: MinConfidenceOpt = 0.6,
    stable_frames: StableFramesOpt = 5,
    roi: RoiOpt = 0.8,
    segment: ScanSegmentOpt = ScanSegment.background,
    threads: ThreadsOpt = 1,
    artifacts: ArtifactsOpt = Path("artifacts"),
    host: Annotated[str, typer.Option(help="Address to listen on. Any non-loopback address (e.g. 0.0.0.0) "
                                            "requires the access token printed at start on every request.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    realtime: Annotated[bool, typer.Option(
        "--realtime/--no-realtime", help="Play a video file at its own frame rate, as a camera delivers frames "
                                         "(--no-realtime: as fast as the model runs).")] = True,
) -> None:
    """Scan in the background and serve the live view and the wardrobe to a browser.

    The page shows the camera with the guide box, the current guess and FPS (MJPEG), and
    the wardrobe with thumbnails, remove, undo and CSV/JSON downloads. A video file that
    ends stops the scan, not the server. Bound to 127.0.0.1 unless --host says otherwise;
    removing and undoing always need the access token (the page carries it). Ctrl-C
    (exit 130) or SIGTERM (exit 0) stops it; every recorded item is kept.
    """
    from fmnistedge.runtime import server
    from fmnistedge.runtime.session import check_one_source, frame_guesser
    from fmnistedge.runtime.wardrobe import check_writable

    check_one_source(camera, source, picamera)
    check_writable(wardrobe)
    ref = resolve_model(model, engine, precision, artifacts)
    guess = frame_guesser(ref, threads, roi, segment.value)
    sock = server.listen(host, port)
    try:
        served = server.prepare(ref, guess, camera, source, picamera, wardrobe, min_confidence, stable_frames, roi,
                                realtime, host, typer.echo)
        server.run(served, sock, host, port, ref, say)
    finally:
        sock.close()

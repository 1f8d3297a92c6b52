"""``fmnistedge serve``: scan in a background thread and show the camera and the wardrobe in a browser.

The scan wiring follows ``scan``'s: the per-frame guess (``frame_guesser``), the source
(``open_source``) and the options come from ``scan_cmds``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (ArtifactsOpt, EngineOpt, ModelOpt, PrecisionOpt, ScanSegment, ThreadsOpt, app,
                                resolve_model, stderr)
from fmnistedge.cli.scan_cmds import (CameraOpt, MinConfidenceOpt, PicameraOpt, RoiOpt, ScanSegmentOpt, SourceOpt,
                                      StableFramesOpt, WardrobeOpt, check_one_source, frame_guesser,
                                      open_source)
from fmnistedge.progress import print_error, printable

DEFAULT_PORT = 8080
JOIN_SECONDS = 10.0  # how long a stopping server waits for the scan thread (a camera read can block)
GRACEFUL_SECONDS = 3  # open connections (an MJPEG viewer) get this long to finish at shutdown


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or one line saying why not (port in use, no such address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise errors.FmnistEdgeError(f"Cannot listen on host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop (TIME_WAIT)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; pick another with --port" if exc.errno == 98 else ""
        raise errors.FmnistEdgeError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.setblocking(False)
    return sock


def _url(host: str, port: int) -> str:
    """The URL to open; for a wildcard address (every interface) this machine's name."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


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
    from fmnistedge.runtime.wardrobe import check_writable

    check_one_source(camera, source, picamera)
    check_writable(wardrobe)
    ref = resolve_model(model, engine, precision, artifacts)
    guess = frame_guesser(ref, threads, roi, segment.value)
    sock = listen(host, port)
    try:
        served = prepare(ref, guess, camera, source, picamera, wardrobe, min_confidence, stable_frames, roi,
                         realtime, host)
        _run(served, sock, host, port, ref)
    finally:
        sock.close()


@dataclass
class Served:
    """Everything ``serve`` runs, built as the command builds it (tests use it with Starlette's TestClient)."""

    app: object
    live: object  # fmnistedge.runtime.live.LiveScan, not started
    store: object  # fmnistedge.runtime.serve.WardrobeService
    token: str
    local: bool
    closing: threading.Event
    source_name: str


def prepare(ref, guess, camera: Optional[int], source: Optional[str], picamera: bool, wardrobe: Optional[Path],
            min_confidence: float, stable_frames: int, roi: float, realtime: bool, host: str) -> Served:
    from fmnistedge.runtime.live import MAX_PACED_FPS, LiveScan, paced
    from fmnistedge.runtime.scan import Voter
    from fmnistedge.runtime.serve import WardrobeService, create_app, is_loopback, new_token
    from fmnistedge.runtime.wardrobe import Item

    # The source first: a camera or file that cannot be opened must not leave a new wardrobe behind.
    src, source_name = open_source(camera, source, picamera)
    try:
        store = WardrobeService(wardrobe)
    except BaseException:
        src.close()
        raise
    frames = iter(src)
    fps = src.cap.get(5) if getattr(src, "is_file", False) else 0.0  # 5: cv2.CAP_PROP_FPS
    if realtime and 0 < fps <= MAX_PACED_FPS:
        frames = paced(frames, fps)
    sha = (ref.entry or {}).get("sha256")

    def record(r) -> int:
        item_id = store.add(Item(r.label, r.class_index, r.confidence, ref.arch, sha, source_name, r.thumbnail))
        typer.echo(f"#{item_id} {r.label} ({100 * r.confidence:.0f}%) at frame {r.frame}")
        return item_id

    live = LiveScan(src, frames, guess, Voter(stable_frames, min_confidence), record, roi,
                    {"source": source_name, "model": f"{ref.arch} ({ref.engine} {ref.precision})",
                     "wardrobe": str(store.path)})
    token, local, closing = new_token(), is_loopback(host), threading.Event()
    app_ = create_app(live, store, token, reads_need_token=not local, closing=closing)
    return Served(app_, live, store, token, local, closing, source_name)


def _run(served: Served, sock, host: str, port: int, ref) -> None:
    import signal

    live, store, token, closing = served.live, served.store, served.token, served.closing
    server = _quiet_server(served.app)
    stop = {"sigint": False}

    def on_signal(signum, _frame) -> None:
        if signum == signal.SIGINT:
            if stop["sigint"]:
                server.force_exit = True  # a second Ctrl-C: do not wait for open connections
            stop["sigint"] = True
        live.stop()
        closing.set()
        server.should_exit = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    url = _url(host, port)
    say = lambda text: stderr.print(printable(text), markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"Scanning {served.source_name} with {ref.arch} ({ref.engine} {ref.precision}); wardrobe {store.path}.")
    if served.local:
        say(f"Serving {url} (this machine only). Writes need the token, which the page carries: "
            f"{url}?token={token}  Ctrl-C to stop.")
    else:
        say(f"Serving on {host}:{port}; every request needs the access token. Open {url}?token={token}  "
            "Ctrl-C to stop.")
    watcher = threading.Thread(target=_say_when_ended, args=(live, closing), daemon=True)
    try:
        live.start()
        watcher.start()
        server.run(sockets=[sock])
    finally:
        live.stop()
        closing.set()
        ended = live.wait(JOIN_SECONDS)
        for s, handler in previous.items():
            signal.signal(s, handler)
        store.close()
    summary = live.stats.summary()
    stopped = live.stopped if ended else "the source did not stop in time"
    per = ", ".join(f"{k} {v}" for k, v in summary["per_label"].items()) or "none"
    say(f"{summary['items']} item(s) recorded ({per}); {summary['frames']} frames, {summary['fps']} FPS; "
        f"scan stopped: {stopped}; server stopped")
    if stop["sigint"]:
        raise typer.Exit(errors.EXIT_INTERRUPTED)
    if live.error:
        print_error(live.error)
        raise typer.Exit(errors.EXIT_INPUT_FAILED)


def _say_when_ended(live, closing) -> None:
    """One stderr line when the scan ends on its own (a file ended, a camera was lost)."""
    live.wait()
    if closing.is_set():
        return
    line = f"Scan ended ({live.stopped})" + (f": {live.error}" if live.error else "")
    stderr.print(printable(line + "; still serving the wardrobe. Ctrl-C to stop."), markup=False, highlight=False)


def _quiet_server(asgi_app):
    """A uvicorn server that leaves signals to the command (uvicorn's own handlers re-raise
    them after shutdown, which would end the process before the summary) and logs only
    warnings (no access log on stderr)."""
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            yield

        def install_signal_handlers(self) -> None:  # uvicorn before 0.29
            pass

    config = uvicorn.Config(asgi_app, log_level="warning", access_log=False, lifespan="off", loop="asyncio",
                            http="h11", ws="none", timeout_graceful_shutdown=GRACEFUL_SECONDS)
    return Server(config)

"""Running ``fmnistedge serve``: a scan on a background thread, a Starlette app over it
(:mod:`fmnistedge.runtime.serve`) and a uvicorn server on one socket, stopped by signals.

:func:`prepare` builds everything as the command does (tests drive it with Starlette's
TestClient); :func:`run` serves until Ctrl-C or SIGTERM and returns the scan's summary.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from fmnistedge import errors
from fmnistedge.runtime.session import open_source_and_store, recorded_text

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


def url_for(host: str, port: int) -> str:
    """The URL to open; for a wildcard address (every interface) this machine's name."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


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
            min_confidence: float, stable_frames: int, roi: float, realtime: bool, host: str,
            echo: Callable[[str], None] = print) -> Served:
    from fmnistedge.runtime.live import MAX_PACED_FPS, LiveScan, paced
    from fmnistedge.runtime.scan import Voter, frames_of
    from fmnistedge.runtime.serve import WardrobeService, create_app, is_loopback, new_token
    from fmnistedge.runtime.wardrobe import Item

    src, source_name, store = open_source_and_store(camera, source, picamera, lambda: WardrobeService(wardrobe))
    frames = frames_of(src)  # a live camera on a capture thread of its own, a file frame by frame
    fps = src.cap.get(5) if getattr(src, "is_file", False) else 0.0  # 5: cv2.CAP_PROP_FPS
    if realtime and 0 < fps <= MAX_PACED_FPS:
        frames = paced(frames, fps)
    sha = (ref.entry or {}).get("sha256")

    def record(r) -> int:
        item_id = store.add(Item(r.label, r.class_index, r.confidence, ref.arch, sha, source_name, r.thumbnail))
        echo(f"#{item_id} {r.label} ({100 * r.confidence:.0f}%) at frame {r.frame}")
        return item_id

    live = LiveScan(src, frames, guess, Voter(stable_frames, min_confidence), record, roi,
                    {"source": source_name, "model": f"{ref.arch} ({ref.engine} {ref.precision})",
                     "wardrobe": str(store.path)})
    token, local, closing = new_token(), is_loopback(host), threading.Event()
    app_ = create_app(live, store, token, reads_need_token=not local, closing=closing)
    return Served(app_, live, store, token, local, closing, source_name)


def run(served: Served, sock, host: str, port: int, ref, say: Callable[[str], None]) -> None:
    """Serve until Ctrl-C or SIGTERM (or a second Ctrl-C: at once); print the scan's summary
    through ``say``; raise exit 130 after Ctrl-C, exit 1 when the scan failed."""
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
    url = url_for(host, port)
    say(f"Scanning {served.source_name} with {ref.arch} ({ref.engine} {ref.precision}); wardrobe {store.path}.")
    if served.local:
        say(f"Serving {url} (this machine only). Writes need the token, which the page carries: "
            f"{url}?token={token}  Ctrl-C to stop.")
    else:
        say(f"Serving on {host}:{port}; every request needs the access token. Open {url}?token={token}  "
            "Ctrl-C to stop.")
    watcher = threading.Thread(target=_say_when_ended, args=(live, closing, say), daemon=True)
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
    say(f"{recorded_text(summary)}; {summary['frames']} frames, {summary['fps']} FPS; "
        f"scan stopped: {stopped}; server stopped")
    if stop["sigint"]:
        raise errors.CommandFailed(errors.EXIT_INTERRUPTED)
    if live.error:
        raise errors.CommandFailed(errors.EXIT_INPUT_FAILED, live.error)


def _say_when_ended(live, closing, say) -> None:
    """One stderr line when the scan ends on its own (a file ended, a camera was lost)."""
    live.wait()
    if closing.is_set():
        return
    line = f"Scan ended ({live.stopped})" + (f": {live.error}" if live.error else "")
    say(line + "; still serving the wardrobe. Ctrl-C to stop.")


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

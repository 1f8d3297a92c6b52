"""``fmnistedge serve``: the app through Starlette's TestClient, the command in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmnistedge.runtime.live import LiveScan
from fmnistedge.runtime.scan import Voter
from fmnistedge.runtime.serve import COOKIE, WardrobeService, create_app
from fmnistedge.runtime.server import prepare
from fmnistedge.runtime.session import frame_guesser
from fmnistedge.runtime.wardrobe import Item, Wardrobe
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.cli.app import resolve_model

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
LOCAL = "http://127.0.0.1"  # the Host a loopback-bound server answers to


def _expected_labels() -> list[str]:
    with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
        return [r["label"] for r in csv.DictReader(fh)]


def _jpeg_parts(body: bytes) -> list[np.ndarray]:
    """The images of a multipart/x-mixed-replace body with boundary 'frame'."""
    images = []
    for part in body.split(b"--frame\r\n")[1:]:
        head, _, rest = part.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        assert b"image/jpeg" in head
        images.append(cv2.imdecode(np.frombuffer(rest[:length], np.uint8), cv2.IMREAD_COLOR))
    return images


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One scan of the sample clip through the command's own wiring, watched over MJPEG while it runs."""
    db = tmp_path_factory.mktemp("serve") / "w.db"
    ref = resolve_model(None, None, None, ROOT / "artifacts")
    served = prepare(ref, frame_guesser(ref, 1, 0.8), None, str(CLIP), False, db, 0.6, 5, 0.8,
                     realtime=False, host="127.0.0.1")
    client = TestClient(served.app, base_url=LOCAL)
    served.live.start()
    with client.stream("GET", "/stream.mjpg") as r:  # ends when the scan ends
        content_type = r.headers["content-type"]
        body = b"".join(r.iter_bytes())
    assert served.live.wait(120)
    yield served, client, {"content_type": content_type, "body": body, "db": db}
    served.store.close()


def test_page_loads_with_the_view_the_wardrobe_and_the_write_token(scanned):
    served, client, _ = scanned
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'src="stream.mjpg"' in r.text and 'id="items"' in r.text and 'href="export.csv"' in r.text
    assert f'content="{served.token}"' in r.text and "{{TOKEN}}" not in r.text


def test_mjpeg_stream_yields_jpeg_frames_of_the_scan(scanned):
    _, client, seen = scanned
    assert seen["content_type"].startswith("multipart/x-mixed-replace") and "boundary=frame" in seen["content_type"]
    frames = _jpeg_parts(seen["body"])
    # Several frames, not a count: the stream sends the latest view at its own pace, so a
    # loaded machine sees fewer of the 96 (4 seen once with an emulator running beside it).
    assert len(frames) >= 3 and all(f is not None and f.shape == (240, 320, 3) for f in frames)
    # The guide box is drawn: its orange outline (BGR 0, 200, 255) is on the last frame.
    last = frames[-1].astype(int)
    assert (np.abs(last - [0, 200, 255]).sum(axis=2) < 120).sum() > 200
    r = client.get("/frame.jpg")
    assert r.status_code == 200 and cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)


def test_items_after_a_scan_are_the_expected_ones_with_thumbnails_and_the_page_says_it_ended(scanned):
    served, client, _ = scanned
    items = client.get("/api/items").json()
    assert [it["label"] for it in items] == _expected_labels()
    assert all(it["source"] == str(CLIP) and 0.6 <= it["confidence"] <= 1 and it["first_seen"] for it in items)
    thumb = client.get(f"/items/{items[0]['id']}/thumbnail.jpg")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR).shape == (96, 96, 3)
    assert client.get("/items/999/thumbnail.jpg").status_code == 404
    status = client.get("/api/status").json()
    assert status["scanning"] is False and status["stopped"] == "source ended" and status["error"] is None
    assert status["recorded"] == len(items) and status["frames"] == 96 and status["source"] == str(CLIP)


def test_csv_and_json_downloads_are_the_wardrobes_own_export(scanned):
    _, client, seen = scanned
    store = Wardrobe(seen["db"], readonly=True)
    try:
        for path, fmt in (("/export.csv", "csv"), ("/export.json", "json")):
            r = client.get(path)
            assert r.status_code == 200 and r.text == store.export(fmt)
            assert f'filename="wardrobe.{fmt}"' in r.headers["content-disposition"]
        assert [row["label"] for row in csv.DictReader(client.get("/export.csv").text.splitlines())] == _expected_labels()
    finally:
        store.close()


def test_a_host_header_that_is_not_loopback_is_refused_on_a_local_server(scanned):
    _, client, _ = scanned
    assert client.get("/api/items", headers={"Host": "rebound.example:8080"}).status_code == 400
    proxied = {"Host": "pi.example", "Authorization": f"Bearer {scanned[0].token}"}
    assert client.get("/api/items", headers=proxied).status_code == 200  # a proxy that passes the token
    assert TestClient(scanned[0].app, base_url="http://localhost:8080").get("/api/items").status_code == 200


# --- writes ------------------------------------------------------------------------------

class _NoSource:
    def close(self) -> None:
        pass


def _writable(tmp_path, reads_need_token: bool):
    """A served wardrobe with three items this process recorded, after one of an earlier scan."""
    db = tmp_path / "w.db"
    earlier = Wardrobe(db)
    earlier.add(Item("Coat", 4, 0.9, "edge-r", None, "earlier scan"))
    earlier.close()
    store = WardrobeService(db)
    ids = [store.add(Item(label, idx, 0.8, "edge-r", None, "test")) for label, idx in
           (("Trouser", 1), ("Dress", 3), ("Sneaker", 7))]
    live = LiveScan(_NoSource(), [], None, Voter(), store.add, 0.8, {"source": "test"})
    live.start()
    live.wait(10)
    return create_app(live, store, "s3cret-token", reads_need_token), store, ids


def test_remove_and_undo_need_the_token_and_work_with_it(tmp_path):
    asgi, store, (a, b, c) = _writable(tmp_path, reads_need_token=False)
    client = TestClient(asgi, base_url=LOCAL)
    auth = {"Authorization": "Bearer s3cret-token"}
    ids = lambda: [it["id"] for it in client.get("/api/items").json()]  # noqa: E731
    assert ids() == [1, a, b, c]
    for bad in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE}=s3cret-token"}):
        assert client.delete(f"/api/items/{b}", headers=bad).status_code == 401
        assert client.post("/api/undo", headers=bad).status_code == 401
    assert ids() == [1, a, b, c]  # nothing written without the token
    assert client.get(f"/api/items/{b}").status_code == 405  # writes are not GETs
    r = client.delete(f"/api/items/{b}", headers=auth)
    assert r.status_code == 200 and r.json() == {"removed": b} and ids() == [1, a, c]
    r = client.delete("/api/items/999", headers=auth)
    assert r.status_code == 404 and r.json() == {"error": "No item #999 in the wardrobe"}
    assert client.post("/api/undo", headers=auth).json() == {"removed": c}
    assert client.post("/api/undo?token=s3cret-token").json() == {"removed": a}  # b was removed already: skipped
    r = client.post("/api/undo", headers=auth)
    assert r.status_code == 409 and "Nothing to undo" in r.json()["error"]
    assert ids() == [1]  # the earlier scan's item is never undone
    store.close()


def test_a_network_server_answers_401_without_the_token_and_the_url_token_sets_a_cookie(tmp_path):
    asgi, store, (a, _, _) = _writable(tmp_path, reads_need_token=True)
    client = TestClient(asgi, base_url="http://192.0.2.10:8080")
    for path in ("/", "/api/items", "/api/status", "/stream.mjpg", "/frame.jpg", f"/items/{a}/thumbnail.jpg",
                 "/export.csv", "/export.json"):
        r = client.get(path)
        assert r.status_code == 401 and "token" in r.text, path
        assert client.get(path + "?token=wrong").status_code == 401, path
    assert client.post("/api/undo").status_code == 401
    r = client.get("/?token=s3cret-token")
    assert r.status_code == 200 and COOKIE in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert client.get("/api/items").status_code == 200  # the cookie now carries the token
    assert client.get("/api/items", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    # The cookie alone never writes: the page sends the token itself.
    assert client.post("/api/undo").status_code == 401
    assert client.delete(f"/api/items/{a}").status_code == 401
    assert len(client.get("/api/items").json()) == 4
    assert client.post("/api/undo", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    store.close()


# --- the command ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_process(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fmnistedge", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, **kw)


@pytest.mark.parametrize("args, line", [
    (["--camera", "99"], "Error: Cannot open camera 99 with OpenCV VideoCapture (tried its default backends); "
                         "on a Raspberry Pi camera module try --picamera"),
    (["--source", "no-such.mp4"], "Error: No such video file: no-such.mp4"),
    (["--host", "no-such-host.invalid"], "Error: Cannot listen on host 'no-such-host.invalid': "),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, args, line):
    proc = _serve_process(*args, "--port", str(_free_port()), "--wardrobe", str(tmp_path / "w.db"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(line), err
    assert not (tmp_path / "w.db").exists()  # nothing created for a source that cannot be opened


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _serve_process("--source", str(CLIP), "--port", str(port), "--wardrobe", str(tmp_path / "w.db"))
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use; "
                                        "pick another with --port"], err


@pytest.mark.parametrize("args, named", [
    (["--port", "0"], "--port"), (["--port", "65536"], "--port"), (["--port", "http"], "--port"),
    (["--threads", "100000"], "--threads"), (["--camera", "100"], "--camera"),
    (["--source", "x.mp4", "--camera", "1"], "Choose one of --camera, --source and --picamera"),
])
def test_options_out_of_range_are_usage_errors(args, named, tmp_path):
    result = CliRunner().invoke(app, ["serve", *args, "--wardrobe", str(tmp_path / "w.db")])
    assert result.exit_code == 2 and named in result.output, result.output
    assert not (tmp_path / "w.db").exists()


def _wait_for(proc, pattern: str, stream: str = "stderr", timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    pipe = getattr(proc, stream)
    while time.monotonic() < deadline:
        line = pipe.readline()
        if not line:
            break
        lines.append(line)
        if pattern in line:
            return lines
    raise AssertionError(f"{pattern!r} not seen: {lines}")


def _get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def test_a_video_that_ends_keeps_the_wardrobe_served_and_sigterm_stops_cleanly(tmp_path):
    port, db = _free_port(), tmp_path / "w.db"
    proc = _serve_process("--source", str(CLIP), "--no-realtime", "--port", str(port), "--wardrobe", str(db))
    try:
        _wait_for(proc, "Scan ended (source ended); still serving the wardrobe")
        assert [it["label"] for it in _get(port, "/api/items")] == _expected_labels()
        assert _get(port, "/api/status")["scanning"] is False
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "scan stopped: source ended; server stopped" in err
    printed = [int(line.split()[0][1:]) for line in out.splitlines()]
    assert [it["id"] for it in Wardrobe(db).items()] == printed and len(printed) == len(_expected_labels())


def test_ctrl_c_mid_scan_exits_130_and_keeps_every_recorded_item(tmp_path):
    port, db = _free_port(), tmp_path / "w.db"
    proc = _serve_process("--source", str(CLIP), "--port", str(port), "--wardrobe", str(db))  # real time: ~10 s
    try:
        printed = _wait_for(proc, "#2 ", stream="stdout")
        assert _get(port, "/api/status")["scanning"] is True
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - sent < 10
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "scan stopped: stop requested" in err
    printed += out.splitlines()
    ids = [int(line.split()[0][1:]) for line in printed]
    assert len(ids) < len(_expected_labels()) and [it["id"] for it in Wardrobe(db).items()] == ids


def test_the_serve_dependencies_are_not_imported_by_other_commands():
    proc = subprocess.run([sys.executable, "-c", "import sys\nfrom typer.testing import CliRunner\n"
                           "from fmnistedge.cli import app\nCliRunner().invoke(app, ['--help'])\n"
                           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn')))"],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stderr


# --- the live scan on its own ------------------------------------------------------------

class _FakeSource:
    """Frames, then the camera goes away (``lost``), as OpenCVSource reports it."""

    def __init__(self, n: int) -> None:
        self.n, self.lost, self.closed = n, False, False

    def __iter__(self):
        for _ in range(self.n):
            yield np.full((120, 160, 3), 128, np.uint8)
        self.lost = True

    def close(self) -> None:
        self.closed = True


def test_a_lost_camera_ends_the_live_scan_with_its_reason_and_closes_the_source():
    from fmnistedge.runtime.scan import Guess

    src = _FakeSource(12)
    recorded = []
    live = LiveScan(src, iter(src), lambda rgb: Guess(4, 0.9, 1.0, rgb[:10, :10]), Voter(5, 0.6),
                    lambda r: recorded.append(r) or len(recorded), 0.8, {"source": "camera:0"})
    live.start()
    assert live.wait(30)
    status = live.status()
    assert status["scanning"] is False and status["stopped"] == "camera lost" and status["error"] is None
    assert status["recorded"] == 1 and [r.label for r in recorded] == ["Coat"] and status["frames"] == 12
    assert status["guess"] == "Coat 90%" and src.closed
    assert live.stats.latencies_ms.maxlen and live.stats.summary()["latency_ms_mean"] == 1.0  # bounded, still summed
    seq, jpeg = live.jpeg()
    assert seq == 12 and cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (120, 160, 3)


def test_a_failing_scan_says_why_in_one_line_and_keeps_what_it_recorded(tmp_path):
    from fmnistedge.runtime.scan import Guess
    from fmnistedge.runtime.wardrobe import WardrobeError

    src = _FakeSource(50)
    calls = []

    def guess(rgb):
        calls.append(1)
        if len(calls) > 8:
            raise WardrobeError("Cannot use w.db: database is locked")
        return Guess(1, 0.95, 1.0, rgb[:10, :10])

    store = WardrobeService(tmp_path / "w.db")
    record = lambda r: store.add(Item(r.label, r.class_index, r.confidence, "edge-r", None, "camera:0"))  # noqa: E731
    live = LiveScan(src, iter(src), guess, Voter(5, 0.6), record, 0.8, {"source": "camera:0"})
    live.start()
    assert live.wait(30)
    client = TestClient(create_app(live, store, "t", reads_need_token=False), base_url=LOCAL)
    status = client.get("/api/status").json()
    assert status["stopped"] == "failed" and status["error"] == "Cannot use w.db: database is locked"
    assert [it["label"] for it in client.get("/api/items").json()] == ["Trouser"] and src.closed
    store.close()


def test_the_status_says_hold_still_and_learning_not_a_class():
    """The background path's MOVING (-2) and learning frames are not classes (they once read "Bag 0%")."""
    from fmnistedge.runtime.preview import guess_text
    from fmnistedge.runtime.scan import MOVING, Guess

    roi = np.zeros((4, 4, 3), np.uint8)
    assert guess_text(Guess(MOVING, 0.0, 1.0, roi, path="moving")) == "hold it still"
    assert guess_text(Guess(None, 0.0, 1.0, roi, path="learning")).startswith("learning the empty view")
    assert guess_text(Guess(3, 0.9, 1.0, roi, path="background")) == "Dress 90%"


def test_relearn_needs_the_token_and_resets_the_background_on_the_scan_thread(tmp_path):
    class Guesser:
        resets = 0

        def __call__(self, rgb):
            from fmnistedge.runtime.scan import Guess
            return Guess(None, 0.0, 1.0, rgb, path="background")

        def reset_background(self):
            Guesser.resets += 1

    frames = (np.zeros((48, 64, 3), np.uint8) for _ in range(400))
    store = WardrobeService(tmp_path / "w.db")
    live = LiveScan(_NoSource(), (paced_frame for paced_frame in frames), Guesser(), Voter(), store.add, 0.8, {})
    client = TestClient(create_app(live, store, "s3cret-token", False), base_url=LOCAL)
    assert client.post("/api/relearn").status_code == 401  # a write: the token is needed
    assert client.post("/api/relearn", headers={"Authorization": "Bearer s3cret-token"}).json() == {"relearning": True}
    live.start()
    live.wait(10)
    assert Guesser.resets == 1  # applied once, by the scan thread, between frames
    store.close()

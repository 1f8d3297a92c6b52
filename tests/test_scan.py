"""Scanning: the pure loop parts, the sample clip end to end, signals, the wardrobe."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.runtime.scan import Guess, OpenCVSource, PicameraSource, ScanError, Voter, run_scan, to_rgb
from fmnistedge.runtime.wardrobe import Item, Wardrobe, WardrobeError
from tests.conftest import clip_frames

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
runner = CliRunner()


def _expected_labels() -> list[str]:
    with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
        return [r["label"] for r in csv.DictReader(fh)]


# --- the voter ---------------------------------------------------------------

def test_voter_records_once_per_stable_item_and_rearms_on_empty_view():
    v = Voter(stable_frames=3, min_confidence=0.6, rearm_empty_frames=2)
    seq = [(1, .9), (1, .9), (1, .9), (1, .9), (1, .95), None, (1, .9), (1, .9), (1, .9),
           None, None, (1, .9), (1, .8), (1, .9), None, None, (7, .5), (7, .9), (7, .9), (7, .9)]
    events = [v.update(*(s if s else (None, 0.0))) for s in seq]
    # the last item: its first frame (0.5) is below 0.6, but the mean of the three (0.77) is not
    assert [(i, e[0]) for i, e in enumerate(events) if e] == [(2, 1), (13, 1), (18, 7)]


def test_voter_needs_agreement_and_a_mean_confidence():
    """The same label on every frame of the window, and the window's mean confidence at least
    min_confidence: one low frame (a hand crossing) lowers the mean without breaking the run."""
    v = Voter(stable_frames=3, min_confidence=0.7)
    # 2 breaks the run of 1s; then .9, .4, .6 (mean .63) and .4, .6, .9 (mean .63) are too unsure
    assert [v.update(c, p) for c, p in [(1, .9), (2, .9), (1, .9), (1, .4), (1, .6), (1, .9)]] == [None] * 6
    assert v.update(1, .95) == (1, pytest.approx((.6 + .9 + .95) / 3))
    assert v.update(1, .95) is None  # recorded once until the view empties


# --- frames and sources ------------------------------------------------------

def test_to_rgb_handles_odd_frames():
    assert to_rgb(None) is None and to_rgb(np.zeros((0, 0, 3), np.uint8)) is None
    assert to_rgb(np.zeros((10, 12), np.uint8)).shape == (10, 12, 3)
    assert to_rgb(np.zeros((10, 12, 4), np.uint8)).shape == (10, 12, 3)
    assert to_rgb(np.zeros((5, 6, 3), np.uint16)).dtype == np.uint8
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0] = 255
    assert to_rgb(bgr)[0, 0].tolist() == [0, 0, 255]


def test_loop_survives_odd_frames_and_stops_on_limits():
    frames = [np.zeros((40, 50, 3), np.uint8), None, np.zeros((90, 30, 3), np.uint8),
              np.full((64, 64, 3), 200, np.uint8)] * 5
    guess = lambda rgb: Guess(None, 0.0, 1.0, rgb)  # noqa: E731
    stats = run_scan(frames, guess, Voter(), on_record=lambda r: None, max_frames=7)
    assert stats.frames == 7 and stats.empty_frames == 2 and stats.stopped == "max frames"
    stats = run_scan(iter(frames), guess, Voter(), lambda r: None, should_stop=lambda: True)
    assert stats.frames == 0 and stats.stopped == "stop requested"


class FlakyCapture:
    """A camera that delivers ``good`` frames, then stops delivering."""

    opened = 0

    def __init__(self, target, good: int = 3):
        FlakyCapture.opened += 1
        self.left = good if FlakyCapture.opened == 1 else 0

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return True

    def read(self):
        if self.left > 0:
            self.left -= 1
            return True, np.zeros((20, 20, 3), np.uint8)
        return False, None

    def release(self):
        pass


def test_camera_disconnect_retries_then_ends_cleanly():
    FlakyCapture.opened = 0
    src = OpenCVSource(0, reconnect_seconds=0.5, capture_factory=FlakyCapture)
    start = time.monotonic()
    frames = list(src)
    assert len(frames) == 3 and src.lost
    assert FlakyCapture.opened >= 2  # it tried to reopen the camera
    assert 0.5 <= time.monotonic() - start < 3


def test_camera_that_cannot_open_fails_clearly(tmp_path):
    never = tmp_path / "never.db"
    result = runner.invoke(app, ["scan", "--camera", "9", "--no-show", "--wardrobe", str(never)])
    assert result.exit_code == 1 and "Cannot open camera 9" in result.output
    result = runner.invoke(app, ["scan", "--source", "missing.mp4", "--no-show", "--wardrobe", str(never)])
    assert result.exit_code == 1 and "No such video file: missing.mp4" in result.output
    assert not never.exists()  # a scan that never started leaves no new wardrobe


def test_a_wardrobe_path_that_does_not_exist_is_an_error_not_a_new_database(tmp_path):
    typo = tmp_path / "wardorbe.db"
    for command in (["list"], ["stats"], ["export"], ["remove", "1"]):
        result = runner.invoke(app, ["wardrobe", *command, "--wardrobe", str(typo)])
        assert result.exit_code == 1 and f"No wardrobe at {typo}" in result.output, command
    assert not typo.exists()
    assert runner.invoke(app, ["scan", "--camera", "0", "--source", "x.mp4"]).exit_code == 2


class FakePicamera:
    """Picamera2's surface as the scanner uses it; ``frames`` captures, then the camera fails."""

    closed = 0

    def __init__(self, frames: int = 2, fail_at: str | None = None) -> None:
        self.frames, self.fail_at = frames, fail_at
        if fail_at == "init":
            raise IndexError("list index out of range")  # what Picamera2() does with no camera

    def create_preview_configuration(self, main):
        return main

    def configure(self, config) -> None:
        pass

    def start(self) -> None:
        if self.fail_at == "start":
            raise RuntimeError("Failed to acquire camera: Device or resource busy")

    def capture_array(self):
        if self.frames == 0:
            raise RuntimeError("Camera frontend has timed out!")
        self.frames -= 1
        return np.zeros((48, 64, 3), np.uint8)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        FakePicamera.closed += 1


@pytest.mark.parametrize("fail_at, detail", [("init", "list index out of range"), ("start", "resource busy")])
def test_pi_camera_that_cannot_open_fails_in_one_line(fail_at, detail):
    FakePicamera.closed = 0
    with pytest.raises(ScanError, match=f"Cannot open the Pi camera through Picamera2 \\(.*{detail}"):
        PicameraSource(camera_factory=lambda: FakePicamera(fail_at=fail_at))
    assert FakePicamera.closed == (1 if fail_at == "start" else 0)  # an acquired camera is released


def test_pi_camera_lost_mid_scan_ends_the_frames_and_says_so():
    src = PicameraSource(camera_factory=lambda: FakePicamera(frames=2))
    frames = list(src)
    assert len(frames) == 2 and frames[0].shape == (48, 64, 3) and src.lost


# --- end to end on the sample clip ------------------------------------------

def test_sample_clip_builds_exactly_the_expected_wardrobe(tmp_path):
    db = tmp_path / "w.db"
    result = runner.invoke(app, ["scan", "--source", str(CLIP), "--no-show", "--json", "--wardrobe", str(db)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = lines[-1]["summary"]
    assert summary["items"] == len(_expected_labels()) and summary["frames"] > 50 and summary["fps"] > 0
    items = Wardrobe(db).items()
    assert [it["label"] for it in items] == _expected_labels()
    assert all(it["model"] and it["model_sha256"] and it["source"] == str(CLIP) for it in items)
    thumb = Wardrobe(db).thumbnail(items[0]["id"])
    assert cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR).shape == (96, 96, 3)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """The sample clip repeated, long enough to interrupt mid-scan."""
    frames = clip_frames(CLIP)
    path = tmp_path_factory.mktemp("clip") / "long.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, frames[0].shape[1::-1])
    for _ in range(30):
        for f in frames:
            out.write(f)
    out.release()
    return path


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_signal_mid_scan_keeps_every_recorded_item(long_clip, tmp_path, sig, code):
    db = tmp_path / "w.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fmnistedge", "scan", "--source", str(long_clip), "--no-show", "--json",
         "--wardrobe", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    recorded = []
    deadline = time.monotonic() + 120
    while len(recorded) < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        recorded.append(json.loads(line))
    assert len(recorded) == 3, proc.stderr.read()
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == code, err
    assert "Traceback" not in err
    tail = [json.loads(line) for line in out.splitlines()]
    recorded += [t for t in tail if "id" in t]
    assert tail[-1]["summary"]["stopped"] in ("interrupted", "stop requested")
    assert [it["id"] for it in Wardrobe(db).items()] == [r["id"] for r in recorded]


# --- the wardrobe -----------------------------------------------------------

def _item(label="Coat", idx=4) -> Item:
    return Item(label, idx, 0.9, "cnn1", "abc", "test")


def test_wardrobe_export_round_trip_and_commands(tmp_path):
    db = tmp_path / "w.db"
    w = Wardrobe(db)
    ids = [w.add(_item()), w.add(_item("Bag", 8)), w.add(_item())]
    w.close()
    as_json = runner.invoke(app, ["wardrobe", "export", "--json", "--wardrobe", str(db)])
    assert [r["id"] for r in json.loads(as_json.stdout)] == ids
    out = tmp_path / "w.csv"
    assert runner.invoke(app, ["wardrobe", "export", "--csv", "--out", str(out), "--wardrobe", str(db)]).exit_code == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["label"] for r in rows] == ["Coat", "Bag", "Coat"] and rows[0]["confidence"] == "0.9"
    stats = json.loads(runner.invoke(app, ["wardrobe", "stats", "--json", "--wardrobe", str(db)]).stdout)
    assert stats == {"items": 3, "per_label": {"Coat": 2, "Bag": 1}}
    assert runner.invoke(app, ["wardrobe", "remove", str(ids[1]), "--wardrobe", str(db)]).exit_code == 0
    assert runner.invoke(app, ["wardrobe", "remove", "999", "--wardrobe", str(db)]).exit_code == 1
    assert runner.invoke(app, ["wardrobe", "clear", "--wardrobe", str(db)]).exit_code == 2
    assert runner.invoke(app, ["wardrobe", "clear", "--yes", "--wardrobe", str(db)]).exit_code == 0
    assert Wardrobe(db).items() == []


def test_locked_database_waits_and_retries(tmp_path):
    db = tmp_path / "w.db"
    Wardrobe(db).close()
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.7, lambda: other.execute("COMMIT")).start()
    start = time.monotonic()
    w = Wardrobe(db, busy_timeout=10)
    w.add(_item())
    assert time.monotonic() - start >= 0.5 and len(w.items()) == 1
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(WardrobeError, match="locked"):
        Wardrobe(db, busy_timeout=0.2).add(_item())
    other.execute("COMMIT")


@pytest.mark.parametrize("kind", ["garbage", "foreign"])
def test_corrupt_or_foreign_database_is_refused_and_untouched(tmp_path, kind):
    db = tmp_path / "w.db"
    if kind == "garbage":
        db.write_bytes(os.urandom(4096))
    else:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE photos (id INTEGER)")
        con.commit()
        con.close()
    before = db.read_bytes()
    with pytest.raises(WardrobeError, match="left untouched"):
        Wardrobe(db)
    assert db.read_bytes() == before
    result = runner.invoke(app, ["wardrobe", "list", "--wardrobe", str(db)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_schema_version_is_recorded(tmp_path):
    db = tmp_path / "w.db"
    Wardrobe(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute("PRAGMA user_version=99")
    con.commit()
    with pytest.raises(WardrobeError, match="newer"):
        Wardrobe(db)


@pytest.mark.parametrize("index", ["-1", "-5", "100"])
def test_a_camera_index_out_of_range_is_a_usage_error_not_a_crash(tmp_path, index):
    # A subprocess: OpenCV segfaulted on a negative index, which would take pytest down with it.
    proc = subprocess.run([sys.executable, "-m", "fmnistedge", "scan", f"--camera={index}", "--no-show",
                           "--wardrobe", str(tmp_path / "w.db")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--camera" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "w.db").exists()


def _damaged_wardrobe(db: Path) -> str:
    """A wardrobe of 10 items with one data page overwritten (page 6 of 14); its integrity verdict."""
    w = Wardrobe(db)
    for _ in range(10):
        w.add(Item("Coat", 4, 0.9, "cnn1", "abc", "test", os.urandom(3000)))
    w.close()
    with open(db, "r+b") as fh:
        fh.seek(5 * 4096 + 200)
        fh.write(bytes(range(200)) * 5)
    con = sqlite3.connect(db)
    verdict = con.execute("PRAGMA integrity_check(1)").fetchone()[0]
    assert verdict.startswith("*** in database main ***\nOn tree page 6 ")
    assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 10  # what 'stats' used to report
    con.close()
    return verdict.splitlines()[1]


@pytest.mark.parametrize("command", [["wardrobe", "list"], ["wardrobe", "stats"], ["wardrobe", "export"],
                                     ["wardrobe", "remove", "3"], ["wardrobe", "clear", "--yes"],
                                     ["scan", "--source", str(CLIP), "--no-show"]])
def test_a_damaged_wardrobe_is_one_line_with_the_integrity_verdict_and_untouched(tmp_path, command):
    db = tmp_path / "w.db"
    verdict = _damaged_wardrobe(db)
    before = db.read_bytes()
    result = runner.invoke(app, [*command, "--wardrobe", str(db)])
    assert result.exit_code == 1, result.output
    assert f"{db} is damaged (PRAGMA integrity_check: {verdict});" in result.output
    assert "Traceback" not in result.output and "item(s)" not in result.output
    assert db.read_bytes() == before


@contextlib.contextmanager
def _read_only(*paths: Path):
    """Make files and folders unwritable: chmod for a normal user; as root, whom chmod
    does not stop, the immutable attribute (chattr +i), or skip where that is unavailable."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode != 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
        pytest.skip("running as root and chattr +i is unavailable here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_wardrobe_can_be_read_and_writing_commands_refuse_up_front(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "w.db"
    w = Wardrobe(db)
    w.add(_item())
    w.add(_item("Bag", 8))
    w.close()
    with _read_only(db, folder):
        listed = runner.invoke(app, ["wardrobe", "list", "--wardrobe", str(db)])
        assert listed.exit_code == 0 and "Coat" in listed.output and "Bag" in listed.output, listed.output
        assert runner.invoke(app, ["wardrobe", "stats", "--json", "--wardrobe", str(db)]).exit_code == 0
        assert runner.invoke(app, ["wardrobe", "export", "--wardrobe", str(db)]).exit_code == 0
        for command in (["wardrobe", "clear", "--yes"], ["scan", "--source", str(CLIP), "--no-show"]):
            result = runner.invoke(app, [*command, "--wardrobe", str(db)])
            assert result.exit_code == 1, result.output
            assert f"Cannot write to the wardrobe {db}" in result.output and "frames" not in result.output
    assert len(Wardrobe(db).items()) == 2


def test_reading_commands_never_create_the_default_wardrobe(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for command in (["list"], ["stats"], ["export"], ["export", "--json"]):
        result = runner.invoke(app, ["wardrobe", *command])
        assert result.exit_code == 0 and "No wardrobe yet at" in result.output, (command, result.output)
    for command in (["remove", "1"], ["clear", "--yes"]):
        result = runner.invoke(app, ["wardrobe", *command])
        assert result.exit_code == 1 and "No wardrobe yet at" in result.output, (command, result.output)
    assert not (tmp_path / "data").exists()


def test_csv_export_neutralises_formulas(tmp_path):
    db = tmp_path / "w.db"
    w = Wardrobe(db)
    sources = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\tx", "camera:0", "\rx"]
    for source in sources:
        w.add(Item("Coat", 4, 0.9, "cnn1", "abc", source))
    w.close()
    result = runner.invoke(app, ["wardrobe", "export", "--csv", "--wardrobe", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(",'\rx\n")  # Python's csv module leaves a lone CR unquoted
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))[:6]
    assert [r["source"] for r in rows] == ["'" + s for s in sources[:5]] + ["camera:0"]
    assert rows[0]["confidence"] == "0.9" and rows[0]["label"] == "Coat"
    as_json = json.loads(runner.invoke(app, ["wardrobe", "export", "--json", "--wardrobe", str(db)]).stdout)
    assert [r["source"] for r in as_json] == sources  # JSON is data: kept as it is


def _scan_process(*args: str) -> subprocess.CompletedProcess:
    """The real command in a subprocess: OpenCV and FFmpeg write to the native stderr."""
    return subprocess.run([sys.executable, "-m", "fmnistedge", "scan", "--no-show", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_a_missing_camera_is_one_line_without_opencv_noise(tmp_path):
    proc = _scan_process("--camera", "99", "--wardrobe", str(tmp_path / "w.db"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: Cannot open camera 99 with OpenCV VideoCapture (tried its default backends); "
        "on a Raspberry Pi camera module try --picamera"], proc.stderr


def test_a_video_damaged_mid_stream_says_it_ended_early_and_keeps_its_items(tmp_path):
    data = bytearray(CLIP.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20000] = bytes(20000)  # as a bad sector or a cut download would
    clip, db = tmp_path / "damaged.mp4", tmp_path / "w.db"
    clip.write_bytes(bytes(data))
    proc = _scan_process("--source", str(clip), "--json", "--wardrobe", str(db))
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = lines[-1]["summary"]
    assert summary["stopped"].startswith("video ended after ") and summary["frames"] < 96
    assert f"{clip} ended after {summary['frames']} of the 96 frames it reports" in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("[")], proc.stderr  # no FFmpeg noise
    recorded = [line["id"] for line in lines if "id" in line]
    assert recorded and [it["id"] for it in Wardrobe(db).items()] == recorded


def test_the_display_probe_does_not_import_a_cv2_planted_in_the_current_directory(tmp_path, monkeypatch):
    from fmnistedge.runtime.preview import display_available

    marker = tmp_path / "planted-ran"
    (tmp_path / "cv2.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                     "namedWindow = waitKey = destroyAllWindows = lambda *a: None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISPLAY", ":99")  # no such display: the real probe fails, which is fine
    display_available()
    assert not marker.exists()


def test_wardrobe_list_escapes_control_characters_from_the_database(tmp_path):
    """A source or model name stored with ESC sequences or newlines (another tool, a
    crafted file) prints escaped: one line per item, nothing a terminal would act on."""
    db = tmp_path / "w.db"
    w = Wardrobe(db)
    w.add(Item("Coat", 4, 0.9, "cnn1\x1b[2J", "abc", "cam\nera\x1b]0;x\x07"))
    w.close()
    result = runner.invoke(app, ["wardrobe", "list", "--wardrobe", str(db)], color=True)
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1 and "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "[cnn1\\x1b[2J, cam\\nera\\x1b]0;x\\x07]" in result.stdout
    exported = json.loads(runner.invoke(app, ["wardrobe", "export", "--json", "--wardrobe", str(db)]).stdout)
    assert exported[0]["source"] == "cam\nera\x1b]0;x\x07"  # JSON keeps the value exact
    missing = tmp_path / "no\x1b[31mpe.db"
    result = runner.invoke(app, ["wardrobe", "list", "--wardrobe", str(missing)], color=True)
    assert result.exit_code == 1 and "\x1b" not in result.output and "no\\x1b[31mpe.db" in result.output


@pytest.mark.parametrize("column, value", [("label", b"\x00blob"), ("confidence", "high"), ("source", b"raw"),
                                           ("model_sha256", b"\x01"), ("first_seen", b"\xff")])
def test_a_wardrobe_row_with_foreign_value_types_is_one_line_and_removable(tmp_path, column, value):
    """SQLite stores any type in any column: a blob label made 'wardrobe export --json'
    crash with a TypeError traceback. Now every reading command names the item in one
    line, and 'wardrobe remove' can still delete it."""
    db = tmp_path / "w.db"
    w = Wardrobe(db)
    w.add(Item("Coat", 4, 0.9, "edge-r", None, "camera:0"))
    w.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA ignore_check_constraints=1")
    try:
        con.execute(f"UPDATE items SET {column} = ? WHERE id = 1", (value,))
    except sqlite3.IntegrityError:
        pytest.skip("SQLite refuses this value itself")
    con.commit()
    con.close()
    for args in (["wardrobe", "list"], ["wardrobe", "stats", "--json"], ["wardrobe", "export", "--json"],
                 ["wardrobe", "export", "--csv"]):
        result = runner.invoke(app, [*args, "--wardrobe", str(db)])
        assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
        assert result.stderr.count("\n") == 1 and f"item #1 has {column}" in result.stderr, result.output
    assert runner.invoke(app, ["wardrobe", "remove", "1", "--wardrobe", str(db)]).exit_code == 0
    assert runner.invoke(app, ["wardrobe", "list", "--wardrobe", str(db)]).exit_code == 0


def test_a_negative_schema_version_is_refused_in_one_line_and_left_untouched(tmp_path):
    """user_version is a signed 32-bit header field: a damaged header (a flipped top bit)
    made opening for writing try migrations from -2147483646 and die with a KeyError."""
    import hashlib

    db = tmp_path / "w.db"
    w = Wardrobe(db)
    w.add(_item())
    w.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=-2147483646")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for readonly in (True, False):
        with pytest.raises(WardrobeError, match="schema -2147483646, which no fmnistedge writes"):
            Wardrobe(db, readonly=readonly)
    for args in (["wardrobe", "list"], ["wardrobe", "remove", "1"]):
        result = runner.invoke(app, [*args, "--wardrobe", str(db)])
        assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_text_that_is_not_utf8_in_a_wardrobe_is_one_line_naming_the_item(tmp_path):
    """A damaged byte inside a text value (found by tests/test_fuzz.py): Python's sqlite3
    raised OperationalError 'Could not decode to UTF-8 column' while fetching, outside the
    error mapping, so 'wardrobe list' and 'export' ended in a traceback."""
    db = tmp_path / "w.db"
    w = Wardrobe(db)
    w.add(_item())
    w.add(_item("Bag", 8))
    w.close()
    con = sqlite3.connect(db)
    con.execute("UPDATE items SET first_seen = CAST(X'FF323032362D3132' AS TEXT) WHERE id = 2")
    con.commit()
    con.close()
    for args in (["wardrobe", "list"], ["wardrobe", "export", "--json"], ["wardrobe", "export", "--csv"]):
        result = runner.invoke(app, [*args, "--wardrobe", str(db)])
        assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
        assert result.stderr.count("\n") == 1 and "item #2 holds text that is not UTF-8" in result.stderr, result.output
    assert runner.invoke(app, ["wardrobe", "stats", "--wardrobe", str(db)]).exit_code == 0  # labels are fine
    assert runner.invoke(app, ["wardrobe", "remove", "2", "--wardrobe", str(db)]).exit_code == 0
    assert [it["id"] for it in Wardrobe(db, readonly=True).items()] == [1]


def test_latest_frames_hands_the_loop_the_newest_frame_and_counts_the_rest():
    """A live camera on its own thread: a slow loop gets the newest frame, never a stale
    buffered one, and every frame is either taken or counted as dropped."""
    import threading
    import time

    from fmnistedge.runtime.scan import LatestFrames

    delivered = threading.Event()

    def camera():
        for i in range(10):
            yield np.full((2, 2, 3), i, np.uint8)
            time.sleep(0.01)
        delivered.set()

    frames = LatestFrames(camera())
    seen = []
    for frame in frames:
        seen.append(int(frame[0, 0, 0]))
        time.sleep(0.05)  # processing slower than the camera
    assert delivered.is_set() and seen == sorted(seen) and seen[-1] == 9
    assert len(seen) < 10 and len(seen) + frames.dropped == 10
    assert frames.close()


def test_latest_frames_raises_a_capture_error_in_the_loop_and_close_waits_for_the_thread():
    from fmnistedge.runtime.scan import LatestFrames

    def broken():
        yield np.zeros((2, 2, 3), np.uint8)
        raise RuntimeError("camera unplugged")

    frames = LatestFrames(broken())
    with pytest.raises(RuntimeError, match="camera unplugged"):
        for _ in frames:
            pass
    assert frames.close()


def test_a_video_file_is_read_frame_by_frame_and_a_camera_through_latest_frames(tmp_path):
    from fmnistedge.runtime.scan import LatestFrames, OpenCVSource, frames_of

    src = OpenCVSource(str(CLIP))
    assert not isinstance(frames_of(src), LatestFrames)
    src.close()

    class Live:  # a camera has no is_file
        def __iter__(self):
            return iter([])

    frames = frames_of(Live())
    assert isinstance(frames, LatestFrames) and list(frames) == [] and frames.close()

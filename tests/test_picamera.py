"""The Pi camera path: ``fmnistedge scan --picamera`` against a fake ``picamera2`` module.

The fake is injected as ``sys.modules['picamera2']``, so ``PicameraSource``'s own
``from picamera2 import Picamera2`` runs. It has the real API's shape: ``Picamera2()``
(IndexError when no camera is detected, RuntimeError when another program holds it),
``create_preview_configuration(main={"size": (w, h), "format": "RGB888"})``, ``configure``,
``start``, ``capture_array()`` returning an HxWx3 uint8 array of the configured size in
BGR order (what libcamera's RGB888 is in memory), ``stop`` and ``close``. Its frames are
the sample clip's, so a scan through it must record the clip's expected items.
"""

from __future__ import annotations

import csv
import json
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmnistedge.runtime.scan import PicameraSource
from fmnistedge.runtime.wardrobe import Wardrobe
from typer.testing import CliRunner

from fmnistedge.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
runner = CliRunner()


def _clip_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, frame = cap.read()  # BGR, like the real camera's RGB888
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _expected_labels() -> list[str]:
    with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
        return [r["label"] for r in csv.DictReader(fh)]


class Camera:
    """Picamera2's surface. Class attributes set the behaviour of the next camera."""

    frames: list[np.ndarray] = []
    fail_after: int | None = None  # capture_array raises after this many frames
    interval = 1 / 30  # like a camera: capture_array returns a frame at most this often (30 FPS)
    busy = False
    detected = True
    log: list[str] = []

    def __init__(self, camera_num: int = 0) -> None:
        if not Camera.detected:
            raise IndexError("list index out of range")  # Picamera2() with no camera attached
        if Camera.busy:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self.config, self.started, self.captured = None, False, 0
        Camera.log.append("init")

    def create_preview_configuration(self, main=None, **kwargs) -> dict:
        main = dict(main or {})
        if main.get("format", "XBGR8888") not in ("RGB888", "BGR888", "XBGR8888", "XRGB8888"):
            raise ValueError(f"unknown format {main['format']}")
        return {"use_case": "preview", "main": {"size": (640, 480), "format": "XBGR8888", **main}}

    def configure(self, config: dict) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        self.config = config
        Camera.log.append(f"configure {config['main']['format']} {config['main']['size']}")

    def start(self) -> None:
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        Camera.log.append("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        if not self.started:
            raise RuntimeError("Camera is not running")
        if Camera.fail_after is not None and self.captured >= Camera.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        if self.captured >= len(Camera.frames):
            raise RuntimeError("Camera frontend has timed out!")
        frame = Camera.frames[self.captured]
        self.captured += 1
        wait = getattr(self, "_next", 0.0) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._next = time.monotonic() + Camera.interval
        w, h = self.config["main"]["size"]
        assert self.config["main"]["format"] == "RGB888"
        return np.ascontiguousarray(cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR))

    def stop(self) -> None:
        self.started = False
        Camera.log.append("stop")

    def close(self) -> None:
        Camera.log.append("close")


@pytest.fixture
def picamera2(monkeypatch):
    """A fake ``picamera2`` module in sys.modules, reset for each test."""
    module = types.ModuleType("picamera2")
    module.Picamera2 = Camera
    monkeypatch.setitem(sys.modules, "picamera2", module)
    Camera.frames, Camera.fail_after, Camera.busy, Camera.detected, Camera.log = _clip_frames(), None, False, True, []
    return Camera


def _scan(db: Path, *extra: str):
    return runner.invoke(app, ["scan", "--picamera", "--no-show", "--json", "--wardrobe", str(db), *extra])


def test_frames_come_out_rgb_at_the_configured_size(picamera2):
    bgr = np.zeros((240, 320, 3), np.uint8)
    bgr[..., 0] = 255  # blue in the camera's BGR memory order
    picamera2.frames = [bgr]
    src = PicameraSource()
    frame = next(iter(src))
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert frame[0, 0].tolist() == [0, 0, 255]  # blue stays blue once converted to RGB
    src.close()
    assert picamera2.log == ["init", "configure RGB888 (640, 480)", "start", "stop", "close"]


def test_a_scan_through_the_pi_camera_records_the_clip_items(picamera2, tmp_path):
    db = tmp_path / "w.db"
    result = _scan(db)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    items, summary = lines[:-1], lines[-1]["summary"]
    assert [it["label"] for it in items] == _expected_labels()
    # A live camera is read on a capture thread: every frame is processed or counted as dropped
    # (a newer one arrived while it waited), and at 30 FPS the items do not depend on drops.
    assert summary["frames"] + summary["frames_dropped"] == len(picamera2.frames)
    assert summary["stopped"] == "camera lost"
    stored = Wardrobe(db).items()
    assert [it["id"] for it in stored] == [it["id"] for it in items]
    assert {it["source"] for it in stored} == {"picamera"}
    assert picamera2.log[-2:] == ["stop", "close"]  # the camera is released for the next program


def test_a_camera_that_fails_mid_scan_ends_it_cleanly_and_keeps_the_items(picamera2, tmp_path):
    db = tmp_path / "w.db"
    picamera2.fail_after = 50  # after the clip's second item (frames 11 and 29), before its third (47+)
    result = _scan(db)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    items, summary = lines[:-1], lines[-1]["summary"]
    assert summary["stopped"] == "camera lost" and summary["frames"] + summary["frames_dropped"] == 50
    assert 1 <= len(items) < len(_expected_labels())
    assert [it["label"] for it in items] == _expected_labels()[:len(items)]
    assert [it["id"] for it in Wardrobe(db).items()] == [it["id"] for it in items]
    assert picamera2.log[-2:] == ["stop", "close"]


@pytest.mark.parametrize("busy, detected, detail", [(True, True, "Device or resource busy"),
                                                     (False, False, "list index out of range")])
def test_a_busy_or_missing_camera_is_one_line_and_exit_1(picamera2, tmp_path, busy, detected, detail):
    picamera2.busy, picamera2.detected = busy, detected
    db = tmp_path / "w.db"
    result = _scan(db)
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Cannot open the Pi camera through Picamera2" in errors[0] and detail in errors[0]
    assert "Traceback" not in result.output
    assert not db.exists()  # no wardrobe is created for a scan that never started


def test_without_picamera2_the_option_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    result = _scan(tmp_path / "w.db")
    assert result.exit_code == 1
    assert "sudo apt install python3-picamera2" in result.stderr and "--system-site-packages" in result.stderr


def test_a_picamera2_that_fails_to_import_is_one_line_with_the_fix(monkeypatch, tmp_path):
    """Pi OS's picamera2 imports simplejpeg, built for the system's numpy 1.x; in a venv
    with numpy 2 the import raises ValueError (not ImportError): one line naming the fix."""
    package = tmp_path / "site" / "picamera2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        'raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. '
        'Expected 96 from C header, got 88 from PyObject")\n')
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    result = _scan(tmp_path / "w.db")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "numpy.dtype size changed" in errors[0]
    assert "pip install --force-reinstall simplejpeg" in errors[0]

"""``fmnistedge serve`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) loads the page while the sample clip is scanned and sees items appear.

Marked ``browser`` and ``ci``, and skipped where Chromium or its driver is missing. The browser is
driven through chromedriver's W3C WebDriver HTTP API with the standard library (five
calls), so the test needs no Python package beyond the dev extra. The screenshot goes to
the test's temporary folder; ``SERVE_SCREENSHOT=docs/img/serve.png`` writes the one the
docs show.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
# Flags checked on this machine: no sandbox as root, nothing fetched from the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900"]

# ci: the clip plays in real time (9.6 s) after Chromium starts, too long for the fast tier.
pytestmark = [pytest.mark.browser, pytest.mark.ci,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver commands this test needs, over chromedriver's HTTP API."""

    def __init__(self, port: int) -> None:
        self.base, self.session = f"http://127.0.0.1:{port}", None

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read()[:500]!r}") from None

    def start(self, profile: Path) -> None:
        caps = {"browserName": "chrome", "pageLoadStrategy": "eager",  # the MJPEG image never finishes loading
                "goog:chromeOptions": {"binary": CHROMIUM, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]}}
        self.session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def go(self, url: str) -> None:
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script: str):
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("GET", f"/session/{self.session}/screenshot"))

    def quit(self) -> None:
        if self.session:
            self.call("DELETE", f"/session/{self.session}")


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


OBSERVE = """
const rows = document.querySelectorAll('#items tr');
return {rows: rows.length, labels: Array.from(rows, (r) => r.children[2].textContent),
        status: document.getElementById('status').textContent,
        view: document.getElementById('view').naturalWidth};
"""


def test_the_page_shows_items_appear_during_a_scan_of_the_sample_clip(tmp_path):
    driver_port, port = _free_port(), _free_port()
    chromedriver = subprocess.Popen([DRIVER, f"--port={driver_port}"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    serve = None
    driver = WebDriver(driver_port)
    try:
        _wait_ready(f"http://127.0.0.1:{driver_port}/status")
        driver.start(tmp_path / "profile")  # the browser first: the clip then plays while the page is open
        shutil.copy(CLIP, tmp_path / CLIP.name)  # short names on the page (and in the docs' screenshot)
        serve = subprocess.Popen(
            [sys.executable, "-m", "fmnistedge", "serve", "--source", CLIP.name, "--port", str(port),
             "--wardrobe", "wardrobe.db"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            cwd=tmp_path, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        _wait_ready(f"http://127.0.0.1:{port}/api/status")
        driver.go(f"http://127.0.0.1:{port}/")
        seen, shot = [], None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            seen.append(driver.js(OBSERVE))
            now = seen[-1]
            if (shot is None and now["status"].startswith("Scanning") and now["rows"] >= 3 and now["view"] > 0
                    and "no garment" not in now["status"]):
                shot = driver.screenshot()  # mid-scan: the live view, a guess and a filled wardrobe
            if now["status"].startswith("Scan ended"):
                break
            time.sleep(0.2)
    finally:
        driver.quit()
        chromedriver.terminate()
        chromedriver.wait(timeout=30)
        if serve is not None:
            serve.terminate()
            err = serve.communicate(timeout=30)[1]
    assert serve.returncode == 0 and "Traceback" not in err, err

    scanning = [s for s in seen if s["status"].startswith("Scanning")]
    assert scanning, seen[:3]
    # An item appeared in the list while the page was open and the scan still running.
    assert min(s["rows"] for s in scanning) < max(s["rows"] for s in scanning), seen
    assert all(s["view"] == 320 for s in scanning[-3:])  # the MJPEG view shows the clip's 320x240 frames
    assert seen[-1]["status"].startswith("Scan ended (source ended)")
    with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
        expected = [r["label"] for r in csv.DictReader(fh)]
    assert seen[-1]["labels"] == expected[::-1]  # newest first

    assert shot is not None, seen
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    out = Path(os.environ.get("SERVE_SCREENSHOT") or tmp_path / "serve.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(shot)
    assert image.shape[1] == 1280 and image.shape[0] > 500 and image.std() > 10  # the viewport, not a blank page

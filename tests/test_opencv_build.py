"""Which OpenCV build: the base install is opencv-python-headless (Raspberry Pi OS Lite has
no libGL, X11 or glib); the preview window needs the ``gui`` extra, and ``scan --show``
without it says so in one line and scans headless."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.runtime import preview

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
runner = CliRunner()


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_base_install_is_headless_and_the_gui_build_is_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _names(project["dependencies"])
    assert "opencv-python-headless" in base and "opencv-python" not in base
    assert _names(project["optional-dependencies"]["gui"]) == {"opencv-python"}


@pytest.mark.parametrize("info, has_gui", [
    ("  GUI:                           NONE\n", False),
    ("  GUI:                           QT5\n    QT:  YES (ver 5.15.16)\n", True),
    ("  GUI:                           GTK3\n", True),
    ("General configuration for OpenCV 5.0.0\n", True),  # no GUI line: left to the display probe
])
def test_opencv_has_gui_reads_the_build_information(monkeypatch, info, has_gui):
    monkeypatch.setattr(preview.cv2, "getBuildInformation", lambda: "General configuration\n" + info)
    assert preview.opencv_has_gui() is has_gui


@pytest.mark.parametrize("args, display, says", [
    (["--show"], None, True),   # asked for explicitly, even without a display
    ([], ":0", True),           # the default on a desktop session
    ([], None, False),          # headless by default over SSH: nothing to say
])
def test_show_without_an_opencv_gui_is_one_line_and_the_scan_goes_on(monkeypatch, tmp_path, args, display, says):
    monkeypatch.setattr(preview, "opencv_has_gui", lambda: False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display:
        monkeypatch.setenv("DISPLAY", display)
    else:
        monkeypatch.delenv("DISPLAY", raising=False)
    db = tmp_path / "w.db"
    result = runner.invoke(app, ["scan", "--source", str(CLIP), "--max-frames", "3", "--wardrobe", str(db), *args])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "no GUI" in line]
    assert len(lines) == (1 if says else 0), result.stderr
    if says:
        assert lines[0] == preview.NO_GUI and "pip install 'fmnistedge[gui]'" in lines[0]
    assert "3 frames" in result.stderr  # it scanned

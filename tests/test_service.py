"""The systemd unit of ``fmnistedge service-unit`` (docs/pi.md): it parses, it holds what
the docs promise, and its ExecStart, run here without a camera, fails the way the
unit's restart settings are there for (one line, exit 1)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.service import fmnistedge_command

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _unit(*args: str) -> str:
    result = runner.invoke(app, ["service-unit", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return {name: dict(parser[name]) for name in parser.sections()}


def _exec_argv(exec_start: str) -> list[str]:
    """ExecStart's argv the way systemd reads it for these quotes, with %% back to %."""
    return [a.replace("%%", "%") for a in shlex.split(exec_start)]


def test_the_unit_holds_what_the_docs_promise(tmp_path):
    wardrobe = tmp_path / "my wardrobe 100%.db"
    unit = _sections(_unit("--picamera", "--wardrobe", str(wardrobe), "--user", "pi"))
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"  # never stop retrying
    service = unit["Service"]
    assert service["Restart"] == "always" and service["RestartSec"] == "10"
    assert service["User"] == "pi" and service["SupplementaryGroups"] == "video"
    assert service["Environment"] == "PYTHONUNBUFFERED=1"
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    assert _exec_argv(service["ExecStart"]) == [*fmnistedge_command(), "scan", "--picamera", "--no-show",
                                                "--wardrobe", str(wardrobe)]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    usb = _sections(_unit("--camera", "2", "--wardrobe", "w.db", "--restart-seconds", "3"))["Service"]
    argv = _exec_argv(usb["ExecStart"])
    assert argv[argv.index("--camera") + 1] == "2" and usb["RestartSec"] == "3"
    assert Path(argv[argv.index("--wardrobe") + 1]).is_absolute()  # a service has no useful cwd


def test_the_docs_describe_this_unit():
    doc = (ROOT / "docs" / "pi.md").read_text()
    for promise in ("fmnistedge service-unit", "Restart=always", "RestartSec", "StartLimitIntervalSec=0",
                    "systemctl enable --now fmnistedge-scan", "journalctl -u fmnistedge-scan",
                    "synchronous=FULL", "tests/test_wardrobe_durability.py"):
        assert promise in doc, promise


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    path = tmp_path / "fmnistedge-scan.service"
    path.write_text(_unit("--picamera", "--wardrobe", str(tmp_path / "a b%.db"), "--user", "root"))
    proc = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr  # warnings count as failures


def test_exec_start_without_a_camera_fails_in_one_line_for_systemd_to_retry(tmp_path):
    wardrobe = tmp_path / "w.db"
    service = _sections(_unit("--camera", "7", "--wardrobe", str(wardrobe)))["Service"]
    proc = subprocess.run(_exec_argv(service["ExecStart"]), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Cannot open camera 7" in lines[0] and "Traceback" not in proc.stderr
    assert not wardrobe.exists()


@pytest.mark.parametrize("args", [["--camera", "1", "--picamera"], ["--user", "pi\nExecStartPre=/bin/sh"],
                                  ["--wardrobe", "w\n.db"], ["--restart-seconds", "0"]])
def test_bad_options_are_usage_errors(args):
    result = runner.invoke(app, ["service-unit", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_the_command_runs_from_the_venv_it_was_generated_in():
    argv = fmnistedge_command()
    assert Path(argv[0]).is_absolute() and Path(argv[0]).parent == Path(sys.executable).parent

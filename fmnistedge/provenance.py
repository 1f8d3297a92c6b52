"""Where a figure came from: machine, library versions, command line and commit.

Every results file the project writes embeds :func:`environment` so no number in
the repository is without the machine and versions that produced it.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

DEFAULT_PACKAGES = (
    "fmnistedge", "numpy", "tensorflow", "keras", "tf2onnx", "onnx",
    "onnxruntime", "ai-edge-litert", "opencv-python", "opencv-python-headless",
)


def package_versions(packages: tuple[str, ...] = DEFAULT_PACKAGES) -> dict[str, str]:
    """Installed versions, read from metadata (importing TensorFlow just for this is slow)."""
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def command_line() -> str:
    """The command as a user would retype it: ``fmnistedge ...`` or ``python script.py ...``."""
    if not sys.argv:
        return ""
    entry = Path(sys.argv[0]).name
    if entry in ("fmnistedge", "__main__.py", "-m"):
        words = ["fmnistedge", *sys.argv[1:]]
    else:
        words = ["python", os.path.relpath(sys.argv[0]) if os.path.isabs(sys.argv[0]) else sys.argv[0],
                 *sys.argv[1:]]
    return " ".join(shlex.quote(a) for a in words)


def environment(packages: tuple[str, ...] = DEFAULT_PACKAGES) -> dict:
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(packages),
        "git_commit": git_commit(),
        "command": command_line(),
    }

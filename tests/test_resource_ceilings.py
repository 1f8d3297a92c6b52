"""Resource ceilings of `classify` at the pixel limit (docs/runtime.md, "Resource ceilings").

The issue's hard cases, each just under or at the 64-megapixel limit and small on disk
(mostly flat, a few shapes): a 7999x7999 RGB PNG, the same size with alpha, a 16-bit
grayscale one, and a 64000x1000 panorama. Each is classified by the real CLI in its own
process; wall time and peak RSS are measured around that process alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fmnistedge.runtime.imageio import MAX_PIXELS

# Per image at the pixel limit, for the whole `fmnistedge classify` process (start-up,
# model load, decode, preprocessing, inference). docs/runtime.md gives the measurements
# they were set from (3x the slowest time measured under load, 1.5x the largest peak RSS).
CEILING_SECONDS = 20.0
CEILING_MB = 2700

# Runs one command and prints its wall time and peak RSS (this wrapper has no other child).
_MEASURE = r'''
import json, resource, subprocess, sys, time
def limit():  # a safety net: a regression must not take the machine's memory with it
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
start = time.perf_counter()
proc = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]), preexec_fn=limit)
wall = time.perf_counter() - start
print(json.dumps({"returncode": proc.returncode, "seconds": wall, "stdout": proc.stdout, "stderr": proc.stderr,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
'''


def _hard_cases(folder: Path) -> dict[str, Path]:
    side = 7999  # 63.98 MP, just under the limit
    assert side * side <= MAX_PIXELS and 64000 * 1000 <= MAX_PIXELS
    cases = {}
    flat = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    img = np.full((side, side, 3), 220, np.uint8)
    cv2.rectangle(img, (2000, 1500), (6000, 6500), (150, 60, 40), -1)
    cv2.circle(img, (4000, 3000), 800, (30, 30, 200), -1)
    cv2.imwrite(str(folder / "rgb-7999.png"), img, flat)
    cases["7999x7999 RGB"] = folder / "rgb-7999.png"
    img = np.zeros((side, side, 4), np.uint8)
    img[..., :3] = 220
    cv2.rectangle(img, (2000, 1500), (6000, 6500), (150, 60, 40, 255), -1)
    cv2.imwrite(str(folder / "rgba-7999.png"), img, flat)
    cases["7999x7999 RGBA"] = folder / "rgba-7999.png"
    del img
    gray = np.full((side, side), 56000, np.uint16)
    cv2.rectangle(gray, (2000, 1500), (6000, 6500), 9000, -1)
    cv2.imwrite(str(folder / "gray16-7999.png"), gray, flat)
    cases["7999x7999 16-bit gray"] = folder / "gray16-7999.png"
    del gray
    wide = np.full((1000, 64000, 3), 220, np.uint8)
    cv2.rectangle(wide, (20000, 200), (44000, 800), (40, 60, 150), -1)
    cv2.imwrite(str(folder / "wide-64000.png"), wide, flat)
    cases["64000x1000 RGB"] = folder / "wide-64000.png"
    for path in cases.values():
        assert path.stat().st_size < 2_000_000, path  # flat: small on disk
    return cases


def measure(path: Path) -> dict:
    cmd = [sys.executable, "-c", _MEASURE, str(CEILING_SECONDS * 6),
           sys.executable, "-m", "fmnistedge", "classify", str(path), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=CEILING_SECONDS * 6 + 30,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.ci
def test_images_at_the_pixel_limit_stay_under_the_documented_ceilings(tmp_path, capsys):
    cases = _hard_cases(tmp_path)
    for name, path in cases.items():
        m = measure(path)
        with capsys.disabled():
            print(f"\n{name}: {m['seconds']:.2f} s, peak RSS {m['peak_mb']:.0f} MB")
        assert m["returncode"] == 0, m["stderr"]
        result = json.loads(m["stdout"])["results"][0]
        assert result["label"] and "error" not in result
        assert m["seconds"] < CEILING_SECONDS, f"{name}: {m['seconds']:.1f} s > {CEILING_SECONDS} s"
        assert m["peak_mb"] < CEILING_MB, f"{name}: peak RSS {m['peak_mb']:.0f} MB > {CEILING_MB} MB"

"""docs/pi.md's figures come from the result files the project's scripts wrote
(results/pi-rss.json from scripts/measure_rss.py, results/scan-bench.json from
scripts/bench_scan.py): a re-measured file with an unchanged doc fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _block(name: str) -> str:
    """A generated block: ``pi-figures`` (scripts/measure_rss.py) or ``pi-scan`` (scripts/bench_scan.py)."""
    text = (ROOT / "docs" / "pi.md").read_text()
    found = re.search(rf"<!-- {name}:start -->(.*)<!-- {name}:end -->", text, re.S)
    assert found, f"docs/pi.md lost its {name} block"
    return " ".join(found.group(1).split())


def test_memory_figures_are_the_measured_ones():
    rss = json.loads((ROOT / "results" / "pi-rss.json").read_text())
    block = _block("pi-figures")
    for command in ("classify", "scan"):
        assert f"**{rss['peak_rss_mb_median'][command]:.1f} MB**" in block, command
    assert rss["arch"] in block and rss["opencv_build_gui"] == "NONE"  # measured with the headless build


def test_the_fps_estimate_follows_the_scan_benchmark():
    bench = json.loads((ROOT / "results" / "scan-bench.json").read_text())
    rows = [r for key, r in bench["comparison"].items() if key.endswith(" 640x480")]
    ms = max(r["background"]["garment_with_capture_ms"] for r in rows)  # the slowest clip
    block = _block("pi-scan")
    assert f"**{ms:.1f} ms**" in block
    assert f"**{1000 / (ms * 8):.0f}-{1000 / (ms * 4):.0f} FPS**" in block  # a Pi 4 core taken as 4-8x slower
    assert f"`{bench['model']['arch']}`" in block


def test_the_readme_links_the_pi_guide():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/pi.md)" in readme

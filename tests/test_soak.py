"""Soak (slow): a scan that runs for a long time keeps its memory flat and its answers right.

The sample clip is looped as a camera would deliver it (a generator of frames, no end)
through the whole scan loop with the shipped default model and a real wardrobe file, for
``SOAK_SECONDS`` (default 3600: an hour). Resident memory is sampled from /proc; after the
first tenth of the run (caches, allocator pools and the database warm up), it may not grow
by more than ``RSS_GROWTH_MB``, and every loop of the clip records exactly its expected items.

    SOAK_SECONDS=3600 python -m pytest -m slow tests/test_soak.py -s
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest

from tests.conftest import clip_frames

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "samples" / "scan.mp4"
RSS_GROWTH_MB = 20.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads resident memory from /proc")
def test_an_hour_of_scanning_keeps_memory_flat_and_items_right(tmp_path):
    from fmnistedge.runtime import models
    from fmnistedge.runtime.openset import for_model
    from fmnistedge.runtime.scan import ScanStats, Voter, classify_frame, run_scan, to_rgb
    from fmnistedge.runtime.wardrobe import Item, Wardrobe

    seconds = float(os.environ.get("SOAK_SECONDS", "3600"))
    with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
        expected = [r["label"] for r in csv.DictReader(fh)]
    clip = clip_frames(CLIP)
    ref = models.resolve(None)
    backend, openset = models.load(ref), for_model(ref)
    store = Wardrobe(tmp_path / "soak.db")
    samples: list[tuple[float, float]] = []
    loops = {"n": 0}
    start = time.monotonic()

    def frames():
        while time.monotonic() - start < seconds:
            for frame in clip:
                yield to_rgb(frame)  # as the OpenCV source delivers them
            loops["n"] += 1
            samples.append((time.monotonic() - start, _rss_mb()))

    labels: list[str] = []

    def on_record(r) -> None:
        store.add(Item(r.label, r.class_index, r.confidence, ref.arch, None, "soak", r.thumbnail))
        labels.append(r.label)

    try:
        run_scan(frames(), lambda rgb: classify_frame(rgb, backend, openset=openset), Voter(), on_record,
                 stats=ScanStats())
        items = len(store.items())
    finally:
        store.close()
    n = loops["n"]
    assert n >= 3, f"only {n} loops of the clip in {seconds} s"
    assert labels == expected * n and items == len(expected) * n
    warm = [rss for t, rss in samples if t >= seconds / 10] or [samples[-1][1]]
    growth = max(warm) - warm[0]
    print(f"\nsoak: {seconds:.0f} s, {n} loops, {len(labels)} items, RSS {warm[0]:.1f} -> {max(warm):.1f} MB "
          f"(growth {growth:.1f} MB)")
    assert growth <= RSS_GROWTH_MB

"""Headless scan throughput: FPS and per-frame latency on samples/scan.mp4, per engine.

    python scripts/bench_scan.py [--repeats 3] [--out results/scan-bench.json]

Runs ``fmnistedge scan --source samples/scan.mp4 --no-show --json`` with the
shipped default model in each engine (into a throw-away wardrobe), alternating
engines repeat by repeat, and records every run's summary with the machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fmnistedge import fileio, provenance
from fmnistedge.runtime.models import default_arch

CLIP = Path("samples/scan.mp4")


def run_once(engine: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "fmnistedge", "scan", "--source", str(CLIP), "--no-show", "--json",
             "--engine", engine, "--threads", str(threads), "--wardrobe", str(Path(tmp) / "w.db")],
            capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/scan-bench.json"))
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"tflite": [], "onnx": []}
    for i in range(args.repeats):
        for engine in runs:
            runs[engine].append(run_once(engine, args.threads))
            s = runs[engine][-1]
            print(f"repeat {i + 1}, {engine}: {s['fps']} FPS, {s['latency_ms_p50']} ms per frame (p50), "
                  f"{s['items']} items", file=sys.stderr)
    summary = {e: {"fps_median": statistics.median(r["fps"] for r in rs),
                   "latency_ms_p50_median": statistics.median(r["latency_ms_p50"] for r in rs),
                   "items": rs[0]["items"]} for e, rs in runs.items()}
    fileio.write_json(args.out, {"clip": str(CLIP), "arch": default_arch(), "threads": args.threads,
                                 "what": "headless scan: decode, guide-box crop, segmentation, model, vote, wardrobe",
                                 "summary": summary, "runs": runs, "environment": provenance.environment()})
    for e, s in summary.items():
        print(f"{e}: {s['fps_median']:.1f} FPS, {s['latency_ms_p50_median']:.1f} ms per frame -> {args.out}")


if __name__ == "__main__":
    main()

"""Scan cost per stage, side by side for each segmentation path, on the same clips and sizes.

    python scripts/bench_scan.py [--photos ../shared/realphotos-train] [--sizes 320x240,640x480]
        [--paths grabcut,fast,background] [--engine tflite] [--threads 1]
        [--out results/scan-bench.json] [--docs docs/scan.md] [--results-doc docs/results.md] [--pi-doc docs/pi.md]

Clips: ``samples/scan.mp4`` and, with ``--photos``, the three harder clips of
``scripts/make_hard_clip.py`` (generated into a temporary folder). Every clip is run at
every size (frames resized as they are read) along every path, each run in its own
process (so peak RSS is per path), the runs interleaved path by path. Per run: CPU
milliseconds per frame and stage (capture, segment, render, inference, vote,
database; the thread's CPU time, so other load on the machine counts little), p50/p95
frame latency, FPS, peak RSS, the items recorded and whether they are exactly the
clip's expected items.

The headline ratios compare paths on the same frames: "garment frames" are those in
which the GrabCut path (the reference) found a garment, "empty frames" those in which
it found none. A Pi 4 estimate divides 1000 ms by the median CPU time per garment frame
(capture included) times 4 and times 8: the rough range by which a Pi 4 core runs this
kind of OpenCV/numpy work slower than one core here (an estimate, not a measurement).
``--docs`` rewrites the ``scan-bench`` block of that Markdown file from the JSON,
``--results-doc`` the ``scan-speed`` block (one line per size; ``docs/results.md``), ``--pi-doc`` the ``pi-scan``
block (the Pi 4 estimate).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "samples" / "scan.mp4"
PATHS = ("grabcut", "fast", "background")
PI_FACTORS = (4, 8)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss, which on
    Linux keeps the parent's peak across fork and exec (the parent here generates clips)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux


def child(clip: str, size: str, path: str, engine: str, threads: int) -> dict:
    """One scan of ``clip`` at ``size`` along ``path``; per-frame records and the summary."""
    import cv2
    from fmnistedge.runtime import models
    from fmnistedge.runtime.openset import for_model
    from fmnistedge.runtime.scan import FrameClassifier, OpenCVSource, Voter, run_scan

    w, h = (int(v) for v in size.split("x"))  # checked by the parent
    ref = models.resolve(None, engine)
    backend = models.load(ref, threads=threads)
    guesser = FrameClassifier(backend, openset=for_model(ref), segment=path)
    source = OpenCVSource(clip)

    def frames():
        for rgb in source:
            yield rgb if rgb is None or rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)

    per_frame: list[dict] = []

    def guess(rgb):
        cpu = time.thread_time()
        g = guesser(rgb)
        per_frame.append({"cpu_ms": 1000 * (time.thread_time() - cpu), "path": g.path,
                          "class": g.class_index, "latency_ms": g.latency_ms})
        return g

    stats = run_scan(frames(), guess, Voter(), on_record=lambda r: None)
    source.close()
    capture = stats.stage_ms.get("capture", [])
    for f, c in zip(per_frame, capture):
        f["capture_ms"] = c
    return {"summary": stats.summary(), "records": [r.label for r in stats.records], "frames": per_frame,
            "stage_ms_median": {k: round(statistics.median(v), 3) for k, v in stats.stage_ms.items()},
            "peak_rss_mb": peak_rss_mb(),
            "model": {"arch": ref.arch, "engine": ref.engine, "precision": ref.precision, "threads": threads}}


def run_child(clip: Path, size: str, path: str, engine: str, threads: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(clip), size, path, engine, str(threads)],
                          capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise SystemExit(f"bench child failed ({clip.name} {size} {path}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def expected_items(clip: Path, meta: dict) -> list[str]:
    if clip.name == CLIP.name:
        with open(ROOT / "samples" / "scan-expected.csv", newline="") as fh:
            return [row["label"] for row in csv.DictReader(fh)]
    return next(c["expected"] for c in meta["clips"] if c["file"] == clip.name)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def compare(runs: dict) -> dict:
    """Per clip and size: each path's median CPU per garment / empty frame (the reference
    path's classes decide which frames are which) and the ratio to the GrabCut path."""
    from fmnistedge.runtime.scan import MOVING

    out = {}
    for key, by_path in runs.items():
        ref = by_path.get("grabcut")
        if ref is None:
            continue
        garment = [i for i, f in enumerate(ref["frames"]) if f["class"] is not None]
        empty = [i for i, f in enumerate(ref["frames"]) if f["class"] is None]
        row = {"garment_frames": len(garment), "empty_frames": len(empty)}
        for path, run in by_path.items():
            frames = run["frames"]
            g = median([frames[i]["cpu_ms"] for i in garment if i < len(frames)])
            gc = median([frames[i]["cpu_ms"] + frames[i].get("capture_ms", 0.0) for i in garment if i < len(frames)])
            e = median([frames[i]["cpu_ms"] for i in empty if i < len(frames)])
            # Of the garment frames, those this path classified (not skipped as moving)
            classified = median([frames[i]["cpu_ms"] for i in garment if i < len(frames)
                                 and frames[i]["class"] not in (None, MOVING)])
            row[path] = {"garment_ms": g, "garment_with_capture_ms": gc, "empty_ms": e,
                         "classified_garment_ms": classified,
                         "items_ok": run["items_ok"], "records": run["records"]}
        base = row["grabcut"]["garment_ms"]
        for path in by_path:
            if base:
                row[path]["ratio_to_grabcut"] = round(row[path]["garment_ms"] / base, 3)
            gc = row[path]["garment_with_capture_ms"]
            if gc:
                row[path]["pi4_fps_estimate"] = {f"x{f}": round(1000 / (gc * f), 1) for f in PI_FACTORS}
        out[key] = row
    return out


def docs_block(doc: dict) -> str:
    env = doc["environment"]
    lines = ["| clip | size | path | CPU ms per garment frame (median) | vs GrabCut | classified garment frames only | "
             "CPU ms per empty frame | p95 latency ms | peak RSS MB | items as expected | Pi 4 FPS estimate (x4 to x8 slower) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for key, row in doc["comparison"].items():
        clip, size = key.rsplit(" ", 1)
        for path in doc["paths"]:
            if path not in row:
                continue
            r, run = row[path], doc["runs"][key][path]
            est = r.get("pi4_fps_estimate", {})
            lines.append(f"| {clip} | {size} | {path} | {r['garment_ms']} | {r.get('ratio_to_grabcut', '-')} | "
                         f"{r['classified_garment_ms']} | {r['empty_ms']} | {run['summary']['latency_ms_p95']} | {run['peak_rss_mb']} | "
                         f"{'yes' if r['items_ok'] else 'no: ' + ', '.join(r['records'])} | "
                         f"{est.get('x8', '-')}-{est.get('x4', '-')} |")
    lines.append("")
    lines.append(f"Written by `{doc['command']}` on {env.get('cpu')} ({env.get('cores')} cores), Python "
                 f"{env.get('python')}, OpenCV {doc['versions']['opencv']}, NumPy {env.get('packages', {}).get('numpy')}, "
                 f"{doc['model']['arch']} {doc['model']['engine']} {doc['model']['precision']}, "
                 f"{doc['model']['threads']} thread(s), {doc['timestamp']}. CPU time is the scan thread's own; "
                 "the Pi 4 column is an estimate (this CPU's time x4 and x8), not a measurement.")
    return "\n".join(lines)


def pi_paragraph(doc: dict) -> str:
    """docs/pi.md's Pi 4 estimate: the slowest clip's CPU per garment frame at 640x480."""
    rows = [r for key, r in doc["comparison"].items() if key.endswith(" 640x480") and "background" in r]
    ms = max(r["background"]["garment_with_capture_ms"] for r in rows)
    m = doc["model"]
    return (f"Scan speed on a Pi 4, an **estimate, not a measurement**: `results/scan-bench.json`\n"
            f"(`python scripts/bench_scan.py`, headless scans of the sample clip and three harder clips,\n"
            f"`{m['arch']}` {m['engine']} {m['precision']}, one inference thread) measured at most\n"
            f"**{ms:.1f} ms** of CPU per garment frame at 640x480, capture included, with the default\n"
            f"`--segment background` on one core of the x86 machine above; a Pi 4's Cortex-A72 core is\n"
            f"about 4-8x slower than that core, so expect roughly **{1000 / (ms * 8):.0f}-{1000 / (ms * 4):.0f} FPS** "
            f"of processing (the\ncamera's own frame rate, often 30 FPS, is then the limit). See [scan](scan.md#measured).")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        clip, size, path, engine, threads = sys.argv[2:7]
        print(json.dumps(child(clip, size, path, engine, int(threads))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="labelled photo folder for the harder clips")
    parser.add_argument("--sizes", default="320x240,640x480")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--engine", default="tflite", choices=("tflite", "onnx"))
    parser.add_argument("--threads", type=int, default=1, choices=range(1, 9), metavar="1-8")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "scan-bench.json")
    parser.add_argument("--docs", type=Path, help="rewrite this Markdown file's scan-bench block")
    parser.add_argument("--results-doc", type=Path,
                        help="rewrite this Markdown file's scan-speed block (docs/results.md)")
    parser.add_argument("--pi-doc", type=Path, help="rewrite this Markdown file's pi-scan block (docs/pi.md)")
    args = parser.parse_args()
    from fmnistedge import fileio, provenance
    from fmnistedge.measure.render import render_scan_speed_markdown, update_block

    paths = [p for p in args.paths.split(",") if p]
    if not paths or set(paths) - set(PATHS) or "grabcut" not in paths:
        raise SystemExit(f"--paths takes {', '.join(PATHS)} and must include grabcut (the reference)")
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_hard_clip

    sizes = ["{}x{}".format(*make_hard_clip.parse_size(s, "--sizes")) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        clips, meta = [CLIP], {"clips": []}
        if args.photos is not None:
            recorded = ROOT / "samples" / "hard-clips.json"
            meta = make_hard_clip.generate(args.photos, Path(tmp), (640, 480),
                                           recorded if recorded.is_file() else None)
            clips += [Path(tmp) / c["file"] for c in meta["clips"]]
        runs: dict[str, dict] = {}
        for clip in clips:
            want = expected_items(clip, meta)
            for size in sizes:
                key = f"{clip.name} {size}"
                runs[key] = {}
                for path in paths:
                    run = run_child(clip, size, path, args.engine, args.threads)
                    run["expected"] = want
                    run["items_ok"] = run["records"] == want
                    runs[key][path] = run
                    print(f"{key} {path}: {run['stage_ms_median']} items {'ok' if run['items_ok'] else run['records']}",
                          file=sys.stderr, flush=True)
    import cv2

    first = next(iter(next(iter(runs.values())).values()))
    doc = {"what": "headless scan, per stage and path, CPU time of the scan thread",
           "command": "python scripts/bench_scan.py " + " ".join(sys.argv[1:]),
           "paths": paths, "sizes": sizes, "model": first["model"],
           "hard_clips": {k: v for k, v in meta.items() if k != "clips"} | {
               "clips": [{k: v for k, v in c.items()} for c in meta["clips"]]},
           "comparison": compare(runs), "runs": runs,
           "versions": {"opencv": cv2.__version__},
           "environment": provenance.environment(),
           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for by_path in runs.values():  # the per-frame records served the comparison; the file keeps summaries
        for run in by_path.values():
            run.pop("frames")
    fileio.write_json(args.out, doc)
    for key, row in doc["comparison"].items():
        for path in paths:
            r = row[path]
            print(f"{key:32s} {path:10s} garment {r['garment_ms']} ms (x{r.get('ratio_to_grabcut')}), "
                  f"empty {r['empty_ms']} ms, items {'ok' if r['items_ok'] else 'WRONG'}")
    if args.docs:
        update_block(args.docs, "scan-bench", docs_block(doc))
    if args.results_doc:
        update_block(args.results_doc, "scan-speed", render_scan_speed_markdown(args.out))
    if args.pi_doc:
        update_block(args.pi_doc, "pi-scan", pi_paragraph(doc))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

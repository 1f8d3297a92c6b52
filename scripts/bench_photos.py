"""Photo cost and accuracy of the two segmentation paths, side by side in one run.

    python scripts/bench_photos.py [--photos ../shared/realphotos-dev] [--count 200] [--repeats 3]
        [--out results/photo-bench.json] [--docs docs/runtime.md] [--results-doc docs/results.md]

Cost: ``fmnistedge classify --json --segment PATH`` on the first ``--count`` photos of the
folder (sorted), each run a fresh process, the paths interleaved repeat by repeat; the
child's CPU time (user + system) divided by the number of photos, start-up included, and
the per-photo preprocessing time classify reports. Accuracy: one ``fmnistedge evaluate
--segment fast,grabcut`` run on the whole folder (top-1 and top-3, macro over classes)
with the shipped default model. ``--docs`` writes the ``segment-eval`` block of that
Markdown file, ``--results-doc`` the ``photo-speed`` block (``docs/results.md``; ``fmnistedge
table --doc`` renders it again from ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_coldstart import timed  # noqa: E402  (scripts/ is not a package)
from argtypes import bounded

PATHS = ("grabcut", "fast")


def run(cmd: list[str]) -> tuple[float, str]:
    """(CPU seconds of the child, stdout), as bench_coldstart times its commands."""
    _, cpu, out = timed(cmd, {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=3600)
    return cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "realphotos-dev")
    parser.add_argument("--count", type=bounded(1, 100_000), default=200)
    parser.add_argument("--repeats", type=bounded(1, 100), default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "photo-bench.json")
    parser.add_argument("--docs", type=Path, help="rewrite this Markdown file's segment-eval block")
    parser.add_argument("--results-doc", type=Path,
                        help="rewrite this Markdown file's photo-speed block (docs/results.md)")
    args = parser.parse_args()
    from fmnistedge.runtime.imageio import IMAGE_SUFFIXES

    from fmnistedge import fileio, provenance
    from fmnistedge.measure.render import render_photo_speed_markdown, update_block

    files = sorted(p for p in args.photos.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[: args.count]
    if len(files) < args.count:
        raise SystemExit(f"{args.photos} has only {len(files)} photos")
    cpu: dict[str, list[float]] = {p: [] for p in PATHS}
    prep: dict[str, list[float]] = {p: [] for p in PATHS}
    for i in range(args.repeats):
        for path in PATHS:
            seconds, out = run([sys.executable, "-m", "fmnistedge", "classify", "--json", "--segment", path,
                                *map(str, files)])
            results = json.loads(out)["results"]
            cpu[path].append(1000 * seconds / len(files))
            prep[path].append(statistics.median(r["preprocess_ms"] for r in results))
            print(f"repeat {i + 1}, {path}: {cpu[path][-1]:.1f} ms CPU per photo", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        _, _ = run([sys.executable, "-m", "fmnistedge", "evaluate", "--photos", str(args.photos),
                    "--segment", "fast,grabcut", "--modes", "photo", "--out", str(Path(tmp) / "e.json")])
        evaluation = json.loads((Path(tmp) / "e.json").read_text())
    acc = {}
    for key, path in (("photo", "fast"), ("photo-grabcut", "grabcut")):
        r = evaluation["results"][key]
        acc[path] = {"top1_macro": r["macro_top1"], "top3_macro": r["macro_top3"], "photos": r["items"]}
    med = {p: statistics.median(v) for p, v in cpu.items()}
    doc = {"what": "classify CPU per photo (a fresh process over N photos, start-up included) and dev accuracy, "
                   "per segmentation path",
           "photos": str(args.photos), "count": len(files), "repeats": args.repeats,
           "cpu_ms_per_photo": cpu, "median_cpu_ms_per_photo": med,
           "preprocess_ms_median": {p: statistics.median(v) for p, v in prep.items()},
           "cost_ratio_fast_to_grabcut": med["fast"] / med["grabcut"],
           "accuracy": acc, "model": evaluation["model"],
           "top1_delta_points": 100 * (acc["fast"]["top1_macro"] - acc["grabcut"]["top1_macro"]),
           "top3_delta_points": 100 * (acc["fast"]["top3_macro"] - acc["grabcut"]["top3_macro"]),
           "environment": provenance.environment()}
    fileio.write_json(args.out, doc)
    env = doc["environment"]
    where = (f"`{env['command']}` on {env['cpu']} ({env['cores']} cores), model {doc['model']['arch']} "
             f"`{doc['model']['file']}` (sha256 {str(doc['model']['sha256'])[:12]}), {env['timestamp']}")
    table = ["| path | CPU ms per photo, classify on 200 photos (median of runs) | dev top-1 | dev top-3 |",
             "|---|---:|---:|---:|"]
    for path in PATHS:
        table.append(f"| `--segment {path}` | {med[path]:.1f} | {100 * acc[path]['top1_macro']:.1f} | "
                     f"{100 * acc[path]['top3_macro']:.1f} |")
    table += ["", f"`fast` costs {doc['cost_ratio_fast_to_grabcut']:.2f}x the CPU of `grabcut` per photo; top-1 "
                  f"{doc['top1_delta_points']:+.1f}, top-3 {doc['top3_delta_points']:+.1f} points. Written by {where}."]
    if args.docs:
        update_block(args.docs, "segment-eval", "\n".join(table))
    if args.results_doc:
        update_block(args.results_doc, "photo-speed", render_photo_speed_markdown(args.out))
    print(f"fast {med['fast']:.1f} ms vs grabcut {med['grabcut']:.1f} ms per photo "
          f"({doc['cost_ratio_fast_to_grabcut']:.2f}x); top-1 {doc['top1_delta_points']:+.1f}, "
          f"top-3 {doc['top3_delta_points']:+.1f} points -> {args.out}")


if __name__ == "__main__":
    main()

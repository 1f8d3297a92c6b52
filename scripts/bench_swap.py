"""Time a shipped model's files against the earlier files they replaced, side by side in one run.

    python scripts/bench_swap.py ARCH --old-rev REV [--runs 300] [--warmup 30] [--out results/bench-swap.json]

``results/bench.json`` is one ``fmnistedge bench --all`` run over every architecture, on the
machine it ran on, with the Keras baselines (which need every architecture's ``model.keras``:
hours of training to redo). When a model is re-trained and shipped again with the same
network (same operators, shapes and MACs; new weights), its rows there were measured on the
earlier files. This script says how far that carries over: it takes the shipped files of
ARCH as of git revision REV (``fmnistedge/models/ARCH`` at REV) and the shipped files now,
and measures both with ``fmnistedge bench``'s own code (each file's accuracy on the 10k test
images in a fresh process; batch-1 latency with all the files interleaved run by run in one
process, so machine noise hits old and new alike). It writes a bench document (the same rows
as ``bench.json``) plus, per format, the new file's p50 as a ratio of the old one's, with
both files' sizes and sha256. ``fmnistedge table`` shows that ratio next to the earlier
file's figures (README shipped-models table, docs/results.md bench and targets tables).

Exit codes: 0 written; 1 a row failed (the document is still written); 2 bad arguments
(an unknown architecture or revision, no format shipped at both, an unreadable manifest).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from argtypes import bounded

ROOT = Path(__file__).resolve().parent.parent


def fail(message: str) -> SystemExit:
    print(f"bench_swap: {message}", file=sys.stderr)
    return SystemExit(2)


def extract(rev: str, arch: str, dest: Path) -> Path:
    """``fmnistedge/models/ARCH`` as of ``rev``, written under ``dest``."""
    folder = f"fmnistedge/models/{arch}"
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:{folder}"], cwd=ROOT,
                           capture_output=True, text=True)
    if names.returncode != 0 or not names.stdout.strip():
        raise fail(f"no {folder} at git revision {rev!r}")
    out = dest / arch
    out.mkdir(parents=True)
    for name in names.stdout.splitlines():
        blob = subprocess.run(["git", "show", f"{rev}:{folder}/{name}"], cwd=ROOT, capture_output=True, check=True)
        (out / name).write_bytes(blob.stdout)
    return out


def main() -> int:
    from fmnistedge import fileio, manifest, provenance
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.formats import KERAS_FORMATS
    from fmnistedge.measure import bench, benchreport
    from fmnistedge.runtime.modelmeta import sha256_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch")
    parser.add_argument("--old-rev", required=True, help="git revision whose shipped files of ARCH are the earlier ones")
    parser.add_argument("--runs", type=bounded(10, 100_000), default=300)
    parser.add_argument("--warmup", type=bounded(0, 100_000), default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench-swap.json")
    args = parser.parse_args()

    new_dir = ROOT / "fmnistedge" / "models" / args.arch  # this checkout's files, as --old-rev's are

    def by_key(folder: Path, when: str) -> dict[str, str]:
        try:
            doc = manifest.load(folder)
            return {e["key"]: name for name, e in (doc or {"files": {}})["files"].items()}
        except (FmnistEdgeError, KeyError, TypeError, AttributeError) as exc:
            raise fail(f"the manifest of {args.arch} {when} cannot be read: {exc}") from None

    if not (new_dir / "manifest.json").is_file():
        raise fail(f"{args.arch} is not a shipped model ({new_dir} has no manifest.json)")
    new_by_key = by_key(new_dir, "shipped now")
    with tempfile.TemporaryDirectory() as tmp:
        old_dir = extract(args.old_rev, args.arch, Path(tmp))
        old_by_key = by_key(old_dir, f"at {args.old_rev}")
        formats = [f for f in bench.ALL_FORMATS if f not in KERAS_FORMATS and f in old_by_key and f in new_by_key]
        if not formats:
            raise fail(f"no format of {args.arch} shipped both at {args.old_rev} and now")
        files = {}
        rows = []
        for side, folder, names in (("old", old_dir, old_by_key), ("new", new_dir, new_by_key)):
            for fmt in formats:
                path = folder / names[fmt]
                files.setdefault(side, {})[fmt] = {"file": names[fmt], "bytes": path.stat().st_size,
                                                   "sha256": sha256_file(path)}
                rows.append(bench.Row(args.arch if side == "new" else f"{args.arch} ({args.old_rev})", fmt, str(path)))
                rows[-1].metrics["bytes"] = files[side][fmt]["bytes"]
        options = bench.BenchOptions(formats=tuple(formats), runs=args.runs, warmup=args.warmup)
        print(f"{args.arch}: {len(formats)} formats, the files shipped at {args.old_rev} and now, "
              f"{args.runs} interleaved runs each", flush=True)
        bench.run(rows, options, tick=lambda msg: print(f"  {msg}", flush=True))
    doc = benchreport.to_document(rows, options, provenance.environment())
    for r in doc["rows"]:  # the earlier files lived in a temporary folder
        side = "new" if r["arch"] == args.arch else "old"
        r["path"] = f"fmnistedge/models/{args.arch}/{files[side][r['format']]['file']}" + (
            "" if side == "new" else f" at {args.old_rev}")
    by = {(("new" if r["arch"] == args.arch else "old"), r["format"]): r for r in doc["rows"]}
    ratios = {}
    for fmt in formats:
        old, new = by[("old", fmt)], by[("new", fmt)]
        if old["status"] == new["status"] == "ok":
            ratios[fmt] = new["latency_p50_ms"] / old["latency_p50_ms"]
            print(f"  {fmt}: new {new['latency_p50_ms']:.3f} ms vs old {old['latency_p50_ms']:.3f} ms p50 = "
                  f"{ratios[fmt]:.2f}x; accuracy {100 * new['accuracy']:.2f}% vs {100 * old['accuracy']:.2f}%")
    doc["swap"] = {"arch": args.arch, "old_rev": args.old_rev, "old": files["old"], "new": files["new"],
                   "p50_ratio_new_to_old": ratios}
    fileio.write_json(args.out, doc)
    print(f"wrote {args.out}")
    return 0 if all(r["status"] == "ok" for r in doc["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())

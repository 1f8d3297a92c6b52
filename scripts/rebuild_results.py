"""Rebuild the whole results set on this machine, in order: train -> export -> ship -> bench -> report -> table.

    python scripts/rebuild_results.py [--artifacts DIR] [--from STEP] [--only STEP ...] [--dry-run]
        [--report] [--runs N] [--warmup N]

Steps (each prints the command it runs; a failing command stops the rebuild with its exit code,
and everything written before it stays):

train   every architecture of ``results/seed-archs.csv`` with its recorded command (column
        ``command``), output to ARTIFACTS; one that already has ARTIFACTS/ARCH/train.json is
        skipped, and an interrupted one resumes from its checkpoint when run again. Each test
        accuracy is then compared with the recorded one (seeded deterministic ops give the same
        weights on the same machine; another CPU model can differ slightly, as edge-s did).
export  every architecture trained in that step: all formats (fp32, fp16, int8), verified
        and sealed.
ship    the shipped files of those architectures, replaced by the new ones (scripts/ship_models.py;
        the shipped default and the edge models are left as they are).
bench   one ``fmnistedge bench --all`` over every architecture x format, Keras baselines
        included, on ARTIFACTS first and the shipped models for the rest: results/bench.json
        (.csv, .png, .md).
report  (with --report) the per-architecture reports in docs/reports.
table   the result CSVs and the generated tables of docs/results.md and README.md.

Run it in the background (training takes 1-2 hours of CPU): ``nohup python
scripts/rebuild_results.py > rebuild.log 2>&1 &``; rerun it after an interruption.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

from argtypes import bounded

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("train", "export", "ship", "bench", "report", "table")
FMNISTEDGE = [sys.executable, "-m", "fmnistedge"]


def recorded(results: Path) -> dict[str, dict]:
    """arch -> its row of results/seed-archs.csv (the recorded command and test accuracy)."""
    with open(results / "seed-archs.csv", newline="") as fh:
        return {r["arch"]: r for r in csv.DictReader(fh)}


def run(argv: list[str], dry_run: bool) -> None:
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    if dry_run:
        return
    code = subprocess.call(argv, cwd=ROOT)
    if code != 0:
        raise SystemExit(f"stopped: the command above exited with {code}; rerun to resume")


def train(rows: dict[str, dict], artifacts: Path, dry_run: bool) -> None:
    for arch, row in rows.items():
        if (ROOT / artifacts / arch / "train.json").is_file():
            print(f"{arch}: already trained in {artifacts}", flush=True)
            continue
        argv = shlex.split(row["command"])
        if argv[:2] != ["fmnistedge", "train"] or "--out" not in argv:
            raise SystemExit(f"{arch}: unexpected recorded command {row['command']!r}")
        argv[argv.index("--out") + 1] = str(artifacts)
        run(FMNISTEDGE + argv[1:], dry_run)


def compare(rows: dict[str, dict], artifacts: Path) -> list[str]:
    """One line per architecture: its new test accuracy against the recorded one."""
    lines = []
    for arch, row in rows.items():
        log = ROOT / artifacts / arch / "train.json"
        if not log.is_file():
            continue
        new = 100 * json.loads(log.read_text())["test_accuracy"]
        old = float(row["test_accuracy"])
        lines.append(f"{arch}: {new:.2f}% (recorded {old:.2f}%" + (", same)" if abs(new - old) < 0.005 else
                                                                 f", differs by {new - old:+.2f} points)"))
    return lines


def shipped_archs(names: list[str]) -> list[str]:
    models = ROOT / "fmnistedge" / "models"
    return [a for a in names if (models / a / "manifest.json").is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--from", dest="start", choices=STEPS, default="train", help="start at this step")
    parser.add_argument("--only", choices=STEPS, action="append", help="run only these steps (repeatable)")
    parser.add_argument("--report", action="store_true", help="also write the per-architecture reports")
    parser.add_argument("--runs", type=bounded(10, 100_000), default=200, metavar="N",
                        help="bench: timed batch-1 runs per model (10-100000; default 200)")
    parser.add_argument("--warmup", type=bounded(0, 10_000), default=20, metavar="N",
                        help="bench: untimed warm-up runs per model (0-10000; default 20)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = parser.parse_args()
    # Relative to the repository (every command runs there), so the commands recorded in the
    # result files read the same on every machine.
    artifacts, results = args.artifacts, args.results
    steps = args.only or list(STEPS[STEPS.index(args.start):])
    if not args.report and "report" in steps and not args.only:
        steps.remove("report")
    rows = recorded(ROOT / results)
    names = list(rows)
    if "train" in steps:
        train(rows, artifacts, args.dry_run)
        print("\n".join(compare(rows, artifacts)), flush=True)
    trained = [a for a in names if (ROOT / artifacts / a / "model.keras").is_file()]
    if "export" in steps and trained:
        run(FMNISTEDGE + ["export", *trained, "--int8", "--fp16", "--artifacts", str(artifacts)], args.dry_run)
    if "ship" in steps and shipped_archs(trained):
        default = json.loads((ROOT / "fmnistedge" / "models" / "default.json").read_text())
        run([sys.executable, str(ROOT / "scripts" / "ship_models.py"), *shipped_archs(trained),
             "--default", default["arch"], "--why", default.get("why", ""), "--files", "model_int8.tflite",
             "--artifacts", str(artifacts)], args.dry_run)
    if "bench" in steps:
        run(FMNISTEDGE + ["bench", "--all", "--artifacts", str(artifacts), "--runs", str(args.runs),
                          "--warmup", str(args.warmup), "--json", str(results / "bench.json"),
                          "--csv", str(results / "bench.csv"), "--plot", str(results / "bench.png"),
                          "--markdown", str(results / "bench.md")], args.dry_run)
    if "report" in steps:
        run(FMNISTEDGE + ["report", "--all", "--artifacts", str(artifacts), "--bench", str(results / "bench.json")],
            args.dry_run)
    if "table" in steps:
        run(FMNISTEDGE + ["table", "--artifacts", str(artifacts), "--results", str(results),
                          "--doc", "docs/results.md", "--doc", "README.md"], args.dry_run)


if __name__ == "__main__":
    main()

"""Peak resident memory of the runtime commands a Raspberry Pi runs, per process.

    python scripts/measure_rss.py [--repeats 3] [--out results/pi-rss.json] [--docs docs/pi.md]

Runs each command in a fresh process under ``/usr/bin/time -v`` (GNU time: "Maximum
resident set size") with the shipped default model: ``classify`` on one sample photo, and
a headless ``scan`` of samples/scan.mp4 into a throw-away wardrobe. Records every run,
the median per command, and the machine and versions; ``--docs`` rewrites that Markdown
file's ``pi-figures`` block from them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fmnistedge import fileio, provenance
from fmnistedge.runtime.models import default_arch
from argtypes import bounded

COMMANDS = {
    "classify": ["classify", "samples/0-t-shirt-top.jpg"],
    "scan": ["scan", "--source", "samples/scan.mp4", "--no-show", "--json", "--wardrobe", "{wardrobe}"],
}


def peak_rss_mb(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{wardrobe}", str(Path(tmp) / "w.db")) for a in args]
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "fmnistedge", *argv],
                              capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"fmnistedge {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if kb is None:
        raise SystemExit("/usr/bin/time -v printed no maximum resident set size (is it GNU time?)")
    return round(int(kb.group(1)) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=bounded(1, 100), default=3)
    parser.add_argument("--out", type=Path, default=Path("results/pi-rss.json"))
    parser.add_argument("--docs", type=Path, help="rewrite this Markdown file's pi-figures block")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, argv in COMMANDS.items():
            runs[name].append(peak_rss_mb(argv))
            print(f"{name}: {runs[name][-1]} MB", file=sys.stderr)
    import cv2

    fileio.write_json(args.out, {
        "what": "peak resident set size of one fmnistedge process (/usr/bin/time -v), MB",
        "arch": default_arch(),
        "commands": {name: "fmnistedge " + " ".join(argv) for name, argv in COMMANDS.items()},
        "peak_rss_mb_median": {name: statistics.median(r) for name, r in runs.items()},
        "runs": runs,
        "opencv_build_gui": re.search(r"GUI:\s*(\S+)", cv2.getBuildInformation()).group(1),
        "environment": provenance.environment(),
    })
    for name, r in runs.items():
        print(f"{name}: {statistics.median(r)} MB peak RSS (median of {len(r)}) -> {args.out}")
    if args.docs:
        from fmnistedge.measure.render import update_block

        update_block(args.docs, "pi-figures", pi_figures(args.out))


def pi_figures(path: Path) -> str:
    """The docs/pi.md paragraph on memory, from a results/pi-rss.json."""
    import json

    doc = json.loads(Path(path).read_text())
    env, med = doc["environment"], doc["peak_rss_mb_median"]
    return (f"Peak resident memory per process, measured on the x86 machine described in\n"
            f"`{path.as_posix()}` ({env['cores']}-core {env['cpu']}, Python {env['python']}, headless OpenCV, "
            f"shipped `{doc['arch']}` int8 TFLite; median of {len(doc['runs']['classify'])} runs under "
            f"`/usr/bin/time -v`, written by `{env['command']}`): **{med['classify']} MB** for "
            f"`{doc['commands']['classify']}` and **{med['scan']} MB** for a headless `scan` of the sample clip. "
            f"A 1 GB Pi 4 has room for either; very large photos cost more to decode "
            f"([runtime](runtime.md#resource-ceilings)).")


if __name__ == "__main__":
    main()

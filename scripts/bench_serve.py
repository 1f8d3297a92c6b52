"""What the browser view costs: peak RSS and start-up of ``fmnistedge serve`` beside a headless ``scan``.

    python scripts/bench_serve.py [--runs 5] [--out results/serve-bench.json] [--docs docs/scan.md]

Each run is a fresh process under ``/usr/bin/time -v`` (its "Maximum resident set size"),
scanning ``samples/scan.mp4`` with the shipped default model; the two commands alternate
run by run so machine noise hits both alike.

* scan:  ``fmnistedge scan --source samples/scan.mp4 --no-show --json``; start-up = from
  the process start to its "Scanning ..." line on stderr (model loaded, video opened).
* serve: ``fmnistedge serve --source samples/scan.mp4 --no-realtime``; start-up = from the
  process start to the first answer of ``/api/status`` over HTTP. One client watches
  ``/stream.mjpg`` for the whole scan (every frame JPEG-encoded), then reads the
  wardrobe and SIGTERM stops the server.

Writes the medians, every run and the machine and versions to the JSON file, and with
``--docs`` the block between ``<!-- serve-bench:start -->`` and ``<!-- serve-bench:end -->``
in that Markdown file (from the JSON file alone: ``--docs`` with ``--runs 0`` rewrites it
without measuring).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fmnistedge import fileio, provenance
from fmnistedge.runtime.models import default_arch
from argtypes import bounded

CLIP = Path("samples/scan.mp4")
PACKAGES = provenance.DEFAULT_PACKAGES + ("starlette", "uvicorn", "anyio", "h11")


def _timed(args: list[str], tmp: str, stderr=subprocess.PIPE) -> tuple[subprocess.Popen, str]:
    report = str(Path(tmp) / "time.txt")
    proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", report, sys.executable, "-m", "fmnistedge", *args],
                            stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return proc, report


def _child_pid(proc: subprocess.Popen) -> int:
    """The process /usr/bin/time runs."""
    return int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])


def _peak_rss_mb(report: str) -> float:
    text = Path(report).read_text()
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024


def run_scan() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        proc, report = _timed(["scan", "--source", str(CLIP), "--no-show", "--json", "--wardrobe",
                               str(Path(tmp) / "w.db")], tmp)
        first = proc.stderr.readline()
        ready = time.monotonic() - start
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0 or not first.startswith("Scanning"):
            raise SystemExit(f"scan failed: {first}{err[-2000:]}")
        summary = json.loads(out.strip().splitlines()[-1])["summary"]
        return {"startup_s": round(ready, 3), "peak_rss_mb": round(_peak_rss_mb(report), 1),
                "items": summary["items"], "fps": summary["fps"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def run_serve() -> dict:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        log = open(Path(tmp) / "stderr.txt", "w")  # noqa: SIM115 - closed below
        proc, report = _timed(["serve", "--source", str(CLIP), "--no-realtime", "--port", str(port),
                               "--wardrobe", str(Path(tmp) / "w.db")], tmp, stderr=log)
        deadline = start + 120
        while True:
            try:
                _get(base + "/api/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise SystemExit("serve did not answer: " + (Path(tmp) / "stderr.txt").read_text()[-2000:])
                time.sleep(0.02)
        ready = time.monotonic() - start
        stream = _get(base + "/stream.mjpg", timeout=600)  # ends when the scan ends
        status = json.loads(_get(base + "/api/status"))
        items = json.loads(_get(base + "/api/items"))
        os.kill(_child_pid(proc), signal.SIGTERM)  # the server, not /usr/bin/time (which would die and orphan it)
        proc.communicate(timeout=60)
        log.close()
        if proc.returncode != 0:
            raise SystemExit(f"serve exited {proc.returncode}: " + (Path(tmp) / "stderr.txt").read_text()[-2000:])
        return {"startup_s": round(ready, 3), "peak_rss_mb": round(_peak_rss_mb(report), 1),
                "items": len(items), "frames": status["frames"], "mjpeg_frames_watched": stream.count(b"--frame\r\n")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=bounded(0, 1000), default=5)
    parser.add_argument("--out", type=Path, default=Path("results/serve-bench.json"))
    parser.add_argument("--docs", type=Path, help="Markdown file whose serve-bench block to rewrite.")
    args = parser.parse_args()
    if args.runs > 0:
        measure(args)
    if args.docs:
        write_docs_block(args.docs, args.out)


def write_docs_block(docs: Path, results: Path) -> None:
    doc = json.loads(results.read_text())
    s, env = doc["summary"], doc["environment"]
    fastest = {name: min(r["startup_s"] for r in doc["runs"][name]) for name in ("scan", "serve")}
    rows = [("`fmnistedge scan --no-show` (headless)", "scan"), ("`fmnistedge serve`, one MJPEG viewer", "serve")]
    block = "| command | start-up, median (fastest) | peak RSS, median |\n|---|---:|---:|\n" + "".join(
        f"| {label} | {s[name]['startup_s_median']:.2f} s ({fastest[name]:.2f} s) | "
        f"{s[name]['peak_rss_mb_median']:.1f} MB |\n" for label, name in rows)
    block += (f"\n`serve` costs {s['serve_minus_scan']['peak_rss_mb']:+.1f} MB of peak RSS against the headless "
              f"scan, and {s['serve_minus_scan']['startup_s']:+.2f} s of median start-up "
              f"({fastest['serve'] - fastest['scan']:+.2f} s between the fastest runs; start-up here varies "
              f"with the other work on the machine); {doc['runs_per_command']} runs each, interleaved, "
              f"scanning `{doc['clip']}` with `{doc['arch']}`, on {env['cpu']} ({env['cores']} cores, shared), "
              f"Python {env['python']}, Starlette {env['packages'].get('starlette')}, uvicorn "
              f"{env['packages'].get('uvicorn')}; written by `python scripts/bench_serve.py --docs {docs}` "
              f"(`{results}`).")
    text = docs.read_text()
    start, end = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{docs} has no {start} ... {end} block")
    head, rest = text.split(start, 1)
    docs.write_text(head + start + "\n" + block + "\n" + end + rest.split(end, 1)[1])
    print(f"-> {docs}")


def measure(args) -> None:
    runs: dict[str, list[dict]] = {"scan": [], "serve": []}
    for i in range(args.runs):
        for name, fn in (("scan", run_scan), ("serve", run_serve)):
            runs[name].append(fn())
            r = runs[name][-1]
            print(f"run {i + 1}, {name}: start-up {r['startup_s']} s, peak RSS {r['peak_rss_mb']} MB, "
                  f"{r['items']} items", file=sys.stderr)
    summary = {name: {"startup_s_median": statistics.median(r["startup_s"] for r in rs),
                      "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in rs)}
               for name, rs in runs.items()}
    summary["serve_minus_scan"] = {
        "startup_s": round(summary["serve"]["startup_s_median"] - summary["scan"]["startup_s_median"], 3),
        "peak_rss_mb": round(summary["serve"]["peak_rss_mb_median"] - summary["scan"]["peak_rss_mb_median"], 1)}
    fileio.write_json(args.out, {
        "clip": str(CLIP), "arch": default_arch(), "runs_per_command": args.runs,
        "what": {"scan": "headless scan; start-up to its 'Scanning' line",
                 "serve": "serve --no-realtime, one MJPEG viewer for the whole scan; start-up to the first "
                          "HTTP answer of /api/status; peak RSS over the whole run"},
        "summary": summary, "runs": runs, "environment": provenance.environment(PACKAGES)})
    for name in ("scan", "serve"):
        s = summary[name]
        print(f"{name}: start-up {s['startup_s_median']:.2f} s, peak RSS {s['peak_rss_mb_median']:.1f} MB")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

"""Write ``fmnistedge bench`` results: JSON, CSV, a Markdown report and a PNG plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fmnistedge import fileio
from fmnistedge.measure.bench import BenchOptions, Row

COLUMNS = [
    "arch", "format", "status", "error", "bytes", "params", "macs", "load_ms", "accuracy",
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "timed_runs",
    "bare_p50_ms", "overhead_ratio", "throughput_per_s", "peak_rss_mb", "rss_before_load_mb",
    "pi4_lower_bound_ms", "pi5_lower_bound_ms",
]
BENCH_SCHEMA_VERSION = 1


def to_document(rows: list[Row], options: BenchOptions, environment: dict) -> dict:
    return {
        "schema_version": BENCH_SCHEMA_VERSION,
        "settings": {"threads": options.threads, "runs": options.runs, "warmup": options.warmup,
                     "batch_sizes": list(options.batch_sizes), "formats": list(options.formats)},
        "environment": environment,
        "rows": [{"arch": r.arch, "format": r.format, "status": r.status, "error": r.error,
                  "path": r.path, **r.metrics} for r in rows],
    }


def write_csv(doc: dict, path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in doc["rows"]:
        flat = dict(row)
        flat["throughput_per_s"] = ";".join(f"b{k}={v:.0f}" for k, v in row.get("throughput_per_s", {}).items())
        writer.writerow(flat)
    fileio.write_text(path, buf.getvalue())


def _fmt(value, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def markdown_table(doc: dict) -> str:
    lines = ["| arch | format | status | size | accuracy | p50 ms | p95 ms | p99 ms | load ms | peak RSS | "
             "overhead | Pi 4 ≥ ms (est.) | Pi 5 ≥ ms (est.) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["rows"]:
        size = f"{r['bytes'] / 1024:.0f} KiB" if r.get("bytes") else "-"
        acc = f"{100 * r['accuracy']:.2f}%" if r.get("accuracy") is not None else "-"
        lines.append(
            f"| `{r['arch']}` | {r['format']} | {r['status']} | {size} | {acc} | "
            f"{_fmt(r.get('latency_p50_ms'), '.3f')} | {_fmt(r.get('latency_p95_ms'), '.3f')} | "
            f"{_fmt(r.get('latency_p99_ms'), '.3f')} | {_fmt(r.get('load_ms'), '.0f')} | "
            f"{_fmt(r.get('peak_rss_mb'), '.0f', ' MB')} | {_fmt(r.get('overhead_ratio'), '.2f', 'x')} | "
            f"{_fmt(r.get('pi4_lower_bound_ms'), '.3f')} | {_fmt(r.get('pi5_lower_bound_ms'), '.3f')} |")
    return "\n".join(lines)


def markdown_report(doc: dict, plot: Path | None = None) -> str:
    env, s = doc["environment"], doc["settings"]
    pkgs = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    parts = [
        "# fmnistedge bench report", "",
        f"Command: `{env['command']}`  ",
        f"Machine: {env['cpu']}, {env['cores']} cores, {env['os']}, Python {env['python']}  ",
        f"Libraries: {pkgs}  ",
        f"Settings: {s['threads']} thread(s), batch-1 latency over {s['runs']} interleaved runs after "
        f"{s['warmup']} warm-up runs; throughput batch sizes {s['batch_sizes']}; {env['timestamp']}", "",
        "Latency is the classify path (input scaling, engine call, top-3) for one 28x28 image; "
        "*overhead* is that over a bare engine call on the same file. Pi columns are lower bounds "
        "estimated from MACs and one core's published peak arithmetic, not measurements "
        "(see docs/bench.md).", "",
        markdown_table(doc),
    ]
    if plot is not None:
        parts += ["", f"![accuracy vs latency]({plot.name})"]
    return "\n".join(parts) + "\n"


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not beaten on both lower latency (x) and higher accuracy (y)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -1.0
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot(doc: dict, path: Path) -> None:
    from fmnistedge.measure.reportfigs import plt, save

    rows = [r for r in doc["rows"] if r["status"] == "ok"]
    fig, ax = plt("--plot").subplots(figsize=(10, 6.5), dpi=110)
    markers = {"keras-predict": "X", "keras-call": "P", "tflite-fp32": "o", "tflite-fp16": "s",
               "tflite-int8": "^", "onnx-fp32": "D", "onnx-int8": "v"}
    for fmt, marker in markers.items():
        sel = [r for r in rows if r["format"] == fmt]
        if sel:
            ax.scatter([r["latency_p50_ms"] for r in sel], [100 * r["accuracy"] for r in sel],
                       marker=marker, s=45, label=fmt, alpha=0.85)
    for r in rows:
        if r["format"] in ("tflite-int8",):
            ax.annotate(r["arch"], (r["latency_p50_ms"], 100 * r["accuracy"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    pts = [(r["latency_p50_ms"], 100 * r["accuracy"]) for r in rows]
    front = [pts[i] for i in pareto(pts)]
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="k", lw=1,
                label="Pareto frontier")
    ax.set_xscale("log")
    ax.set_xlabel(f"batch-1 latency p50, ms (log scale), {doc['settings']['threads']} thread(s)")
    ax.set_ylabel("accuracy on the 10k test set, %")
    ax.set_title(f"fmnistedge bench: accuracy vs latency ({doc['environment']['cpu']})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save(fig, path)


def write_outputs(doc: dict, json_path: Path | None = None, csv_path: Path | None = None,
                  plot_path: Path | None = None, markdown: Path | None = None) -> None:
    """Every output file a bench run was asked for."""
    if json_path is not None:
        fileio.write_json(json_path, doc)
    if csv_path is not None:
        write_csv(doc, csv_path)
    if plot_path is not None:
        plot(doc, plot_path)
    if markdown is not None:
        fileio.write_text(markdown, markdown_report(doc, plot_path))


def check(doc: dict, min_accuracy: float | None, say) -> None:
    """Name each failed row (the table has no room for why), then raise the run's exit code:
    3 when a model is below ``min_accuracy`` (percent), 1 when a row could not be run."""
    from fmnistedge.errors import EXIT_INPUT_FAILED, CommandFailed, VerificationError
    from fmnistedge.progress import print_error

    for r in doc["rows"]:
        if r["status"] in ("run failed", "verify failed"):
            print_error(f"{r['arch']} {r['format']}: {r['error'] or 'no reason recorded'}")
    below = [r for r in doc["rows"] if r["status"] == "ok" and min_accuracy is not None
             and 100 * r["accuracy"] < min_accuracy]
    for r in below:
        say(f"{r['arch']} {r['format']}: accuracy {100 * r['accuracy']:.2f}% < --min-accuracy {min_accuracy}")
    if below:
        raise VerificationError(f"{len(below)} model file(s) below --min-accuracy {min_accuracy}")
    if any(r["status"] == "run failed" for r in doc["rows"]):
        raise CommandFailed(EXIT_INPUT_FAILED)

"""``fmnistedge bench``: latency against accuracy for every architecture and format.

Method (docs/bench.md): each model file is measured in a fresh subprocess
(load time, accuracy on the 10k test set, throughput, peak RSS: what a user's
process sees); batch-1 latency is then timed in one process per engine group
with the formats *interleaved* run by run after a warm-up, so machine noise
hits every format alike. Threads are fixed for every engine (default 1, the
Pi-like setting). A row that cannot be measured records why; the rest go on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fmnistedge import manifest, trainlog
from fmnistedge.formats import BENCH_FORMATS, FORMATS, KERAS_FORMATS
from fmnistedge.isolated import python_argv

ALL_FORMATS = BENCH_FORMATS
KERAS_NEEDS_TENSORFLOW = "the Keras rows need TensorFlow: install the 'train' extra (pip install 'fmnistedge[train]')"
# Published peak arithmetic of one core (see docs/bench.md); estimates are lower bounds.
PI_PEAK_OPS = {
    "pi4": {"fp32": 12e9, "fp16": 12e9, "int8": 12e9},  # Cortex-A72: no int8 dot product
    "pi5": {"fp32": 38e9, "fp16": 38e9, "int8": 150e9},  # Cortex-A76 @ 2.4 GHz, with sdot
}


@dataclass(frozen=True)
class BenchOptions:
    formats: tuple[str, ...] = ALL_FORMATS
    threads: int = 1
    runs: int = 300
    warmup: int = 30
    batch_sizes: tuple[int, ...] = (1, 32)
    artifacts: Path = Path("artifacts")
    data_dir: Path | None = None
    test_limit: int | None = None  # accuracy on the first N test images; None: all 10k (the command)

    def __post_init__(self) -> None:
        if self.test_limit is not None and self.test_limit < 1:
            raise ValueError(f"test_limit must be at least 1. Received: test_limit={self.test_limit}")


@dataclass
class Row:
    arch: str
    format: str
    path: str | None
    status: str = "pending"  # ok, not exported, not run (no TensorFlow), verify failed, run failed
    error: str = ""
    metrics: dict = field(default_factory=dict)


def has_tensorflow() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def _arch_dirs(archs: list[str], artifacts: Path) -> dict[str, Path]:
    """Each architecture's folder, ``artifacts`` first (the models just trained, with their
    Keras file for the baseline rows), then the shipped ones."""
    from fmnistedge.runtime.models import find_arch_dir

    found = {arch: find_arch_dir(arch, artifacts, prefer="artifacts", keras=True) for arch in archs}
    return {arch: folder for arch, folder in found.items() if folder is not None}


def discover(archs: list[str], options: BenchOptions) -> list[Row]:
    """One row per architecture x format; rows that cannot run say why."""
    rows = []
    for arch, arch_dir in _arch_dirs(archs, options.artifacts).items():
        doc = manifest.load(arch_dir) or {"files": {}}
        by_key = {e["key"]: (name, e) for name, e in doc["files"].items()}
        for fmt in options.formats:
            if fmt in KERAS_FORMATS:
                keras_file = arch_dir / "model.keras"
                if keras_file.is_file():  # shipped models have none: no row, as for an unexported format
                    rows.append(Row(arch, fmt, str(keras_file)) if has_tensorflow() else
                                Row(arch, fmt, None, "not run", KERAS_NEEDS_TENSORFLOW))
                continue
            if fmt not in by_key or not (arch_dir / by_key[fmt][0]).is_file():
                rows.append(Row(arch, fmt, None, "not exported",
                                f"run 'fmnistedge export {arch}' with the flags for {fmt}"))
                continue
            name, entry = by_key[fmt]
            row = Row(arch, fmt, str(arch_dir / name))
            row.metrics["bytes"] = entry["bytes"]
            if entry["status"] == "verify_failed":
                row.status, row.error = "verify failed", "; ".join(entry.get("failures", []))
            rows.append(row)
    return rows


def _worker(mode: str, spec: dict) -> dict:
    """Run one benchworker process; its last stderr line becomes the row's error.

    The worker runs the installed package even from the repository root, whose
    ``./fmnistedge`` folder would otherwise shadow it (see :mod:`fmnistedge.isolated`).
    """
    proc = subprocess.run(python_argv("-m", "fmnistedge.measure.benchworker", mode, json.dumps(spec)),
                          capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RuntimeError(lines[-1] if lines else f"worker exited with {proc.returncode}")
    return json.loads(proc.stdout)


def _arch_facts(arch_dir: Path) -> dict:
    rec = trainlog.find(arch_dir)
    return {"params": rec["params"], "macs": rec["macs"]} if rec else {}


def pi_estimates_ms(macs: int | None, precision: str) -> dict:
    """Lower bounds: 2 ops per MAC at one core's published peak."""
    if not macs:
        return {}
    return {f"{pi}_lower_bound_ms": 1000 * 2 * macs / peak[precision] for pi, peak in PI_PEAK_OPS.items()}


def _precision(fmt: str) -> str:
    return "fp32" if fmt in KERAS_FORMATS else FORMATS[fmt].precision


def run(rows: list[Row], options: BenchOptions, tick: Callable[[str], None] = lambda _: None) -> list[Row]:
    base = {"threads": options.threads, "batch_sizes": list(options.batch_sizes),
            "data_dir": str(options.data_dir) if options.data_dir else None, "test_limit": options.test_limit}
    for row in rows:
        if row.status != "pending":
            continue
        tick(f"{row.arch} {row.format}: load, accuracy, memory")
        try:
            row.metrics.update(_worker("single", {**base, "path": row.path, "format": row.format}))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            row.status, row.error = "run failed", str(exc)[:300]
    for group in (lambda r: r.format in KERAS_FORMATS, lambda r: r.format not in KERAS_FORMATS):
        members = [r for r in rows if r.status == "pending" and group(r)]
        if not members:
            continue
        tick(f"batch-1 latency, {len(members)} models interleaved")
        spec = {"threads": options.threads, "runs": options.runs, "warmup": options.warmup,
                "models": [{"id": str(i), "path": r.path, "format": r.format} for i, r in enumerate(members)]}
        try:
            timed = _worker("latency", spec)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            for r in members:
                r.status, r.error = "run failed", f"latency run: {exc}"[:300]
            continue
        for i, r in enumerate(members):
            _summarize(r, timed[str(i)])
    for row in rows:
        arch_dir = Path(row.path).parent if row.path else None
        if arch_dir is not None:
            row.metrics.update(_arch_facts(arch_dir))
        row.metrics.update(pi_estimates_ms(row.metrics.get("macs"), _precision(row.format)))
    return rows


def _summarize(row: Row, timed: dict) -> None:
    import numpy as np

    lat = np.array(timed["latency_ms"])
    row.metrics.update({
        "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p95_ms": float(np.percentile(lat, 95)),
        "latency_p99_ms": float(np.percentile(lat, 99)), "latency_mean_ms": float(lat.mean()),
        "timed_runs": int(lat.size),
    })
    if timed.get("bare_latency_ms"):
        bare = float(np.median(timed["bare_latency_ms"]))
        row.metrics["bare_p50_ms"] = bare
        row.metrics["overhead_ratio"] = row.metrics["latency_p50_ms"] / bare
    row.status = "ok"


def measure(names: list[str], options: BenchOptions, progress=None, say: Callable[[str], None] = print) -> dict:
    """Discover and measure every architecture x format of ``names``; the bench document
    (:func:`fmnistedge.measure.benchreport.to_document`)."""
    from fmnistedge import provenance
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.measure import benchreport
    from fmnistedge.progress import stepper
    from fmnistedge.training.data import find_dataset

    find_dataset(options.data_dir)  # accuracy needs the test set: fail now, not in every row
    rows = discover(names, options)
    if not rows and set(options.formats) <= set(KERAS_FORMATS) and not has_tensorflow():
        raise FmnistEdgeError(f"No Keras models to measure, and {KERAS_NEEDS_TENSORFLOW}")
    if not rows:
        raise FmnistEdgeError(f"No models to measure in {options.artifacts} or the shipped models; "
                              "run 'fmnistedge train' and 'fmnistedge export' first")
    if any(r.status == "not run" for r in rows):
        say(f"note: {KERAS_NEEDS_TENSORFLOW}")
    run(rows, options, tick=stepper(progress, "bench", sum(r.status == "pending" for r in rows) + 2))
    return benchreport.to_document(rows, options, provenance.environment())

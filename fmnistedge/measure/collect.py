"""Results as data, the collecting half: gather the files the project's commands wrote
(``train.json`` of each training run, ``manifest.json`` of each exported model) into the
CSV tables under ``results/``. ``render`` turns those files into Markdown.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fmnistedge import fileio
from fmnistedge.trainlog import load as load_record

SEED_COLUMNS = [
    "arch", "family", "source", "params", "macs", "epochs_run", "epochs_requested",
    "best_epoch", "early_stopping", "batch_size", "test_accuracy", "reported_accuracy",
    "delta_points", "reported_epochs", "train_seconds", "seconds_per_epoch", "seed", "limit",
    "cpu", "cores", "python", "tensorflow", "keras", "numpy", "git_commit", "timestamp", "command",
]


def collect_training(artifacts: Path) -> list[dict]:
    """One row per ``ARTIFACTS/*/train.json`` of a source architecture, in zoo order
    (our own edge models have no source figure to reproduce; they appear in the
    export and bench tables)."""
    from fmnistedge.training import zoo

    records = {}
    for path in sorted(Path(artifacts).glob("*/train.json")):
        rec = load_record(path)
        if rec["arch"] in zoo.ARCHS and zoo.is_source(rec["arch"]):
            records[rec["arch"]] = rec
    order = {n: i for i, n in enumerate(zoo.ARCHS)}
    return [_seed_row(records[a]) for a in sorted(records, key=lambda a: order.get(a, 1_000))]


def _seed_row(rec: dict) -> dict:
    env = rec["environment"]
    pkgs = env.get("packages", {})
    acc = 100 * rec["test_accuracy"]
    reported = rec.get("reported_accuracy")
    secs = rec.get("seconds_per_epoch") or [0.0]
    return {
        "arch": rec["arch"], "family": rec["family"], "source": rec["source"],
        "params": rec["params"], "macs": rec["macs"],
        "epochs_run": rec["epochs_run"], "epochs_requested": rec["epochs_requested"],
        "best_epoch": rec.get("best_epoch"), "early_stopping": rec["recipe"].get("early_stopping"),
        "batch_size": rec["recipe"]["batch_size"],
        "test_accuracy": f"{acc:.2f}", "reported_accuracy": reported,
        "delta_points": f"{acc - reported:+.2f}" if reported is not None else "",
        "reported_epochs": rec.get("reported_epochs"),
        "train_seconds": rec["train_seconds"],
        "seconds_per_epoch": f"{sum(secs) / len(secs):.1f}",
        "seed": rec["seed"], "limit": rec.get("limit"),
        "cpu": env.get("cpu"), "cores": env.get("cores"), "python": env.get("python"),
        "tensorflow": pkgs.get("tensorflow"), "keras": pkgs.get("keras"), "numpy": pkgs.get("numpy"),
        "git_commit": env.get("git_commit"), "timestamp": env.get("timestamp"),
        "command": env.get("command"),
    }


RUN_COLUMNS = [
    "run", "arch", "params", "macs", "epochs_run", "augment", "label_smoothing", "schedule",
    "test_accuracy", "best_val_accuracy", "train_seconds", "seconds_per_epoch", "seed", "cpu", "cores",
    "tensorflow", "git_commit", "timestamp", "command",
    # photo-domain runs only (train --photos): the mix and the held-out photographers' scores
    "photo_share", "photo_balance", "partial", "none_share", "none_output", "best_epoch", "photo_val_top1_macro", "photo_val_top3_macro", "photo_val_set_acc",
    "photo_temperature", "photo_reject_below", "photo_val_none_rejected", "flip_average", "label_refinements",
    "photo_reject_score",
]


def collect_runs(runs_dir: Path) -> list[dict]:
    """One row per ``RUNS_DIR/*.json``: verbatim copies of ``train.json`` files of the edge
    family's training runs (the shipped one and its ablations), named after the run."""
    rows = []
    for path in sorted(Path(runs_dir).glob("*.json")):
        rec = load_record(path)
        env = rec["environment"]
        secs = rec.get("seconds_per_epoch") or [0.0]
        rows.append({
            "run": path.stem, "arch": rec["arch"], "params": rec["params"], "macs": rec["macs"],
            "epochs_run": rec["epochs_run"], "augment": rec["recipe"].get("augment") or "none",
            "label_smoothing": rec["recipe"].get("label_smoothing"), "schedule": rec["recipe"].get("schedule"),
            "test_accuracy": f"{100 * rec['test_accuracy']:.2f}",
            "best_val_accuracy": f"{100 * max(rec['history'].get('val_accuracy', [0])):.2f}",
            "train_seconds": rec["train_seconds"], "seconds_per_epoch": f"{sum(secs) / len(secs):.1f}",
            "seed": rec["seed"], "cpu": env.get("cpu"), "cores": env.get("cores"),
            "tensorflow": env.get("packages", {}).get("tensorflow"), "git_commit": env.get("git_commit"),
            "timestamp": env.get("timestamp"), "command": env.get("command"),
            "flip_average": "yes" if rec.get("flip_average") else "no",  # any run: its MACs count both passes
            **_photo_columns(rec),
        })
    return rows


def _photo_columns(rec: dict) -> dict:
    """The photo-run columns of a train.json (none for a Fashion-MNIST-only run)."""
    ph = rec.get("photos")
    if not ph:
        return {}
    m, cal = ph["val_metrics"], ph["calibration"]
    return {"best_epoch": rec.get("best_epoch"), "photo_share": ph["share"],
            "photo_balance": ph.get("balance", 0.5),  # runs before --photo-balance drew with 1/sqrt
            "partial": ph["partial"], "none_share": ph["none_share"],
            "none_output": "yes" if ph.get("none_output") else "no",
            "photo_val_top1_macro": f"{100 * m['top1_macro']:.1f}", "photo_val_top3_macro": f"{100 * m['top3_macro']:.1f}",
            "photo_val_set_acc": f"{100 * m['set_acc']:.1f}", "photo_temperature": f"{cal['temperature']:.3f}",
            "photo_reject_below": f"{cal['reject_below']:.3f}",
            "photo_val_none_rejected": f"{100 * cal['val_none_rejected']:.1f}",
            "label_refinements": (ph.get("label_refinements") or {}).get("rows", 0),
            # the "none of these" score the threshold is on; runs before reject_score used the top probability
            "photo_reject_score": cal.get("reject_score", "top")}


def merge_rows(new_rows: list[dict], path: Path) -> list[dict]:
    """``new_rows`` plus the rows of the CSV at ``path`` for architectures that ``new_rows``
    does not cover, in zoo order: collecting from a folder that holds only some
    architectures updates their rows and keeps the others' recorded results."""
    from fmnistedge.training import zoo

    fresh = {r["arch"] for r in new_rows}
    kept = []
    if Path(path).is_file():
        with open(path, newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if r["arch"] not in fresh]
    order = {n: i for i, n in enumerate(zoo.ARCHS)}
    return sorted(kept + list(new_rows), key=lambda r: order.get(r["arch"], 1_000))


def write_csv(rows: list[dict], path: Path, columns: list[str] = SEED_COLUMNS) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    fileio.write_text(path, buf.getvalue())


EXPORT_COLUMNS = [
    "arch", "format", "precision", "bytes", "keras_accuracy", "test_accuracy", "delta_points",
    "agreement_with_keras", "max_abs_prob_diff", "status", "io_input", "opencv_dnn",
    "tensorflow", "tf2onnx", "onnxruntime", "ai_edge_litert", "exported_at", "command",
]


def collect_exports(artifacts: Path) -> list[dict]:
    """One row per exported file in ``ARTIFACTS/*/manifest.json`` (source architectures)."""
    from fmnistedge import manifest
    from fmnistedge.training import zoo

    order = {n: i for i, n in enumerate(zoo.ARCHS)}
    rows = []
    for arch_dir in sorted(Path(artifacts).iterdir(), key=lambda p: order.get(p.name, 1_000)):
        doc = manifest.load(arch_dir) if arch_dir.is_dir() else None
        if not doc or zoo.ARCHS.get(doc["arch"]) is None or zoo.ARCHS[doc["arch"]].family == "test":
            continue
        for name, e in sorted(doc["files"].items(), key=lambda kv: kv[1]["key"]):
            tools = e.get("tool_versions", {})
            io_in = e.get("io", {}).get("input", {})
            rows.append({
                "arch": doc["arch"], "format": e["key"], "precision": e["precision"], "bytes": e["bytes"],
                "keras_accuracy": f"{100 * doc['keras']['test_accuracy']:.2f}",
                "test_accuracy": f"{100 * e['test_accuracy']:.2f}" if e.get("test_accuracy") is not None else "",
                "delta_points": f"{e['accuracy_delta_points']:+.2f}" if e.get("accuracy_delta_points") is not None else "",
                "agreement_with_keras": e.get("agreement_with_keras"),
                "max_abs_prob_diff": e.get("max_abs_prob_diff"), "status": e["status"],
                "io_input": io_in.get("dtype"), "opencv_dnn": e.get("checks", {}).get("opencv_dnn", ""),
                "tensorflow": tools.get("tensorflow"), "tf2onnx": tools.get("tf2onnx"),
                "onnxruntime": tools.get("onnxruntime"), "ai_edge_litert": tools.get("ai-edge-litert"),
                "exported_at": e.get("exported_at"), "command": e.get("command"),
            })
    return rows

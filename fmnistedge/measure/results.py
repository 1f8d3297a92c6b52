"""Results as data: collect the files the project's commands wrote into CSV tables,
and regenerate Markdown blocks (the README tables) from those CSVs.

A generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
markers; nothing inside it is typed by hand.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from fmnistedge import fileio
from fmnistedge.errors import FmnistEdgeError
from fmnistedge.training.train import load_record

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
    "photo_share", "partial", "none_share", "none_output", "best_epoch", "photo_val_top1_macro", "photo_val_top3_macro", "photo_val_set_acc",
    "photo_temperature", "photo_reject_below", "photo_val_none_rejected",
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
            **_photo_columns(rec),
        })
    return rows


def _photo_columns(rec: dict) -> dict:
    """The photo-run columns of a train.json (none for a Fashion-MNIST-only run)."""
    ph = rec.get("photos")
    if not ph:
        return {}
    m, cal = ph["val_metrics"], ph["calibration"]
    return {"best_epoch": rec.get("best_epoch"), "photo_share": ph["share"], "partial": ph["partial"], "none_share": ph["none_share"],
            "none_output": "yes" if ph.get("none_output") else "no",
            "photo_val_top1_macro": f"{100 * m['top1_macro']:.1f}", "photo_val_top3_macro": f"{100 * m['top3_macro']:.1f}",
            "photo_val_set_acc": f"{100 * m['set_acc']:.1f}", "photo_temperature": f"{cal['temperature']:.3f}",
            "photo_reject_below": f"{cal['reject_below']:.3f}",
            "photo_val_none_rejected": f"{100 * cal['val_none_rejected']:.1f}"}


def render_photo_runs_markdown(csv_path: Path) -> str:
    """The photo-domain training runs: how photos were mixed in and how each run scored on the
    photographers held out from its training (never on the dev photos)."""
    with open(csv_path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("photo_share")]
    lines = ["| run | photo share | partial labels | 'none' share | 'none' output | epoch kept / run "
             "| held-out photos top-1 / top-3 (macro) | in candidate set | 'none' rejected (held out) "
             "| test acc. (float) | wall time |",
             "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['run']}` | {r['photo_share']} | {r['partial']} | {r['none_share']} | {r['none_output']} | "
                     f"{r['best_epoch']} / {r['epochs_run']} | "
                     f"{r['photo_val_top1_macro']}% / {r['photo_val_top3_macro']}% | {r['photo_val_set_acc']}% | "
                     f"{r['photo_val_none_rejected']}% | {r['test_accuracy']}% | "
                     f"{float(r['train_seconds']) / 60:.0f} min |")
    lines += ["", f"Generated by `fmnistedge table` from `{csv_path.as_posix()}` (copies of each run's `train.json` "
              f"in `{csv_path.parent.as_posix()}/runs/`); scores on the photographers each run held out "
              "(the epoch, temperature and threshold were chosen there: the two runs without a 'none' output "
              "kept their epoch by macro top-1, the later ones by the best top-1 within the label set in the "
              "schedule's second half); commands in the CSV."]
    return "\n".join(lines)


def render_runs_markdown(csv_path: Path) -> str:
    """The README's edge-family table: every recorded training run, float test accuracy."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = ["| run | params | MACs | epochs | augmentation | test acc. (float) | wall time | machine | command |",
             "|---|---:|---:|---:|---|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| `{r['run']}` | {int(r['params']):,} | {int(r['macs']):,} | {r['epochs_run']} | "
                     f"{r['augment']} | {r['test_accuracy']}% | {float(r['train_seconds']) / 60:.0f} min "
                     f"({r['seconds_per_epoch']} s/epoch) | {r['cpu']} ({r['cores']} cores) | `{r['command']}` |")
    lines += ["", f"Generated by `fmnistedge table` from `{csv_path.as_posix()}` (copies of each run's "
              f"`train.json` in `{csv_path.parent.as_posix()}/runs/`); wall times on the machine named, "
              f"which may have been shared with other work while the run went on."]
    return "\n".join(lines)


def accuracy_params_plot(seed_csv: Path, runs_csv: Path, path: Path) -> None:
    """Test accuracy against parameters (log scale): the source architectures and the edge runs."""
    from fmnistedge.measure import reportfigs

    p = reportfigs.plt("The accuracy-parameters plot")
    fig, ax = p.subplots(figsize=(9, 5.5))
    for csv_path, marker, color, key in ((seed_csv, "o", "tab:gray", "arch"), (runs_csv, "*", "tab:red", "run")):
        if not Path(csv_path).is_file():
            continue
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        xs = [int(r["params"]) for r in rows]
        ys = [float(r["test_accuracy"]) for r in rows]
        ax.scatter(xs, ys, marker=marker, color=color, s=80 if marker == "*" else 40,
                   label="source architectures" if key == "arch" else "edge runs (best of each arch named)")
        # Runs of one architecture share its parameter count: label only its most accurate
        # run so the names stay readable (the README's edge table lists every run).
        best = {}
        for r, y in zip(rows, ys):
            if r["arch"] not in best or y > best[r["arch"]][1]:
                best[r["arch"]] = (r[key], y)
        labelled = {name for name, _ in best.values()}
        for x, y, r in zip(xs, ys, rows):
            if r[key] in labelled:
                ax.annotate(r[key], (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    shipped = _shipped_edge_int8(runs_csv)
    if shipped:
        ax.scatter([x for x, _ in shipped.values()], [y for _, y in shipped.values()], marker="D",
                   facecolors="none", edgecolors="tab:red", s=60, label="shipped int8 TFLite file (edge)")
    ax.set_xscale("log")
    lo = ax.get_xlim()[0]
    slots: dict[tuple[int, float], list[str]] = {}
    for arch, target in EDGE_TARGETS.items():  # issue 7's targets
        slots.setdefault(target, []).append(arch)
    for ((limit, acc), archs), style in zip(sorted(slots.items()), ("dashed", "dotted", "dashdot")):
        ax.hlines(acc, lo, limit, colors="tab:red", linestyles=style, linewidth=1,
                  label=f"{'/'.join(archs)} target: >= {acc:.0f}% int8, <= {limit // 1000}k params")
    ax.set_xlim(left=lo)
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("Fashion-MNIST test accuracy, % (float model; int8 where marked)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.6, 0.12), fontsize=8)
    ax.set_title("Accuracy against parameters")
    reportfigs.save(fig, path)


def _shipped_edge_int8(runs_csv: Path) -> dict[str, tuple[int, float]]:
    """arch -> (parameters, verified accuracy % of its shipped int8 TFLite file), for the edge
    models shipped in the package (parameters from the edge runs table)."""
    from fmnistedge import manifest
    from fmnistedge.runtime.models import shipped_dir

    if not Path(runs_csv).is_file():
        return {}
    with open(runs_csv, newline="") as fh:
        params = {r["arch"]: int(r["params"]) for r in csv.DictReader(fh)}
    found = {}
    for arch in EDGE_TARGETS:
        doc = manifest.load(shipped_dir() / arch) if (shipped_dir() / arch).is_dir() else None
        entry = (doc or {}).get("files", {}).get("model_int8.tflite")
        if entry and entry.get("verified") and arch in params:
            found[arch] = (params[arch], 100 * entry["test_accuracy"])
    return found


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


def render_markdown(csv_path: Path) -> str:
    """The README's "reproducing the sources" table, generated from the CSV."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = [
        "| arch | params | MACs | source | source acc. | epochs (source) | our test acc. | Δ points | epochs run | s/epoch |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        epochs = r["epochs_run"] + (" (early stop)" if r["early_stopping"] not in ("", "None") else "")
        lines.append(
            f"| `{r['arch']}` | {int(r['params']):,} | {int(r['macs']):,} | {r['source']} | "
            f"{float(r['reported_accuracy']):.2f}% | {r['reported_epochs']} | "
            f"{r['test_accuracy']}% | {r['delta_points']} | {epochs} | {r['seconds_per_epoch']} |"
        )
    first = rows[0] if rows else {}
    lines.append("")
    lines.append(
        f"Generated by `fmnistedge table` from `{csv_path.as_posix()}`; trained with "
        f"`fmnistedge train ARCH --seed 0` on {first.get('cpu')} ({first.get('cores')} cores), "
        f"TensorFlow {first.get('tensorflow')}, Keras {first.get('keras')}, Python {first.get('python')}."
    )
    return "\n".join(lines)


def update_block(markdown_path: Path, name: str, content: str) -> None:
    """Replace the text between the NAME markers in a Markdown file (atomically)."""
    text = Path(markdown_path).read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise FmnistEdgeError(f"{markdown_path} has no '{start}' ... '{end}' block to update")
    new = pattern.sub(lambda _: f"{start}\n{content}\n{end}", text)
    fileio.write_text(markdown_path, new)


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


def render_export_markdown(csv_path: Path) -> str:
    """Per architecture: Keras accuracy and each file's size and accuracy change."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    formats = [f for f in ("tflite-fp32", "tflite-fp16", "tflite-int8", "onnx-fp32", "onnx-int8")
               if any(r["format"] == f for r in rows)]
    by_arch: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_arch.setdefault(r["arch"], {})[r["format"]] = r
    head = "| arch | Keras acc. | " + " | ".join(f"{f} (size, Δ points)" for f in formats) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(formats)]
    for arch, files in by_arch.items():
        cells = []
        for f in formats:
            r = files.get(f)
            if r is None:
                cells.append("-")
            else:
                flag = "" if r["status"] == "verified" else f" **{r['status']}**"
                cells.append(f"{int(r['bytes']) / 1024:.0f} KiB, {r['delta_points']}{flag}")
        first = next(iter(files.values()))
        lines.append(f"| `{arch}` | {first['keras_accuracy']}% | " + " | ".join(cells) + " |")

    def versions(key: str) -> str:  # every version any row was made with, not only the first row's
        found = sorted({r.get(key) for r in rows if r.get(key)},
                       key=lambda v: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in v.split(".")])
        return " and ".join(found) or "?"

    failed = sum(r["status"] != "verified" for r in rows)
    verdict = "every file verified" if not failed else f"{failed} of {len(rows)} files not verified (marked)"
    lines += ["", f"Generated by `fmnistedge table` from `{csv_path.as_posix()}`: {verdict} on the "
              f"10,000 test images in the engine that runs it (LiteRT {versions('ai_edge_litert')}, "
              f"ONNX Runtime {versions('onnxruntime')}); converted with TensorFlow {versions('tensorflow')}, "
              f"tf2onnx {versions('tf2onnx')} (versions per file in `{csv_path.as_posix()}`)."]
    return "\n".join(lines)


def render_photo_markdown(json_path: Path) -> str:
    """The README's real-photo block: the shipped default on the dev photos beside the naive
    baseline and, when ``STEM.before.json`` is there, the model it replaced; per-class rows;
    the "none of these" figures when the model has them."""
    import json

    import numpy as np

    from fmnistedge.labels import LABELS

    json_path = Path(json_path)
    doc = json.loads(json_path.read_text())
    before_path = json_path.with_name(f"{json_path.stem}.before.json")
    before = json.loads(before_path.read_text()) if before_path.is_file() else None
    names = {"photo": "fmnistedge garment segmentation", "naive": "naive: resize + negate",
             "raw": "raw (no preprocessing)",
             "photo-grabcut": "fmnistedge garment segmentation, `--segment grabcut` (the slower path)"}
    with_before = before is not None and "photo" in before["results"]
    # (table row name, per-class column name, result) for each column of the block
    columns = [(f"{doc['model']['arch']}, {names.get(mode, mode)}",
                "now" if with_before and mode == "photo" else mode, r) for mode, r in doc["results"].items()]
    if with_before:
        columns.insert(1, (f"before: {before['model']['arch']} ({before['model']['sha256'][:8]}, "
                           f"Fashion-MNIST only), {names['photo']}", "before", before["results"]["photo"]))
    lines = ["| model, preprocessing | top-1 (macro) | top-3 (macro) | top-1 (all photos) | photos |",
             "|---|---:|---:|---:|---:|"]
    for name, _, r in columns:
        lines.append(f"| {name} | {100 * r['macro_top1']:.1f}% | {100 * r['macro_top3']:.1f}% | "
                     f"{100 * r['top1']:.1f}% | {r['items']} |")
    short = [s for _, s, _ in columns]
    first = columns[0][2]
    lines += ["", "| class | photos | " + " | ".join(f"{k} top-1 | {k} top-3" for k in short) + " |",
              "|---|---:|" + "---:|---:|" * len(short)]
    counts = np.array(first["confusion_matrix"]).sum(axis=1)
    for c, label in enumerate(LABELS):
        if label not in first["per_class_top1"]:
            continue
        cells = " | ".join(f"{100 * r['per_class_top1'][label]:.0f}% | {100 * r['per_class_top3'][label]:.0f}%"
                           for _, _, r in columns)
        lines.append(f"| {label} | {int(counts[c])} | {cells} |")
    held = doc["model"].get("photo_training")
    if held:
        v, n = held["val_metrics"], held.get("val") or {}
        lines += ["", f"On the photographers its training held out ({n.get('single', '?')} single-label photos of "
                      f"{n.get('photographers', '?')} photographers in `{held.get('folder')}`, Keras model): "
                      f"top-1 {100 * v['top1_macro']:.1f}%, top-3 {100 * v['top3_macro']:.1f}% (macro); "
                      f"{100 * v['set_acc']:.1f}% of all their labelled photos answered within their label set."]
    o = doc.get("open_set")
    if o:
        none = (f"**{100 * o['none_rejected']:.1f}%** of {o['none_photos']} photos of garments of no class "
                f"({o['none_selection']}) are answered `unknown`" if o["none_rejected"] is not None else
                "no 'none' photos were measured")
        lines += ["", f"None of these: below a calibrated top probability of {100 * o['reject_below']:.1f}% "
                      f"(temperature {o['temperature']:.3f}, both fitted on held-out photographers of the training "
                      f"photos), {none}, while **{100 * o['dev_wrongly_rejected']:.1f}%** of the dev photos above are "
                      f"wrongly rejected; ECE on the dev photos {o['dev_ece_raw']:.3f} before the temperature, "
                      f"{o['dev_ece_calibrated']:.3f} after. Curve: `{json_path.with_name(json_path.stem + '.none-curve.png').as_posix()}`."]
    env = doc["environment"]
    m = doc["model"]
    lines += ["", f"Model `{m['arch']}` ({m['file']}, {m['precision']}); {len(first['per_class_top1'])} "
              f"classes present; generated from `{json_path.as_posix()}`, written by `{env['command']}`"
              + (f"; before: `{before_path.as_posix()}`, written by `{before['environment']['command']}` "
                 f"with the model then shipped" if with_before else "") + "."]
    return "\n".join(lines)


def render_coldstart_markdown(json_path: Path) -> str:
    import json

    d = json.loads(Path(json_path).read_text())
    env = d["environment"]
    med, cpu = d.get("median_s", {}), d.get("median_cpu_s", {})
    text = (f"Cold start, classifying one image in a fresh process (median of {d['runs']} interleaved runs): "
            f"**{d['runtime_median_s']:.2f} s** with `fmnistedge classify`")
    if "litert" in med:
        text += (f", {d['runtime_vs_litert']:.2f}x the wall time and {d['runtime_vs_litert_cpu']:.2f}x the CPU time "
                 f"({cpu['runtime']:.2f} vs {cpu['litert']:.2f} s) of a ten-line LiteRT script classifying the "
                 "same file without segmentation (the floor)")
    if d.get("tensorflow_median_s"):
        text += (f"; **{d['tensorflow_median_s']:.2f} s** through TensorFlow/Keras, **{d['speedup']:.1f}x** "
                 "the runtime's")
    return text + (f"; measured by `python scripts/bench_coldstart.py` on {env['cpu']} ({env['cores']} cores) "
                   f"(`{Path(json_path).as_posix()}`).")


def render_bench_markdown(json_path: Path) -> str:
    """Per architecture: accuracy and batch-1 p50 of the edge formats vs the Keras baselines."""
    import json

    doc = json.loads(Path(json_path).read_text())
    rows: dict[str, dict[str, dict]] = {}
    for r in doc["rows"]:
        rows.setdefault(r["arch"], {})[r["format"]] = r

    def p50(r: dict | None) -> str:
        return f"{r['latency_p50_ms']:.3f}" if r and r["status"] == "ok" else "-"

    lines = ["| arch | params | MACs | int8 TFLite acc. | p50 ms: int8 TFLite | fp32 TFLite | int8 ONNX | fp32 ONNX "
             "| Keras `predict` | speed-up vs `predict` | Pi 5 int8 ≥ ms (est.) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arch, f in rows.items():
        int8 = f.get("tflite-int8")
        ref = f.get("keras-predict")
        any_row = next(iter(f.values()))
        speed = (f"{ref['latency_p50_ms'] / int8['latency_p50_ms']:.0f}x"
                 if int8 and ref and int8["status"] == ref["status"] == "ok" else "-")
        acc = f"{100 * int8['accuracy']:.2f}%" if int8 and int8["status"] == "ok" else "-"
        params = f"{any_row['params']:,}" if any_row.get("params") else "-"
        macs = f"{any_row['macs']:,}" if any_row.get("macs") else "-"
        pi5 = f"{int8['pi5_lower_bound_ms']:.3f}" if int8 and int8.get("pi5_lower_bound_ms") else "-"
        lines.append(f"| `{arch}` | {params} | {macs} | {acc} | {p50(int8)} | {p50(f.get('tflite-fp32'))} | "
                     f"{p50(f.get('onnx-int8'))} | {p50(f.get('onnx-fp32'))} | {p50(ref)} | {speed} | {pi5} |")
    env, s = doc["environment"], doc["settings"]
    stem = Path(json_path).with_suffix("").as_posix()
    lines += ["", f"Batch-1 latency p50 of the classify path, {s['threads']} thread(s), {s['runs']} interleaved runs "
              f"after {s['warmup']} warm-up runs, on {env['cpu']} ({env['cores']} cores); the Pi column is a lower "
              f"bound estimated from MACs, not a measurement. Generated by `fmnistedge table` from "
              f"`{Path(json_path).as_posix()}`, written by `{env['command']}`; every format, load times, p95/p99, "
              f"memory and throughput in [{stem}.md]({stem}.md), plot in [{stem}.png]({stem}.png)."]
    return "\n".join(lines)


# Issue 7's targets for our edge family (the issue's numbers, not measurements):
# parameter ceiling, and the minimum accuracy of the shipped int8 TFLite file in percent.
EDGE_TARGETS = {"edge-s": (100_000, 94.0), "edge-r": (100_000, 94.0), "edge-m": (500_000, 95.0)}
SIMILAR_POINTS = 0.5  # a source architecture within this many points counts as "similar accuracy"


def render_targets_markdown(json_path: Path) -> str:
    """Issue 7's targets against a bench file: parameters, int8 TFLite accuracy, and whether the
    edge model's int8 TFLite file is faster at batch 1 than every source architecture of similar
    or lower accuracy (their int8 TFLite files, measured in the same run)."""
    import json

    from fmnistedge.training import zoo

    doc = json.loads(Path(json_path).read_text())
    int8 = {r["arch"]: r for r in doc["rows"] if r["format"] == "tflite-int8" and r["status"] == "ok"}
    sources = {a: r for a, r in int8.items() if a in zoo.ARCHS and zoo.is_source(a)}

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = ["| arch | params (limit) | int8 TFLite acc. (target) | p50 ms int8 TFLite | faster than the source "
             "architectures of similar or lower accuracy | source architectures faster than it |",
             "|---|---:|---:|---:|---|---|"]
    for arch, (max_params, min_acc) in EDGE_TARGETS.items():
        r = int8.get(arch)
        if r is None:
            lines.append(f"| `{arch}` | - | - | - | no int8 TFLite row in this bench file | - |")
            continue
        acc = 100 * r["accuracy"]
        head = (f"| `{arch}` | {r['params']:,} (<= {max_params:,}): {mark(r['params'] <= max_params)} | "
                f"{acc:.2f}% (>= {min_acc:.1f}%): {mark(acc >= min_acc)} | {r['latency_p50_ms']:.3f} | ")
        # In basis points, so a source exactly SIMILAR_POINTS more accurate counts despite float rounding.
        rivals = {a: s for a, s in sources.items()
                  if round(10_000 * s["accuracy"]) <= round(10_000 * r["accuracy"]) + round(100 * SIMILAR_POINTS)}
        if not rivals:
            lines.append(head + "not judged: no source architecture in this bench file | - |")
            continue
        faster = sorted((a for a, s in rivals.items() if s["latency_p50_ms"] <= r["latency_p50_ms"]),
                        key=lambda a: rivals[a]["latency_p50_ms"])
        lines.append(head + f"{len(rivals) - len(faster)} of {len(rivals)}: {mark(not faster)} | "
                     + (", ".join(f"`{a}`" for a in faster) or "none") + " |")
    lines += ["", f"Generated by `fmnistedge table` from `{Path(json_path).as_posix()}` (the shipped int8 TFLite "
              f"files, measured in one run); targets from issue 7; \"similar\" means at most {SIMILAR_POINTS} points "
              f"more accurate."]
    return "\n".join(lines)

"""Results as data, the rendering half: turn the result files under ``results/`` (CSVs
that ``collect`` wrote, JSON files that bench, evaluate and the scripts wrote) into
Markdown tables, and rewrite the generated blocks of a Markdown file with them.

A generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers;
nothing inside it is typed by hand. ``tables.regenerate`` says which block comes from which
file. The edge family's targets (``EDGE_TARGETS``) and the accuracy-parameters plot live
here too: both only read results.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from fmnistedge import fileio
from fmnistedge.errors import FmnistEdgeError

def update_block(markdown_path: Path, name: str, content: str) -> None:
    """Replace the text between the NAME markers in a Markdown file (atomically)."""
    text = Path(markdown_path).read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise FmnistEdgeError(f"{markdown_path} has no '{start}' ... '{end}' block to update")
    new = pattern.sub(lambda _: f"{start}\n{content}\n{end}", text)
    fileio.write_text(markdown_path, new)


def link(target: Path, doc_path: Path | None) -> str:
    """``target`` (a path relative to the working directory, or absolute) as a Markdown link
    from the file ``doc_path``; without a doc, as given."""
    if doc_path is None:
        return Path(target).as_posix()
    return Path(os.path.relpath(Path(target).absolute(), Path(doc_path).absolute().parent)).as_posix()


def render_input_probe_markdown(path: Path) -> str:
    """The ``input-size-probe`` block (scripts/probe_input_size.py's result file): each input
    size's mean scores on the held-out photographers and its top-1 per seed."""
    import numpy as np

    doc = json.loads(Path(path).read_text())
    env, settings, runs = doc["environment"], doc["settings"], doc["runs"]
    first = runs[0]["held_out"]
    lines = [f"{doc['what'][0].upper()}{doc['what'][1:]}: {len(runs)} runs, {settings['epochs']} epochs of "
             f"{settings['steps']} batches of 128 (a {settings['photo_share']:g} share of photos); scored on "
             f"the {first['labelled_photos']} labelled photos ({first['single_photos']} single-label) of the "
             f"photographers photo training holds out (macro over classes). From `{Path(path).as_posix()}`, written "
             f"by `python {doc['command']}` ({env['processor'] or env['machine']}, Keras {env['keras']}).", "",
             "| input | top-1 (macro) | top-3 (macro) | top-1 within the label set | Fashion-MNIST test "
             "| top-1 per seed |",
             "|---|---|---|---|---|---|"]
    for size in sorted({r["size"] for r in runs}):
        rs = [r for r in runs if r["size"] == size]

        def mean(key, rs=rs):
            return 100 * float(np.mean([r["held_out"][key] for r in rs]))

        fm = 100 * float(np.mean([r["fashion_mnist_test_accuracy"] for r in rs]))
        per = ", ".join(f"{100 * r['held_out']['top1_macro']:.1f}" for r in rs)
        lines.append(f"| {size} px | {mean('top1_macro'):.1f}% | {mean('top3_macro'):.1f}% | "
                     f"{mean('set_accuracy'):.1f}% | {fm:.2f}% | {per} |")
    return "\n".join(lines)


def render_kfold_markdown(path: Path) -> str:
    """The ``kfold-photos`` block (scripts/kfold_photos.py's result file): each photo recipe's
    pooled cross-validation scores, per class with photo counts, and the paired differences."""
    doc = json.loads(Path(path).read_text())
    env, recipes = doc["environment"], doc["recipes"]
    classes = list(recipes[0]["per_class"])
    counts = ", ".join(f"{c} {recipes[0]['per_class'][c]['photos']}" for c in classes)
    lines = [f"{doc['what'][0].upper()}{doc['what'][1:]}: {doc['labelled_photos']} labelled photos "
             f"({doc['single_label_photos']} single-label: {counts}) of the whole folder. From `{Path(path).as_posix()}`, written by `{doc['command']}` "
             f"({env.get('cpu') or env.get('machine')}, {env.get('cores')} cores, git {env.get('git_commit')}, "
             f"Keras {(env.get('packages') or {}).get('keras', 'n/a')}).", "",
             "| recipe | runs (top-1 each) | top-1 / top-3 (macro) | in label set | "
             + " | ".join(classes) + " | 'none' rejected (labelled) |",
             "|---|---|---:|---:|" + "---:|" * len(classes) + "---:|"]
    for r in recipes:
        per = " | ".join(f"{100 * r['per_class'][c]['top1']:.0f}%" for c in classes)
        runs = ", ".join(f"{x['fold']}: {100 * x['top1_macro']:.1f}" for x in r["runs"])
        n = r["none_of_these"]
        lines.append(f"| `{r['recipe']}` | {runs} | {100 * r['top1_macro']:.1f}% / {100 * r['top3_macro']:.1f}% | "
                     f"{100 * r['set_acc']:.1f}% | {per} | {100 * n['none_rejected']:.1f}% "
                     f"({100 * n['labelled_rejected']:.1f}%) |")
    for c in doc.get("comparisons", []):
        lo_hi = c.get("interval_95")
        interval = (f" (95% interval over resampled photographers: {100 * lo_hi[0]:+.1f} to {100 * lo_hi[1]:+.1f})"
                    if lo_hi else "")
        lines += ["", f"`{c['recipe']}` against `{c['against']}`, photo by photo: macro top-1 "
                      f"{100 * c['top1_macro_difference']:+.1f} points{interval}; per class "
                  + ", ".join(f"{k} {100 * v:+.0f}" for k, v in c["per_class_difference"].items()) + "."]
    return "\n".join(lines)


def render_seed_markdown(csv_path: Path) -> str:
    """The "reproducing the sources" table: each source architecture against its write-up's figure."""
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


def render_runs_markdown(csv_path: Path) -> str:
    """The edge-family table: every recorded training run, float test accuracy."""
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


def render_photo_runs_markdown(csv_path: Path) -> str:
    """The photo-domain training runs: how photos were mixed in and how each run scored on the
    photographers held out from its training (never on the dev photos)."""
    with open(csv_path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("photo_share")]
    lines = ["| run | photo share | class balance | partial labels | refined labels | 'none' share | 'none' output | mirror average "
             "| epoch kept / run | held-out photos top-1 / top-3 (macro) | in candidate set | 'none' rejected (held out; score) "
             "| test acc. (float) | wall time |",
             "|---|---:|---:|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r['run']}` | {r['photo_share']} | {r.get('photo_balance') or 0.5} | {r['partial']} | {r.get('label_refinements') or 0} | "
                     f"{r['none_share']} | {r['none_output']} | {r.get('flip_average') or 'no'} | "
                     f"{r['best_epoch']} / {r['epochs_run']} | "
                     f"{r['photo_val_top1_macro']}% / {r['photo_val_top3_macro']}% | {r['photo_val_set_acc']}% | "
                     f"{r['photo_val_none_rejected']}% ({r.get('photo_reject_score') or 'top'}) | {r['test_accuracy']}% | "
                     f"{float(r['train_seconds']) / 60:.0f} min |")
    lines += ["", f"Generated by `fmnistedge table` from `{csv_path.as_posix()}` (copies of each run's `train.json` "
              f"in `{csv_path.parent.as_posix()}/runs/`); scores on the photographers each run held out "
              "(the epoch, temperature and threshold were chosen there: the two runs without a 'none' output "
              "kept their epoch by macro top-1, the later ones by the best top-1 within the label set in the "
              "schedule's second half; each run's own labels, so a run with refined labels is scored on "
              "refined labels: the `results/photo-models*.json` files, written by `scripts/compare_photo_models.py`, "
              "compare the candidates on the same photos and labels); 'none' rejected: the share of the held-out "
              "photographers' 'none' photos below the run's threshold, on its score (`top`: the top class "
              "probability; `classes`: the probability of any of the ten classes, for runs that compared both); "
              "commands in the CSV."]
    return "\n".join(lines)


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
    """The real-photo block: the shipped default on the dev photos beside the naive
    baseline and, when ``STEM.before.json`` is there, the model it replaced; per-class rows;
    the "none of these" figures when the model has them."""
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
        from fmnistedge.runtime.openset import SCORE_NAMES

        score = SCORE_NAMES[o.get("reject_score", "top")]
        lines += ["", f"None of these: below a calibrated {score} of {100 * o['reject_below']:.1f}% "
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


def render_photo_summary_markdown(json_path: Path, doc_path: Path | None = None) -> str:
    """The README's short real-photo block: the shipped default's macro top-1/top-3 on the dev
    photos beside the model before photo training (``STEM.before.json``) and the naive baseline,
    per-class top-1, the "none of these" figures, and links (relative to ``doc_path``) to the
    confusion matrix and contact sheets that ``evaluate`` drew. The whole table: ``photo-table``."""
    from fmnistedge.labels import LABELS

    json_path = Path(json_path)
    doc = json.loads(json_path.read_text())
    res, m = doc["results"], doc["model"]
    if "photo" not in res:
        raise FmnistEdgeError(f"{json_path} has no 'photo' results; run 'fmnistedge evaluate' with the photo mode")
    before_path = json_path.with_name(f"{json_path.stem}.before.json")
    before_doc = json.loads(before_path.read_text()) if before_path.is_file() else {}
    before = before_doc.get("results", {}).get("photo")
    if before is not None and set(before["per_class_top1"]) != set(res["photo"]["per_class_top1"]):
        before = None  # another photo set: no column to put beside this one
    now, naive = res["photo"], res.get("naive")
    cols = [("now", now)] + ([("before", before)] if before else []) + ([("naive", naive)] if naive else [])
    text = (f"`{m['arch']}` on {now['items']} casual photos no model was trained on "
            f"(`{doc['photos']}`): right first for **{100 * now['macro_top1']:.1f}%**, in its top three for "
            f"{100 * now['macro_top3']:.1f}% (mean over the classes)")
    if before:
        trained_on_photos = (before_doc.get("model") or {}).get("photo_training")
        text += (f"; {'the model shipped before' if trained_on_photos else 'before photo training'} "
                 f"{100 * before['macro_top1']:.1f}%")
    if naive:
        text += f"; naive resize {100 * naive['macro_top1']:.1f}%"
    lines = [text + ".", "", "| class | photos | " + " | ".join(k for k, _ in cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    counts = [sum(row) for row in now["confusion_matrix"]]
    for c, label in enumerate(LABELS):
        if label in now["per_class_top1"]:
            lines.append(f"| {label} | {counts[c]} | "
                         + " | ".join(f"{100 * r['per_class_top1'][label]:.0f}%" for _, r in cols) + " |")
    o = doc.get("open_set")
    tail = []
    if o and o.get("none_rejected") is not None:
        tail.append(f"Of {o['none_photos']} held-out training photos of other garments, "
                    f"{100 * o['none_rejected']:.1f}% answered `unknown` ({100 * o['dev_wrongly_rejected']:.1f}% "
                    "of the above).")
    stem = json_path.with_suffix("")
    pictures = [(f"{stem}.photo.confusion.png", "confusion matrix"), (f"{stem}.photo.contact.png", "what it saw"),
                (f"{stem}.before.photo.contact.png", "before")]
    found = [f"[{name}]({link(Path(path), doc_path)})" for path, name in pictures if Path(path).is_file()]
    if found:
        tail.append(" · ".join(found) + ".")
    tail.append(f"From `{json_path.as_posix()}`; in full: "
                f"[results]({link(Path('docs/results.md'), doc_path)}#real-photos).")
    return "\n".join(lines + ["", " ".join(tail)])


def render_coldstart_markdown(json_path: Path) -> str:
    """The cold-start sentence: one image classified in a fresh process, against the floor."""
    d = json.loads(Path(json_path).read_text())
    env = d["environment"]
    med, cpu = d.get("median_s", {}), d.get("median_cpu_s", {})
    text = (f"Cold start, classifying one image in a fresh process (median of {d['runs']} interleaved runs): "
            f"**{d['runtime_median_s']:.2f} s** with `fmnistedge classify`")
    if "litert" in med:
        text += (f", {d['runtime_vs_litert']:.2f}x the wall time and {d['runtime_vs_litert_cpu']:.2f}x the CPU time "
                 f"({cpu['runtime']:.2f} vs {cpu['litert']:.2f} s) of a ten-line LiteRT script classifying the "
                 "same file without segmentation (the floor)")
    if "litert_1_blas_thread" in med:
        text += (f"; {d['runtime_vs_litert_1_blas_thread']:.2f}x the wall time and "
                 f"{d['runtime_vs_litert_1_blas_thread_cpu']:.2f}x the CPU time "
                 f"({cpu['runtime']:.2f} vs {cpu['litert_1_blas_thread']:.2f} s) of that script run with one "
                 "OpenBLAS thread, as fmnistedge runs NumPy")
    if "litert_typer_opencv" in med:
        text += (f" (that script only importing Typer and OpenCV as well takes "
                 f"{d['typer_opencv_floor_vs_litert_1_blas_thread']:.2f}x its wall time and "
                 f"{d['typer_opencv_floor_vs_litert_1_blas_thread_cpu']:.2f}x its CPU time: the least a classify "
                 "that keeps Typer and segments with OpenCV can take)")
    if d.get("tensorflow_median_s"):
        text += (f"; **{d['tensorflow_median_s']:.2f} s** through TensorFlow/Keras, **{d['speedup']:.1f}x** "
                 "the runtime's")
    return text + (f"; measured by `python scripts/bench_coldstart.py` on {env['cpu']} ({env['cores']} cores) "
                   f"(`{Path(json_path).as_posix()}`).")


def _load_swap(swap_json: Path | None) -> dict | None:
    """The document ``scripts/bench_swap.py`` wrote (its path under ``"_path"``), or None when
    there is none; a damaged one is a one-line error naming the file."""
    if swap_json is None or not Path(swap_json).is_file():
        return None
    try:
        doc = json.loads(Path(swap_json).read_text())
        swap, env = doc["swap"], doc["environment"]
        for key in ("arch", "old_rev", "old", "new", "p50_ratio_new_to_old"):
            swap[key]
        env["cpu"], env["command"], doc["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FmnistEdgeError(f"{swap_json} is not a file scripts/bench_swap.py wrote ({type(exc).__name__}: "
                              f"{exc}); write it again or remove it") from None
    return {**doc, "_path": Path(swap_json)}


def _swap_ratio(swap: dict | None, arch: str, benched: dict | None, shipped: dict | None,
                fmt: str = "tflite-int8") -> float | None:
    """The p50 ratio of ``arch``'s shipped ``fmt`` file (its manifest entry ``shipped``) to the
    file of the bench row ``benched``, when that row measured another file (another size) and
    the swap document timed exactly those two side by side (by size and sha256)."""
    if swap is None or swap["swap"]["arch"] != arch or not benched or not shipped:
        return None
    old_bytes, new_sha256 = benched.get("bytes"), shipped.get("sha256")
    if old_bytes is None or new_sha256 is None or old_bytes == shipped.get("bytes"):
        return None
    old, new = swap["swap"]["old"].get(fmt, {}), swap["swap"]["new"].get(fmt, {})
    if old.get("bytes") != old_bytes or new.get("sha256") != new_sha256 or old.get("sha256") == new_sha256:
        return None
    return swap["swap"]["p50_ratio_new_to_old"].get(fmt)


def _swap_caption(swap: dict, bench_cpu: str | None = None) -> str:
    s, env, path = swap["swap"], swap["environment"], _shown(swap["_path"])
    ratios = sorted(s["p50_ratio_new_to_old"].values())
    if not ratios:
        return f"measured on the `{s['arch']}` file shipped at {s['old_rev']}; `{path}` timed no format"
    spread = f"{ratios[0]:.2f}" if f"{ratios[0]:.2f}" == f"{ratios[-1]:.2f}" else f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
    other = f" (this table: {bench_cpu})" if bench_cpu and bench_cpu != env["cpu"] else ""
    return (f"measured on the `{s['arch']}` file shipped at {s['old_rev']} (same network, earlier weights); side "
            f"by side on {env['cpu']}{other}, the shipped file's p50 is {spread}x the earlier file's in the "
            f"{len(ratios)} formats timed (`{path}`)")


def _replaced(doc: dict, swap_json: Path | None, models_dir: Path | None = None) -> tuple[str | None, str]:
    """(arch, caption) when ``swap_json`` timed the int8 TFLite file shipped now (in ``models_dir``,
    default the package's) of an architecture whose row in the bench document ``doc`` is the
    earlier file it replaced; (None, "") otherwise."""
    from fmnistedge import manifest

    swap = _load_swap(swap_json)
    if swap is None:
        return None, ""
    arch = swap["swap"]["arch"]
    if models_dir is None:
        from fmnistedge.runtime.models import shipped_dir

        models_dir = shipped_dir()
    arch_dir = Path(models_dir) / str(arch)
    shipped = ((manifest.load(arch_dir) if arch_dir.is_dir() else None) or {}).get("files", {}).get("model_int8.tflite")
    benched = next((r for r in doc["rows"] if r["arch"] == arch and r["format"] == "tflite-int8"), None)
    if _swap_ratio(swap, arch, benched, shipped) is None:
        return None, ""
    new = next((r for r in swap["rows"] if r["arch"] == arch and r["format"] == "tflite-int8"), {})
    acc = f"; the shipped int8 TFLite file's accuracy: {100 * new['accuracy']:.2f}%" if new.get("accuracy") else ""
    return arch, f"† {_swap_caption(swap, doc['environment'].get('cpu'))}{acc}."


def render_bench_markdown(json_path: Path, doc_path: Path | None = None, swap_json: Path | None = None,
                          models_dir: Path | None = None) -> str:
    """Per architecture: accuracy and batch-1 p50 of the edge formats vs the Keras baselines.
    Links to the bench's own Markdown and plot are relative to ``doc_path``'s folder (the
    Markdown file the block goes into; default: the working directory). An architecture
    shipped again since the run (``swap_json``, :func:`_replaced`) is marked †."""
    doc = json.loads(Path(json_path).read_text())
    rows: dict[str, dict[str, dict]] = {}
    for r in doc["rows"]:
        rows.setdefault(r["arch"], {})[r["format"]] = r
    replaced, note = _replaced(doc, swap_json, models_dir)

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
        lines.append(f"| `{arch}`{'†' if arch == replaced else ''} | {params} | {macs} | {acc} | {p50(int8)} | {p50(f.get('tflite-fp32'))} | "
                     f"{p50(f.get('onnx-int8'))} | {p50(f.get('onnx-fp32'))} | {p50(ref)} | {speed} | {pi5} |")
    env, s = doc["environment"], doc["settings"]
    stem = Path(json_path).with_suffix("").as_posix()
    md, png = (link(Path(f"{stem}{ext}"), doc_path) for ext in (".md", ".png"))
    lines += ["", f"Batch-1 latency p50 of the classify path, {s['threads']} thread(s), {s['runs']} interleaved runs "
              f"after {s['warmup']} warm-up runs, on {env['cpu']} ({env['cores']} cores); the Pi column is a lower "
              f"bound estimated from MACs, not a measurement. Generated by `fmnistedge table` from "
              f"`{Path(json_path).as_posix()}`, written by `{env['command']}`; every format, load times, p95/p99, "
              f"memory and throughput in [{stem}.md]({md}), plot in [{stem}.png]({png})." + (f" {note}" if note else "")]
    return "\n".join(lines)


# The edge family's design targets (goals set before training, not measurements):
# parameter ceiling, and the minimum accuracy of the shipped int8 TFLite file in percent.
EDGE_TARGETS = {"edge-s": (100_000, 94.0), "edge-r": (100_000, 94.0), "edge-m": (500_000, 95.0)}
SIMILAR_POINTS = 0.5  # a source architecture within this many points counts as "similar accuracy"


def render_targets_markdown(json_path: Path, swap_json: Path | None = None, models_dir: Path | None = None) -> str:
    """The edge family's targets against a bench file: parameters, int8 TFLite accuracy, and whether the
    edge model's int8 TFLite file is faster at batch 1 than every source architecture of similar
    or lower accuracy (their int8 TFLite files, measured in the same run)."""
    from fmnistedge.training import zoo

    doc = json.loads(Path(json_path).read_text())
    int8 = {r["arch"]: r for r in doc["rows"] if r["format"] == "tflite-int8" and r["status"] == "ok"}
    replaced, note = _replaced(doc, swap_json, models_dir)
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
        head = (f"| `{arch}`{'†' if arch == replaced else ''} | {r['params']:,} (<= {max_params:,}): {mark(r['params'] <= max_params)} | "
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
    lines += ["", f"Generated by `fmnistedge table` from `{Path(json_path).as_posix()}` (the int8 TFLite files "
              f"of every architecture, measured in one run); targets from `EDGE_TARGETS` in `fmnistedge/measure/render.py`; \"similar\" means at most {SIMILAR_POINTS} points "
              f"more accurate." + (f" {note}" if note else "")]
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
        # run so the names stay readable (the edge table lists every run).
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
    for arch, target in EDGE_TARGETS.items():
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


def render_shipped_markdown(bench_json: Path, photos_json: Path | None = None,
                            models_dir: Path | None = None, swap_json: Path | None = None) -> str:
    """One row per shipped model, its int8 TFLite file: size and accuracy on the 10,000 test
    images as verified when it was exported (its ``manifest.json``), parameters and batch-1 p50
    from ``bench_json`` (a bench run over the shipped files) and, for the file that
    ``photos_json`` (an ``evaluate --photos`` run) measured, macro top-1 on those photos.
    A figure measured on another file than the one shipped is marked (bench rows record a file's
    size, not its sha256: a new file of the very same size would go unmarked);
    a p50 whose shipped file ``swap_json`` timed side by side with the benched one carries that ratio."""
    from fmnistedge import manifest

    if models_dir is None:
        from fmnistedge.runtime.models import shipped_dir

        models_dir = shipped_dir()
    models_dir = Path(models_dir)
    bench = json.loads(Path(bench_json).read_text())
    swap = _load_swap(swap_json)
    timed = {r["arch"]: r for r in bench["rows"] if r["format"] == "tflite-int8" and r["status"] == "ok"}
    photos = json.loads(Path(photos_json).read_text()) if photos_json and Path(photos_json).is_file() else None
    default_file = models_dir / "default.json"
    default = json.loads(default_file.read_text())["arch"] if default_file.is_file() else None
    shipped = {}
    for sub in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        doc = manifest.load(sub)
        entry = (doc or {}).get("files", {}).get("model_int8.tflite")
        if entry and entry.get("verified"):
            shipped[doc["arch"]] = doc
    if not shipped:
        raise FmnistEdgeError(f"No shipped model with a verified model_int8.tflite under {models_dir}")
    order = sorted(shipped, key=lambda a: (a != default, -shipped[a]["files"]["model_int8.tflite"]["test_accuracy"]))
    earlier = swapped = False
    lines = ["| model | params | int8 TFLite file | test acc. | p50 ms (batch 1) | real photos top-1 (macro) |",
             "|---|---:|---:|---:|---:|---:|"]
    for arch in order:
        entry = shipped[arch]["files"]["model_int8.tflite"]
        r = timed.get(arch)
        p50 = "-" if r is None else f"{r['latency_p50_ms']:.2f}"
        if r is not None and r.get("bytes") != entry["bytes"]:
            ratio = _swap_ratio(swap, arch, r, entry)
            p50 += "*" if ratio is None else "†"
            earlier |= ratio is None
            swapped |= ratio is not None
        photo = "-"
        if photos and photos["model"]["arch"] == arch and photos["model"]["file"] == "model_int8.tflite":
            same = photos["model"].get("sha256") == entry["sha256"]
            photo = f"{100 * photos['results']['photo']['macro_top1']:.1f}%" + ("" if same else "*")
            earlier |= not same
        name = f"**`{arch}`** (default)" if arch == default else f"`{arch}`"
        params = f"{r['params']:,}" if r and r.get("params") else "-"
        lines.append(f"| {name} | {params} | {entry['bytes'] / 1024:.0f} KiB | {100 * entry['test_accuracy']:.2f}% "
                     f"| {p50} | {photo} |")
    others = [f"`{a}`: " + ", ".join(f"`{f}`" for f in shipped[a]["files"] if f != "model_int8.tflite")
              for a in order if len(shipped[a]["files"]) > 1]
    env, s = bench["environment"], bench["settings"]
    text = (f"Size and test accuracy from each model's `manifest.json` (verified on the 10,000 test images); "
            f"p50 from `{Path(bench_json).as_posix()}` ({s['threads']} thread(s), {env['cpu']}, {env['cores']} cores)")
    if photos:
        text += (f"; real photos from `{Path(photos_json).as_posix()}` ({photos['results']['photo']['items']} "
                 "photos never trained on)")
    text += ". Generated by `fmnistedge table`."
    if others:
        text += " Also shipped: " + "; ".join(others) + "."
    if earlier:
        text += " \\* measured on an earlier file of that architecture, not the one shipped now."
    if swapped:
        text += " † " + _swap_caption(swap, env["cpu"]) + "."
    return "\n".join(lines + ["", text])


def _shown(path: Path) -> str:
    """A result file's path as a caption names it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def render_photo_speed_markdown(json_path: Path) -> str:
    """The photo-speed sentence: classify's CPU per photo with the default segmentation against
    ``--segment grabcut``, and the accuracy difference (from ``scripts/bench_photos.py``'s file)."""
    d = json.loads(Path(json_path).read_text())
    med = d["median_cpu_ms_per_photo"]
    return (f"Photos: `fmnistedge classify` spends **{med['fast']:.1f} ms** of CPU per photo over {d['count']} dev "
            f"photos with the default segmentation, {d['cost_ratio_fast_to_grabcut']:.2f}x the "
            f"{med['grabcut']:.1f} ms of `--segment grabcut`, at {d['top1_delta_points']:+.1f} top-1 and "
            f"{d['top3_delta_points']:+.1f} top-3 points (measured by `python scripts/bench_photos.py`, "
            f"`{_shown(json_path)}`).")


def render_scan_speed_markdown(json_path: Path) -> str:
    """One line per frame size from ``scripts/bench_scan.py``'s file: the default path against
    GrabCut on the worst clip, and the Pi 4 estimate (the slow-down factors the file used)."""
    doc = json.loads(Path(json_path).read_text())
    lines = []
    for size in doc["sizes"]:
        rows = [r for k, r in doc["comparison"].items() if k.endswith(" " + size) and "background" in r]
        if not rows:
            continue
        ratio = max(r["background"]["ratio_to_grabcut"] for r in rows)
        bg = max(r["background"]["garment_ms"] for r in rows)
        gc = min(r["grabcut"]["garment_ms"] for r in rows)
        empty = max(r["background"]["empty_ms"] for r in rows)
        with_capture = max(r["background"]["garment_with_capture_ms"] for r in rows)
        missed = [k.rsplit(" ", 1)[0] for k, r in doc["comparison"].items()
                  if k.endswith(" " + size) and "background" in r and not r["background"]["items_ok"]]
        lo, hi = sorted(int(k.lstrip("x")) for k in rows[0]["background"]["pi4_fps_estimate"])
        lines.append(f"- {size}: **{bg:.1f} ms** CPU per garment frame with the default `--segment background` "
                     f"against {gc:.1f} ms or more along GrabCut (at most **{ratio:.2f}x**, worst of {len(rows)} clips), "
                     f"{empty:.1f} ms per empty frame; "
                     + ("every clip's items exactly as expected" if not missed else
                        f"items NOT as expected on {', '.join(missed)}")
                     + "; a Pi 4 would scan at roughly "
                     f"{1000 / (with_capture * hi):.0f}-{1000 / (with_capture * lo):.0f} FPS "
                     f"(estimate: this CPU's time, capture included, x{lo}-x{hi}).")
    env = doc["environment"]
    lines.append(f"\nMeasured by `{doc['command']}` on {env.get('cpu')} ({env.get('cores')} cores); per stage, "
                 f"path and clip in docs/scan.md and `{_shown(json_path)}`.")
    return "\n".join(lines)

"""``fmnistedge report``: pictures and a Markdown page per architecture, and a zoo overview.

Everything comes from files the project's commands wrote (``train.json``,
``manifest.json``, a bench JSON) plus predictions of the trained model and its
exported files on the 10k test set; nothing is typed by hand. A page is built
in a temporary folder and renamed into place, so an interrupted report leaves
the previous one intact.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from fmnistedge import manifest
from fmnistedge.errors import FmnistEdgeError
from fmnistedge.labels import LABELS
from fmnistedge.measure import reportfigs
from fmnistedge.runtime.preprocess import to_model_input
from fmnistedge.training import data
from fmnistedge.training.train import evaluate_probs
from fmnistedge.trainlog import load as load_record

TSNE_ITEMS = 1000  # t-SNE on a class-stratified subset, 500 iterations: seconds instead of minutes
TSNE_MIN_ITEMS = 50  # more than t-SNE's perplexity (30) and the 50 PCA components before it
GALLERY = 24


def precision_recall(cm: np.ndarray) -> list[dict]:
    """Per class precision, recall, F1 and support from a confusion matrix (rows = true)."""
    rows = []
    for i, label in enumerate(LABELS):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i].sum() if cm[i].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append({"label": label, "precision": float(prec), "recall": float(rec), "f1": float(f1),
                     "support": int(cm[i].sum())})
    return rows


def _features_and_probs(model_path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import keras

    from fmnistedge.export.pipeline import load_keras

    model = load_keras(model_path)
    from fmnistedge.training.mirror import penultimate

    feature_model = keras.Model(model.inputs, penultimate(model))  # the penultimate activations
    feats = feature_model.predict(x, batch_size=1000, verbose=0)
    probs = model.predict(x, batch_size=1000, verbose=0)
    return feats.reshape(len(x), -1), probs


def _embed(feats: np.ndarray, y: np.ndarray, tsne_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    pca = PCA(n_components=2, random_state=0).fit_transform(feats)
    sub = data.stratified_sample(y, tsne_items, seed=0)
    start = PCA(n_components=min(50, feats.shape[1]), random_state=0).fit_transform(feats[sub])
    # One OpenMP thread: t-SNE's 500 iterations each wait at OpenMP barriers, which stall for
    # whole time slices whenever another process holds a core (on a busy 2-core machine,
    # 300 items took 22.5 s on two threads and 1.3 s on one).
    with threadpool_limits(1, user_api="openmp"):
        tsne = TSNE(n_components=2, random_state=0, init="pca", perplexity=30, max_iter=500).fit_transform(start)
    return pca, tsne, sub


def _gallery_picks(y: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> tuple[list[int], list[int]]:
    """Wrong ones from the most frequent confusions first (most confident first), and right ones."""
    wrong = np.flatnonzero(pred != y)
    pairs: dict[tuple[int, int], list[int]] = {}
    for i in wrong:
        pairs.setdefault((int(y[i]), int(pred[i])), []).append(int(i))
    ordered = [sorted(v, key=lambda i: -conf[i]) for _, v in sorted(pairs.items(), key=lambda kv: -len(kv[1]))]
    picks_wrong: list[int] = []
    depth = 0
    while len(picks_wrong) < GALLERY and any(depth < len(v) for v in ordered):
        picks_wrong += [v[depth] for v in ordered if depth < len(v)][: GALLERY - len(picks_wrong)]
        depth += 1
    right = [int(np.flatnonzero((pred == y) & (y == c))[0]) for c in range(10) if ((pred == y) & (y == c)).any()]
    return picks_wrong, right


def _file_matrices(arch_dir: Path, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    from fmnistedge.runtime.backends import open_backend, predict_all

    doc = manifest.load(arch_dir) or {"files": {}}
    out = {}
    for name in sorted(doc["files"], key=lambda n: doc["files"][n]["key"]):
        if (arch_dir / name).is_file():
            probs = predict_all(open_backend(arch_dir / name), x)
            out[doc["files"][name]["key"]] = np.array(evaluate_probs(y, probs)["confusion_matrix"])
    return out


def arch_report(arch_dir: Path, out_dir: Path, tsne_items: int = TSNE_ITEMS) -> dict:
    """Write OUT_DIR/ARCH/index.md and its figures; return the page's key numbers.

    ``tsne_items``: the size of the t-SNE subset (tests pass a small one; t-SNE is most of a
    report's time).
    """
    if tsne_items < TSNE_MIN_ITEMS:
        raise ValueError(f"tsne_items must be at least {TSNE_MIN_ITEMS}. Received: tsne_items={tsne_items}")
    train_json = arch_dir / "train.json"
    if not (arch_dir / "model.keras").is_file() or not train_json.is_file():
        raise FmnistEdgeError(f"{arch_dir.name} has not been trained (no model.keras and train.json in "
                              f"{arch_dir}); run 'fmnistedge train {arch_dir.name}' first")
    rec = load_record(train_json)
    arch = rec["arch"]
    x_u8, y = data.load_split("test")
    x = to_model_input(x_u8)
    feats, probs = _features_and_probs(arch_dir / "model.keras", x)
    pred, conf = probs.argmax(1), probs.max(1)
    cm = np.array(rec["confusion_matrix"])
    out_dir.mkdir(parents=True, exist_ok=True)
    t = Path(tempfile.mkdtemp(prefix=f".{arch}-partial-", dir=out_dir))
    t.chmod(0o755)  # mkdtemp makes 0700; a report folder should read like any other
    try:
        reportfigs.curves(rec["history"], rec.get("best_epoch"), f"{arch}: training curves", t / "curves.png")
        reportfigs.confusion(cm, f"{arch}: confusion on the 10k test set", t / "confusion.png")
        reportfigs.per_class_bars(rec["per_class_accuracy"], f"{arch}: per-class test accuracy", t / "per_class.png")
        wrong, right = _gallery_picks(y, pred, conf)
        reportfigs.gallery(x_u8, y, pred, conf, wrong, f"{arch}: wrong, most frequent confusions first",
                           t / "errors.png")
        reportfigs.gallery(x_u8, y, pred, conf, right, f"{arch}: right, one per class", t / "correct.png", cols=10)
        pca, tsne, sub = _embed(feats, y, tsne_items)
        reportfigs.embeddings(pca, tsne, y, y[sub], f"{arch}: penultimate-layer features", t / "embedding.png")
        files = _file_matrices(arch_dir, x, y)
        if files:
            reportfigs.confusion_grid(files, cm, f"{arch}: exported files vs Keras", t / "exported.png")
        (t / "index.md").write_text(_page(rec, precision_recall(cm), files, cm, len(sub)))
        summary = {"arch": arch, "params": rec["params"], "macs": rec["macs"],
                   "test_accuracy": rec["test_accuracy"], "reported_accuracy": rec.get("reported_accuracy"),
                   "files": {k: float(np.trace(m) / m.sum()) for k, m in files.items()}}
        (t / "summary.json").write_text(json.dumps(summary, indent=1))
        _swap_in(t, out_dir / arch)
    finally:
        shutil.rmtree(t, ignore_errors=True)
    return summary


def _swap_in(new: Path, final: Path) -> None:
    """Replace ``final`` with the finished folder ``new`` (the old page survives any failure before)."""
    old = final.with_name(f".{final.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _page(rec: dict, pr: list[dict], files: dict[str, np.ndarray], cm: np.ndarray, tsne_items: int) -> str:
    arch = rec["arch"]
    env = rec["environment"]
    lines = [
        f"# {arch}", "",
        f"{rec['family']} family; source: {rec['source']}. {rec['params']:,} parameters, "
        f"{rec['macs']:,} MACs per image.", "",
        f"Test accuracy (10,000 images): **{100 * rec['test_accuracy']:.2f}%**"
        + (f"; the source reported {rec['reported_accuracy']:.2f}%." if rec.get("reported_accuracy") else "."),
        f"Trained {rec['epochs_run']} of {rec['epochs_requested']} epochs (best validation epoch "
        f"{rec.get('best_epoch')}), seed {rec['seed']}, {rec['train_seconds']:.0f} s, by `{env['command']}` "
        f"on {env['cpu']} with TensorFlow {env['packages'].get('tensorflow')}.", "",
        "## Training curves", "", "![curves](curves.png)", "",
        "The dashed line marks the epoch with the best validation accuracy; where validation stops "
        "improving while training accuracy keeps rising, the model starts to overfit.", "",
        "## Confusion matrix", "", "![confusion](confusion.png)", "", "![per-class accuracy](per_class.png)", "",
        "## Precision, recall, F1", "",
        "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['label']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['support']} |"
              for r in pr]
    lines += ["", "## Gallery", "", "![errors](errors.png)", "", "![correct](correct.png)", "",
              "## Embedding", "",
              f"Penultimate-layer features of the test set: PCA of all 10,000 images; t-SNE of a "
              f"class-stratified {tsne_items}-image subset (seeded, 500 iterations).", "", "![embedding](embedding.png)", ""]
    if files:
        lines += ["## Exported files", "", "| file | test accuracy | changed predictions vs Keras' matrix |",
                  "|---|---:|---:|"]
        for key, m in files.items():
            lines.append(f"| {key} | {100 * np.trace(m) / m.sum():.2f}% | {int(np.abs(m - cm).sum() // 2)} |")
        lines += ["", "![exported](exported.png)", ""]
    return "\n".join(lines)


def _pct(value: float | None, scale: float = 100.0) -> str:
    return "-" if value is None else f"{scale * value:.2f}%"


def overview(out_dir: Path, bench_json: Path | None) -> None:
    """OUT_DIR/index.md: one row per report page in OUT_DIR (zoo order), from their summary.json."""
    from fmnistedge import fileio
    from fmnistedge.training import zoo

    order = {n: i for i, n in enumerate(zoo.ARCHS)}
    summaries = sorted((json.loads(p.read_text()) for p in out_dir.glob("*/summary.json")),
                       key=lambda s: order.get(s["arch"], 1_000))

    latency = {}
    if bench_json is not None and bench_json.is_file():
        for r in json.loads(bench_json.read_text())["rows"]:
            if r["status"] == "ok" and r["format"] == "tflite-int8":
                latency[r["arch"]] = r["latency_p50_ms"]
    lines = ["# Model reports", "",
             "| arch | params | MACs | test acc. | int8 TFLite acc. | batch-1 p50 (int8 TFLite) | source acc. |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        arch = s["arch"]
        lat = f"{latency[arch]:.3f} ms" if arch in latency else "-"
        lines.append(f"| [{arch}]({arch}/index.md) | {s['params']:,} | {s['macs']:,} | {_pct(s['test_accuracy'])} | "
                     f"{_pct(s['files'].get('tflite-int8'))} | {lat} | {_pct(s['reported_accuracy'], 1.0)} |")
    source = f" and `{bench_json.as_posix()}`" if latency else ""
    lines += ["", f"Generated by `fmnistedge report` from each architecture's train.json, manifest.json{source}."]
    fileio.write_text(out_dir / "index.md", "\n".join(lines) + "\n")


def report_all(dirs: list[Path], out: Path, bench_json: Path | None, progress=None) -> None:
    """A report page per trained folder of ``dirs`` and the overview ``OUT/index.md``. Needs
    the 'report' extra (matplotlib, scikit-learn) and the 'train' extra (the Keras models)."""
    import importlib.util

    from fmnistedge.errors import MissingExtraError
    from fmnistedge.fileio import ensure_writable_dir
    from fmnistedge.progress import stepper
    from fmnistedge.training.train import require_keras

    for module, package in (("matplotlib", "matplotlib"), ("sklearn", "scikit-learn")):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(package, "report", "Reports")
    require_keras("Reports (they load the Keras models)")
    ensure_writable_dir(out)
    step = stepper(progress, "report", len(dirs))
    for d in dirs:
        step(d.name, advance=0)
        arch_report(d, out)
        step()
    overview(out, bench_json)

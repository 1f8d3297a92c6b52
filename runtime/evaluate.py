"""Measure a model on labelled real photos (and on the Fashion-MNIST test set).

Real photos are read where they live (e.g. ``../shared/realphotos-dev`` with its
``labels.csv``: ``path,label_index,label_name,...``), run through the one
preprocessing pipeline, and scored: top-1 and top-3 over all photos and
macro-averaged over the classes present, per-class accuracy and a confusion
matrix. The naive baseline (plain resize + negate) is scored beside it.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
from fmnistedge.runtime.backends import input_size, quiet_native_stderr
from fmnistedge.runtime.preprocess import prepare_image, to_model_input

from fmnistedge.errors import FmnistEdgeError
from fmnistedge.labels import LABELS, NUM_CLASSES


def read_labels(photo_dir: Path, labels_csv: Path | None = None) -> list[tuple[Path, int]]:
    photo_dir = Path(photo_dir)
    labels_csv = Path(labels_csv) if labels_csv else photo_dir / "labels.csv"
    if not labels_csv.is_file():
        raise FmnistEdgeError(f"No labels file {labels_csv}; expected a CSV with columns path,label_index")
    try:
        with open(labels_csv, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except UnicodeDecodeError as exc:
        raise FmnistEdgeError(f"{labels_csv} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              f"save it as UTF-8") from None
    except csv.Error as exc:
        raise FmnistEdgeError(f"{labels_csv} is not a readable CSV file: {exc}") from None
    if not rows or not {"path", "label_index"} <= set(rows[0]):
        raise FmnistEdgeError(f"{labels_csv} needs the columns path,label_index")
    items = []
    for line, r in enumerate(rows, start=2):
        try:
            label = int(r["label_index"])
        except (TypeError, ValueError):
            label = -1
        if not 0 <= label < NUM_CLASSES or not r.get("path"):
            raise FmnistEdgeError(f"{labels_csv} line {line}: needs a path and a label_index 0-9. "
                                  f"Received: path={r.get('path')!r}, label_index={r.get('label_index')!r}")
        # A relative path must stay in the folder (no ../../etc/passwd from a downloaded
        # labels.csv); checked lexically, as a photo may be a symlink into a shared collection.
        # An absolute path is the CSV's author's explicit choice (a --labels file may list
        # photos anywhere) and is kept.
        rel = os.path.relpath(os.path.normpath(photo_dir / r["path"]), os.path.normpath(photo_dir))
        if not Path(r["path"]).is_absolute() and (rel == ".." or rel.startswith(".." + os.sep)):
            raise FmnistEdgeError(f"{labels_csv} line {line}: path {r['path']!r} is outside {photo_dir}; "
                                  "a relative path must stay inside the photo folder")
        items.append((photo_dir / r["path"], label))
    return items


def confusion_matrix(y_true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """10x10 counts, rows = true class, columns = predicted class."""
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(pred, np.int64)), 1)
    return cm


def photo_set_metrics(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Scores on photos with target sets (N, 10 of 0/1): ``top1_macro`` and ``top3_macro``
    over the single-label photos, macro over the classes present, and ``set_acc``:
    the share of labelled photos (single or partial) whose top-1 is in their set."""
    sizes = targets.sum(1)
    single = sizes == 1
    y = targets[single].argmax(1)
    order = np.argsort(-probs[single], axis=1, kind="stable")
    hit1, hit3 = order[:, 0] == y, (order[:, :3] == y[:, None]).any(1)
    present = np.unique(y)
    out = {
        "top1_macro": float(np.mean([hit1[y == c].mean() for c in present])) if len(present) else 0.0,
        "top3_macro": float(np.mean([hit3[y == c].mean() for c in present])) if len(present) else 0.0,
    }
    labelled = sizes > 0
    top = probs[labelled].argmax(1)
    out["set_acc"] = float(targets[labelled][np.arange(len(top)), top].mean()) if labelled.any() else 0.0
    return out


def rejection_curve(known_conf: np.ndarray, none_conf: np.ndarray, points: int = 101) -> list[dict]:
    """For thresholds on the (calibrated) score of the "none" decision (the top probability, or
    ``openset.OpenSet.score``), the share of in-set photos wrongly rejected and the share of
    "none" photos rejected (conf < threshold)."""
    grid = np.unique(np.concatenate([np.linspace(0.1, 1.0, points), known_conf, none_conf]))
    grid = grid[(grid >= 0.1) & (grid <= 1.0)]
    if len(grid) > points:
        grid = np.quantile(grid, np.linspace(0, 1, points))
    return [{"threshold": float(t), "known_rejected": float((known_conf < t).mean()) if len(known_conf) else 0.0,
             "none_rejected": float((none_conf < t).mean()) if len(none_conf) else 0.0} for t in grid]


def choose_threshold(known_conf: np.ndarray, budget: float) -> float:
    """The largest threshold that rejects at most ``budget`` of ``known_conf`` (conf < t)."""
    if not len(known_conf) or budget <= 0:
        return 0.0
    ranked = np.sort(known_conf)
    k = int(np.floor(budget * len(ranked)))  # at most k rejected
    return float(ranked[k]) if k < len(ranked) else 1.0


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy (Guo et al., 2017)."""
    conf, hit = probs.max(1), probs.argmax(1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.mean() * abs(float(hit[sel].mean()) - float(conf[sel].mean()))
    return float(total)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities as softmax(log(p) / T) (temperature scaling on the model's output)."""
    logits = np.log(np.clip(probs, 1e-7, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature that minimizes the negative log-likelihood (Guo et al., 2017), by grid search."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 300))
    rows = np.arange(len(y_true))

    def nll(t: float) -> float:
        return float(-np.mean(np.log(np.clip(apply_temperature(probs, t)[rows, y_true], 1e-12, 1.0))))

    return float(min(grid, key=nll))


def score(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Top-1/top-3 (overall and macro over present classes), per-class accuracy, confusion matrix."""
    pred = probs.argmax(1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    hit1 = pred == y_true
    hit3 = (top3 == y_true[:, None]).any(axis=1)
    cm = confusion_matrix(y_true, pred)
    present = [c for c in range(NUM_CLASSES) if (y_true == c).any()]
    per1 = {LABELS[c]: float(hit1[y_true == c].mean()) for c in present}
    per3 = {LABELS[c]: float(hit3[y_true == c].mean()) for c in present}
    return {
        "items": int(len(y_true)),
        "top1": float(hit1.mean()), "top3": float(hit3.mean()),
        "macro_top1": float(np.mean(list(per1.values()))),
        "macro_top3": float(np.mean(list(per3.values()))),
        "per_class_top1": per1, "per_class_top3": per3,
        "mean_confidence": float(probs.max(1).mean()),
        "ece": expected_calibration_error(y_true, probs),
        "confusion_matrix": cm.tolist(),
    }


def evaluate_photos(
    items: list[tuple[Path, int]], backend, mode: str = "photo",
    tick: Callable[[], None] = lambda: None, segment: str | None = None,
) -> tuple[dict, np.ndarray]:
    """Preprocess every photo with ``mode`` (and segmentation path ``segment``) and score the model's guesses.

    Returns the result (JSON-ready) and the preprocessed images the model saw (28x28, or the model's size),
    in the order of ``result["predictions"]``.
    """
    images, labels, failures, paths = [], [], [], []
    prep_ms = []
    for path, label in items:
        start = time.perf_counter()
        try:
            with quiet_native_stderr():  # libtiff and other C decoders write to fd 2
                img, _ = prepare_image(path, mode, segment, input_size(backend))
        except FmnistEdgeError as exc:
            failures.append({"path": str(path), "error": str(exc)})
            tick()
            continue
        prep_ms.append(1000 * (time.perf_counter() - start))
        images.append(img)
        labels.append(label)
        paths.append(str(path))
        tick()
    if not images:
        raise FmnistEdgeError("None of the photos could be read")
    probs = backend.predict(to_model_input(np.stack(images)))
    y = np.array(labels)
    result = score(y, probs)
    result.update(
        mode=mode, segment=segment, failures=failures,
        preprocess_ms_median=float(np.median(prep_ms)),
        predictions=[{"path": p, "true": LABELS[t], "pred": LABELS[int(q.argmax())],
                      "confidence": float(q.max()), "probs": [round(float(v), 6) for v in q]}
                     for p, t, q in zip(paths, labels, probs)],
    )
    return result, np.stack(images)


def open_set_report(openset, dev_result: dict, none_probs: np.ndarray | None, none_note: str,
                    none_failures: int = 0) -> dict:
    """How the model's "none of these" decision does: the share of labelled dev photos
    wrongly rejected and of "none" photos rejected at its threshold, the curve over
    thresholds of its score (``reject_score``), and ECE on the dev photos before and after its temperature."""
    raw = np.array([p["probs"] for p in dev_result["predictions"]], np.float64)
    index = {name: i for i, name in enumerate(LABELS)}
    y = np.array([index[p["true"]] for p in dev_result["predictions"]])
    cal = openset.calibrate(raw)
    known_conf = openset.score(cal)  # the score the threshold applies to
    none_conf = (openset.score(openset.calibrate(none_probs)) if none_probs is not None and len(none_probs)
                 else np.array([]))
    return {
        "temperature": openset.temperature, "reject_below": openset.reject_below,
        "reject_score": openset.reject_score,
        "dev_wrongly_rejected": float((known_conf < openset.reject_below).mean()),
        "none_rejected": float((none_conf < openset.reject_below).mean()) if len(none_conf) else None,
        "none_photos": int(len(none_conf)), "none_unreadable": int(none_failures), "none_selection": none_note,
        "dev_ece_raw": expected_calibration_error(y, raw), "dev_ece_calibrated": expected_calibration_error(y, cal),
        "curve": rejection_curve(known_conf, none_conf, points=41),
    }


def contact_sheet(images: np.ndarray, true: list[int], pred: list[int], conf: list[float],
                  path: Path, per_row: int = 12, scale: int = 4) -> None:
    """Write a PNG of the 28x28 inputs the model saw, grouped by true class, each with
    its true label (first line) and prediction with confidence (second line, green
    when right, red when wrong). Drawn with OpenCV, so it needs no plotting library."""
    import cv2

    from fmnistedge import fileio
    from fmnistedge.labels import SHORT_LABELS

    side = images.shape[1] * scale
    cap = 26
    order = sorted(range(len(images)), key=lambda i: (true[i], pred[i] != true[i]))
    rows = -(-len(order) // per_row)
    sheet = np.full((rows * (side + cap), per_row * side, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, i in enumerate(order):
        r, c = divmod(k, per_row)
        y0, x0 = r * (side + cap), c * side
        tile = cv2.resize(images[i], (side, side), interpolation=cv2.INTER_NEAREST)
        sheet[y0:y0 + side, x0:x0 + side] = tile[..., None]
        ok = pred[i] == true[i]
        cv2.putText(sheet, SHORT_LABELS[true[i]], (x0 + 2, y0 + side + 10), font, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(sheet, f"{SHORT_LABELS[pred[i]]} {conf[i]:.2f}", (x0 + 2, y0 + side + 22), font, 0.33,
                    (0, 140, 0) if ok else (0, 0, 200), 1, cv2.LINE_AA)
        cv2.rectangle(sheet, (x0, y0), (x0 + side - 1, y0 + side - 1), (0, 140, 0) if ok else (0, 0, 200), 1)
    ok, buf = cv2.imencode(".png", sheet)
    fileio.write_bytes(path, buf.tobytes())

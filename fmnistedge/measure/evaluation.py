"""``fmnistedge evaluate``: a model on labelled real photos, per preprocessing mode and
segmentation path in one run, with calibration and the "none of these" decision.

TensorFlow-free: the photo metrics come from :mod:`fmnistedge.runtime.evaluate`; the
optional temperature fit reads the Fashion-MNIST validation split (numpy only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fmnistedge import errors, trainlog


def parse_runs(modes: list[str], paths: list[str]) -> list[tuple[str, str, str | None]]:
    """Preprocessing modes and segmentation paths to (result key, mode, path) runs: a result
    per mode and, for 'photo', per path ("photo" is the default path, "photo-grabcut" another)."""
    from fmnistedge.runtime.photo import DEFAULT_SEGMENT

    return [(mode if mode != "photo" or path == DEFAULT_SEGMENT else f"photo-{path}", mode, path)
            for mode in dict.fromkeys(modes) for path in (paths if mode == "photo" else [None])]


def evaluate(ref, photos: Path, runs: list[tuple[str, str, str | None]], labels: Path | None = None,
             calibration: bool = False, none_folder: Path | None = None, data_dir: Path | None = None,
             out: Path | None = None, progress=None, say: Callable[[str], None] = print) -> dict:
    """Measure ``ref`` (a resolved model) on the labelled ``photos`` for every run of
    :func:`parse_runs`; with ``out``, write the JSON and the figures beside it. Unreadable
    photos are in ``report["results"][first]["failures"]`` (see :func:`failures`)."""
    from fmnistedge import fileio, provenance
    from fmnistedge.runtime import models
    from fmnistedge.progress import stepper
    from fmnistedge.runtime.evaluate import evaluate_photos, read_labels

    backend = models.load(ref)
    items = read_labels(photos, labels)
    if out is not None:
        fileio.ensure_writable_dir(out.parent)
    report = {"model": {"arch": ref.arch, "file": ref.path.name, "engine": ref.engine,
                        "precision": ref.precision, "sha256": (ref.entry or {}).get("sha256"),
                        "verified_test_accuracy": (ref.entry or {}).get("test_accuracy")},
              "photos": str(photos), "results": {}, "environment": provenance.environment()}
    held_out = _photo_training(ref)
    if held_out is not None:
        report["model"]["photo_training"] = held_out
    seen = {}
    for key, mode, path in runs:
        report["results"][key], seen[key] = evaluate_photos(items, backend, mode, tick=stepper(progress, key, len(items)),
                                                            segment=path)
    if calibration:
        report["calibration"] = _temperature_report(ref, backend, report, data_dir)
    _open_set(report, ref, backend, none_folder, say)
    if out is not None:
        fileio.write_json(out, report)
        _evaluation_figures(report, seen, out, say)
    return report


def failures(report: dict) -> list[dict]:
    """The photos that could not be read (every mode reads the same photos)."""
    return next(iter(report["results"].values()))["failures"]


def _photo_training(ref) -> dict | None:
    """A photo-trained model's scores on the photographers its training held out (its train.json)."""
    photos = (trainlog.find(ref.path.parent) or {}).get("photos")
    if not isinstance(photos, dict) or "val_metrics" not in photos:
        return None
    return {"folder": photos.get("folder"), "val": photos.get("val"), "val_metrics": photos["val_metrics"]}


def _open_set(report: dict, ref, backend, none_folder: Path | None, say: Callable[[str], None]) -> None:
    """With a photo-trained model: its calibration and 'none of these' decision on the dev
    photos (and on --none-photos), into report['open_set']."""
    import numpy as np

    from fmnistedge.runtime.evaluate import open_set_report
    from fmnistedge.runtime.openset import OpenSet, model_meta
    from fmnistedge.runtime.backends import input_size
    from fmnistedge.runtime.preprocess import prepare_image, to_model_input

    meta, where = model_meta(ref)
    openset = OpenSet.from_meta(meta, where)
    if openset is None or "photo" not in report["results"]:
        if none_folder is not None:
            say(f"{ref.arch} carries no photo calibration: --none-photos is not measured.")
        return
    none_probs, note, failed = None, "", 0
    if none_folder is not None:
        paths, note = none_photos(none_folder, meta.get("photo_calibration"))
        images = []
        for p in paths:
            try:
                images.append(prepare_image(p, "photo", size=input_size(backend))[0])
            except errors.FmnistEdgeError:
                failed += 1
        none_probs = backend.predict(to_model_input(np.stack(images))) if images else np.zeros((0, 10))
    report["open_set"] = open_set_report(openset, report["results"]["photo"], none_probs, note, failed)


def summary_lines(report: dict) -> list[str]:
    """The human-readable summary of a report: a line per result, calibration, the open-set
    decision and the first result's per-class accuracy."""
    lines = []
    for mode, r in report["results"].items():
        lines.append(f"{mode:>6}: top-1 {100 * r['macro_top1']:.1f}%  top-3 {100 * r['macro_top3']:.1f}% "
                   f"(macro over {len(r['per_class_top1'])} classes; overall top-1 {100 * r['top1']:.1f}%, "
                   f"{r['items']} photos, {len(r['failures'])} unreadable; ECE {r['ece']:.3f})")
    if "calibration" in report:
        c = report["calibration"]
        lines.append(f"temperature {c['temperature']:.3f} (fitted on {c['fitted_on']}): ECE there "
                   f"{c['val_ece']:.3f} -> {c['val_ece_scaled']:.3f}; on the photos "
                   + ", ".join(f"{m} {v['ece']:.3f} -> {v['ece_scaled']:.3f}" for m, v in c["photos"].items()))
    if "open_set" in report:
        o = report["open_set"]
        none = (f"{100 * o['none_rejected']:.1f}% of {o['none_photos']} 'none' photos rejected"
                if o["none_rejected"] is not None else "no 'none' photos measured (--none-photos)")
        from fmnistedge.runtime.openset import SCORE_NAMES

        score = SCORE_NAMES[o.get("reject_score", "top")]
        lines.append(f"none of these: {score} below {100 * o['reject_below']:.1f}% (temperature {o['temperature']:.3f}): "
                   f"{100 * o['dev_wrongly_rejected']:.1f}% of these photos wrongly rejected, {none}; "
                   f"ECE {o['dev_ece_raw']:.3f} -> {o['dev_ece_calibrated']:.3f} calibrated")
    first = next(iter(report["results"].values()))
    lines.append("per class (top-1): " + ", ".join(
        f"{k} {100 * v:.0f}%" for k, v in first["per_class_top1"].items()))
    return lines


def _temperature_report(ref, backend, report: dict, data_dir) -> dict:
    """Temperature scaling fitted on the validation split the model was *not* trained on."""

    import numpy as np

    from fmnistedge.labels import LABELS
    from fmnistedge.runtime.backends import input_size, predict_all
    from fmnistedge.runtime.evaluate import (
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
    )
    from fmnistedge.runtime.preprocess import enlarge, to_model_input
    from fmnistedge.training import data

    seed = (trainlog.find(ref.path.parent) or {}).get("seed", 0)
    x, y = data.load_split("train", data_dir)
    _, _, x_val, y_val = data.train_val_split(x, y, 0.1, seed)
    probs = predict_all(backend, to_model_input(enlarge(x_val, input_size(backend))))
    t = fit_temperature(probs, y_val)
    index = {name: i for i, name in enumerate(LABELS)}
    photos = {}
    for mode, r in report["results"].items():
        y_true = np.array([index[p["true"]] for p in r["predictions"]])
        probs_photos = np.array([p["probs"] for p in r["predictions"]])
        photos[mode] = {"ece": r["ece"], "ece_scaled": expected_calibration_error(
            y_true, apply_temperature(probs_photos, t))}
    return {"temperature": t, "fitted_on": f"Fashion-MNIST validation split (10% of train, seed {seed}, "
                                          f"{len(y_val)} images)",
            "val_ece": expected_calibration_error(y_val, probs),
            "val_ece_scaled": expected_calibration_error(y_val, apply_temperature(probs, t)),
            "photos": photos}


def _evaluation_figures(report: dict, seen: dict, out: Path, say: Callable[[str], None]) -> None:
    """Per mode: a confusion-matrix PNG (matplotlib, the 'report' extra) and a contact sheet."""
    import numpy as np

    from fmnistedge.labels import LABELS
    from fmnistedge.runtime.evaluate import contact_sheet

    index = {name: i for i, name in enumerate(LABELS)}
    for mode, r in report["results"].items():
        preds = r["predictions"]
        contact_sheet(seen[mode], [index[p["true"]] for p in preds], [index[p["pred"]] for p in preds],
                      [p["confidence"] for p in preds], out.with_name(f"{out.stem}.{mode}.contact.png"))
        try:
            from fmnistedge.measure import reportfigs

            reportfigs.confusion(np.array(r["confusion_matrix"]),
                                 f"{report['model']['arch']} {report['model']['file']} on {report['photos']} "
                                 f"({mode}): top-1 {100 * r['macro_top1']:.1f}% macro",
                                 out.with_name(f"{out.stem}.{mode}.confusion.png"))
        except errors.MissingExtraError as exc:
            say(f"Skipped the confusion-matrix PNG: {exc}")
    o = report.get("open_set")
    if o is not None and o["none_photos"]:
        try:
            from fmnistedge.measure import reportfigs

            reportfigs.rejection_curve(
                o["curve"], o["reject_below"],
                f"{report['model']['arch']} {report['model']['file']}: 'none' photos ({o['none_photos']}) "
                f"vs {report['photos']}", out.with_name(f"{out.stem}.none-curve.png"), goal=(0.05, 0.60))
        except errors.MissingExtraError as exc:
            say(f"Skipped the rejection-curve PNG: {exc}")


def none_photos(folder: Path, calibration_meta: dict | None) -> tuple[list[Path], str]:
    """The "none of the ten" photos of a ``realphotos-train``-style folder to measure
    rejection on, and a note of which: when the model was trained on that folder, only
    the photographers it held out (the split recorded in its calibration)."""
    from fmnistedge.training import photos as photo_data

    rows = photo_data.read_photo_labels(folder)
    split = (calibration_meta or {}).get("split") or {}
    if split and Path(split.get("folder", "")).name == Path(folder).name:
        if "senders" in split:  # the recorded held-out photographers: exact even if the folder changed
            held = set(split["senders"])
            rows = [r for r in rows if r.sender in held]
        else:
            val = photo_data.grouped_split(rows, float(split["val_fraction"]), int(split["seed"]))
            rows = [r for r, v in zip(rows, val) if v]
        note = (f"'none' rows of the photographers held out from training (val fraction "
                f"{split['val_fraction']}, seed {split['seed']})")
    else:
        note = "every 'none' row"
    return [r.path for r in rows if r.is_none], note

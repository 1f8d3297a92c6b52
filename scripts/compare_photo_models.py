"""Photo models side by side on the photographers photo training holds out, with one set of labels.

    python scripts/compare_photo_models.py --photos ../shared/realphotos-train
        [--label-refinements data/label-refinements.csv] [--out results/photo-models.json] MODEL [MODEL ...]

A model is a shipped name or a model file (``--model`` of ``classify``). The photos are the
held-out photographers of photo training (whole photographers, seed 0, 20%), rendered at each
model's input size along the default segmentation path (the training cache is not used: each photo goes through
``prepare_image`` here). Each model is scored on the same photos and the same labels (with
``--label-refinements``, the refined ones): macro top-1 and top-3 over the single-label
photos, per-class top-1, and ``set_acc`` (top-1 within the label set, every labelled
photo). Training runs record the same scores under their own labels in ``train.json``
(``photos.val_metrics``); runs trained with other labels are compared here. The dev photos
are not used.

``rejection`` compares "none of these" rules on the same photographers' ``none`` photos,
with the model's calibrated probabilities (its ``photo_calibration`` temperature): for each
score, the threshold that wrongly rejects at most ``REJECT_BUDGET`` (4%) of the labelled
photos, and the share of ``none`` photos it rejects: the runtime's scores
(``runtime.openset.REJECT_SCORES``: ``top``, and for a model with a "none" output
``classes``) and, for comparison, the top class probability minus the "none" probability;
``shipped`` is the model's own rule and threshold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def rejection(ref, backend, probs: np.ndarray, nones: np.ndarray) -> dict:
    """Share of ``none`` photos each score rejects at the labelled-photo budget (module docstring)."""
    from dataclasses import replace

    from fmnistedge.runtime import openset
    from fmnistedge.runtime.evaluate import choose_threshold
    from fmnistedge.runtime.preprocess import to_model_input
    from fmnistedge.training.phototrain import REJECT_BUDGET

    shipped = openset.for_model(ref)
    if shipped is None:
        return {}
    known = shipped.calibrate(probs)
    unknown = shipped.calibrate(backend.predict(to_model_input(nones))[:, :10])
    out = {"none_photos": len(nones), "budget": REJECT_BUDGET,
           "shipped": {"reject_score": shipped.reject_score, "reject_below": shipped.reject_below,
                       "none_rejected": round(float((~shipped.known(unknown)).mean()), 4),
                       "labelled_rejected": round(float((~shipped.known(known)).mean()), 4)}}
    scores = {"top": replace(shipped, reject_score="top").score}
    if shipped.none_output:
        scores["classes"] = replace(shipped, reject_score="classes").score
        scores["margin (not a runtime rule)"] = lambda p: p.max(1) - (1.0 - p.sum(1))
    for name, score in scores.items():
        s_known, s_none = score(known), score(unknown)
        below = choose_threshold(s_known, REJECT_BUDGET)  # as photo training chooses it
        out[name] = {"none_rejected": round(float((s_none < below).mean()), 4),
                     "labelled_rejected": round(float((s_known < below).mean()), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--label-refinements", type=Path)
    parser.add_argument("--out", type=Path, default=Path("results/photo-models.json"))
    args = parser.parse_args()
    from fmnistedge import fileio, provenance
    from fmnistedge.labels import LABELS as CLASS_NAMES
    from fmnistedge.runtime import models
    from fmnistedge.runtime.backends import input_size
    from fmnistedge.runtime.evaluate import photo_set_metrics
    from fmnistedge.runtime.preprocess import prepare_image, to_model_input
    from fmnistedge.training import photos
    from fmnistedge.training.options import TrainOptions

    rows = photos.read_photo_labels(args.photos, args.label_refinements)
    held = photos.grouped_split(rows, TrainOptions.photo_val_fraction, TrainOptions.seed)  # train's held-out split
    chosen = [r for r, v in zip(rows, held) if v and r.target().any()]
    none_rows = [r for r, v in zip(rows, held) if v and r.is_none]
    rendered: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per input side: labelled and "none" photos

    def at(size: int) -> tuple[np.ndarray, np.ndarray]:
        if size not in rendered:
            rendered[size] = tuple(np.stack([prepare_image(r.path, size=size)[0] for r in rs])
                                   for rs in (chosen, none_rows))
        return rendered[size]

    targets = np.stack([r.target() for r in chosen])
    single = targets.sum(1) == 1
    y = targets[single].argmax(1)
    results = []
    for name in args.models:
        ref = models.resolve(name)
        backend = models.load(ref)
        images, nones = at(input_size(backend))  # a 56 px model sees 56 px renders
        probs = backend.predict(to_model_input(images))[:, :10]
        per_class = {CLASS_NAMES[c]: round(float((probs[single][y == c].argmax(1) == c).mean()), 4)
                     for c in np.unique(y)}
        scores = {k: round(v, 4) for k, v in photo_set_metrics(probs, targets).items()}
        results.append({"model": name, "file": str(ref.path), "sha256": (ref.entry or {}).get("sha256"),
                        **scores, "per_class_top1": per_class, "rejection": rejection(ref, backend, probs, nones)})
        print(f"{name}: top-1 {100 * scores['top1_macro']:.1f}, top-3 {100 * scores['top3_macro']:.1f}, "
              f"set {100 * scores['set_acc']:.1f}; 'none' photos rejected: " + ", ".join(
                  f"{k} {100 * v['none_rejected']:.1f}% ({100 * v['labelled_rejected']:.1f}% of labelled)"
                  for k, v in results[-1]["rejection"].items() if isinstance(v, dict)), file=sys.stderr, flush=True)
    counts = {CLASS_NAMES[c]: int((y == c).sum()) for c in np.unique(y)}
    doc = {"what": "photo models on the held-out training photographers, one set of labels",
           "photos": str(args.photos), "label_refinements": str(args.label_refinements or ""),
           "labelled_photos": len(chosen), "single_label_photos": int(single.sum()), "per_class_photos": counts,
           "models": results, "environment": provenance.environment()}
    fileio.write_json(args.out, doc)
    print(f"-> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

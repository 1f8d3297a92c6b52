"""Photo recipes compared by photographer-grouped cross-validation: every training photo scored
once, by the run that held its photographer out.

    python scripts/kfold_photos.py --photos ../shared/realphotos-train
        [--label-refinements data/label-refinements.csv] [--out results/kfold-photos.json]
        [--bootstrap 2000] [--photo-cache artifacts/.photo-cache] NAME=MODEL,MODEL,... [NAME=MODEL,...]

A recipe is NAME and the model files of its N runs (``train --photo-fold K/N`` for K = 1..N,
one seed, each exported): a file's ``train.json`` (beside it) says which fold and which
photographers it held out. The N held-out sets must partition the folder's photographers
(checked), so the pooled scores cover every labelled photo once: about five times the photos
of one 20% split, and every footwear photo (the classes the one split holds 6-12 of).

Each photo goes through ``prepare_image`` (the default segmentation path) at the model's input
size, rendered by training's ``render_photos`` and cached as training caches it (``--photo-cache``,
keyed by the preprocessing code's version); a photo that cannot be read is left out, as training
leaves it out.
Pooled over the folds: macro top-1 and top-3 over single-label photos, per-class top-1 and
top-3 with counts, the confusion matrix, ``set_acc`` (top-1 within the label set), and
"none of these": each run's own shipped rule and threshold applied to its held-out photos.
Two recipes are compared photo by photo (the same photos, the same labels): the difference
in macro top-1 with a 95% interval from resampling whole photographers (``--bootstrap``).
The dev photos are not used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from argtypes import bounded  # noqa: E402

from fmnistedge.training.options import TrainOptions  # noqa: E402  (plain data: imports nothing heavy)


def _recipe(text: str) -> tuple[str, list[Path]]:
    name, sep, files = text.partition("=")
    if not sep or not name or not files:
        raise argparse.ArgumentTypeError(f"a recipe is NAME=MODEL,MODEL,...; received {text!r}")
    return name, [Path(f) for f in files.split(",") if f]


def _fold_record(model: Path) -> dict:
    record = model.with_name("train.json")
    if not record.is_file():
        raise SystemExit(f"error: {model}: no train.json beside it (a --photo-fold run's export folder)")
    photos = json.loads(record.read_text()).get("photos") or {}
    if not photos.get("fold") or not photos.get("val_senders"):
        raise SystemExit(f"error: {record}: not a --photo-fold K/N run")
    return photos


def macro(hit: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    return float(np.mean([hit[y == c].mean() for c in classes]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", type=_recipe, metavar="NAME=MODEL,...")
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--label-refinements", type=Path)
    parser.add_argument("--bootstrap", type=bounded(0, 100_000), default=2000,
                        help="photographer resamples for the interval of a difference (0: none)")
    parser.add_argument("--photo-cache", type=Path, default=TrainOptions.photo_cache,
                        help="folder of the rendered photos (train's --photo-cache)")
    parser.add_argument("--out", type=Path, default=Path("results/kfold-photos.json"))
    args = parser.parse_args()
    from fmnistedge import fileio, provenance
    from fmnistedge.labels import LABELS as CLASS_NAMES
    from fmnistedge.runtime import models, openset
    from fmnistedge.runtime.backends import input_size
    from fmnistedge.runtime.evaluate import photo_set_metrics
    from fmnistedge.runtime.preprocess import to_model_input
    from fmnistedge.training import photos

    rows = photos.read_photo_labels(args.photos, args.label_refinements)
    senders = np.array([r.sender for r in rows])
    labelled = np.array([r.target().any() for r in rows])
    none = np.array([r.is_none for r in rows])
    targets = np.stack([r.target() for r in rows])
    single = targets.sum(1) == 1
    y_all = np.where(single, targets.argmax(1), -1)
    records = {file: _fold_record(file) for _, files in args.recipes for file in files}  # before any model loads
    refs = {file: models.resolve(str(file)) for file in records}
    loaded = {file: (ref, models.load(ref)) for file, ref in refs.items()}
    sizes = {input_size(backend) for _, backend in loaded.values()}
    if len(sizes) != 1:
        raise SystemExit(f"error: the models take {len(sizes)} input sizes ({sorted(sizes)}): compare recipes of one")
    size = sizes.pop()
    print(f"rendering {len(rows)} photos at {size} px (or reading {args.photo_cache}) ...", file=sys.stderr, flush=True)
    images, ok = photos.render_photos(rows, args.photo_cache, size=size)[:2]  # ok: rendered (else left out)
    sel, s = labelled & ok, single & ok
    y = y_all[s]
    present = np.unique(y)

    results, pooled_hits = [], {}
    for name, files in args.recipes:
        probs = np.full((len(rows), 10), np.nan, np.float32)
        kept = np.zeros(len(rows), bool)  # "none of these": kept as one of the ten (the run's own rule)
        folds, seen = [], set()
        for file in files:
            rec = records[file]
            held = set(rec["val_senders"])
            if held & seen:
                raise SystemExit(f"error: {name}: {file} holds out photographers another run of it holds out")
            seen |= held
            idx = np.flatnonzero(np.isin(senders, list(held)))
            ref, backend = loaded[file]
            p = backend.predict(to_model_input(images[idx]))[:, :10]
            probs[idx] = p
            rule = openset.for_model(ref)
            kept[idx] = rule.known(rule.calibrate(p)) if rule is not None else True
            folds.append({"file": str(file), "sha256": (ref.entry or {}).get("sha256"), "fold": rec["fold"],
                          "photographers": len(held), "photos": int(len(idx)),
                          "top1_macro": round(photo_set_metrics(p, targets[idx])["top1_macro"], 4)})
            print(f"{name} fold {rec['fold']}: {len(idx)} photos, top-1 {100 * folds[-1]['top1_macro']:.1f}",
                  file=sys.stderr, flush=True)
        missing = sorted(set(senders) - seen)
        if missing:
            raise SystemExit(f"error: {name}: its runs leave {len(missing)} photographer(s) unscored "
                             f"(e.g. sender {missing[0]}): give every fold K of N")
        metrics = photo_set_metrics(probs[sel], targets[sel])
        order = np.argsort(-probs[s], axis=1, kind="stable")
        hit1, hit3 = order[:, 0] == y, (order[:, :3] == y[:, None]).any(1)
        pooled_hits[name] = hit1
        confusion = np.zeros((10, 10), np.int64)
        np.add.at(confusion, (y, order[:, 0]), 1)
        results.append({
            "recipe": name, "runs": folds,
            **{k: round(v, 4) for k, v in metrics.items()},
            "per_class": {CLASS_NAMES[c]: {"photos": int((y == c).sum()), "top1": round(float(hit1[y == c].mean()), 4),
                                           "top3": round(float(hit3[y == c].mean()), 4)} for c in present},
            "confusion": {"rows_true_cols_predicted": CLASS_NAMES, "counts": confusion.tolist()},
            "none_of_these": {"none_photos": int((none & ok).sum()),
                              "none_rejected": round(float((~kept[none & ok]).mean()), 4),
                              "labelled_rejected": round(float((~kept[sel]).mean()), 4),
                              "rule": "each run's own score and threshold (its photo calibration)"},
        })
        print(f"{name}: pooled top-1 {100 * metrics['top1_macro']:.1f}, top-3 {100 * metrics['top3_macro']:.1f}, "
              f"set {100 * metrics['set_acc']:.1f}; " + ", ".join(
                  f"{CLASS_NAMES[c]} {100 * hit1[y == c].mean():.0f}" for c in present), file=sys.stderr, flush=True)

    comparisons = []
    names = [n for n, _ in args.recipes]
    rng = np.random.default_rng(0)
    by_sender: dict[str, list[int]] = {}  # the single-label photos every recipe scored, by photographer
    for j, snd in enumerate(senders[s]):
        by_sender.setdefault(snd, []).append(j)
    groups = list(by_sender.values())
    base_hit = pooled_hits[names[0]]
    for other in names[1:]:
        hit = pooled_hits[other]
        diff = macro(hit, y, present) - macro(base_hit, y, present)
        draws = []
        for _ in range(args.bootstrap):
            pick = np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
            yy = y[pick]
            cls = np.unique(yy)
            draws.append(macro(hit[pick], yy, cls) - macro(base_hit[pick], yy, cls))
        comparisons.append({
            "recipe": other, "against": names[0], "top1_macro_difference": round(diff, 4),
            "interval_95": [round(float(q), 4) for q in np.quantile(draws, [0.025, 0.975])] if draws else None,
            "bootstrap": {"resamples": args.bootstrap, "unit": "photographer", "seed": 0},
            "per_class_difference": {CLASS_NAMES[c]: round(float(hit[y == c].mean() - base_hit[y == c].mean()), 4)
                                     for c in present}})
        print(f"{other} - {names[0]}: macro top-1 {100 * diff:+.1f} points"
              + (f" (95% {100 * comparisons[-1]['interval_95'][0]:+.1f} to {100 * comparisons[-1]['interval_95'][1]:+.1f})"
                 if draws else ""), file=sys.stderr)

    doc = {"what": "photo recipes by photographer-grouped cross-validation: every training photo scored by the run "
                   "that held its photographer out",
           "photos": str(args.photos), "label_refinements": str(args.label_refinements or ""),
           "photo_rows": len(rows), "labelled_photos": int(labelled.sum()),
           "single_label_photos": int(single.sum()), "unreadable": int((~ok).sum()),
           "recipes": results, "comparisons": comparisons,
           "command": "python scripts/kfold_photos.py " + " ".join(sys.argv[1:]),
           "environment": provenance.environment()}
    fileio.write_json(args.out, doc)
    print(f"-> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Does a larger photo render carry information a 28 px one loses? A probe for the next
photo model's input contract, not a shipped model.

Every labelled photo of a ``realphotos-train``-style folder is rendered once at each size
(``--sizes``) by the runtime's own photo path (``photo_to_fashion_mnist``, the same
segmentation; only the output square differs). For each size and seed one small CNN is
trained from scratch on a mixture of Fashion-MNIST (resized to that size) and the photos
of the training photographers (the set-valued loss of photo training, photos drawn with
``photos.sampling_weights``), and measured on the photographers held out by
``grouped_split`` (the split ``train --photos --seed 0`` uses: the shipped photo models'
held-out photographers; their 'none' photos are left out here).
Networks differ only in the stem: at 28 px a stride-1 convolution, at 56 px a stride-2 one
(the same feature-map sizes after it, about the same compute). The dev photos are not read.

``--start edge-r`` asks the same question of a strong model instead: the shipped model is
rebuilt from its fp32 ONNX file (``training.warmstart``) and fine-tuned at each size. At 56 px
it is grown into the zoo architecture that grows from it (``edge-r56``, ``zoo.edge.graft``: a
Haar 2x2 patch convolution before its stem, whose weights for the three detail channels start
at zero): the grafted model starts as exactly the shipped one on the 2x2 mean of its input
(Fashion-MNIST is enlarged by pixel repetition, so its mean is the original image), and
fine-tuning can learn to use the detail. Scores are also given for the mean over each photo and its mirror image (the
shipped model answers so).

    python scripts/probe_input_size.py --photos ../shared/realphotos-train \\
        --label-refinements data/label-refinements.csv --out results/input-size-probe-24ep.json
    python scripts/probe_input_size.py --photos ../shared/realphotos-train --start edge-r \\
        --epochs 8 --learning-rate 3e-4 --label-refinements data/label-refinements.csv \\
        --out results/input-size-probe-edge-r.json

``fmnistedge table --doc docs/results.md`` renders ``results/input-size-probe-24ep.json`` there
(``input-size-probe`` block).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from argtypes import bounded, bounded_float, bounded_list

SIZES = (28, 56)


def _render(args):
    path, sizes = args
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.runtime import imageio, photo

    try:
        decoded = imageio.decode(Path(path))
    except FmnistEdgeError:
        return None
    return [photo.photo_to_fashion_mnist(decoded.rgb, decoded.alpha, size=s)[0] for s in sizes]


def render_all(rows, sizes, cache: Path):
    if cache.is_file():
        with np.load(cache) as z:
            return {s: z[f"s{s}"] for s in sizes}, z["ok"]
    out = {s: np.zeros((len(rows), s, s), np.uint8) for s in sizes}
    ok = np.zeros(len(rows), bool)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i, imgs in enumerate(pool.map(_render, [(str(r.path), sizes) for r in rows], chunksize=32)):
            if imgs is not None:
                ok[i] = True
                for s, img in zip(sizes, imgs):
                    out[s][i] = img
            if (i + 1) % 500 == 0:
                print(f"rendered {i + 1}/{len(rows)}", file=sys.stderr, flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, ok=ok, **{f"s{s}": v for s, v in out.items()})
    return out, ok


def build(size: int, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    x = inp = keras.Input((size, size, 1))
    x = layers.Rescaling(1 / 255.0)(x)

    def conv(x, filters, stride=1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    x = conv(x, 32, stride=size // 28)
    x = conv(x, 32)
    x = layers.MaxPooling2D()(x)
    x = conv(conv(x, 64), 64)
    x = layers.MaxPooling2D()(x)
    x = conv(x, 128)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out)


def warm(name: str, size: int, sample: np.ndarray):
    """The shipped model ``name`` rebuilt as Keras (plain network, no mirror average); at 56 px,
    the zoo architecture that grows from it (``ArchSpec.grows_from``: edge-r56 for edge-r),
    grafted (``zoo.edge.graft``: the Haar patch convolution before its stem)."""
    from fmnistedge.runtime import models
    from fmnistedge.runtime.preprocess import enlarge
    from fmnistedge.training import warmstart, zoo
    from fmnistedge.training.phototrain import add_none_output, has_none_output
    from fmnistedge.training.zoo.edge import graft

    ref = models.resolve(name, "onnx", Path("artifacts"), "fp32")
    m28, diff, _ = warmstart.keras_from_onnx(ref.arch, ref.path, sample)
    if size == 28:
        return m28
    arch = next(n for n, spec in zoo.ARCHS.items() if spec.grows_from == ref.arch)
    m56 = zoo.build(arch)
    m56 = add_none_output(m56) if has_none_output(m28) else m56
    graft(m28, m56)
    gap = float(np.abs(m56.predict(enlarge(sample[:500], size), verbose=0) - m28.predict(sample[:500], verbose=0)).max())
    print(f"{name} grafted into {arch}: max probability difference {gap:.2g} on enlarged training images",
          file=sys.stderr, flush=True)
    return m56


def batches(x_fm, y_fm, x_ph, t_ph, w_ph, share: float, batch: int, steps: int, rng):
    n_ph = int(round(share * batch))
    eye = np.eye(10, dtype=np.float32)
    for _ in range(steps):
        i = rng.integers(0, len(x_fm), batch - n_ph)
        j = rng.choice(len(x_ph), n_ph, p=w_ph)
        x = np.concatenate([x_fm[i], x_ph[j]]).astype(np.float32)
        t = np.concatenate([eye[y_fm[i]], t_ph[j]])
        flip = rng.random(len(x)) < 0.5
        x[flip] = x[flip, :, ::-1]
        # a random shift of up to 1/14 of the side, as a crop of a zero-padded image
        pad = x.shape[1] // 14
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
        dy, dx = rng.integers(0, 2 * pad + 1, 2)
        x = xp[:, dy:dy + x.shape[1], dx:dx + x.shape[2]]
        yield x[..., None], t


def scores(probs: np.ndarray, targets: np.ndarray) -> dict:
    """``runtime.evaluate.photo_set_metrics`` (its ``set_acc`` as ``set_accuracy``) with the
    per-class top-1 and the photo counts."""
    from fmnistedge.runtime.evaluate import photo_set_metrics

    metrics = photo_set_metrics(probs, targets)
    single = targets.sum(1) == 1
    labels = targets[single].argmax(1)
    top1 = probs[single].argmax(1) == labels
    return {"top1_macro": metrics["top1_macro"], "top3_macro": metrics["top3_macro"],
            "set_accuracy": metrics["set_acc"],
            "per_class_top1": {int(c): float(top1[labels == c].mean()) for c in np.unique(labels)},
            "single_photos": int(single.sum()), "labelled_photos": int(len(targets))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--label-refinements", type=Path)
    ap.add_argument("--sizes", type=bounded_list(28, 56), default=[28, 56], help="input sides, 28 and/or 56")
    ap.add_argument("--seeds", type=bounded_list(0, 2**31 - 1), default=[0, 1, 2])
    ap.add_argument("--epochs", type=bounded(1, 1000), default=24)
    ap.add_argument("--steps", type=bounded(1, 100_000), default=100, help="batches of 128 per epoch")
    ap.add_argument("--photo-share", type=bounded_float(0.0, 1.0), default=0.3)
    ap.add_argument("--fm-images", type=bounded(1, 60_000), default=20_000)
    ap.add_argument("--start", metavar="MODEL", help="fine-tune this shipped model (fp32 ONNX) instead of "
                    "training a small CNN from scratch")
    ap.add_argument("--learning-rate", type=bounded_float(1e-6, 1.0), default=1e-3)
    ap.add_argument("--cache", type=Path, default=Path("artifacts/.probe-cache"))
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    sizes, seeds = tuple(a.sizes), list(a.seeds)

    import cv2

    from fmnistedge.training import data, photos
    from fmnistedge.runtime.preprocess import to_model_input
    from fmnistedge.training.phototrain import has_none_output, set_loss

    every = photos.read_photo_labels(a.photos, a.label_refinements)
    # the split of 'train --photos --seed 0' (fraction 0.2, drawn over every row, 'none' ones included)
    val = photos.grouped_split(every, 0.2, 0)[[not r.is_none for r in every]]
    rows = [r for r in every if not r.is_none]
    imgs, ok = render_all(rows, sizes, a.cache / f"probe-{len(rows)}-{'-'.join(map(str, sizes))}.npz")
    targets = np.stack([r.target() for r in rows])
    tr, va = ok & ~val, ok & val
    w = photos.sampling_weights(targets[tr], 0.0)
    x_fm, y_fm = data.load_split("train")
    keep = data.stratified_sample(y_fm, a.fm_images, 0)
    x_fm, y_fm = x_fm[keep], y_fm[keep]
    x_te, y_te = data.load_split("test")

    import keras

    scale = 1 / 255 if a.start else 1.0  # a shipped model takes [0, 1]; the small CNN rescales itself
    runs = []
    for size in sizes:
        how = cv2.INTER_NEAREST if a.start else cv2.INTER_LINEAR  # nearest: the 2x2 mean is the original
        up = (lambda x: x) if size == 28 else (
            lambda x: np.stack([cv2.resize(i, (size, size), interpolation=how) for i in x]))
        fm, te = up(x_fm), up(x_te)
        for seed in seeds:
            start = time.time()
            keras.utils.set_random_seed(seed)
            model = warm(a.start, size, to_model_input(x_fm[:3000])) if a.start else build(size, seed)
            decay = keras.optimizers.schedules.CosineDecay(a.learning_rate, a.epochs * a.steps)  # a quiet last epoch
            model.compile(keras.optimizers.Adam(decay), set_loss(0.1, none_output=has_none_output(model)))
            rng = np.random.default_rng(seed)
            for epoch in range(a.epochs):
                gen = batches(fm, y_fm, imgs[size][tr], targets[tr], w, a.photo_share, 128, a.steps, rng)
                for x, t in gen:
                    model.train_on_batch(x * scale, t)
            x_val = imgs[size][va][..., None].astype(np.float32) * scale
            p_val = model.predict(x_val, verbose=0)
            p_mirror = model.predict(x_val[:, :, ::-1], verbose=0)
            p_te = model.predict(te[..., None].astype(np.float32) * scale, batch_size=512, verbose=0)
            run = {"size": size, "seed": seed, "params": int(model.count_params()),
                   "held_out": scores(p_val, targets[va]),
                   "held_out_mirror_mean": scores((p_val + p_mirror) / 2, targets[va]),
                   "fashion_mnist_test_accuracy": float((p_te.argmax(1) == y_te).mean()),
                   "seconds": round(time.time() - start, 1)}
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if not k.startswith("held_out")}
                             | {k: run["held_out"][k] for k in ("top1_macro", "top3_macro", "set_accuracy")}),
                  file=sys.stderr, flush=True)
    summary = {}
    for size in sizes:
        for kind in ("held_out", "held_out_mirror_mean"):
            rs = [r[kind] for r in runs if r["size"] == size]
            summary[f"{size} {kind}"] = {k: float(np.mean([r[k] for r in rs]))
                                         for k in ("top1_macro", "top3_macro", "set_accuracy")}
        summary[f"{size} fashion_mnist_test_accuracy"] = float(np.mean(
            [r["fashion_mnist_test_accuracy"] for r in runs if r["size"] == size]))
    what = f"the shipped {a.start} fine-tuned" if a.start else "one small CNN trained from scratch"
    doc = {"what": f"held-out-photographer scores of {what} per input size and seed (scripts/probe_input_size.py)",
           "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
           "photos": {"folder": str(a.photos), "rendered": int(ok.sum()), "train": int(tr.sum()), "held_out": int(va.sum())},
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
           "mean": summary, "runs": runs,
           "environment": {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
                           "keras": keras.__version__, "opencv": cv2.__version__}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

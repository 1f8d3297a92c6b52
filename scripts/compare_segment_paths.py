"""Segmentation size and GrabCut iterations against accuracy, on held-out training photographers.

    python scripts/compare_segment_paths.py --photos ../shared/realphotos-train
        [--out results/segment-paths.json] [--docs docs/runtime.md]

The photos are those photo training holds out (whole photographers, seed 0, 20%; the
single-label rows), never the dev photos. Every setting renders every photo with the
shipped default model's preprocessing changed only in the segmentation size and GrabCut
iterations, and records the mean CPU time per photo (decoded beforehand, so this is
segmentation and rendering) and macro top-1/top-3. ``--docs`` writes the
``segment-paths`` block of that Markdown file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

SETTINGS = ((160, 2), (160, 1), (120, 1), (112, 1), (96, 1), (80, 1), (64, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("results/segment-paths.json"))
    parser.add_argument("--docs", type=Path)
    args = parser.parse_args()
    from fmnistedge.runtime import imageio, models, photo
    from fmnistedge.runtime.preprocess import prepare_rgb, to_model_input

    from fmnistedge import fileio, provenance
    from fmnistedge.measure.render import update_block
    from fmnistedge.training import photos
    from fmnistedge.training.options import TrainOptions

    rows = photos.read_photo_labels(args.photos)
    held = photos.grouped_split(rows, TrainOptions.photo_val_fraction, TrainOptions.seed)  # train's held-out split
    chosen = [r for r, v in zip(rows, held) if v and r.label is not None]
    ref = models.resolve(None)
    backend = models.load(ref)
    decoded = [imageio.decode(r.path) for r in chosen]
    y = np.array([r.label for r in chosen])
    results = []
    for side, iters in SETTINGS:
        photo.SEGMENT_PATHS["_compare"] = (side, iters)
        imgs, cpu = [], []
        for d in decoded:
            start = time.thread_time()
            img, _ = prepare_rgb(d.rgb, alpha=d.alpha, segment="_compare")
            cpu.append(1000 * (time.thread_time() - start))
            imgs.append(img)
        order = np.argsort(-backend.predict(to_model_input(np.stack(imgs)))[:, :10], axis=1)
        classes = np.unique(y)
        top1 = float(np.mean([np.mean(order[y == c, 0] == c) for c in classes]))
        top3 = float(np.mean([np.mean((order[y == c, :3] == c).any(1)) for c in classes]))
        name = next((k for k, v in photo.SEGMENT_PATHS.items() if v == (side, iters) and k != "_compare"), "")
        results.append({"side": side, "grabcut_iters": iters, "path": name, "cpu_ms_mean": round(float(np.mean(cpu)), 2),
                        "top1_macro": round(top1, 4), "top3_macro": round(top3, 4)})
        print(results[-1], file=sys.stderr, flush=True)
    del photo.SEGMENT_PATHS["_compare"]
    doc = {"what": "segmentation size and GrabCut iterations vs accuracy, held-out photographers",
           "photos": len(chosen), "model": {"arch": ref.arch, "file": ref.path.name,
                                            "sha256": (ref.entry or {}).get("sha256")},
           "settings": results, "environment": provenance.environment()}
    fileio.write_json(args.out, doc)
    if args.docs:
        env = doc["environment"]
        lines = ["| segmentation | CPU ms per photo (mean) | top-1 | top-3 |", "|---|---:|---:|---:|"]
        for r in results:
            label = f"{r['side']} px, {r['grabcut_iters']} GrabCut iteration(s)" + (f" (`{r['path']}`)" if r["path"] else "")
            lines.append(f"| {label} | {r['cpu_ms_mean']} | {100 * r['top1_macro']:.1f} | {100 * r['top3_macro']:.1f} |")
        lines += ["", f"{len(chosen)} held-out photos, macro over classes; model {ref.arch} `{ref.path.name}` "
                      f"(sha256 {str(doc['model']['sha256'])[:12]}); written by `{env['command']}` on {env['cpu']} "
                      f"({env['cores']} cores), {env['timestamp']}."]
        update_block(args.docs, "segment-paths", "\n".join(lines))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()

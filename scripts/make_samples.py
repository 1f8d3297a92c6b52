"""Generate samples/: demo photos made from Fashion-MNIST test items, reproducibly.

For each class, the first N test items of that class are rendered as "photos":
the 28x28 item is upscaled, turned back into a dark garment on a light
background (Fashion-MNIST is negated), tinted, placed at a random scale and
position on a light, slightly uneven background with noise, and saved as JPEG.
``samples/expected.csv`` lists each file with its true label and test index.

    python scripts/make_samples.py [--per-class 1] [--out samples]

Needs the real dataset (see ``fmnistedge data``); the seed is fixed, so the
same dataset always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from fmnistedge import data
from fmnistedge.labels import LABELS

SEED = 20261122
CANVAS = (320, 240)  # width, height: a small camera still


def slug(label: str) -> str:
    return label.lower().replace("/", "-").replace(" ", "-")


def render_photo(item: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Fashion-MNIST item as an RGB photo of a garment on a light surface."""
    w, h = CANVAS
    side = int(rng.uniform(0.55, 0.85) * h)
    big = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    alpha = np.clip(big * 4.0, 0, 1)  # where the garment is
    tint = rng.uniform(0.35, 1.0, size=3)
    garment = (1.0 - big)[..., None] * tint[None, None] * 255.0  # un-negate: dark garment
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(205, 240)
    background = base + 12 * (xx / w - 0.5) + 8 * (yy / h - 0.5)
    canvas = np.repeat(background[..., None], 3, axis=2) * rng.uniform(0.95, 1.0, size=3)
    x0 = int(rng.integers(0, w - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    region = canvas[y0:y0 + side, x0:x0 + side]
    canvas[y0:y0 + side, x0:x0 + side] = alpha[..., None] * garment + (1 - alpha[..., None]) * region
    canvas += rng.normal(0, 3.0, canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("samples"))
    args = parser.parse_args()
    x, y = data.load_split("test")
    rng = np.random.default_rng(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for cls, label in enumerate(LABELS):
        for k, index in enumerate(np.flatnonzero(y == cls)[: args.per_class]):
            name = f"{cls}-{slug(label)}" + (f"-{k}" if args.per_class > 1 else "") + ".jpg"
            buf = io.BytesIO()
            Image.fromarray(render_photo(x[index], rng)).save(buf, format="JPEG", quality=90)
            (args.out / name).write_bytes(buf.getvalue())
            rows.append({"file": name, "label_index": cls, "label": label, "test_index": int(index)})
    with open(args.out / "expected.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "label_index", "label", "test_index"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} samples and expected.csv to {args.out}")


if __name__ == "__main__":
    main()

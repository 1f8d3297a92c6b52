"""Generate samples/: demo photos and a scan clip made from Fashion-MNIST test items, reproducibly.

For each class, the first N test items of that class are rendered as "photos":
the 28x28 item is upscaled, turned back into a dark garment on a light
background (Fashion-MNIST is negated), tinted, placed at a random scale and
position on a light, slightly uneven background with noise, and saved as JPEG.
``samples/expected.csv`` lists each file with its true label and test index.

``samples/scan.mp4`` is a short clip for ``fmnistedge scan --source``: a few of the
same items, each held in view for 1.2 s with empty frames between, on a light
surface with per-frame sensor noise and a little hand jitter;
``samples/scan-expected.csv`` lists the items in the order they appear.

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

from fmnistedge.labels import LABELS
from fmnistedge.training import data
from argtypes import bounded

SEED = 20261122
CANVAS = (320, 240)  # width, height: a small camera still


def slug(label: str) -> str:
    return label.lower().replace("/", "-").replace(" ", "-")


def surface(rng: np.random.Generator) -> np.ndarray:
    """A light, slightly uneven and tinted surface (float RGB)."""
    w, h = CANVAS
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    background = rng.uniform(205, 240) + 12 * (xx / w - 0.5) + 8 * (yy / h - 0.5)
    return np.repeat(background[..., None], 3, axis=2) * rng.uniform(0.95, 1.0, size=3)


def place(item: np.ndarray, canvas: np.ndarray, side: int, x0: int, y0: int, tint: np.ndarray) -> np.ndarray:
    """Draw the item, un-negated (a dark garment on the light surface), at (x0, y0)."""
    big = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    alpha = np.clip(big * 4.0, 0, 1)[..., None]  # where the garment is
    garment = (1.0 - big)[..., None] * tint[None, None] * 255.0
    out = canvas.copy()
    region = out[y0:y0 + side, x0:x0 + side]
    out[y0:y0 + side, x0:x0 + side] = alpha * garment + (1 - alpha) * region
    return out


def finish(canvas: np.ndarray, rng: np.random.Generator, noise: float = 3.0) -> np.ndarray:
    return np.clip(canvas + rng.normal(0, noise, canvas.shape), 0, 255).astype(np.uint8)


def render_photo(item: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Fashion-MNIST item as an RGB photo of a garment on a light surface."""
    w, h = CANVAS
    side = int(rng.uniform(0.55, 0.85) * h)
    tint = rng.uniform(0.35, 1.0, size=3)
    canvas = surface(rng)
    x0 = int(rng.integers(0, w - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    return finish(place(item, canvas, side, x0, y0, tint), rng)


SCAN_CLASSES = (1, 7, 0, 9, 3)  # Trouser, Sneaker, T-shirt/top, Ankle boot, Dress
SCAN_FPS, HOLD_FRAMES, EMPTY_FRAMES = 10, 12, 6


def make_scan_clip(x: np.ndarray, y: np.ndarray, out: Path, rng: np.random.Generator) -> list[dict]:
    """Each item held in the guide box for HOLD_FRAMES frames, EMPTY_FRAMES empty frames around."""
    w, h = CANVAS
    canvas = surface(rng)
    frames: list[np.ndarray] = [finish(canvas, rng) for _ in range(EMPTY_FRAMES)]
    rows = []
    for order, cls in enumerate(SCAN_CLASSES, start=1):
        index = int(np.flatnonzero(y == cls)[0])
        side = int(0.7 * h)
        tint = rng.uniform(0.35, 1.0, size=3)
        for _ in range(HOLD_FRAMES):
            dx, dy = (int(v) for v in rng.integers(-4, 5, size=2))  # a hand is never still
            frames.append(finish(place(x[index], canvas, side, (w - side) // 2 + dx, (h - side) // 2 + dy, tint), rng))
        frames.extend(finish(canvas, rng) for _ in range(EMPTY_FRAMES))
        rows.append({"order": order, "label_index": cls, "label": LABELS[cls], "test_index": index})
    write_mp4(frames, out, SCAN_FPS)
    return rows


def write_mp4(frames: list[np.ndarray], out: Path, fps: int) -> None:
    """RGB frames to an MPEG-4 (mp4v) file, as every OpenCV build can write."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot write mp4v video here")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=bounded(1, 1000), default=1)
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
    scan_rows = make_scan_clip(x, y, args.out / "scan.mp4", np.random.default_rng(SEED + 1))
    with open(args.out / "scan-expected.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["order", "label_index", "label", "test_index"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(scan_rows)
    print(f"wrote {len(rows)} samples, expected.csv, scan.mp4 ({len(scan_rows)} items) to {args.out}")


if __name__ == "__main__":
    main()

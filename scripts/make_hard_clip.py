"""Generate the harder scan clips: real garments on textured backgrounds under camera conditions.

    python scripts/make_hard_clip.py --photos ../shared/realphotos-train --out DIR
        [--size 640x480] [--garments samples/hard-clips.json] [--check samples/hard-clips.json]
        [--write-meta samples/hard-clips.json]

For each of three procedurally textured backgrounds (wood, plaid, a blotchy wall)
one clip ``DIR/hard-<background>-<W>x<H>.mp4`` at 10 FPS: an empty view, then four
garments, each sliding into the guide box from below (half-entered frames on the
way), held with a sway while a hand-like occluder moves in and out at its lower
edge, then sliding out; between garments the hand passes once through the empty
view. Over the whole clip: camera noise, an auto-exposure drift (a slow gain wave
plus a dip while a garment is in view), and a slow light change (a brightness ramp
and a warm shift across the frame).

The garments are cut out of real photos with single clear labels from the photo
folder (``--photos``, see docs/training.md for the public data set), taken from the
photographers that photo training holds out (seed 0, 20%) so no model saw them:
for each class in ``CLASSES`` the first such photo (by image id) whose garment the
photo path segments with GrabCut into a plausible area and which the shipped model
answers correctly on the still photo, at least 80% sure. The clip tests the scan pipeline
under camera conditions, not the model's accuracy on hard photos. The choice depends on
the shipped model, so it is made once and recorded: ``--garments samples/hard-clips.json``
(what the tests and ``scripts/bench_scan.py`` use) cuts out the recorded photos again. Photos are never copied into
the repository: the clip is regenerated from the folder (a few seconds), and
``samples/hard-clips.json`` records the image ids, the expected items in order and a
checksum of the raw frames (``--check`` compares; it depends on the NumPy, OpenCV and
Pillow builds and on the photo-path code, so a difference means "regenerate and look",
not a failure of the scan).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from fmnistedge import fileio
from fmnistedge.labels import LABELS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_samples import write_mp4  # noqa: E402  (scripts/ is not a package)

SEED = 20261201
FPS = 10
BACKGROUNDS = ("wood", "plaid", "wall")
CLASSES = ((1, 3, 7, 0), (2, 4, 1, 3), (0, 7, 3, 1))  # per background, in the order shown
EMPTY_START, ENTER, HOLD, EXIT, GAP = 15, 6, 22, 6, 12
NOISE = 4.0  # camera noise (gray levels, per pixel and frame)
GARMENT_SIDE = 0.62  # the garment's longest side, as a share of the guide box


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"{option} takes WIDTHxHEIGHT. Received: {text!r}") from None
    if not (64 <= w <= 1920 and 64 <= h <= 1080):
        raise SystemExit(f"{option} must be between 64x64 and 1920x1080. Received: {text!r}")
    return w, h


def texture(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A textured background (float RGB 0-255)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    low = cv2.resize(rng.normal(0, 1, (h // 16 + 2, w // 16 + 2)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    if kind == "wood":
        grain = np.sin((xx / w * 38 + 3.0 * low) * np.pi) * 0.5 + 0.5
        base = np.array([150, 105, 70], np.float32)
        img = base[None, None] * (0.75 + 0.35 * grain[..., None])
    elif kind == "plaid":
        a = (np.sin(xx / w * 2 * np.pi * 9) > 0.55) | (np.sin(yy / h * 2 * np.pi * 7) > 0.55)
        b = (np.sin(xx / w * 2 * np.pi * 27) > 0.8)
        img = np.full((h, w, 3), (120, 140, 170), np.float32)
        img[a] = (80, 95, 140)
        img[b] = (170, 170, 185)
        img = cv2.GaussianBlur(img, (0, 0), 1.2)
    elif kind == "wall":
        blot = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 6) * 6
        img = np.array([196, 190, 178], np.float32)[None, None] * (1 + 0.06 * low[..., None]) + 10 * blot[..., None]
    else:
        raise ValueError(kind)
    return np.clip(img, 0, 255)


def cut_out(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The garment's RGB crop (float) and its softened 0..1 alpha."""
    x, y, w, h = cv2.boundingRect(mask)
    alpha = cv2.GaussianBlur(mask[y:y + h, x:x + w].astype(np.float32) / 255, (0, 0), 1.0)
    return rgb[y:y + h, x:x + w].astype(np.float32), alpha


def recorded_garments(folder: Path, ids: dict[str, str]) -> dict[int, tuple[str, np.ndarray, np.ndarray]]:
    """The garments named in a metadata file (label -> image id), cut out as when chosen."""
    from fmnistedge.runtime import imageio, photo

    from fmnistedge.training import photos

    by_id = {r.image_id: r for r in photos.read_photo_labels(folder)}
    out = {}
    for label, image_id in ids.items():
        row = by_id.get(image_id)
        if row is None:
            raise SystemExit(f"{folder} has no photo {image_id} (the {label} of the recorded clips)")
        rgb = photo._resize_longest(imageio.decode(row.path).rgb, photo.RENDER_SIDE)
        mask, _ = photo.segment(rgb)
        out[LABELS.index(label)] = (image_id, *cut_out(rgb, mask))
    return out


def pick_garments(folder: Path, classes: list[int]) -> dict[int, tuple[str, np.ndarray, np.ndarray]]:
    """class -> (image id, garment RGB crop, its 0..1 alpha) from held-out photographers."""
    from fmnistedge.runtime import imageio, models, photo
    from fmnistedge.runtime.openset import for_model
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import photos
    from fmnistedge.training.options import TrainOptions

    rows = photos.read_photo_labels(folder)
    held_out = photos.grouped_split(rows, TrainOptions.photo_val_fraction, TrainOptions.seed)  # train's held-out split
    ref = models.resolve(None)
    backend, openset = models.load(ref), for_model(ref)
    out: dict[int, tuple[str, np.ndarray, np.ndarray]] = {}
    for row in sorted((r for r, v in zip(rows, held_out) if v and r.label in classes), key=lambda r: r.image_id):
        if row.label in out:
            continue
        try:
            rgb = photo._resize_longest(imageio.decode(row.path).rgb, photo.RENDER_SIDE)
        except Exception:  # noqa: BLE001 - an unreadable photo is simply not chosen
            continue
        mask, method = photo.segment(rgb)
        area = float(mask.mean()) / 255
        if method != "grabcut" or not 0.12 <= area <= 0.7:
            continue
        img, _ = photo.render(rgb, mask)
        probs = backend.predict(to_model_input(img[None]))[0]
        if openset is not None:
            probs = openset.calibrate(probs[None])[0]
        if int(np.argmax(probs)) != row.label or float(probs.max()) < 0.8:
            continue
        out[row.label] = (row.image_id, *cut_out(rgb, mask))
        if len(out) == len(set(classes)):
            break
    missing = sorted(set(classes) - set(out))
    if missing:
        raise SystemExit(f"No usable held-out photo for {', '.join(LABELS[c] for c in missing)} in {folder}")
    return out


def hand(frame: np.ndarray, tip: tuple[int, int], scale: float) -> None:
    """A hand-like occluder: a skin-toned palm with fingers and a forearm to the bottom edge
    (at scale 1 the palm is 68 px wide; the clips use a palm about a fifth of the garment's length)."""
    h = frame.shape[0]
    x, y = tip
    skin = (205, 160, 130)
    palm = int(34 * scale)
    cv2.rectangle(frame, (x - int(palm * 0.7), y + palm), (x + int(palm * 0.7), h + 10), (190, 145, 118), -1)
    cv2.ellipse(frame, (x, y + palm), (palm, int(palm * 0.8)), 0, 0, 360, skin, -1)
    for i in range(4):
        fx = x - palm + int((i + 0.5) * palm / 2)
        cv2.ellipse(frame, (fx, y + int(palm * 0.2)), (int(palm * 0.18), int(palm * 0.55)), 0, 0, 360, skin, -1)


def make_clip(kind: str, garments: list[np.ndarray], size: tuple[int, int], rng: np.random.Generator) -> list[np.ndarray]:
    w, h = size
    base = texture(kind, size, rng)
    side = int(0.8 * min(w, h))  # the scan's guide box (ROI_FRACTION 0.8)
    bx, by = (w - side) // 2, (h - side) // 2
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :, None]
    schedule: list[tuple[int | None, float, int]] = [(None, 0.0, 0)] * EMPTY_START  # (garment, entered 0..1, hand phase)
    for g in range(len(garments)):
        schedule += [(g, (i + 1) / (ENTER + 1), -1) for i in range(ENTER)]
        schedule += [(g, 1.0, i) for i in range(HOLD)]
        schedule += [(g, 1.0 - (i + 1) / (EXIT + 1), -1) for i in range(EXIT)]
        schedule += [(None, 0.0, 100 + i) for i in range(GAP)]
    frames = []
    total = len(schedule)
    for t, (g, entered, phase) in enumerate(schedule):
        frame = base.copy()
        cx, cy = bx + side // 2, by + side // 2
        if g is not None:
            rgb, alpha = garments[g]
            s = GARMENT_SIDE * side / max(rgb.shape[:2])
            gw, gh = max(1, int(rgb.shape[1] * s)), max(1, int(rgb.shape[0] * s))
            grgb = cv2.resize(rgb, (gw, gh), interpolation=cv2.INTER_AREA)
            galpha = cv2.resize(alpha, (gw, gh), interpolation=cv2.INTER_AREA)[..., None]
            sway = int(round(3 * np.sin(t * 0.9))), int(round(2 * np.cos(t * 0.7)))
            x0 = cx - gw // 2 + sway[0]
            y0 = int(cy - gh // 2 + (1.0 - entered) * (h - (cy - gh // 2))) + sway[1]
            ys, ye = max(0, y0), min(h, y0 + gh)
            xs, xe = max(0, x0), min(w, x0 + gw)
            if ye > ys and xe > xs:
                a = galpha[ys - y0:ye - y0, xs - x0:xe - x0]
                frame[ys:ye, xs:xe] = a * grgb[ys - y0:ye - y0, xs - x0:xe - x0] + (1 - a) * frame[ys:ye, xs:xe]
            if 0 <= phase < HOLD:  # the hand comes in, rests at the garment's lower edge, goes out
                reach = min(1.0, phase / 4, (HOLD - 1 - phase) / 4) if 4 <= phase <= HOLD - 5 else 0.0
                if reach > 0:
                    tip_y = int(h - reach * (h - (y0 + gh - int(0.12 * side))))
                    hand(frame, (x0 + gw // 2 + int(0.15 * gw), tip_y), side / 600)
        elif phase >= 100 and 3 <= phase - 100 <= 8:  # a hand passing through the empty view
            k = phase - 100 - 3
            hand(frame, (bx + int(side * (0.2 + 0.12 * k)), by + int(side * 0.55)), side / 600)
        tnorm = t / max(1, total - 1)
        in_view = g is not None and entered > 0.5
        gain = 1.0 + 0.07 * np.sin(2 * np.pi * t / (7 * FPS)) - (0.05 if in_view else 0.0)
        ramp = 1.0 + 0.12 * tnorm * xx  # the light slowly moves to one side
        warm = np.array([1 + 0.05 * tnorm, 1.0, 1 - 0.05 * tnorm], np.float32)[None, None]
        frame = frame * gain * ramp * warm + rng.normal(0, NOISE, frame.shape).astype(np.float32)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def generate(photos: Path, out: Path, size: tuple[int, int], garments: Path | None = None) -> dict:
    """Write the clips; returns the metadata (clips, image ids, expected items, checksums).
    With ``garments`` (a metadata file), the garments recorded there are used instead of
    choosing them again (the choice depends on the shipped model)."""
    wanted = sorted({c for cs in CLASSES for c in cs})
    if garments is not None:
        picked = recorded_garments(photos, json.loads(Path(garments).read_text())["garments"])
    else:
        picked = pick_garments(photos, wanted)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"script": "scripts/make_hard_clip.py", "seed": SEED, "fps": FPS, "size": f"{size[0]}x{size[1]}",
            "garments": {LABELS[c]: picked[c][0] for c in wanted}, "clips": []}
    for i, (kind, classes) in enumerate(zip(BACKGROUNDS, CLASSES)):
        rng = np.random.default_rng(SEED + i)
        frames = make_clip(kind, [picked[c][1:] for c in classes], size, rng)
        name = f"hard-{kind}-{size[0]}x{size[1]}.mp4"
        write_mp4(frames, out / name, FPS)
        digest = hashlib.sha256()
        for f in frames:
            digest.update(f.tobytes())
        meta["clips"].append({"file": name, "background": kind, "frames": len(frames),
                              "expected": [LABELS[c] for c in classes], "frames_sha256": digest.hexdigest()})
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True, help="labelled photo folder (labels.csv)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the clips")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--garments", type=Path, help="use the garments recorded in this metadata file "
                        "(e.g. samples/hard-clips.json) instead of choosing them with the shipped model")
    parser.add_argument("--check", type=Path, help="compare the checksums with this metadata file")
    parser.add_argument("--write-meta", type=Path, help="write the metadata here")
    args = parser.parse_args()
    meta = generate(args.photos, args.out, parse_size(args.size), args.garments)
    fileio.write_json(args.out / "hard-clips.json", meta)
    if args.write_meta:
        fileio.write_json(args.write_meta, meta)
    for c in meta["clips"]:
        print(f"{args.out / c['file']}: {c['frames']} frames, expected {', '.join(c['expected'])}")
    if args.check:
        want = {c["file"]: c["frames_sha256"] for c in json.loads(args.check.read_text())["clips"]}
        got = {c["file"]: c["frames_sha256"] for c in meta["clips"]}
        if any(want.get(k) != v for k, v in got.items()):
            print(f"checksums differ from {args.check}: regenerate and look at the clips", file=sys.stderr)
            raise SystemExit(1)
        print(f"checksums match {args.check}")


if __name__ == "__main__":
    main()

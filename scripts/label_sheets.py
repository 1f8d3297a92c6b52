"""Contact sheets of the photos whose label is only a candidate set, for refining labels by eye.

    python scripts/label_sheets.py --photos ../shared/realphotos-train --candidates "0|2" --out /tmp/sheets

Writes OUT/sheet-NN.png: the rows of labels.csv with these candidates, in image-id order,
48 per sheet (8 x 6 cells of 140 px), each cell numbered ``NN-i`` (sheet, position); and
OUT/index.csv mapping each ``NN-i`` to its image id. The decisions go into
``data/label-refinements.csv`` (image id, label, how it was decided), which photo training
reads (``fmnistedge.training.photos``). Nothing is written into the photo folder.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

COLS, ROWS, CELL = 8, 6, 140


def main() -> None:
    from PIL import Image, ImageDraw

    from fmnistedge.runtime import imageio
    from fmnistedge.training import photos

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--candidates", required=True, help="e.g. '0|2'")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    want = tuple(sorted(int(c) for c in args.candidates.split("|")))
    rows = sorted((r for r in photos.read_photo_labels(args.photos) if r.label is None and r.candidates == want),
                  key=lambda r: r.image_id)
    args.out.mkdir(parents=True, exist_ok=True)
    per = COLS * ROWS
    with open(args.out / "index.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["cell", "image_id"])
        for s in range(0, len(rows), per):
            sheet = Image.new("RGB", (COLS * CELL, ROWS * CELL), "white")
            draw = ImageDraw.Draw(sheet)
            for i, r in enumerate(rows[s:s + per]):
                im = Image.fromarray(imageio.decode(r.path).rgb)  # decoded (EXIF-turned) as for training
                im.thumbnail((CELL - 4, CELL - 18))
                x, y = (i % COLS) * CELL, (i // COLS) * CELL
                sheet.paste(im, (x + 2, y + 16))
                cell = f"{s // per + 1:02d}-{i + 1}"
                draw.rectangle((x, y, x + 44, y + 14), fill="black")
                draw.text((x + 3, y + 1), cell, fill="yellow")
                out.writerow([cell, r.image_id])
            sheet.save(args.out / f"sheet-{s // per + 1:02d}.png")
    print(f"{len(rows)} photos, {-(-len(rows) // per)} sheets -> {args.out}")


if __name__ == "__main__":
    main()

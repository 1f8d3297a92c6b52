"""Decode user images safely into RGB (+ optional alpha) arrays.

Pillow reads the header first, so dimensions are checked against
:data:`MAX_PIXELS` *before* the pixels are decoded (a decompression-bomb
guard); EXIF orientation is applied; 16-bit, palette, gray, CMYK and alpha
images all come out as 8-bit RGB plus an alpha mask when there is one. Large
JPEGs are decoded at a reduced DCT scale, so a phone photo is quick on a Pi.
Every failure is an :class:`ImageError` with a one-line message naming the file.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnistedge.errors import FmnistEdgeError

# 64 megapixels: above any phone or Pi camera still (a Pi HQ camera is 12.3 MP),
# and about 200 MB of RGB, which a 1 GB Pi can still hold.
MAX_PIXELS = 64_000_000
# The photo pipeline works from at most this many pixels on the long side: a photo is
# reduced to it first (photo.RENDER_SIDE), segmented at 80 px (160 px with --segment
# grabcut) and rendered from it into 28 px. 192 px is the long side of the photos photo
# training learns from (the public realphotos-train set is stored at <= 192 px) and of the
# scan's background path, so a user's photo reaches the model as those did. JPEGs larger
# than this are decoded at the smallest reduced scale (Pillow's draft mode: 1/2, 1/4 or
# 1/8) that still keeps the long side >= RENDER_SIDE.
RENDER_SIDE = 192
READ_WHOLE_BYTES = 16 * 1024 * 1024  # files up to this size are read in one go (see decode)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"}
SUPPORTED_FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF", "PPM", "MPO"}


class ImageError(FmnistEdgeError):
    """An input image is missing, unreadable, corrupt, unsupported or too large."""


@dataclass
class Decoded:
    rgb: np.ndarray  # uint8 (H, W, 3)
    alpha: np.ndarray | None  # uint8 (H, W) or None
    format: str
    # (width, height) of the image as the file shows it (EXIF orientation applied); larger
    # than ``rgb`` when a JPEG was decoded at a reduced scale. None: the size of ``rgb``.
    full_size: tuple[int, int] | None = None

    def to_full(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """An (x, y, w, h) box in ``rgb``'s pixels, in the file's own pixels."""
        h, w = self.rgb.shape[:2]
        return box if self.full_size is None else scale_box(box, (w, h), self.full_size)


def scale_box(box: tuple[int, int, int, int], from_size: tuple[int, int],
              to_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """An (x, y, w, h) box in an image of ``from_size`` (width, height), in the pixels of the
    same picture at ``to_size``."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    x, y, bw, bh = box
    return int(round(x * sx)), int(round(y * sy)), int(round(bw * sx)), int(round(bh * sy))


def decode(path: Path | str, max_pixels: int = MAX_PIXELS) -> Decoded:
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError(f"No such file: {path}")
    if path.is_dir():
        raise ImageError(f"Is a directory with no images: {path}")
    if not os.access(path, os.R_OK):
        raise ImageError(f"Permission denied: {path}")
    if path.stat().st_size == 0:
        raise ImageError(f"Empty file (0 bytes): {path}")
    Image.MAX_IMAGE_PIXELS = None  # our own, documented limit below replaces Pillow's
    size = path.stat().st_size
    try:
        # A photo-sized file is read in one go and decoded from memory: Pillow reads a file in
        # many small pieces (about 40 system calls for a 50 KB JPEG). A large one is not held twice.
        with Image.open(io.BytesIO(path.read_bytes()) if size <= READ_WHOLE_BYTES else path) as im:
            if im.format not in SUPPORTED_FORMATS:
                raise ImageError(f"Unsupported image format {im.format}: {path}")
            width, height = im.size
            if width * height > max_pixels or width <= 0 or height <= 0:
                raise ImageError(f"Image too large: {width}x{height} pixels exceeds the limit of "
                                 f"{max_pixels:,} pixels: {path}")
            if im.format in ("JPEG", "MPO") and max(width, height) > RENDER_SIDE:
                # Decode at a reduced DCT scale (1/2, 1/4 or 1/8) that keeps the long
                # side >= RENDER_SIDE: a 48 MP phone photo costs a fraction of the time
                # and memory, and nothing downstream needs more pixels.
                s = RENDER_SIDE / max(width, height)
                im.draft(im.mode, (math.ceil(width * s), math.ceil(height * s)))
            full_size = None
            if im.size != (width, height):  # decoded at a reduced scale: the file's own size, as shown
                turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # orientations that swap the sides
                full_size = (height, width) if turned else (width, height)
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # turned only when EXIF says so: no copy otherwise
            decoded = _to_rgb(im)
            decoded.full_size = full_size
            return decoded
    except UnidentifiedImageError:
        raise ImageError(f"Not an image (or an unsupported format): {path}") from None
    except PermissionError:
        raise ImageError(f"Permission denied: {path}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"Corrupt or truncated image {path}: {exc}") from None


def _to_rgb(im) -> Decoded:
    fmt = im.format or "unknown"
    alpha = None
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Decoded(np.repeat(gray[..., None], 3, axis=2), None, fmt)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(im.convert("RGBA"))
        alpha = np.ascontiguousarray(rgba[..., 3])
        if alpha.min() == 255:
            alpha = None  # an opaque alpha channel carries no mask
        return Decoded(np.ascontiguousarray(rgba[..., :3]), alpha, fmt)
    return Decoded(np.asarray(im if im.mode == "RGB" else im.convert("RGB")), None, fmt)


def expand_paths(paths: list[str]) -> list[Path | tuple[Path, str]]:
    """Expand files, directories (recursive, images only) and globs, in argument order.

    Each entry is an image path or, for an argument that matched nothing (a missing
    file, an empty glob or a directory without images), a ``(path, problem)`` pair
    in that argument's place. An image named twice is listed once, where it first appears.
    """
    import glob

    out: list[Path | tuple[Path, str]] = []
    seen: set[Path] = set()

    def add(files) -> None:
        for f in files:
            if f not in seen:
                seen.add(f)
                out.append(f)

    for raw in paths:
        p = Path(raw)
        if any(ch in raw for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(raw, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                out.append((p, f"No files match the pattern: {raw}"))
            add(files)
        elif p.is_dir():
            images = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                out.append((p, f"Directory contains no images: {p}"))
            add(images)
        elif not p.exists():
            out.append((p, f"No such file: {p}"))
        else:
            add([p])
    return out


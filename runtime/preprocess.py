"""The one definition of the model input contract (DESIGN.md, "Model input").

Models take 28x28x1 images in the Fashion-MNIST polarity (light garment on a dark
background), scaled to [0, 1] for float models (or 56x56x1: ``labels.INPUT_SIZES``; photos are
then rendered at 56 px and Fashion-MNIST images enlarged by :func:`enlarge`). Training, evaluation, export
verification and the runtime all call :func:`to_model_input`, so there is no
second copy of the scaling to drift out of step.
"""

from __future__ import annotations

import numpy as np

from fmnistedge.labels import IMAGE_SIZE, INPUT_SIZES

INPUT_SCALE = 1.0 / 255.0  # uint8 pixel -> [0, 1]


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, S, S) or (N, S, S, 1) -> float32 (N, S, S, 1) in [0, 1], S in ``INPUT_SIZES``."""
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[3] != 1 or arr.shape[1] != arr.shape[2] or arr.shape[1] not in INPUT_SIZES:
        raise ValueError(f"Expected images of shape (N, S, S[, 1]) with S one of {INPUT_SIZES}. "
                         f"Received: shape={arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(INPUT_SCALE)
    return arr.astype(np.float32, copy=False)


def enlarge(images: np.ndarray, size: int) -> np.ndarray:
    """28x28 images (N, 28, 28[, 1]) at ``size`` px by pixel repetition (size a multiple of 28):
    the 2x2 mean of a 56 px result is the original image. Fashion-MNIST for a 56 px model."""
    arr = np.asarray(images)
    if arr.shape[1] == size:
        return arr
    if size % arr.shape[1]:
        raise ValueError(f"Cannot enlarge {arr.shape[1]} px images to {size} px")
    k = size // arr.shape[1]
    return np.repeat(np.repeat(arr, k, axis=1), k, axis=2)


PHOTO_MODES = ("photo", "raw", "naive")
_PREPROCESS_MODULES = ("preprocess.py", "photo.py", "imageio.py")


def preprocessing_version() -> str:
    """A digest of the code that turns an image file into a model input (this module,
    :mod:`~fmnistedge.runtime.photo`, :mod:`~fmnistedge.runtime.imageio`) and of the
    OpenCV and Pillow versions it runs on: caches of rendered photos key on it."""
    import hashlib
    from pathlib import Path

    import cv2
    import PIL

    h = hashlib.sha256(f"cv2 {cv2.__version__} PIL {PIL.__version__}".encode())
    here = Path(__file__).parent
    for name in _PREPROCESS_MODULES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def prepare_rgb(rgb: np.ndarray, mode: str = "photo", alpha: np.ndarray | None = None,
                detect_empty: bool = False, timings: dict | None = None, segment: str | None = None,
                size: int = IMAGE_SIZE):
    """Bring an RGB image to a uint8 ``size`` x ``size`` (28x28 unless the model takes more)
    Fashion-MNIST-style image; returns (image, info).

    ``photo`` segments the garment (see :mod:`fmnistedge.runtime.photo`), ``raw``
    takes an image that is already Fashion-MNIST style, ``naive`` is the plain
    resize-and-negate baseline. ``detect_empty`` (camera frames) reports a view with
    no garment as ``method == "whole-image"`` instead of segmenting background noise.
    ``segment`` picks the segmentation path (``photo.SEGMENT_PATHS``; default "fast").
    """
    from fmnistedge.runtime import photo

    if mode not in PHOTO_MODES:
        raise ValueError(f"Unknown preprocessing mode. Received: mode={mode!r}")
    if mode == "raw":
        return photo.raw(rgb, size), {"mode": "raw"}
    if mode == "naive":
        return photo.naive(rgb, size), {"mode": "naive"}
    img, info = photo.photo_to_fashion_mnist(rgb, alpha, detect_empty, timings,
                                             segment or photo.DEFAULT_SEGMENT, size)
    return img, {"mode": "photo", "method": info.method, "box": list(info.box), "area": round(info.area, 4)}


def prepare_image(path, mode: str = "photo", segment: str | None = None, size: int = IMAGE_SIZE):
    """Decode an image file (safely, see :mod:`fmnistedge.runtime.imageio`) and :func:`prepare_rgb` it."""
    from fmnistedge.runtime import imageio

    if mode not in PHOTO_MODES:
        raise ValueError(f"Unknown preprocessing mode. Received: mode={mode!r}")
    decoded = imageio.decode(path)
    img, info = prepare_rgb(decoded.rgb, mode, decoded.alpha, segment=segment, size=size)
    if "box" in info:  # in the file's own pixels, also when a JPEG was decoded at a reduced scale
        info["box"] = list(decoded.to_full(tuple(info["box"])))
    return img, info


def prepare_frame(rgb: np.ndarray, mode: str = "photo", timings: dict | None = None,
                  segment: str | None = None, size: int = IMAGE_SIZE):
    """A camera frame: unlike a photo, it may show nothing (see :func:`prepare_rgb`)."""
    return prepare_rgb(rgb, mode, detect_empty=True, timings=timings, segment=segment, size=size)

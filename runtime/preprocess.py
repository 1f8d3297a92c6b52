"""The one definition of the model input contract (DESIGN.md, "Model input").

Models take 28x28x1 images in the Fashion-MNIST polarity (light garment on a dark
background), scaled to [0, 1] for float models. Training, evaluation, export
verification and the runtime all call :func:`to_model_input`, so there is no
second copy of the scaling to drift out of step.
"""

from __future__ import annotations

import numpy as np

from fmnistedge.labels import IMAGE_SIZE

INPUT_SCALE = 1.0 / 255.0  # uint8 pixel -> [0, 1]


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) or (N, 28, 28, 1) -> float32 (N, 28, 28, 1) in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError(f"Expected images of shape (N, 28, 28[, 1]). Received: shape={arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(INPUT_SCALE)
    return arr.astype(np.float32, copy=False)


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
                detect_empty: bool = False, timings: dict | None = None, segment: str | None = None):
    """Bring an RGB image to a uint8 28x28 Fashion-MNIST-style image; returns (image, info).

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
        return photo.raw(rgb), {"mode": "raw"}
    if mode == "naive":
        return photo.naive(rgb), {"mode": "naive"}
    img, info = photo.photo_to_fashion_mnist(rgb, alpha, detect_empty, timings,
                                             segment or photo.DEFAULT_SEGMENT)
    return img, {"mode": "photo", "method": info.method, "box": list(info.box), "area": round(info.area, 4)}


def prepare_image(path, mode: str = "photo", segment: str | None = None):
    """Decode an image file (safely, see :mod:`fmnistedge.runtime.imageio`) and :func:`prepare_rgb` it."""
    from fmnistedge.runtime import imageio

    if mode not in PHOTO_MODES:
        raise ValueError(f"Unknown preprocessing mode. Received: mode={mode!r}")
    decoded = imageio.decode(path)
    img, info = prepare_rgb(decoded.rgb, mode, decoded.alpha, segment=segment)
    if "box" in info:  # in the file's own pixels, also when a JPEG was decoded at a reduced scale
        info["box"] = list(decoded.to_full(tuple(info["box"])))
    return img, info


def prepare_frame(rgb: np.ndarray, mode: str = "photo", timings: dict | None = None,
                  segment: str | None = None):
    """A camera frame: unlike a photo, it may show nothing (see :func:`prepare_rgb`)."""
    return prepare_rgb(rgb, mode, detect_empty=True, timings=timings, segment=segment)

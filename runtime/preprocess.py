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

"""int8/uint8 tensor quantization for full-integer models, done once, here.

real = (q - zero_point) * scale. Quantizing rounds half to even (as NumPy and
TFLite's reference kernels do) and clips to the integer type's range.
"""

from __future__ import annotations

import functools

import numpy as np

_INT_TYPES = (np.int8, np.uint8, np.int16)


def is_quantized(dtype) -> bool:
    return np.dtype(dtype).type in _INT_TYPES


@functools.lru_cache(maxsize=None)
def _bounds(dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)  # slow to build; cached because this runs on every frame
    return int(info.min), int(info.max)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Float -> integer tensor of ``dtype`` with rounding and clipping."""
    if scale <= 0:
        raise ValueError(f"Quantization scale must be positive. Received: scale={scale}")
    lo, hi = _bounds(np.dtype(dtype).type)
    q = np.asarray(x, dtype=np.float32) / np.float32(scale)
    np.rint(q, out=q)
    q += zero_point
    np.clip(q, lo, hi, out=q)
    return q.astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer tensor -> float32."""
    return (np.asarray(q).astype(np.float32) - np.float32(zero_point)) * np.float32(scale)

"""int8/uint8 quantization helpers: rounding, clipping, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from fmnistedge.runtime.quant import dequantize, is_quantized, quantize


def test_int8_input_contract_maps_0_1_onto_the_full_range():
    scale, zp = 1 / 255, -128
    q = quantize(np.array([0.0, 1.0, 128 / 255]), scale, zp, np.int8)
    assert q.dtype == np.int8 and q.tolist() == [-128, 127, 0]


def test_rounds_half_to_even_like_numpy():
    q = quantize(np.array([0.5, 1.5, 2.5, -0.5]), 1.0, 0, np.int8)
    assert q.tolist() == [0, 2, 2, 0]


@pytest.mark.parametrize("dtype, lo, hi", [(np.int8, -128, 127), (np.uint8, 0, 255)])
def test_clips_to_the_type_range(dtype, lo, hi):
    q = quantize(np.array([-1e6, 1e6]), 0.01, 0 if dtype == np.int8 else 128, dtype)
    assert q.tolist() == [lo, hi] and q.dtype == dtype


def test_uint8_round_trip_error_is_at_most_half_a_step():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    scale, zp = 1 / 255, 0
    back = dequantize(quantize(x, scale, zp, np.uint8), scale, zp)
    assert np.abs(back - x).max() <= scale / 2 + 1e-7


def test_dequantize_softmax_output_contract():
    # TFLite int8 softmax output: scale 1/256, zero point -128.
    assert dequantize(np.array([-128, 127], np.int8), 1 / 256, -128).tolist() == [0.0, 255 / 256]


def test_rejects_non_positive_scale_and_knows_types():
    with pytest.raises(ValueError, match="scale"):
        quantize(np.zeros(2), 0.0, 0, np.int8)
    assert is_quantized(np.int8) and is_quantized(np.uint8) and not is_quantized(np.float32)

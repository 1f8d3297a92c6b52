"""ONNX fp32 -> statically quantized int8 ONNX (QDQ, per-channel weights, calibrated).

ONNX Runtime's recipe: ``quant_pre_process`` (shape inference and graph
optimization; the symbolic shape pass needs sympy) then ``quantize_static`` with
MinMax calibration on training images. Input and output stay float32; the QDQ
nodes inside carry the int8 scales.

Weights are quantized to 7 bits (``reduce_range``). On x86 CPUs without VNNI,
ONNX Runtime's int8 kernels add pairs of u8 x s8 products in 16-bit lanes that
saturate with full 8-bit weights, so a file verified on a VNNI machine scored
lower on an AVX2-only one than its manifest recorded. With 7-bit weights no pair
can saturate: every x86 CPU computes the same exact integers, and the accuracy
recorded at export holds on the user's machine.

``weight_bits=8`` (``fmnistedge export --onnx-weight-bits 8``) keeps full 8-bit
weights: more accurate for wider models, and exact on ARM (a Raspberry Pi) and on
x86 CPUs with VNNI, but on other x86 CPUs the saturating kernels can move the
result, so the accuracy verified at export may not be the one a user's x86 machine
computes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fmnistedge.export.keras2onnx import INPUT_NAME
from fmnistedge.formats import DEFAULT_ONNX_WEIGHT_BITS

CALIBRATION_BATCH = 50


def convert(fp32_model: bytes, calibration: np.ndarray, weight_bits: int = DEFAULT_ONNX_WEIGHT_BITS) -> bytes:
    if weight_bits not in (7, 8):
        raise ValueError(f"weight_bits must be 7 or 8, not {weight_bits}")
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.starts = iter(range(0, len(calibration), CALIBRATION_BATCH))

        def get_next(self):
            start = next(self.starts, None)
            if start is None:
                return None
            return {INPUT_NAME: calibration[start:start + CALIBRATION_BATCH]}

    with tempfile.TemporaryDirectory(prefix="fmnistedge-onnx-int8-") as tmp:
        src, pre, out = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(fp32_model)
        quant_pre_process(str(src), str(pre))
        quantize_static(
            str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, reduce_range=weight_bits == 7,
        )
        return out.read_bytes()

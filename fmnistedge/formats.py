"""The one table of model formats: engines, precisions, file names, verification bars, defaults.

Every other spelling derives from here: the manifest's checks, the runtime's file-type
and preference order, ``export``'s choices and verification, ``bench``'s format list and
the command line's choices and defaults. TensorFlow-free (plain data).
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("tflite", "onnx")  # LiteRT, ONNX Runtime; also the tie-break order (TFLite first)
SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}  # model file type -> engine
PRECISIONS = ("int8", "fp16", "fp32")  # also the runtime's order of preference (the fast one on a CPU first)
KERAS_FORMATS = ("keras-predict", "keras-call")  # bench's baselines (need TensorFlow)
# Weight width of int8 ONNX files: 7 (reduce_range) gives the same integers on every x86 CPU,
# with or without VNNI; 8 is more accurate and exact on ARM and VNNI CPUs (docs/export.md).
ONNX_WEIGHT_BITS = (7, 8)
DEFAULT_ONNX_WEIGHT_BITS = 7
DEFAULT_CALIBRATION_SAMPLES = 500  # training images (class-stratified) that calibrate int8 files


@dataclass(frozen=True)
class Format:
    key: str  # "tflite-int8": the name users pass and bench reports
    engine: str  # "tflite" (LiteRT) or "onnx" (ONNX Runtime)
    precision: str  # "fp32", "fp16" or "int8"
    filename: str
    max_accuracy_drop: float  # points below Keras' test accuracy
    min_agreement: float | None = None  # top-1 agreement with Keras (fraction)
    max_prob_diff: float | None = None  # max |p_file - p_keras| over the test set


FORMATS: dict[str, Format] = {
    "tflite-fp32": Format("tflite-fp32", "tflite", "fp32", "model_fp32.tflite", 0.1, 0.999, 1e-4),
    "tflite-fp16": Format("tflite-fp16", "tflite", "fp16", "model_fp16.tflite", 0.2, 0.995),
    "tflite-int8": Format("tflite-int8", "tflite", "int8", "model_int8.tflite", 1.0),
    "onnx-fp32": Format("onnx-fp32", "onnx", "fp32", "model_fp32.onnx", 0.1, 0.999, 1e-4),
    "onnx-int8": Format("onnx-int8", "onnx", "int8", "model_int8.onnx", 1.0),
}
BENCH_FORMATS = (*KERAS_FORMATS, *FORMATS)  # every row kind 'bench' measures, in its column order


def select(engines: list[str], int8: bool, fp16: bool) -> list[Format]:
    """fp32 always; int8 and fp16 on request (fp16 exists for TFLite only)."""
    wanted = {"fp32"} | ({"int8"} if int8 else set()) | ({"fp16"} if fp16 else set())
    return [f for f in FORMATS.values() if f.engine in engines and f.precision in wanted]

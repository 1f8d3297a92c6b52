"""Keras -> TFLite (fp32, fp16 weights, full-integer int8) through a SavedModel.

Keras 3's ``model.export(dir, format="tf_saved_model")`` followed by
``TFLiteConverter.from_saved_model`` gives correct files. Converting a
``tf.function`` over a Keras 3 model with ``from_concrete_functions`` was seen to
produce a file with READ_VARIABLE ops that ran and scored 10%; verification
checks for resource-variable ops so such a file can never pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# int8 models keep int8 input and output; the runtime quantizes with the scale and
# zero point stored in the file (recorded in the manifest).
INT8_IO = "int8"


def export_saved_model(model: Any, directory: Path) -> Path:
    model.export(str(directory), format="tf_saved_model", verbose=False)
    return directory


def convert(saved_model_dir: Path, precision: str, calibration: np.ndarray | None = None) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration images")

        def representative():
            for i in range(len(calibration)):
                yield [calibration[i:i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif precision != "fp32":
        raise ValueError(f"Unknown TFLite precision {precision!r}")
    return converter.convert()

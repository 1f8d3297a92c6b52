"""Keras -> ONNX (fp32) with tf2onnx.

``tf2onnx.convert.from_keras`` fails on Keras 3 (``KeyError: 'keras_tensor_N'``),
so a ``tf.function`` with an explicit, named input signature is converted
instead; the very same ``TensorSpec`` goes to both.
"""

from __future__ import annotations

from typing import Any

OPSET = 17
INPUT_NAME = "image"


def convert(model: Any) -> bytes:
    import tensorflow as tf
    import tf2onnx

    signature = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=signature)
    def serve(image):
        return {"probs": model(image, training=False)}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET)
    return proto.SerializeToString()

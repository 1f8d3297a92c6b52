"""Flip averaging: a model that answers with the mean of its answers on the image and on the
image mirrored left to right (``fmnistedge train --flip-average``).

Garments are (nearly) left-right symmetric, and a photo may show one either way round; the
mean of the two answers is steadier than either (test-time augmentation, built into the
model). It is built into the graph, not into the runtime, so every consumer sees the same
function: the exported files, their verification, calibration, ``bench`` (which times the
two passes) and ``classify``. The graph stays flat: the network's own layers are called a
second time on the mirror image (shared weights, the same layer names), so the weights, the
parameter count and the fine-tuning path are those of the plain architecture; the
multiply-accumulates per image double.
"""

from __future__ import annotations

AVERAGE_LAYER = "flip_average"


def flip_average(model):
    """``model`` answering with the mean of its outputs on the image and on its mirror image
    (same weights, same name)."""
    import keras

    from fmnistedge.training.zoo.layers import MirrorImage

    if is_flip_averaged(model):
        return model
    image = keras.Input(model.input_shape[1:], name=model.inputs[0].name or "image")
    # Functional.call on symbolic inputs calls each layer again: one flat graph, shared weights.
    plain, mirrored = model.call(image), model.call(MirrorImage(name="mirror")(image))
    out = keras.layers.Average(name=AVERAGE_LAYER)([plain, mirrored])
    return keras.Model(image, out, name=model.name)


def is_flip_averaged(model) -> bool:
    return any(layer.name == AVERAGE_LAYER for layer in model.layers)


def penultimate(model):
    """The input tensor of the model's last layer on the image itself (for a flip-averaged
    model: the plain branch's, not the mirror image's): the features ``report`` embeds."""
    out = model.get_layer(AVERAGE_LAYER).input[0] if is_flip_averaged(model) else model.outputs[0]
    layer, node_index, _ = out._keras_history
    return layer._inbound_nodes[node_index].input_tensors[0]

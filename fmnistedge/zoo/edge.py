"""fmnistedge's own edge architectures: small, batch-normalized, quantization-friendly CNNs.

Design rules for a low-end CPU and int8: plain 3x3 convolutions (the best-optimized
kernels in XNNPACK and ONNX Runtime), batch normalization that the converters fold
into the convolutions, ReLU (exact in int8), max pooling, global average pooling
instead of a large dense layer, no bias before BN. Trained with the ``edge`` recipe
(``fmnistedge.zoo.Recipe``): random crop from a 2-px padded image, horizontal flip,
random erasing, label smoothing 0.1, AdamW with decoupled weight decay, one-epoch
warm-up then cosine decay.
"""

from __future__ import annotations

from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES


def _conv_bn(x, filters: int, name: str):
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _vgg_bn(name: str, widths: tuple[tuple[int, ...], ...], dropout: float):
    """Stages of 3x3 conv-BN-ReLU blocks, 2x2 max pooling between stages, GAP head."""
    import keras
    from keras import layers

    inp = keras.Input(INPUT_SHAPE, name="image")
    x = inp
    for s, stage in enumerate(widths, start=1):
        if s > 1:
            x = layers.MaxPooling2D(2, name=f"pool{s - 1}")(x)
        for i, w in enumerate(stage, start=1):
            x = _conv_bn(x, w, f"conv{s}{'abc'[i - 1]}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="drop")(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=name)


def edge_s():
    """edge-s, about 79k parameters, ~12M MACs: 24-24 | 48-48 | 96 channels at 28, 14, 7 px."""
    return _vgg_bn("edge-s", ((24, 24), (48, 48), (96,)), dropout=0.1)


def edge_m():
    """edge-m, about 446k parameters, ~45M MACs: 40-40 | 80-80 | 160-160 channels."""
    return _vgg_bn("edge-m", ((40, 40), (80, 80), (160, 160)), dropout=0.2)

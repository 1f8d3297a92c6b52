"""fmnistedge's own edge architectures: small, batch-normalized, quantization-friendly CNNs.

Design rules for a low-end CPU and int8: plain 3x3 convolutions (the best-optimized
kernels in XNNPACK and ONNX Runtime), batch normalization that the converters fold
into the convolutions, ReLU (exact in int8), global average pooling
instead of a large dense layer, no bias before BN. ``edge-s`` is a plain VGG-style
stack with max pooling; ``edge-r`` and ``edge-m`` are ResNet-8s (strided convolutions,
projection shortcuts where the shape changes). Trained with the ``edge`` recipe
(``fmnistedge.training.zoo.Recipe``): random crop from a 2-px padded image, horizontal flip,
random erasing, label smoothing 0.1, AdamW with decoupled weight decay, one-epoch
warm-up then cosine decay.
"""

from __future__ import annotations

import numpy as np

from fmnistedge.labels import IMAGE_SIZE, INPUT_SHAPE, NUM_CLASSES

# The 2x2 Haar wavelet filters (mean, then row, column and diagonal detail) of the patch layer
# of a 56 px edge model: (kernel_h, kernel_w, 1, 4).
HAAR = np.transpose(np.array([[[1, 1], [1, 1]], [[1, 1], [-1, -1]], [[1, -1], [1, -1]], [[1, -1], [-1, 1]]],
                             np.float32) / 4, (1, 2, 0))[:, :, None, :]
PATCH = "patch"


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




def _res_block(x, filters: int, stride: int, name: str):
    """A ResNet basic block (He et al., 2016): two 3x3 conv-BN, projection shortcut when shapes change."""
    from keras import layers

    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}a")(x)
    y = layers.BatchNormalization(momentum=0.9, name=f"{name}a_bn")(y)
    y = layers.ReLU(name=f"{name}a_relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}b")(y)
    y = layers.BatchNormalization(momentum=0.9, name=f"{name}b_bn")(y)
    if stride != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_proj_bn")(x)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def _resnet(name: str, widths: tuple[int, ...], blocks: int = 1, size: int = IMAGE_SIZE):
    """A 3x3 stem, then ``blocks`` basic blocks per stage at 28, 14 and 7 px, GAP head (ResNet-8 for blocks=1).

    At ``size`` 56 a 2x2, stride-2 convolution with four outputs (``patch``, started as the Haar
    filters: the 2x2 mean and three details) brings the image to 28 px before the stem.
    """
    import keras
    from keras import layers

    inp = x = keras.Input((size, size, 1), name="image")
    if size != IMAGE_SIZE:
        x = layers.Conv2D(4, 2, strides=2, use_bias=False, name=PATCH)(x)
    x = _conv_bn(x, widths[0], "stem")
    for s, w in enumerate(widths, start=1):
        for b in range(blocks):
            x = _res_block(x, w, 2 if (s > 1 and b == 0) else 1, f"res{s}{'abc'[b]}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name=name)
    if size != IMAGE_SIZE:
        model.get_layer(PATCH).set_weights([HAAR])
    return model


def graft(small, large) -> None:
    """Start ``large`` (a 56 px edge model) from ``small``, the same architecture at 28 px: every
    layer's weights are copied, the stem's for the patch's mean channel and zero for its three
    detail channels, so ``large`` answers on an image as ``small`` does on its 2x2 mean (an
    enlarged Fashion-MNIST image: exactly as on the original)."""
    for layer in large.layers:
        if not layer.weights or layer.name == PATCH:
            continue
        weights = small.get_layer(layer.name).get_weights()
        if layer.name == "stem":
            kernel = np.zeros(tuple(layer.kernel.shape), np.float32)
            kernel[:, :, :1] = weights[0]
            weights = [kernel, *weights[1:]]
        layer.set_weights(weights)
    large.get_layer(PATCH).set_weights([HAAR])


def edge_r():
    """edge-r, about 78k parameters, ~9.3M MACs: a ResNet-8 (He et al., 2016) at widths 16 | 32 | 64.

    Widths stay multiples of 16: at 18 | 36 | 72 (99k parameters) a training step took
    twice as long on a 2-core x86 CPU, for 27% more MACs.
    """
    return _resnet("edge-r", (16, 32, 64))


def edge_m():
    """edge-m, about 309k parameters, ~37M MACs: edge-r's ResNet-8 at twice the width, 32 | 64 | 128.

    It replaced the plain 40-40 | 80-80 | 160-160 CNN first registered here (451k
    parameters, 45M MACs), whose training step was clearly slower on a 2-core x86 CPU
    (docs/training.md).
    """
    return _resnet("edge-m", (32, 64, 128))


def edge_r56():
    """edge-r56, about 78k parameters, ~9.8M MACs: edge-r for 56 px photo renders.

    A 2x2, stride-2 convolution with four outputs (``patch``, started as the Haar filters)
    in front of edge-r's stem: the same network from 28 px on, fed the 2x2 mean of the image
    and three channels of the detail a 28 px render loses (buttons, collars, straps). Grown
    from a trained edge-r (:func:`graft`, ``train edge-r56 --init-from edge-r``) it starts as
    exactly that model on the 2x2 mean; Fashion-MNIST is enlarged by pixel repetition
    (``runtime.preprocess.enlarge``), so its mean is the original image.
    """
    return _resnet("edge-r56", (16, 32, 64), size=2 * IMAGE_SIZE)

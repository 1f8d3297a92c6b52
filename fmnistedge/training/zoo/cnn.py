"""Convolutional architectures from the source write-ups (and the tiny test model).

Unless a docstring says otherwise, convolutions are 3x3 with "valid" padding
and pooling is 2x2 max pooling, as in Keras' defaults that the sources used.
"""

from __future__ import annotations

from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES


def _seq(name: str, body: list):
    from keras import Input, Sequential, layers

    return Sequential(
        [Input(INPUT_SHAPE, name="image"), *body,
         layers.Dense(NUM_CLASSES, activation="softmax", name="probs")],
        name=name,
    )


def cnn1():
    """Conv 32 relu -> MaxPool -> Conv 64 relu -> Conv 64 relu -> MaxPool -> Flatten ->
    Dropout 0.5 -> Dense 10 softmax. Nadam, 8 epochs, reported 91.6%."""
    from keras import layers

    return _seq("cnn1", [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.5, name="drop1"),
    ])


def cnn2():
    """Conv 32 same relu he_normal -> MaxPool -> Dropout 0.2 -> Conv 64 same -> MaxPool ->
    Dropout 0.2 -> Conv 128 same -> Dropout 0.5 -> Flatten -> Dense 128 relu -> Dense 10.

    Adam 1e-3, 8 epochs, reported 92.93%. Assumed: relu and he_normal on every
    convolution (the text gives them for the first).
    """
    from keras import layers

    conv = dict(padding="same", activation="relu", kernel_initializer="he_normal")
    return _seq("cnn2", [
        layers.Conv2D(32, 3, name="conv1", **conv),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Dropout(0.2, name="drop1"),
        layers.Conv2D(64, 3, name="conv2", **conv),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Dropout(0.2, name="drop2"),
        layers.Conv2D(128, 3, name="conv3", **conv),
        layers.Dropout(0.5, name="drop3"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="fc1"),
    ])


def cnn_basic():
    """Conv 32 relu -> MaxPool -> Flatten -> Dense 10 softmax (about 54k parameters).
    Adam, 8 epochs, reported 90.30%."""
    from keras import layers

    return _seq("cnn-basic", [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Flatten(name="flatten"),
    ])


def cnn_standard():
    """Conv 32 -> MaxPool -> Conv 64 -> MaxPool -> Flatten -> Dense 64 relu -> Dense 10
    (about 121k parameters). Adam, 8 epochs, reported 90.69%. Convolutions use relu."""
    from keras import layers

    return _seq("cnn-standard", [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="fc1"),
    ])


def cnn_final():
    """The real-photo write-up's "final optimized" CNN (about 0.9M parameters):
    Conv 32 same -> MaxPool -> Dropout 0.3 -> Conv 64 same -> MaxPool -> Dropout 0.3 ->
    Conv 128 same -> Dropout 0.3 -> Flatten -> Dense 128 relu -> Dropout 0.3 -> Dense 10.

    Adam, batch 100, 100 epochs, reported 93.40%. Assumed: relu everywhere, the
    third convolution also "same" and not pooled (this gives the ~0.9M parameters
    the write-up implies), dropout 0.3 after every block.
    """
    from keras import layers

    conv = dict(padding="same", activation="relu")
    return _seq("cnn-final", [
        layers.Conv2D(32, 3, name="conv1", **conv),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Dropout(0.3, name="drop1"),
        layers.Conv2D(64, 3, name="conv2", **conv),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Dropout(0.3, name="drop2"),
        layers.Conv2D(128, 3, name="conv3", **conv),
        layers.Dropout(0.3, name="drop3"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="fc1"),
        layers.Dropout(0.3, name="drop4"),
    ])


def cnn_2conv():
    """Conv 32 (no activation) -> Conv 32 relu -> MaxPool -> Dropout 0.2 -> Flatten ->
    Dense 128 relu -> Dropout 0.2 -> Dense 10 softmax. Adam, batch 64, 5 epochs,
    reported 87.05% on unnormalized 0-255 input; here trained on [0, 1] input."""
    from keras import layers

    return _seq("cnn-2conv", [
        layers.Conv2D(32, 3, name="conv1"),
        layers.Conv2D(32, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Dropout(0.2, name="drop1"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="fc1"),
        layers.Dropout(0.2, name="drop2"),
    ])


def tiny():
    """A deliberately tiny CNN (about 2k parameters) for the fast test tier."""
    from keras import layers

    return _seq("tiny", [
        layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Flatten(name="flatten"),
    ])

"""Fully connected (MLP) architectures from the source write-ups."""

from __future__ import annotations

from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES


def dense_300_100():
    """Flatten -> Dense 300 relu -> Dense 100 relu -> Dense 10 softmax.

    Simple dense write-up: SGD lr 1e-3, 5 epochs, reported 83.86%. The batch size
    is not given; Keras' default of 32 is assumed.
    """
    from keras import Input, Sequential, layers

    return Sequential(
        [
            Input(INPUT_SHAPE, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(300, activation="relu", name="fc1"),
            layers.Dense(100, activation="relu", name="fc2"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
        ],
        name="dense-300-100",
    )


def dense_512_512():
    """Flatten -> Dense 512 relu -> Dropout 0.15 -> Dense 512 relu -> Dropout 0.15 -> Dense 10.

    Dense 512-512 write-up: Adam (default lr 1e-3 assumed), batch 64, 5 epochs,
    reported 86.51%. The hidden activation is not stated; relu is assumed.
    """
    from keras import Input, Sequential, layers

    return Sequential(
        [
            Input(INPUT_SHAPE, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="fc1"),
            layers.Dropout(0.15, name="drop1"),
            layers.Dense(512, activation="relu", name="fc2"),
            layers.Dropout(0.15, name="drop2"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
        ],
        name="dense-512-512",
    )

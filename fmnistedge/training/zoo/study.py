"""The ANN and CNN families of the Keras study.

The study's layer tables are missing, so each family is represented by its most
plausible member, stated in each docstring. Its best ANN used SGD lr 0.025,
batch 200, 1000 epochs (about 90%); its CNN used 3x3 kernels, 2x2 pooling,
dropout about 0.2, batch 32, 50 epochs and light augmentation without
rotation or shift (about 93%).
"""

from __future__ import annotations

from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES


def _ann(name: str, widths: tuple[int, ...]):
    from keras import Input, Sequential, layers

    hidden = [
        layers.Dense(w, activation="relu", name=f"fc{i + 1}") for i, w in enumerate(widths)
    ]
    return Sequential(
        [Input(INPUT_SHAPE, name="image"), layers.Flatten(name="flatten"), *hidden,
         layers.Dense(NUM_CLASSES, activation="softmax", name="probs")],
        name=name,
    )


def study_ann3():
    """ANN with 3 hidden relu layers (assumed widths 256-128-64), softmax output."""
    return _ann("study-ann3", (256, 128, 64))


def study_ann5():
    """ANN with 5 hidden relu layers (assumed widths 256-256-128-128-64), softmax output."""
    return _ann("study-ann5", (256, 256, 128, 128, 64))


def study_cnn():
    """Conv 32 3x3 same relu -> MaxPool 2 -> Dropout 0.2 -> Conv 64 3x3 same relu ->
    MaxPool 2 -> Dropout 0.2 -> Flatten -> Dense 128 relu -> Dropout 0.2 -> Dense 10 softmax.

    Assumed: two conv blocks of one convolution each, the most common member of
    the "3x3 kernels, 2x2 pooling, dropout ~0.2" family; "light augmentation"
    is read as random horizontal flips and a 10% zoom.
    """
    from keras import Input, Sequential, layers

    return Sequential(
        [
            Input(INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Dropout(0.2, name="drop1"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Dropout(0.2, name="drop2"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="fc1"),
            layers.Dropout(0.2, name="drop3"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
        ],
        name="study-cnn",
    )

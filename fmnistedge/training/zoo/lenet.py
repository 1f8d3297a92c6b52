"""LeNet-5 (LeCun et al., 1998) and its ReLU/softmax variant from the LeNet-5 write-up.

The 28x28 input is zero-padded to 32x32 as in the paper. C1 Conv 6 5x5 -> S2
AvgPool 2 -> C3 Conv 16 5x5 (full connection table; the paper's sparse table is
a historical speed trick) -> S4 AvgPool 2 -> C5 Conv 120 5x5 -> F6 Dense 84 ->
output. Adam, 3 epochs; reported 88.89% (classic) and 90.55% (relu).
"""

from __future__ import annotations

from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES


def _features(activation: str) -> list:
    from keras import layers

    return [
        layers.ZeroPadding2D(2, name="pad"),
        layers.Conv2D(6, 5, activation=activation, name="c1"),
        layers.AveragePooling2D(2, name="s2"),
        layers.Conv2D(16, 5, activation=activation, name="c3"),
        layers.AveragePooling2D(2, name="s4"),
        layers.Conv2D(120, 5, activation=activation, name="c5"),
        layers.Flatten(name="flatten"),
        layers.Dense(84, activation=activation, name="f6"),
    ]


def lenet5():
    """Classic LeNet-5: tanh everywhere and a Euclidean RBF output layer.

    Assumed: plain tanh (not the paper's scaled 1.7159 tanh(2x/3)); RBF codes are
    fixed random +-1 vectors; probabilities are softmax(-distance).
    """
    from keras import Input, Sequential, layers

    from fmnistedge.training.zoo.layers import RBF

    return Sequential(
        [Input(INPUT_SHAPE, name="image"), *_features("tanh"),
         RBF(NUM_CLASSES, name="rbf"), layers.Softmax(name="probs")],
        name="lenet5",
    )


def lenet5_relu():
    """LeNet-5 with ReLU activations and a Dense 10 softmax output."""
    from keras import Input, Sequential, layers

    return Sequential(
        [Input(INPUT_SHAPE, name="image"), *_features("relu"),
         layers.Dense(NUM_CLASSES, activation="softmax", name="probs")],
        name="lenet5-relu",
    )

"""Custom Keras layers of the zoo, registered so ``.keras`` files load with safe_mode=True."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# LeCun et al. (1998) used fixed, hand-drawn +-1 prototype codes for the RBF
# output units. Random +-1 codes from a fixed seed play the same role.
RBF_CODE_SEED = 1998


@keras.saving.register_keras_serializable(package="fmnistedge")
class RBF(keras.layers.Layer):
    """Euclidean radial basis output units of LeNet-5.

    Unit i outputs the squared distance between its input and a fixed prototype
    code w_i of +-1 values. The layer returns the *negative* distance, so a
    following softmax gives probabilities and categorical cross-entropy on them
    is LeCun's maximum-a-posteriori criterion (eq. 9 of the paper, without the
    rubbish-class constant). Implemented as a matmul so it converts cleanly to
    TFLite and ONNX: -||x - w||^2 = 2 x.w - ||x||^2 - ||w||^2.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.codes = self.add_weight(
            name="codes", shape=(dim, self.units), initializer="zeros", trainable=False
        )
        rng = np.random.default_rng(RBF_CODE_SEED)
        self.codes.assign(rng.choice([-1.0, 1.0], size=(dim, self.units)).astype("float32"))

    def call(self, x):
        x_sq = ops.sum(ops.square(x), axis=-1, keepdims=True)
        w_sq = ops.sum(ops.square(self.codes), axis=0, keepdims=True)
        return 2.0 * ops.matmul(x, self.codes) - x_sq - w_sq

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="fmnistedge")
class ClassProbabilities(keras.layers.Layer):
    """Keep the first ``keep`` probabilities of a softmax over ``keep + 1`` classes.

    A photo model with a "none of these" output (``fmnistedge train --photos
    --none-output``) computes a softmax over the ten classes and "none"; its file
    outputs only the ten class probabilities, so every consumer still sees ten class
    scores, and their remainder to 1 is the probability of "none of these".
    """

    def __init__(self, keep: int, **kwargs):
        super().__init__(**kwargs)
        self.keep = keep

    def call(self, x):
        return x[..., :self.keep]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.keep)

    def get_config(self):
        return {**super().get_config(), "keep": self.keep}


@keras.saving.register_keras_serializable(package="fmnistedge")
class MirrorImage(keras.layers.Layer):
    """The image mirrored left to right (a fixed flip, in training and at inference).

    A model trained with ``--flip-average`` (:func:`fmnistedge.training.mirror.flip_average`)
    runs its network on the image and on this mirror image and averages the two answers.
    """

    def call(self, x):
        # A gather of the columns in reverse order (ONNX Gather, TFLite GATHER): the reverse
        # op (ONNX ReverseSequence) is one OpenCV's DNN module cannot load.
        return ops.take(x, np.arange(x.shape[2] - 1, -1, -1, dtype="int32"), axis=2)


CUSTOM_OBJECTS = {"RBF": RBF, "ClassProbabilities": ClassProbabilities, "MirrorImage": MirrorImage}

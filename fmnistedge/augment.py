"""Training-time augmentation for Fashion-MNIST, applied per batch inside tf.data.

* ``flip-zoom``: the Keras study's "light augmentation without rotation or
  shift": horizontal flips and a 10% zoom.
* ``crop-flip-erase``: the edge recipe: a random 28x28 crop of the image padded
  by 2 px (done as a +-2 px translation with constant fill), horizontal flips,
  and random erasing (Zhong et al., 2017; p=0.5, 2-25% of the area, aspect
  0.3-3.3, filled with black, the Fashion-MNIST background). No large
  rotations: garments in Fashion-MNIST are upright.
"""

from __future__ import annotations

import math

ERASE_P = 0.5
ERASE_AREA = (0.02, 0.25)
ERASE_ASPECT = (0.3, 3.3)


def random_erase(images, seed: int):
    """Erase one random rectangle per image with probability ERASE_P (batched)."""
    import tensorflow as tf

    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    area = tf.random.uniform([b], *ERASE_AREA, seed=seed) * hf * wf
    aspect = tf.exp(tf.random.uniform([b], math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1]), seed=seed + 1))
    eh = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, hf)
    ew = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, wf)
    y0 = tf.floor(tf.random.uniform([b], seed=seed + 2) * (hf - eh + 1))
    x0 = tf.floor(tf.random.uniform([b], seed=seed + 3) * (wf - ew + 1))
    apply = tf.random.uniform([b], seed=seed + 4) < ERASE_P
    ys = tf.cast(tf.range(h), tf.float32)[None, :, None]
    xs = tf.cast(tf.range(w), tf.float32)[None, None, :]
    inside = ((ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None])
              & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None])
              & apply[:, None, None])
    return tf.where(inside[..., None], tf.zeros_like(images), images)


def make_augmenter(kind: str | None, seed: int):
    """A function ``images -> images`` for batches, or None for no augmentation."""
    if kind is None:
        return None
    import keras

    if kind == "flip-zoom":
        layers = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                                   keras.layers.RandomZoom(0.1, seed=seed + 1)])
        return lambda x: layers(x, training=True)
    if kind == "crop-flip-erase":
        layers = keras.Sequential([
            keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant",
                                           interpolation="nearest", seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed + 1),
        ])
        return lambda x: random_erase(layers(x, training=True), seed + 2)
    raise ValueError(f"Unknown augmentation {kind!r}")

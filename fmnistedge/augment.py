"""Training-time augmentation for Fashion-MNIST, applied per batch inside tf.data.

* ``flip-zoom``: the Keras study's "light augmentation without rotation or
  shift": horizontal flips and a 10% zoom.
* ``crop-flip-erase``: the edge recipe: a random 28x28 crop of the image padded
  by 2 px (done as a +-2 px translation with constant fill), horizontal flips,
  and random erasing (Zhong et al., 2017; p=0.5, 2-25% of the area, aspect
  0.3-3.3, filled with black, the Fashion-MNIST background). No large
  rotations: garments in Fashion-MNIST are upright.
* ``photo``: ``crop-flip-erase`` plus what a real photo looks like after
  ``fmnistedge.runtime.photo`` has segmented and rendered it (issue 8): a
  scale jitter (0.75-1.0) and small rotations (+-8 degrees), the renderer's
  flat silhouettes (internal shading blended toward the garment's mean,
  the render's gain and its gray floor on garment pixels), gamma, blur,
  sensor noise, and residue of the background along the mask edge. Each
  transform is applied to a random part of every batch, so clean
  Fashion-MNIST images stay the majority.
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


AUGMENTATIONS = ("none", "flip-zoom", "crop-flip-erase", "photo")
PHOTO_P = 0.5  # probability of each photo-domain transform


def _blur3(images, sigma):
    """Per-image separable 3x3 Gaussian blur with per-image sigma (B,)."""
    import tensorflow as tf

    w = tf.exp(-1.0 / (2.0 * tf.square(tf.maximum(sigma, 1e-3))))  # side tap weight, centre 1
    k = tf.stack([w, tf.ones_like(w), w], axis=1) / (1.0 + 2.0 * w)[:, None]  # (B, 3)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    rows = (k[:, 0, None, None, None] * padded[:, :-2] + k[:, 1, None, None, None] * padded[:, 1:-1]
            + k[:, 2, None, None, None] * padded[:, 2:])
    return (k[:, 0, None, None, None] * rows[:, :, :-2] + k[:, 1, None, None, None] * rows[:, :, 1:-1]
            + k[:, 2, None, None, None] * rows[:, :, 2:])


def photo_domain(images, seed: int):
    """Make a batch (B, 28, 28, 1) in [0, 1] look like segmented, rendered photos."""
    import tensorflow as tf

    b = tf.shape(images)[0]

    def coin(i):
        return (tf.random.uniform([b], seed=seed + i) < PHOTO_P)[:, None, None, None]

    def uni(i, lo, hi):
        return tf.random.uniform([b], lo, hi, seed=seed + i)[:, None, None, None]

    x = images
    mask = tf.cast(x > 0.04, tf.float32)
    area = tf.maximum(tf.reduce_sum(mask, axis=[1, 2, 3], keepdims=True), 1.0)
    mean = tf.reduce_sum(x * mask, axis=[1, 2, 3], keepdims=True) / area
    # Flat silhouettes: real garments are often one colour, without product-photo shading.
    alpha = uni(1, 0.2, 0.9)
    x = tf.where(coin(2), mask * (alpha * x + (1 - alpha) * mean), x)
    # The renderer's gain (brightest garment pixel to 1, at most 4x) and gray floor.
    peak = tf.maximum(tf.reduce_max(x, axis=[1, 2, 3], keepdims=True), 1e-3)
    gain = tf.minimum(4.0, 1.0 / peak)
    floor = uni(3, 0.1, 0.3)
    x = tf.where(coin(4), mask * tf.maximum(x * gain, floor), x)
    # Gamma (under- and over-exposure).
    gamma = tf.exp(uni(5, -0.7, 0.7))
    x = tf.where(coin(6), tf.pow(tf.maximum(x, 0.0), gamma), x)
    # Residue of the background in a ring along the mask edge.
    ring = tf.nn.max_pool2d(mask, 3, 1, "SAME") - mask
    residue = ring * uni(7, 0.05, 0.35) * tf.random.uniform(tf.shape(x), seed=seed + 8)
    x = tf.where(coin(9), tf.maximum(x, residue), x)
    # Blur (small or resized photos) and sensor noise on the garment.
    x = tf.where(coin(10), _blur3(x, tf.random.uniform([b], 0.3, 1.0, seed=seed + 11)), x)
    noise = tf.random.normal(tf.shape(x), seed=seed + 12) * uni(13, 0.0, 0.06)
    x = tf.where(coin(14), x + noise * mask, x)
    return tf.clip_by_value(x, 0.0, 1.0)


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
    if kind == "photo":
        layers = keras.Sequential([
            keras.layers.RandomZoom((0.0, 0.33), fill_mode="constant", seed=seed + 20),  # zoom out only
            keras.layers.RandomRotation(8 / 360, fill_mode="constant", seed=seed + 21),
            keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant",
                                           interpolation="nearest", seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed + 1),
        ])
        return lambda x: random_erase(photo_domain(layers(x, training=True), seed + 30), seed + 2)
    raise ValueError(f"Unknown augmentation {kind!r}")

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
* ``pairs``: ``crop-flip-erase`` plus ``shoe_pairs``: half the shoe images of
  every batch become a pair of that shoe seen from above or from the side,
  refitted to the frame, because people photograph their shoes in pairs
  (issue 8). Garments other than shoes are untouched.
* ``photo-pairs``: ``photo`` plus ``shoe_pairs`` (the pairs are made first, so
  they get the photo transforms too).
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


AUGMENTATIONS = ("none", "flip-zoom", "crop-flip-erase", "photo", "pairs", "photo-pairs")
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


SHOE_CLASSES = (5, 7, 9)  # Sandal, Sneaker, Ankle boot
PAIR_P = 0.5  # share of the shoe images of a batch turned into a pair


def _translate_x(images, dx):
    """Shift each image (B, H, W, 1) right by ``dx`` (B,) pixels, filling with black."""
    import tensorflow as tf

    b = tf.shape(images)[0]
    zeros, ones = tf.zeros([b]), tf.ones([b])
    transforms = tf.stack([ones, zeros, -dx, zeros, ones, zeros, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


def _extent(images, axis: int):
    """First and last index along ``axis`` (1 = rows, 2 = columns) holding garment pixels."""
    import tensorflow as tf

    on = tf.reduce_any(images[..., 0] > 0.04, axis=3 - axis)
    idx = tf.cast(tf.range(tf.shape(on)[1]), tf.float32)[None]
    first = tf.reduce_min(tf.where(on, idx, 1e4), axis=1)
    last = tf.reduce_max(tf.where(on, idx, -1e4), axis=1)
    empty = first > last
    return tf.where(empty, 0.0, first), tf.where(empty, idx[0, -1], last)


def refit(images):
    """Crop each image to its garment and fit the longest edge to the full side, centered.

    What Fashion-MNIST's own pipeline and the photo renderer do, so a composed
    image (a pair of shoes) has the scale a rendered photo of it would have.
    """
    import tensorflow as tf

    size = tf.cast(tf.shape(images)[1], tf.float32)
    r0, r1 = _extent(images, 1)
    c0, c1 = _extent(images, 2)
    half = (tf.maximum(r1 - r0, c1 - c0)) / 2
    cy, cx = (r0 + r1) / 2, (c0 + c1) / 2
    boxes = tf.stack([cy - half, cx - half, cy + half, cx + half], axis=1) / (size - 1)
    n = tf.shape(images)[1]
    return tf.image.crop_and_resize(images, boxes, tf.range(tf.shape(images)[0]), [n, n],
                                    extrapolation_value=0.0)


def shoe_pairs(images, classes, seed: int):
    """Turn PAIR_P of the shoe images of a batch into a pair of that shoe, as people photograph them.

    Fashion-MNIST shows one shoe from the side, toe to the left; a photo of one's
    own shoes shows a pair, mostly from above. Half the pairs are seen from above
    (the side view turned toe-up or toe-down, beside its mirror image), half from
    the side (two overlapping copies); each pair is then refitted like a render.
    """
    import tensorflow as tf

    b = tf.shape(images)[0]
    shoe = tf.reduce_any(tf.cast(classes, tf.int64)[:, None] == tf.constant(SHOE_CLASSES, tf.int64), axis=1)
    apply = shoe & (tf.random.uniform([b], seed=seed) < PAIR_P)
    toe_up = tf.random.uniform([b], seed=seed + 1) < 0.5
    upright = tf.where(toe_up[:, None, None, None], tf.image.rot90(images, k=3), tf.image.rot90(images, k=1))
    c0, c1 = _extent(upright, 2)
    gap = tf.random.uniform([b], 0.0, 2.0, seed=seed + 2)
    centre = (c0 + c1) / 2 - (tf.cast(tf.shape(images)[2], tf.float32) - 1) / 2
    dx = (c1 - c0 + 1 + gap) / 2
    above = tf.maximum(_translate_x(upright, -dx - centre),
                       _translate_x(tf.image.flip_left_right(upright), dx + centre))
    s0, s1 = _extent(images, 2)
    offset = (s1 - s0 + 1) * tf.random.uniform([b], 0.15, 0.35, seed=seed + 3)
    side = tf.maximum(_translate_x(images, -offset / 2), _translate_x(images, offset / 2))
    from_above = tf.random.uniform([b], seed=seed + 4) < 0.5
    pairs = refit(tf.where(from_above[:, None, None, None], above, side))
    return tf.where(apply[:, None, None, None], pairs, images)


def make_augmenter(kind: str | None, seed: int):
    """A function ``(images, classes=None) -> images`` for batches, or None for no augmentation.

    ``classes`` (integer labels of the batch) is needed by the label-aware step of
    ``pairs`` and ``photo-pairs`` only.
    """
    if kind is None:
        return None
    import keras

    if kind == "flip-zoom":
        layers = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                                   keras.layers.RandomZoom(0.1, seed=seed + 1)])
        return lambda x, classes=None: layers(x, training=True)
    pairs = kind in ("pairs", "photo-pairs")
    base = {"pairs": "crop-flip-erase", "photo-pairs": "photo"}.get(kind, kind)
    shift_flip = [keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant",
                                                 interpolation="nearest", seed=seed),
                  keras.layers.RandomFlip("horizontal", seed=seed + 1)]
    if base == "crop-flip-erase":
        layers, domain = keras.Sequential(shift_flip), None
    elif base == "photo":
        layers = keras.Sequential([
            keras.layers.RandomZoom((0.0, 0.33), fill_mode="constant", seed=seed + 20),  # zoom out only
            keras.layers.RandomRotation(8 / 360, fill_mode="constant", seed=seed + 21),
            *shift_flip,
        ])
        domain = photo_domain
    else:
        raise ValueError(f"Unknown augmentation {kind!r}")

    # Every random draw needs a seed of its own: two draws of one shape with one seed are the same
    # numbers. photo_domain takes seed+31..44, so with it the pairs take seed+60..64 (plain
    # 'pairs' keeps seed+40..44, which its recorded runs used).
    pair_seed = seed + (60 if domain is not None else 40)

    def augment(x, classes=None):
        if pairs:
            x = shoe_pairs(x, classes, pair_seed)
        x = layers(x, training=True)
        if domain is not None:
            x = domain(x, seed + 30)
        return random_erase(x, seed + 2)

    return augment

"""Photo-domain training pieces (TensorFlow): the set-valued loss, the mixed
Fashion-MNIST + photo input pipeline and the per-epoch photo validation.

* **Set-valued loss** (partial labels): a photo whose class is only known to be
  one of a set S (``0|2``: a long-sleeve top or a pullover) is trained to put
  its probability mass on S: ``-log(sum_{c in S} p_c)``. A one-class set is the
  ordinary cross-entropy. Label smoothing ``eps`` is kept as in the recipe:
  ``-(1 - eps) log p(S) - eps * mean_c log p_c`` (for one class exactly Keras'
  smoothed cross-entropy).
* **"None" photos** (a garment of no Fashion-MNIST class, an all-zero target)
  are pushed towards the uniform distribution, ``-mean_c log p_c`` times
  ``NONE_WEIGHT`` (outlier exposure, Hendrycks et al., 2019), so a low maximum
  probability can say "none of these".
"""

from __future__ import annotations

import numpy as np

from fmnistedge.labels import NUM_CLASSES

NONE_WEIGHT = 0.5
# The "none of these" threshold rejects at most this share of the held-out photographers'
# labelled photos (the goal is at most 5% of real photos wrongly rejected).
REJECT_BUDGET = 0.04


def set_loss(smoothing: float, none_weight: float = NONE_WEIGHT):
    """A Keras loss on (N, 10) 0/1 target sets and (N, 10) probabilities."""
    import tensorflow as tf

    def set_valued_crossentropy(y_true, y_pred):
        y_true = tf.cast(y_true, y_pred.dtype)
        p = tf.clip_by_value(y_pred, 1e-7, 1.0)
        mass = tf.clip_by_value(tf.reduce_sum(p * y_true, axis=-1), 1e-7, 1.0)
        mean_log = tf.reduce_mean(tf.math.log(p), axis=-1)
        labelled = tf.reduce_sum(y_true, axis=-1) > 0
        in_set = -(1.0 - smoothing) * tf.math.log(mass) - smoothing * mean_log
        return tf.where(labelled, in_set, -none_weight * mean_log)

    return set_valued_crossentropy


def mixed_dataset(x_fm: np.ndarray, y_fm: np.ndarray, x_ph: np.ndarray, t_ph: np.ndarray,
                  weights: np.ndarray, share: float, batch: int, seed: int, augment, draws: int):
    """An endless dataset of batches: Fashion-MNIST images (one-hot sets) and photos
    drawn with ``weights`` (``draws`` draws with replacement, then again), a ``share``
    of the photos per batch on average."""
    import tensorflow as tf

    t_fm = np.eye(NUM_CLASSES, dtype=np.float32)[y_fm]
    fm = tf.data.Dataset.from_tensor_slices((x_fm, t_fm)).shuffle(len(x_fm), seed=seed).repeat()
    order = np.random.default_rng(seed + 1).choice(len(x_ph), size=max(1, draws), p=weights)
    ph = tf.data.Dataset.from_tensor_slices((x_ph[order], t_ph[order])).repeat()
    ds = tf.data.Dataset.sample_from_datasets([fm, ph], weights=[1.0 - share, share], seed=seed + 2)
    ds = ds.batch(batch)
    if augment is not None:
        ds = ds.map(lambda images, targets: (augment(images, tf.argmax(targets, axis=1)), targets),
                    num_parallel_calls=1)
    return ds.prefetch(2)


def photo_val_callback(x_val: np.ndarray, pset_val):
    """A callback that adds ``photo_val_top1_macro`` (single-label photos, macro over the
    classes present), ``photo_val_top3_macro`` and ``photo_val_set_acc`` (top-1 in the
    candidate set, every labelled photo) to each epoch's logs."""
    import keras

    from fmnistedge.runtime.evaluate import photo_set_metrics

    class PhotoValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict(x_val, batch_size=1000, verbose=0)
            metrics = photo_set_metrics(probs, pset_val.targets)
            if logs is not None:
                logs.update({f"photo_val_{k}": v for k, v in metrics.items()})

    return PhotoValidation()

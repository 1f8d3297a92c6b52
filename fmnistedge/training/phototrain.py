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
  probability can say "none of these"; or, with a "none" output
  (:func:`add_none_output`), trained as an eleventh class:
  ``-log(1 - sum_c p_c)``.
"""

from __future__ import annotations

import numpy as np

from fmnistedge.labels import NUM_CLASSES

NONE_WEIGHT = 0.5
# The "none of these" threshold rejects at most this share of the held-out photographers'
# labelled photos (the goal is at most 5% of real photos wrongly rejected).
REJECT_BUDGET = 0.04


def set_loss(smoothing: float, none_weight: float = NONE_WEIGHT, none_output: bool = False):
    """A Keras loss on (N, 10) 0/1 target sets and (N, 10) probabilities. With
    ``none_output`` the probabilities' remainder to 1 is the "none" class."""
    import tensorflow as tf

    def set_valued_crossentropy(y_true, y_pred):
        y_true = tf.cast(y_true, y_pred.dtype)
        p = tf.clip_by_value(y_pred, 1e-7, 1.0)
        if none_output:
            rest = tf.clip_by_value(1.0 - tf.reduce_sum(y_pred, axis=-1, keepdims=True), 1e-7, 1.0)
            mean_log = tf.reduce_mean(tf.math.log(tf.concat([p, rest], axis=-1)), axis=-1)
            none_loss = -(1.0 - smoothing) * tf.math.log(rest[:, 0]) - smoothing * mean_log
        else:
            mean_log = tf.reduce_mean(tf.math.log(p), axis=-1)
            none_loss = -none_weight * mean_log
        mass = tf.clip_by_value(tf.reduce_sum(p * y_true, axis=-1), 1e-7, 1.0)
        labelled = tf.reduce_sum(y_true, axis=-1) > 0
        in_set = -(1.0 - smoothing) * tf.math.log(mass) - smoothing * mean_log
        return tf.where(labelled, in_set, none_loss)

    return set_valued_crossentropy


NONE_BIAS_OFFSET = 3.0  # the new "none" logit starts this far below the smallest class bias


def add_none_output(model):
    """The same network with an eleventh, "none of these" class: the 10-way softmax head is
    replaced by an 11-way one (its first ten columns copied, so the model starts from the
    same answers) and only the ten class probabilities are output (``ClassProbabilities``)."""
    import keras

    from fmnistedge.training.zoo.layers import ClassProbabilities

    head = model.get_layer("probs")
    if not isinstance(head, keras.layers.Dense):
        from fmnistedge.errors import UsageError

        raise UsageError(f"--none-output needs an architecture whose output layer is a dense softmax; "
                         f"{model.name}'s is a {type(head).__name__}")
    w, b = head.get_weights()
    if isinstance(model, keras.Sequential):  # rebuild its body as a graph ending before the head
        inp = x = keras.Input(model.input_shape[1:], name="image")
        for layer in model.layers[:-1]:
            x = layer(x)
        features, model_input = x, inp
    else:
        features, model_input = head.input, model.input
    logits = keras.layers.Dense(NUM_CLASSES + 1, name="probs_none")(features)
    probs = keras.layers.Softmax(name="softmax_none")(logits)
    out = ClassProbabilities(NUM_CLASSES, name="class_probs")(probs)
    new = keras.Model(model_input, out, name=model.name)
    new.get_layer("probs_none").set_weights([
        np.concatenate([w, np.zeros((w.shape[0], 1), w.dtype)], axis=1),
        np.concatenate([b, [b.min() - NONE_BIAS_OFFSET]]).astype(b.dtype)])
    return new


def mixed_dataset(x_fm: np.ndarray, y_fm: np.ndarray, x_ph: np.ndarray, t_ph: np.ndarray,
                  weights: np.ndarray, share: float, batch: int, seed: int, augment, draws: int):
    """An endless dataset of batches: Fashion-MNIST images (one-hot sets) and photos
    drawn with ``weights`` (``draws`` draws with replacement, then again), a ``share``
    of the photos per batch on average."""
    import tensorflow as tf

    t_fm = np.eye(NUM_CLASSES, dtype=np.float32)[y_fm]
    fm = tf.data.Dataset.from_tensor_slices((x_fm, t_fm, np.zeros(len(x_fm), bool)))
    fm = fm.shuffle(len(x_fm), seed=seed).repeat()
    order = np.random.default_rng(seed + 1).choice(len(x_ph), size=max(1, draws), p=weights)
    ph = tf.data.Dataset.from_tensor_slices((x_ph[order], t_ph[order], np.ones(len(order), bool))).repeat()
    ds = tf.data.Dataset.sample_from_datasets([fm, ph], weights=[1.0 - share, share], seed=seed + 2)
    ds = ds.batch(batch)
    if augment is not None:
        # The label-aware step (shoe pairs) is for Fashion-MNIST's single shoes: a photo gets
        # class -1 (its shoes are mostly a pair already, and a set target has no one class).
        ds = ds.map(lambda images, targets, photo: (
            augment(images, tf.where(photo, tf.constant(-1, tf.int64), tf.argmax(targets, axis=1))), targets),
            num_parallel_calls=1)
    else:
        ds = ds.map(lambda images, targets, photo: (images, targets))
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


def has_none_output(model) -> bool:
    """Whether a Keras model has the "none of these" head of :func:`add_none_output`."""
    return any(layer.name == "probs_none" for layer in model.layers)

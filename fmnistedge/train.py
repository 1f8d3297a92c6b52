"""Train zoo architectures on the real Fashion-MNIST and record every fact of the run.

``train_arch`` is what ``fmnistedge train`` calls. It writes
``OUT/<arch>/model.keras`` and ``OUT/<arch>/train.json`` (schema in
``docs/training.md``), both atomically. Keras and TensorFlow are imported
lazily so the rest of the package works without the ``train`` extra.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fmnistedge import data, fileio, provenance, zoo
from fmnistedge.errors import MissingExtraError
from fmnistedge.labels import LABELS, NUM_CLASSES
from fmnistedge.runtime.preprocess import to_model_input

TRAIN_SCHEMA_VERSION = 1
DEFAULT_OUT = Path("artifacts")


@dataclass(frozen=True)
class TrainOptions:
    epochs: int | None = None  # None: the source's epochs
    batch_size: int | None = None  # None: the source's batch size
    limit: int | None = None  # train on a stratified subset of this many images
    seed: int = 0
    out: Path = DEFAULT_OUT
    data_dir: Path | None = None
    val_fraction: float = 0.1
    augment: str | None = None  # override the recipe's augmentation ("none" for none)
    learning_rate: float | None = None  # override the recipe's (peak) learning rate
    init_from: Path | None = None  # fine-tune: start from this trained model.keras of the same arch


def require_keras(purpose: str = "Training"):
    """Import Keras, or say (for ``purpose``) which extra to install."""
    try:
        import keras  # noqa: F401
        import tensorflow as tf
    except ImportError:
        raise MissingExtraError("TensorFlow", "train", purpose) from None
    return tf


def _optimizer(recipe: zoo.Recipe, steps_per_epoch: int, epochs: int):
    import keras

    lr = recipe.learning_rate
    if recipe.schedule == "cosine":
        warmup = steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10, decay_steps=max(1, steps_per_epoch * epochs - warmup),
            warmup_target=lr, warmup_steps=warmup)
    if recipe.optimizer == "adamw":
        opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=recipe.weight_decay)
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return opt
    kinds = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam,
             "sgd": keras.optimizers.SGD}
    return kinds[recipe.optimizer](learning_rate=lr)


def _dataset(x: np.ndarray, y: np.ndarray, batch: int, seed: int, recipe: zoo.Recipe):
    import tensorflow as tf

    from fmnistedge.augment import make_augmenter

    ds = tf.data.Dataset.from_tensor_slices((x, _targets(y, recipe))).shuffle(len(x), seed=seed)
    ds = ds.batch(batch)
    augment = make_augmenter(recipe.augment, seed)
    if augment is not None:
        def augment_batch(images, targets):
            classes = tf.argmax(targets, axis=1) if recipe.label_smoothing else targets
            return augment(images, classes), targets

        ds = ds.map(augment_batch, num_parallel_calls=1)
    return ds.prefetch(2)


def _targets(y: np.ndarray, recipe: zoo.Recipe) -> np.ndarray:
    """Integer labels, or one-hot ones when label smoothing needs them."""
    if recipe.label_smoothing:
        return np.eye(NUM_CLASSES, dtype=np.float32)[y]
    return y


def _loss(recipe: zoo.Recipe):
    import keras

    if recipe.label_smoothing:
        return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()


def evaluate_probs(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix (rows: true, columns: predicted)."""
    from fmnistedge.runtime.evaluate import confusion_matrix

    pred = probs.argmax(axis=1)
    cm = confusion_matrix(labels, pred)
    per_class = cm.diagonal() / np.maximum(cm.sum(axis=1), 1)
    return {
        "test_accuracy": float((pred == labels).mean()),
        "per_class_accuracy": {LABELS[i]: float(a) for i, a in enumerate(per_class)},
        "confusion_matrix": cm.tolist(),
    }


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def _init_weights(model, path: Path, options: TrainOptions) -> dict[str, Any]:
    """Copy the weights of a trained ``model.keras`` of the same architecture into ``model``."""
    import keras

    from fmnistedge.errors import UsageError
    from fmnistedge.runtime.modelmeta import sha256_file

    path = Path(path)
    try:
        src = keras.models.load_model(path, compile=False, safe_mode=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--init-from needs a Keras model file written by 'fmnistedge train'. "
                         f"Received: path={str(path)!r} ({exc})") from None
    if src.name != model.name:
        raise UsageError(f"--init-from {path} is a {src.name!r} model, not {model.name!r}")
    model.set_weights(src.get_weights())
    record = path.with_name("train.json")
    base = load_record(record) if record.is_file() else {}
    # The validation split is drawn with --seed from the (--limit) training images: any
    # other split would validate on images the starting model was trained on.
    for key, flag, value in (("seed", "--seed", options.seed), ("limit", "--limit", options.limit)):
        if key in base and base[key] != value:
            raise UsageError(f"--init-from {path} was trained with {flag} {base[key]}; fine-tune with the "
                             f"same {flag} so its validation split holds no image it trained on "
                             f"(received {flag} {value}).")
    return {"path": str(path), "sha256": sha256_file(path), "test_accuracy": base.get("test_accuracy"),
            "epochs_run": base.get("epochs_run"), "recipe": base.get("recipe")}


def train_arch(
    name: str,
    options: TrainOptions = TrainOptions(),
    callbacks: list | None = None,
) -> dict[str, Any]:
    """Train ``name`` and write ``model.keras`` and ``train.json``; return the record."""
    spec = zoo.get(name)
    tf = require_keras()
    import keras

    recipe = spec.recipe
    if options.augment is not None:
        recipe = replace(recipe, augment=None if options.augment == "none" else options.augment)
    if options.learning_rate is not None:
        recipe = replace(recipe, learning_rate=options.learning_rate)
    epochs = options.epochs if options.epochs is not None else recipe.epochs
    batch = options.batch_size if options.batch_size is not None else recipe.batch_size
    keras.utils.set_random_seed(options.seed)
    tf.config.experimental.enable_op_determinism()

    model = zoo.build(name)
    init = _init_weights(model, options.init_from, options) if options.init_from else None

    x_all, y_all = data.load_split("train", options.data_dir)
    if options.limit is not None:
        keep = data.stratified_sample(y_all, options.limit, seed=options.seed)
        x_all, y_all = x_all[keep], y_all[keep]
    x_tr, y_tr, x_val, y_val = data.train_val_split(x_all, y_all, options.val_fraction, options.seed)
    x_test, y_test = data.load_split("test", options.data_dir)
    steps = -(-len(x_tr) // batch)
    model.compile(optimizer=_optimizer(recipe, steps, epochs), loss=_loss(recipe), metrics=["accuracy"])
    timer = _epoch_timer()
    out_dir = Path(options.out) / name
    # Epoch checkpoints: a killed run resumes from its last finished epoch when the
    # same command is run again; the folder is removed when training completes.
    backup = keras.callbacks.BackupAndRestore(str(out_dir / ".train-backup"), delete_checkpoint=True)
    cbs = [timer, backup, *(callbacks or [])]
    if recipe.early_stopping:
        cbs.append(keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=recipe.early_stopping, restore_best_weights=True))
    started = time.perf_counter()
    history = model.fit(
        _dataset(to_model_input(x_tr), y_tr, batch, options.seed, recipe),
        validation_data=(to_model_input(x_val), _targets(y_val, recipe)),
        epochs=epochs, callbacks=cbs, verbose=0, shuffle=False,  # the dataset shuffles
    )
    train_seconds = time.perf_counter() - started
    probs = model.predict(to_model_input(x_test), batch_size=1000, verbose=0)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    from fmnistedge.zoo.stats import count_macs

    record = {
        "schema_version": TRAIN_SCHEMA_VERSION,
        "arch": name,
        "family": spec.family,
        "source": spec.source,
        "reported_accuracy": spec.reported_accuracy,
        "reported_epochs": spec.reported_epochs,
        "recipe": {**asdict(replace(recipe, epochs=epochs, batch_size=batch))},
        "epochs_requested": epochs,
        "epochs_run": len(hist.get("loss", [])),
        "best_epoch": int(np.argmax(hist["val_accuracy"])) + 1 if hist.get("val_accuracy") else None,
        "history": hist,
        **evaluate_probs(y_test, probs),
        "test_items": int(len(y_test)),
        "train_items": int(len(y_tr)),
        "val_items": int(len(y_val)),
        "limit": options.limit,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "seconds_per_epoch": [round(s, 3) for s in timer.seconds],
        "train_seconds": round(train_seconds, 2),
        "seed": options.seed,
        "init_from": init,
        "notes": spec.notes,
        "environment": provenance.environment(),
    }
    with fileio.atomic_path(out_dir / "model.keras") as tmp:
        model.save(tmp)
    fileio.write_json(out_dir / "train.json", record)
    return record


def load_record(path: Path) -> dict[str, Any]:
    """Read a train.json, checking its schema version."""
    import json

    rec = json.loads(Path(path).read_text())
    if rec.get("schema_version") != TRAIN_SCHEMA_VERSION:
        from fmnistedge.errors import FmnistEdgeError

        raise FmnistEdgeError(
            f"{path} has train.json schema {rec.get('schema_version')!r}, expected "
            f"{TRAIN_SCHEMA_VERSION}; retrain with 'fmnistedge train {rec.get('arch', 'ARCH')}'"
        )
    return rec


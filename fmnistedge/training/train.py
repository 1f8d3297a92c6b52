"""Train zoo architectures on the real Fashion-MNIST and record every fact of the run.

``train_arch`` is what ``fmnistedge train`` calls. It writes
``OUT/<arch>/model.keras`` and ``OUT/<arch>/train.json`` (schema in
``docs/training.md``), both atomically. Keras and TensorFlow are imported
lazily so the rest of the package works without the ``train`` extra.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from fmnistedge import fileio, provenance, trainlog
from fmnistedge.errors import MissingExtraError
from fmnistedge.labels import LABELS, NUM_CLASSES
from fmnistedge.runtime.preprocess import enlarge, to_model_input
from fmnistedge.training import data, zoo
from fmnistedge.training.options import TrainOptions

PHOTO_MONITOR = "photo_val_set_acc"  # the photo-mode epoch choice (see _photo_pipeline)


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

    from fmnistedge.training.augment import make_augmenter

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


EPOCH_LOG = "epochs.json"  # in the backup folder: every finished epoch's metrics and seconds


def _epoch_timer(backup_dir: Path | None = None, settings: dict | None = None):
    """A callback timing each epoch. With ``backup_dir`` it also keeps every finished epoch's
    metrics and seconds in ``backup_dir/epochs.json`` (written before Keras' own checkpoint
    of the epoch), so a run resumed from that folder records the epochs of every earlier
    attempt too: ``earlier`` holds them, cut to the epochs the checkpoint restores. The file
    also holds the run's ``settings``; resuming with other settings is refused."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.earlier = _earlier_epochs(backup_dir, settings) if backup_dir is not None else _no_epochs()
            self._logs: dict[str, list[float]] = {}

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            for k, v in (logs or {}).items():
                self._logs.setdefault(k, []).append(float(v))
            if backup_dir is not None:
                backup_dir.mkdir(parents=True, exist_ok=True)
                e = self.earlier
                fileio.write_json(backup_dir / EPOCH_LOG, {
                    "settings": settings, "history": _merge_history(e["history"], self._logs),
                    "seconds_per_epoch": e["seconds_per_epoch"] + self.seconds,
                    "resumed_at": e["resumed_at"]})

    return EpochTimer()


def _no_epochs() -> dict[str, Any]:
    return {"history": {}, "seconds_per_epoch": [], "resumed_at": []}


def _merge_history(earlier: dict[str, list], later: dict[str, list]) -> dict[str, list]:
    return {k: list(earlier.get(k, [])) + list(later.get(k, [])) for k in {**earlier, **later}}


def _earlier_epochs(backup_dir: Path, settings: dict | None = None) -> dict[str, Any]:
    """The epochs an interrupted attempt finished, as far as its checkpoint goes; a
    UsageError when that attempt ran with other ``settings`` (recipe, epochs, seed, ...)."""
    meta, log = backup_dir / "training_metadata.json", backup_dir / EPOCH_LOG
    try:
        done = int(json.loads(meta.read_text())["epoch"]) if meta.is_file() else 0
    except (OSError, ValueError, KeyError, TypeError):
        return _no_epochs()  # Keras cannot resume from it either
    if done == 0:
        return _no_epochs()
    try:
        kept = json.loads(log.read_text()) if log.is_file() else _no_epochs()
    except (OSError, ValueError):
        kept = _no_epochs()
    before = kept.get("settings")
    if settings is not None and before is not None and before != settings:
        from fmnistedge.errors import UsageError

        changed = ", ".join(sorted(k for k in {**before, **settings} if before.get(k) != settings.get(k)))
        raise UsageError(f"{backup_dir} holds an interrupted run with other settings ({changed}); resume it "
                         f"with the same command, or delete that folder to start again")
    seconds = kept.get("seconds_per_epoch", [])[:done]
    history = {k: v[:done] for k, v in kept.get("history", {}).items()}
    if len(seconds) < done:  # epochs finished by an attempt that kept no log (an older fmnistedge)
        history, seconds = {}, []
    return {"history": history, "seconds_per_epoch": seconds, "resumed_at": kept.get("resumed_at", []) + [done]}


def _init_weights(model, path: Path, options: TrainOptions) -> dict[str, Any]:
    """Copy the weights of a trained ``model.keras``, or of an fp32 ONNX export (a shipped
    model, rebuilt by :mod:`fmnistedge.training.warmstart`), of the same architecture into ``model``;
    or, for an architecture that grows from a 28 px one (``ArchSpec.grows_from``: edge-r56 from
    edge-r), of that architecture, grafted (:func:`fmnistedge.training.zoo.edge.graft`)."""
    import keras

    from fmnistedge.errors import UsageError

    path = Path(path)
    rebuilt_diff = None
    grows_from = zoo.get(model.name).grows_from
    if path.suffix.lower() == ".onnx":
        from fmnistedge.training import warmstart

        x, y = data.load_split("train", options.data_dir)
        sample = data.stratified_sample(y, 3000, seed=options.seed)
        side = warmstart.input_side(path)
        arch = grows_from if grows_from and side != int(model.input_shape[1]) else model.name
        src, rebuilt_diff, flip_averaged = warmstart.keras_from_onnx(arch, path, to_model_input(enlarge(x[sample], side)))
    else:
        try:
            src = keras.models.load_model(path, compile=False, safe_mode=True)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--init-from needs a Keras model file written by 'fmnistedge train' or an fp32 "
                             f"ONNX export. Received: path={str(path)!r} ({exc})") from None
        if src.name not in (model.name, grows_from):
            also = f" or {grows_from!r}" if grows_from else ""
            raise UsageError(f"--init-from {path} is a {src.name!r} model, not {model.name!r}{also}")
        from fmnistedge.training.mirror import is_flip_averaged

        flip_averaged = is_flip_averaged(src)
    grafted = src.name != model.name
    _copy_weights(src, model, path, graft=grafted)
    record = path.with_name("train.json")
    base = trainlog.load(record) if record.is_file() else {}
    return {**_init_record(path, base, options, rebuilt_diff, flip_averaged),
            **({"grafted_from": src.name} if grafted else {})}


def _copy_weights(src, model, path: Path, graft: bool = False) -> None:
    """``src``'s weights into ``model`` (``graft``: a 28 px start into a 56 px model); a
    Fashion-MNIST-only start gains the "none" head when ``model`` has one, and a start with a
    "none" head needs ``--none-output``."""
    from fmnistedge.errors import UsageError
    from fmnistedge.training.phototrain import add_none_output, has_none_output

    if has_none_output(model) and not has_none_output(src):
        src = add_none_output(src)
    elif has_none_output(src) and not has_none_output(model):
        raise UsageError(f"--init-from {path} has a 'none of these' output: fine-tune it with --photos "
                         "--none-output")
    if graft:
        from fmnistedge.training.zoo.edge import graft as graft_weights

        graft_weights(src, model)
    else:
        model.set_weights(src.get_weights())


def _init_record(path: Path, base: dict, options: TrainOptions, rebuilt_diff: float | None,
                 flip_averaged: bool) -> dict[str, Any]:
    from fmnistedge.errors import UsageError
    from fmnistedge.runtime.modelmeta import sha256_file

    # The validation split is drawn with --seed from the (--limit) training images: any
    # other split would validate on images the starting model was trained on.
    for key, flag, value in (("seed", "--seed", options.seed), ("limit", "--limit", options.limit)):
        if key in base and base[key] != value:
            raise UsageError(f"--init-from {path} was trained with {flag} {base[key]}; fine-tune with the "
                             f"same {flag} so its validation split holds no image it trained on "
                             f"(received {flag} {value}).")
    return {"path": str(path), "sha256": sha256_file(path), "test_accuracy": base.get("test_accuracy"),
            "epochs_run": base.get("epochs_run"), "recipe": base.get("recipe"),
            # The start's answer was the mirror average (its file shows it); training continues
            # from the plain network inside it either way.
            "flip_averaged": flip_averaged,
            **({"rebuilt_from_onnx_max_prob_diff": rebuilt_diff} if rebuilt_diff is not None else {})}


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
    plan = None
    if options.distribute is not None:
        from fmnistedge.training import distribute

        plan = distribute.make_plan(options.distribute, options.cpu_replicas)  # before any device is set up
        if options.scale_batch:
            batch *= plan.replicas
            if options.learning_rate is None:
                recipe = replace(recipe, learning_rate=recipe.learning_rate * plan.replicas)
    keras.utils.set_random_seed(options.seed)
    tf.config.experimental.enable_op_determinism()
    with (plan.strategy.scope() if plan is not None else contextlib.nullcontext()):
        return _train_in_scope(name, spec, recipe, epochs, batch, options, callbacks, plan)


def _train_in_scope(name, spec, recipe, epochs, batch, options, callbacks, plan):
    import keras

    model = zoo.build(name)
    if options.photos is not None and options.none_output:
        from fmnistedge.training.phototrain import add_none_output

        model = add_none_output(model)
    init = _init_weights(model, options.init_from, options) if options.init_from else None

    x_all, y_all = data.load_split("train", options.data_dir)
    if options.limit is not None:
        keep = data.stratified_sample(y_all, options.limit, seed=options.seed)
        x_all, y_all = x_all[keep], y_all[keep]
    size = int(model.input_shape[1])  # a 56 px model sees Fashion-MNIST enlarged by pixel repetition
    x_tr, y_tr, x_val, y_val = data.train_val_split(enlarge(x_all, size), y_all, options.val_fraction, options.seed)
    x_test, y_test = data.load_split("test", options.data_dir)
    x_test = enlarge(x_test, size)
    pset = _load_photos(options, size) if options.photos is not None else None
    _check_photo_start(options, pset)
    refined = _refinements_record(options)  # now, as the labels are read: not after hours of training
    out_dir = Path(options.out) / name
    # Epoch checkpoints: a killed run resumes from its last finished epoch when the
    # same command is run again; the folder is removed when training completes. The timer
    # keeps each epoch's metrics there too, so the record covers every attempt.
    run_recipe = asdict(replace(recipe, epochs=epochs, batch_size=batch))  # what train.json records
    timer = _epoch_timer(out_dir / ".train-backup", json.loads(json.dumps({
        "recipe": run_recipe, "seed": options.seed,
        "limit": options.limit, "init_from": str(options.init_from) if options.init_from else None,
        "photos": _photo_settings(options)}, default=str)))
    backup = keras.callbacks.BackupAndRestore(str(out_dir / ".train-backup"), delete_checkpoint=True)
    cbs = [timer, backup, *(callbacks or [])]
    if pset is None:
        steps = -(-len(x_tr) // batch)
        model.compile(optimizer=_optimizer(recipe, steps, epochs), loss=_loss(recipe), metrics=["accuracy"])
        train_data = _dataset(to_model_input(x_tr), y_tr, batch, options.seed, recipe)
        val_data = (to_model_input(x_val), _targets(y_val, recipe))
    else:
        train_data, steps, photo_cbs = _photo_pipeline(pset, x_tr, y_tr, batch, epochs, recipe, options)
        model.compile(optimizer=_optimizer(recipe, steps, epochs),
                      loss=_photo_loss(recipe, options), metrics=["accuracy"])
        val_data = (to_model_input(x_val), np.eye(NUM_CLASSES, dtype=np.float32)[y_val])
        cbs = [photo_cbs[0], *cbs, *photo_cbs[1:]]  # photo metrics first, so every callback sees them
    if recipe.early_stopping and pset is None:  # in photo mode the photo validation keeps the epoch
        cbs.append(keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=recipe.early_stopping, restore_best_weights=True))
    if plan is not None:
        from fmnistedge.training.distribute import shard_by_data

        train_data = shard_by_data(train_data)
    started = time.perf_counter()
    history = model.fit(
        train_data, validation_data=val_data, steps_per_epoch=steps if pset is not None else None,
        epochs=epochs, callbacks=cbs, verbose=0, shuffle=False,  # the dataset shuffles
    )
    train_seconds = time.perf_counter() - started
    if options.flip_average:  # after the epoch is chosen: everything below measures the saved model
        from fmnistedge.training.mirror import flip_average

        model = flip_average(model)
    probs = model.predict(to_model_input(x_test), batch_size=1000, verbose=0)
    earlier = timer.earlier
    hist = _merge_history(earlier["history"], {k: [float(v) for v in vals] for k, vals in history.history.items()})
    # Early stopping and the photo epoch choice keep the best weights of the epochs since
    # the last resume only (their state starts again): the best epoch is looked for there.
    since = earlier["resumed_at"][-1] if earlier["resumed_at"] and (pset is not None or recipe.early_stopping) else 0
    from fmnistedge.training.zoo.stats import count_macs

    record = {
        "schema_version": trainlog.TRAIN_SCHEMA_VERSION,
        "arch": name,
        "family": spec.family,
        "source": spec.source,
        "reported_accuracy": spec.reported_accuracy,
        "reported_epochs": spec.reported_epochs,
        "recipe": run_recipe,
        "epochs_requested": epochs,
        "epochs_run": len(hist.get("loss", [])),
        "best_epoch": (_best_epoch(hist, PHOTO_MONITOR, start=max(epochs // 2, since)) if pset is not None
                       else _best_epoch(hist, "val_accuracy", start=since)),
        "history": hist,
        **evaluate_probs(y_test, probs),
        "test_items": int(len(y_test)),
        "train_items": int(len(y_tr)),
        "val_items": int(len(y_val)),
        "limit": options.limit,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "seconds_per_epoch": [round(s, 3) for s in earlier["seconds_per_epoch"] + timer.seconds],
        "train_seconds": round(train_seconds + sum(earlier["seconds_per_epoch"]), 2),
        # Epochs at which an interrupted run was resumed from its checkpoint (its data order
        # restarts there, so the result can differ from an uninterrupted run's).
        "resumed_at": earlier["resumed_at"],
        "seed": options.seed,
        "flip_average": options.flip_average,
        "init_from": init,
        "photos": _photo_record(model, pset, options, refined) if pset is not None else None,
        "distribute": None if plan is None else {
            "strategy": plan.kind, "replicas": plan.replicas, "global_batch": batch,
            "per_replica_batch": batch // plan.replicas, "scale_batch": options.scale_batch,
            "learning_rate": recipe.learning_rate},
        "notes": spec.notes,
        "environment": provenance.environment(),
    }
    with fileio.atomic_path(out_dir / "model.keras") as tmp:
        model.save(tmp)
    fileio.write_json(out_dir / trainlog.TRAIN_LOG_NAME, record)
    return record


def _best_epoch(hist: dict, key: str, start: int = 0) -> int | None:
    values = hist.get(key) or []
    if len(values) <= start:
        start = 0
    return start + int(np.argmax(values[start:])) + 1 if values else None


def _load_photos(options: TrainOptions, size: int):
    from fmnistedge.training import photos

    if options.partial not in photos.PARTIAL_MODES:
        from fmnistedge.errors import UsageError

        raise UsageError(f"Unknown partial-label mode {options.partial!r}; choose one of: "
                         f"{', '.join(photos.PARTIAL_MODES)}")
    return photos.load_photo_set(options.photos, options.photo_cache, options.photo_val_fraction, options.seed,
                                 refinements=options.label_refinements, size=size, fold=options.photo_fold)


def _photo_loss(recipe: zoo.Recipe, options: TrainOptions):
    from fmnistedge.training import phototrain

    return phototrain.set_loss(recipe.label_smoothing, none_output=options.none_output)


def _photo_pipeline(pset, x_tr, y_tr, batch: int, epochs: int, recipe: zoo.Recipe, options: TrainOptions):
    """The mixed training dataset, steps per epoch and the photo callbacks (validation first)."""
    import keras

    from fmnistedge.training import photos, phototrain
    from fmnistedge.training.augment import make_augmenter

    train = _photo_train_rows(pset, options)
    weights = photos.sampling_weights(train.targets, options.none_share, options.photo_balance)
    steps = -(-options.epoch_size // batch)
    draws = int(steps * batch * epochs * options.photo_share) + batch
    ds = phototrain.mixed_dataset(
        to_model_input(x_tr), y_tr, to_model_input(train.images), train.targets, weights,
        options.photo_share, batch, options.seed, make_augmenter(recipe.augment, options.seed), draws)
    val = pset.select(pset.val)
    # The epoch kept is the best of the second half of the schedule on the held-out
    # photographers' labelled photos (top-1 within the label set, over all ~1,000 of them:
    # macro top-1 over classes with 3-5 held-out photos moved by 5 points between epochs).
    best = keras.callbacks.EarlyStopping(monitor=PHOTO_MONITOR, mode="max", patience=epochs,
                                         restore_best_weights=True, start_from_epoch=epochs // 2)
    return ds, steps, [phototrain.photo_val_callback(to_model_input(val.images), val), best]


def _check_photo_start(options: TrainOptions, pset) -> None:
    """A start trained on photos must not have trained on a photographer this run holds out
    (another --photo-val-fraction or --photos folder draws another split): the held-out scores,
    the epoch choice and the calibration would then see photos the model learnt."""
    if options.init_from is None or pset is None:
        return
    record = Path(options.init_from).with_name("train.json")
    start = (trainlog.load(record).get("photos") or {}) if record.is_file() else {}
    if not start.get("val_senders"):
        return
    from fmnistedge.errors import UsageError

    learnt = sorted({r.sender for r, held in zip(pset.rows, pset.val) if held} - set(start["val_senders"]))
    if learnt:
        raise UsageError(f"--init-from {options.init_from} was trained on photos of {len(learnt)} photographer(s) "
                         f"this run would hold out (e.g. sender {learnt[0]}); fine-tune with the --photos folder, "
                         f"--photo-val-fraction and --seed it was trained with ({start.get('folder')}, "
                         f"{start.get('val_fraction')})")


def _photo_settings(options: TrainOptions) -> dict[str, Any] | None:
    """What a resume must not change about the photos (None without --photos)."""
    if options.photos is None:
        return None
    return {"folder": str(options.photos), "share": options.photo_share, "none_share": options.none_share,
            "balance": options.photo_balance, "partial": options.partial, "none_output": options.none_output,
            "epoch_size": options.epoch_size, "val_fraction": options.photo_val_fraction,
            "label_refinements": str(options.label_refinements) if options.label_refinements else None,
            **({"fold": _fold_text(options.photo_fold)} if options.photo_fold else {})}


def _split_text(options: TrainOptions) -> str:
    if options.photo_fold is None:
        return f"seed {options.seed}"
    return f"fold {_fold_text(options.photo_fold)} of the photographers, seed {options.seed}"


def _fold_text(fold: tuple[int, int] | None) -> str | None:
    return None if fold is None else f"{fold[0]}/{fold[1]}"


def _photo_train_rows(pset, options: TrainOptions):
    train = pset.select(~pset.val)
    if options.partial == "drop":
        train = train.select(train.targets.sum(1) <= 1)
    if options.none_share <= 0:
        train = train.select(train.targets.sum(1) > 0)
    return train


def _refinements_record(options: TrainOptions) -> dict[str, Any] | None:
    """The label-refinement file photo training reads: path, sha256 and rows (None without one)."""
    if options.label_refinements is None:
        return None
    from fmnistedge.runtime.modelmeta import sha256_file
    from fmnistedge.training import photos

    return {"file": str(options.label_refinements), "sha256": sha256_file(options.label_refinements),
            "rows": len(photos.read_refinements(options.label_refinements))}


def _photo_record(model, pset, options: TrainOptions, refined: dict[str, Any] | None) -> dict[str, Any]:
    """What the photos were, how they were mixed, and the model's scores, temperature and
    "none of these" threshold on the held-out photographers."""
    from fmnistedge.runtime.evaluate import (
        choose_threshold,
        fit_temperature,
        photo_set_metrics,
        rejection_curve,
    )
    from fmnistedge.training import phototrain

    train, val = _photo_train_rows(pset, options), pset.select(pset.val)
    probs = model.predict(to_model_input(val.images), batch_size=1000, verbose=0)
    single, none = val.single, val.none
    labelled = val.targets.sum(1) > 0
    from fmnistedge.runtime.openset import OpenSet, with_none_column

    full = with_none_column(probs) if options.none_output else probs  # "none" as an eleventh column
    temperature = fit_temperature(full[single], val.labels[single])
    cal = OpenSet(temperature, none_output=options.none_output).calibrate(probs)  # as the runtime will
    # The score of the "none" decision: the one that rejects more held-out "none" photos at the budget
    # (ties keep "top"); a model without a "none" output has only the top probability.
    compared, confs = {}, {}
    for kind in ("top", "classes") if options.none_output else ("top",):
        rule = OpenSet(temperature, none_output=options.none_output, reject_score=kind)
        confs[kind] = known_conf, none_conf = rule.score(cal[labelled]), rule.score(cal[none])
        threshold = choose_threshold(known_conf, phototrain.REJECT_BUDGET)
        compared[kind] = {
            "reject_below": threshold,
            "val_known_rejected": float((known_conf < threshold).mean()) if len(known_conf) else 0.0,
            "val_none_rejected": float((none_conf < threshold).mean()) if len(none_conf) else 0.0}
    score = max(compared, key=lambda k: (compared[k]["val_none_rejected"], k == "top"))
    (known_conf, none_conf), chosen = confs[score], compared[score]

    def counts(ps) -> dict[str, int]:
        sizes = ps.targets.sum(1)
        return {"single": int((sizes == 1).sum()), "partial": int((sizes > 1).sum()),
                "none": int((sizes == 0).sum()), "photographers": len({r.sender for r in ps.rows})}

    return {
        "folder": str(options.photos), "unrendered": pset.unrendered,
        "label_refinements": refined,
        "share": options.photo_share, "none_share": options.none_share, "partial": options.partial,
        "none_output": options.none_output,
        "epoch_size": options.epoch_size, "val_fraction": options.photo_val_fraction,
        "fold": _fold_text(options.photo_fold),
        "balance": options.photo_balance,
        "sampling": f"per-photo weight 1/(class count)^{options.photo_balance:g}, partial labels split over their "
                    "candidates",
        "val_senders": sorted({r.sender for r in val.rows}),
        "train": counts(train), "val": counts(val),
        "val_metrics": photo_set_metrics(probs, val.targets),
        "calibration": {
            "temperature": temperature, "reject_below": chosen["reject_below"], "none_output": options.none_output,
            "reject_score": score, "scores_compared": compared,
            "budget": phototrain.REJECT_BUDGET,
            "fitted_on": f"photo validation split: {counts(val)['photographers']} photographers held out "
                         f"({_split_text(options)}), {int(single.sum())} single-label photos for the temperature, "
                         f"{int(labelled.sum())} labelled and {int(none.sum())} 'none' photos for the threshold",
            "val_known_rejected": chosen["val_known_rejected"],
            "val_none_rejected": chosen["val_none_rejected"],
            "curve": rejection_curve(known_conf, none_conf, points=41),
        },
    }



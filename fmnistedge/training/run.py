"""``fmnistedge train`` as library calls: check a request before TensorFlow's slow import
and before hours of work, then train architecture by architecture."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from fmnistedge import fileio
from fmnistedge.errors import UsageError
from fmnistedge.training.options import TrainOptions

SUMMARY_KEYS = ("arch", "test_accuracy", "reported_accuracy", "epochs_run", "params", "train_seconds")


def init_source(text: str) -> Path:
    """--init-from: a file, or a shipped model's name (its fp32 ONNX file)."""
    path = Path(text)
    if path.is_file():
        return path
    if path.exists():
        raise UsageError(f"--init-from {text} is not a file")
    from fmnistedge.runtime.models import shipped_dir

    shipped = shipped_dir() / text / "model_fp32.onnx"
    if "/" not in text and shipped.is_file():
        return shipped
    raise UsageError(f"--init-from {text}: no such file, and no shipped model of that name with a "
                     "model_fp32.onnx (see 'fmnistedge models')")


def check(names: list[str], options: TrainOptions, init_from: str | None = None) -> TrainOptions:
    """Every usage error of a request now (one line, exit 2), the dataset, the photo folder
    and the output folder before TensorFlow's import; returns the options with
    ``init_from`` resolved to a file."""
    from fmnistedge.training.augment import AUGMENTATIONS
    from fmnistedge.training.data import find_dataset
    from fmnistedge.training.train import require_keras

    if init_from is not None:
        if len(names) != 1:
            raise UsageError("--init-from fine-tunes one architecture; name exactly one.")
        init_path = init_source(init_from)
        if init_path.resolve() == (options.out / names[0] / "model.keras").resolve():
            raise UsageError(f"--init-from {init_from} would be overwritten by the result; choose another --out.")
        options = replace(options, init_from=init_path)
    if options.augment is not None and options.augment not in AUGMENTATIONS:
        raise UsageError(f"Unknown augmentation {options.augment!r}; choose one of: {', '.join(AUGMENTATIONS)}.")
    if options.distribute is not None:
        from fmnistedge.training.distribute import MULTIWORKER_REASON, STRATEGIES

        if options.distribute == "multiworker":
            raise UsageError(MULTIWORKER_REASON)
        if options.distribute not in STRATEGIES:
            raise UsageError(f"Unknown --distribute {options.distribute!r}; choose one of: {', '.join(STRATEGIES)}.")
    elif options.cpu_replicas is not None or options.scale_batch:
        raise UsageError("--cpu-replicas and --scale-batch go with --distribute.")
    if options.none_output and options.photos is None:
        raise UsageError("--none-output trains on the 'none' photos: it goes with --photos.")
    if options.photo_fold is not None and options.photos is None:
        raise UsageError("--photo-fold holds out photographers of --photos: it goes with --photos.")
    if options.label_refinements is not None and options.photos is None:
        raise UsageError("--label-refinements refines the labels of --photos: it goes with --photos.")
    if options.photos is not None:
        from fmnistedge.training.photos import PARTIAL_MODES, read_photo_labels

        if options.partial not in PARTIAL_MODES:
            raise UsageError(f"Unknown --partial {options.partial!r}; choose one of: {', '.join(PARTIAL_MODES)}.")
        # A bad folder or refinement file fails now, not after TensorFlow's import.
        read_photo_labels(options.photos, options.label_refinements)
    find_dataset(options.data_dir)  # fail fast, before TensorFlow's slow import
    fileio.ensure_writable_dir(options.out)  # and before hours of training, not after
    require_keras()
    return options


def train_all(names: list[str], options: TrainOptions, progress, say: Callable[[str], None],
              on_done: Callable[[dict], None] = lambda _: None) -> list[dict]:
    """Train each of ``names`` in turn with a progress bar per epoch; a summary per model,
    each also given to ``on_done`` as soon as its model is written."""
    from fmnistedge.progress import keras_progress_callback
    from fmnistedge.training.train import train_arch

    summaries = []
    for name in names:
        rec = train_arch(name, options, callbacks=[keras_progress_callback(progress, name)])
        summary = {k: rec[k] for k in SUMMARY_KEYS} | {"model": str(Path(options.out) / name / "model.keras")}
        summaries.append(summary)
        skipped = (rec.get("photos") or {}).get("unrendered")
        if skipped:
            say(f"{name}: {skipped} photo(s) of {options.photos} could not be read and were left out "
                f"(train.json: photos.unrendered)")
        on_done(summary)
    return summaries


def summary_line(s: dict) -> str:
    src = f" (source {s['reported_accuracy']:.2f}%)" if s["reported_accuracy"] else ""
    return (f"{s['arch']}: test accuracy {100 * s['test_accuracy']:.2f}%{src}, "
            f"{s['epochs_run']} epochs in {s['train_seconds']:.0f} s -> {s['model']}")

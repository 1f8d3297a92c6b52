"""The options of a training run, with their defaults: the one place ``train``'s defaults
are set (the command line takes its defaults from here). Plain data: importing it loads
nothing heavy, so ``fmnistedge --help`` stays fast."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    init_from: Path | None = None  # fine-tune: from this model.keras, or fp32 .onnx export, of the same arch
    # Photo-domain training (fmnistedge.training.photos): a labelled real-photo folder mixed into every batch.
    photos: Path | None = None
    photo_share: float = 0.5  # fraction of each batch drawn from the photos
    photo_val_fraction: float = 0.2  # photographers held out for validation, temperature and threshold
    photo_fold: tuple[int, int] | None = None  # (k, n): hold out fold k of n photographer groups instead
    partial: str = "set"  # candidate-set rows: "set" (set-valued loss) or "drop"
    none_share: float = 0.1  # fraction of photo draws that are "none" garments (pushed towards uniform)
    photo_balance: float = 0.5  # photo draws per class ~ count ** (1 - balance): 0 as found, 1 every class alike
    epoch_size: int = 16384  # images per epoch in photo mode
    none_output: bool = False  # an eleventh "none of these" class trained on the 'none' photos
    label_refinements: Path | None = None  # CSV of labels decided by eye for candidate-set photos
    flip_average: bool = False  # the saved model averages its answers on the image and its mirror image
    # tf.distribute (fmnistedge.training.distribute): None or "mirrored"
    distribute: str | None = None
    cpu_replicas: int | None = None  # mirrored without GPUs: split the CPU into this many devices
    scale_batch: bool = False  # global batch x replicas, learning rate x replicas (linear scaling)
    photo_cache: Path = Path("artifacts/.photo-cache")

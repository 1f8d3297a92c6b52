"""The model zoo: one explicit registry of every architecture.

``ARCHS`` is a plain dict literal (no registration by import side effect). Each
entry names its builder by ``"module:function"`` so importing the registry costs
nothing and does not import TensorFlow; :func:`build` imports Keras lazily.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from fmnistedge.errors import UsageError


@dataclass(frozen=True)
class Recipe:
    """How the source trained it (and so how ``fmnistedge train`` trains it)."""

    optimizer: str = "adam"  # "adam", "nadam", "sgd" or "adamw"
    learning_rate: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    early_stopping: int | None = None  # patience in epochs on validation accuracy
    augment: str | None = None  # None, "flip-zoom" (light) or "crop-flip-erase" (edge recipe)
    label_smoothing: float = 0.0
    weight_decay: float = 0.0  # decoupled (AdamW)
    schedule: str | None = None  # None (constant) or "cosine" (1 warm-up epoch, then cosine decay)


@dataclass(frozen=True)
class ArchSpec:
    name: str
    family: str  # "dense", "cnn", "lenet", "study", "edge" or "test"
    builder: str  # "module:function" inside fmnistedge.training.zoo
    source: str
    reported_accuracy: float | None  # percent, as the source reported it
    reported_epochs: int | None
    recipe: Recipe = field(default_factory=Recipe)
    notes: str = ""
    grows_from: str | None = None  # a 28 px architecture whose trained weights it can start from (--init-from)

    def builder_fn(self) -> Callable[[], Any]:
        module, func = self.builder.split(":")
        return getattr(importlib.import_module(f"fmnistedge.training.zoo.{module}"), func)


_DENSE = "Simple dense network write-up"
_CNN12 = "Two-CNN write-up (CNN 1, CNN 2)"
_LENET = "LeNet-5 write-up"
_BASIC = "Basic vs standard CNN write-up"
_PHOTO = "Real-photo write-up (final optimized CNN)"
_D512 = "Dense 512-512 write-up"
_2CONV = "Two-conv CNN write-up (unnormalized pixels)"
_STUDY = "Keras study (ANN and CNN families)"
_EDGE = "fmnistedge edge family (our own design)"
EDGE_RECIPE = dict(optimizer="adamw", learning_rate=3e-3, batch_size=128, augment="crop-flip-erase",
                   label_smoothing=0.1, weight_decay=0.05, schedule="cosine")

ARCHS: dict[str, ArchSpec] = {
    "dense-300-100": ArchSpec(
        "dense-300-100", "dense", "dense:dense_300_100", _DENSE, 83.86, 5,
        Recipe(optimizer="sgd", learning_rate=1e-3, batch_size=32, epochs=5),
    ),
    "dense-512-512": ArchSpec(
        "dense-512-512", "dense", "dense:dense_512_512", _D512, 86.51, 5,
        Recipe(batch_size=64, epochs=5),
    ),
    "cnn1": ArchSpec(
        "cnn1", "cnn", "cnn:cnn1", _CNN12, 91.6, 8,
        Recipe(optimizer="nadam", learning_rate=1e-3, batch_size=32, epochs=8),
    ),
    "cnn2": ArchSpec(
        "cnn2", "cnn", "cnn:cnn2", _CNN12, 92.93, 8, Recipe(batch_size=32, epochs=8),
    ),
    "cnn-basic": ArchSpec(
        "cnn-basic", "cnn", "cnn:cnn_basic", _BASIC, 90.30, 8, Recipe(batch_size=32, epochs=8),
    ),
    "cnn-standard": ArchSpec(
        "cnn-standard", "cnn", "cnn:cnn_standard", _BASIC, 90.69, 8, Recipe(batch_size=32, epochs=8),
    ),
    "cnn-final": ArchSpec(
        "cnn-final", "cnn", "cnn:cnn_final", _PHOTO, 93.40, 100,
        Recipe(batch_size=100, epochs=100, early_stopping=5),
        notes="100 epochs in the source; trained here with early stopping (patience 5, best weights kept).",
    ),
    "cnn-2conv": ArchSpec(
        "cnn-2conv", "cnn", "cnn:cnn_2conv", _2CONV, 87.05, 5, Recipe(batch_size=64, epochs=5),
        notes="The source fed unnormalized 0-255 pixels; trained here on [0, 1] input like every model.",
    ),
    "lenet5": ArchSpec(
        "lenet5", "lenet", "lenet:lenet5", _LENET, 88.89, 3, Recipe(batch_size=32, epochs=3),
    ),
    "lenet5-relu": ArchSpec(
        "lenet5-relu", "lenet", "lenet:lenet5_relu", _LENET, 90.55, 3, Recipe(batch_size=32, epochs=3),
    ),
    "study-ann3": ArchSpec(
        "study-ann3", "study", "study:study_ann3", _STUDY, 90.0, 1000,
        Recipe(optimizer="sgd", learning_rate=0.025, batch_size=200, epochs=1000, early_stopping=20),
        notes="Source: about 90% after 1000 epochs; trained here with early stopping (patience 20).",
    ),
    "study-ann5": ArchSpec(
        "study-ann5", "study", "study:study_ann5", _STUDY, 90.0, 1000,
        Recipe(optimizer="sgd", learning_rate=0.025, batch_size=200, epochs=1000, early_stopping=20),
        notes="Source: about 90% after 1000 epochs; trained here with early stopping (patience 20).",
    ),
    "study-cnn": ArchSpec(
        "study-cnn", "study", "study:study_cnn", _STUDY, 93.0, 50,
        Recipe(batch_size=32, epochs=50, early_stopping=8, augment="flip-zoom"),
        notes="Source: about 93% after 50 epochs; trained here with early stopping (patience 8).",
    ),
    "edge-s": ArchSpec(
        "edge-s", "edge", "edge:edge_s", _EDGE, None, None, Recipe(epochs=60, **EDGE_RECIPE),
        notes="Target: <= 100k parameters, >= 94.0% int8 (issue 7).",
    ),
    "edge-m": ArchSpec(
        "edge-m", "edge", "edge:edge_m", _EDGE, None, None, Recipe(epochs=60, **EDGE_RECIPE),
        notes="Target: <= 500k parameters, >= 95.0% int8 (issue 7).",
    ),
    "edge-r": ArchSpec(
        "edge-r", "edge", "edge:edge_r", _EDGE, None, None,
        Recipe(epochs=45, **{**EDGE_RECIPE, "weight_decay": 0.02}),
        notes="Tiny residual net for the <= 100k-parameter slot of issue 7 (>= 94.0% int8). edge-s at "
              "60 epochs fit its augmented training data no better than validation (94.1% vs 93.5%): "
              "capacity-bound, so this design adds depth and skips and weakens weight decay.",
    ),
    "edge-r56": ArchSpec(
        "edge-r56", "edge", "edge:edge_r56", _EDGE, None, None,
        Recipe(epochs=45, **{**EDGE_RECIPE, "weight_decay": 0.02}),
        notes="edge-r at a 56 px input for photo models (a Haar patch layer before its stem); started from a "
              "trained edge-r (--init-from edge-r).",
        grows_from="edge-r",
    ),
    "tiny": ArchSpec(
        "tiny", "test", "cnn:tiny", "fmnistedge test model (not a source architecture)", None, None,
        Recipe(batch_size=64, epochs=1),
    ),
}


def is_source(name: str) -> bool:
    """A seed architecture from the source write-ups (not edge, not test)."""
    return ARCHS[name].family not in ("edge", "test")


def names(include_test: bool = False) -> list[str]:
    """Registered architecture names; the test-only model is left out unless asked for."""
    return [n for n, s in ARCHS.items() if include_test or s.family != "test"]


def get(name: str) -> ArchSpec:
    """The spec for ``name``; an unknown name raises ``UsageError`` naming close matches."""
    try:
        return ARCHS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ARCHS), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UsageError(
            f"Unknown architecture {name!r}.{hint} Run 'fmnistedge archs' for the list."
        ) from None


def build(name: str) -> Any:
    """Build the untrained Keras model for ``name`` (imports Keras lazily)."""
    spec = get(name)
    model = spec.builder_fn()()
    if model.name != name:
        raise RuntimeError(f"Builder for {name!r} returned a model named {model.name!r}")
    return model

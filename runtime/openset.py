"""Calibrated photo probabilities and the "none of these" decision.

A model trained on real photos (``fmnistedge train --photos``) carries, in its
manifest and in each exported file's embedded metadata, a ``photo_calibration``
block fitted on photographers held out from training:

* ``temperature``: photo probabilities are rescaled as ``softmax(log p / T)``
  (Guo et al., 2017), so a 70% answer is right about 70% of the time on photos;
* ``reject_below``: when the photo's calibrated score is below it, the photo
  is answered ``unknown`` (a garment of none of the ten classes: shorts, a
  skirt, a hat, or no garment at all). The best guess is still reported.
* ``reject_score`` (:data:`REJECT_SCORES`): which score. ``top`` (the default,
  and the only one before the field existed) is the calibrated top class
  probability; ``classes``, for a model with a "none" output, is the calibrated
  probability that the photo is one of the ten classes at all (the sum of the
  ten, 1 minus "none"). Photo training picks the one that rejects more of the
  held-out photographers' "none" photos within the same budget of labelled ones.

A model trained with a "none" output (``--none-output``) outputs ten class
probabilities whose remainder to 1 is the probability of "none of these"
(``none_output: true`` in the block); the temperature then applies to all
eleven, and the ten calibrated class probabilities still sum to less than 1.

Models without the block (Fashion-MNIST-only training) keep their raw
probabilities and never answer ``unknown``, except for a photo in which no
garment was found (a blank image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fmnistedge.errors import ModelError

UNKNOWN = "unknown"
REJECT_SCORES = ("top", "classes")
SCORE_NAMES = {"top": "top probability", "classes": "probability of any of the ten classes"}


def with_none_column(probs: np.ndarray) -> np.ndarray:
    """(N, 10) class probabilities of a "none"-output model -> (N, 11) with "none" last."""
    probs = np.asarray(probs, np.float64)
    rest = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 1e-7, 1.0)
    return np.concatenate([probs, rest], axis=1)


@dataclass(frozen=True)
class OpenSet:
    temperature: float = 1.0
    reject_below: float = 0.0
    none_output: bool = False  # the probabilities' remainder to 1 is "none of these"
    reject_score: str = "top"  # see REJECT_SCORES

    @classmethod
    def from_meta(cls, meta: dict | None, where: str = "model") -> "OpenSet | None":
        """The block ``meta['photo_calibration']``, checked; None when there is none."""
        block = (meta or {}).get("photo_calibration")
        if block is None:
            return None
        try:
            t, r = float(block["temperature"]), float(block["reject_below"])
        except (KeyError, TypeError, ValueError):
            raise ModelError(f"{where}: photo_calibration needs numeric temperature and reject_below") from None
        if not (math.isfinite(t) and 0.05 <= t <= 20.0 and math.isfinite(r) and 0.0 <= r <= 1.0):
            raise ModelError(f"{where}: photo_calibration out of range (temperature {t}, reject_below {r}); "
                             "re-export the model")
        none_output, score = bool(block.get("none_output", False)), block.get("reject_score", "top")
        if score not in REJECT_SCORES or (score == "classes" and not none_output):
            raise ModelError(f"{where}: photo_calibration.reject_score must be one of {', '.join(REJECT_SCORES)} "
                             f"('classes' only with a 'none' output). Received: {score!r}")
        return cls(t, r, none_output, score)

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        from fmnistedge.runtime.evaluate import apply_temperature

        if self.temperature == 1.0:
            return probs
        if self.none_output:
            scaled = apply_temperature(with_none_column(probs), self.temperature)
            return scaled[:, :-1].astype(np.float32)
        return apply_temperature(np.asarray(probs, np.float64), self.temperature).astype(np.float32)

    def score(self, calibrated: np.ndarray) -> np.ndarray:
        """The score the threshold applies to (``reject_score``), per calibrated row."""
        calibrated = np.asarray(calibrated)
        return calibrated.sum(axis=-1) if self.reject_score == "classes" else calibrated.max(axis=-1)

    def known(self, calibrated: np.ndarray) -> np.ndarray:
        """True where the calibrated score reaches the threshold."""
        return self.score(calibrated) >= self.reject_below

    def why_unknown(self, calibrated_row: np.ndarray) -> str:
        """The reason line of a photo :meth:`known` rejects."""
        return (f"none of the ten classes ({SCORE_NAMES[self.reject_score]} "
                f"{100 * float(self.score(calibrated_row)):.1f}% is below the model's {100 * self.reject_below:.1f}%)")


def model_meta(ref) -> tuple[dict, str]:
    """What a resolved model (``runtime.models.ModelRef``) says about itself, and where: the
    manifest beside it, else the file's embedded metadata."""
    from fmnistedge import manifest
    from fmnistedge.runtime.modelmeta import read_embedded

    if ref.entry is not None:
        return manifest.load(ref.path.parent) or {}, str(ref.path.parent / manifest.MANIFEST_NAME)
    return read_embedded(ref.path) or {}, str(ref.path)


def for_model(ref) -> OpenSet | None:
    """The open-set block of a resolved model (see :func:`model_meta`)."""
    return OpenSet.from_meta(*model_meta(ref))

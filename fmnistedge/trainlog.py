"""The training log contract: ``ARCH_DIR/train.json``, written by ``fmnistedge train``.

One record per trained model: the recipe, every epoch's history, the test accuracy,
the photo split and calibration of a photo-trained model, the environment. Like the
manifest it is read by TensorFlow-free code (the runtime's ``evaluate``, ``bench``, the
result tables), so this module imports nothing heavy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fmnistedge.errors import FmnistEdgeError

TRAIN_LOG_NAME = "train.json"
TRAIN_SCHEMA_VERSION = 1
TEST_FAMILY = "test"  # the zoo family of fmnistedge's own test model ('tiny'): never in results or reports


def load(path: Path) -> dict[str, Any]:
    """Read a train.json, checking its schema version."""
    rec = json.loads(Path(path).read_text())
    if rec.get("schema_version") != TRAIN_SCHEMA_VERSION:
        raise FmnistEdgeError(
            f"{path} has train.json schema {rec.get('schema_version')!r}, expected "
            f"{TRAIN_SCHEMA_VERSION}; retrain with 'fmnistedge train {rec.get('arch', 'ARCH')}'")
    return rec


def find(arch_dir: Path) -> dict[str, Any] | None:
    """``arch_dir``'s training log, or None when it has none or it cannot be read (a
    shipped model carries none; a log is extra information, never required to run)."""
    path = Path(arch_dir) / TRAIN_LOG_NAME
    try:
        rec = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def is_test_model(arch_dir: Path) -> bool:
    """Whether ``arch_dir`` holds fmnistedge's own test model (by its recorded zoo family)."""
    rec = find(arch_dir)
    return rec is not None and rec.get("family") == TEST_FAMILY

"""The manifest contract (DESIGN.md): what every exported model directory says about itself.

``ARCH_DIR/manifest.json`` lists each model file with its format, precision,
size, sha256, verification results and tool versions. The runtime reads it (no
TensorFlow here) and checks the sha256 before loading a file.
"""

from __future__ import annotations

import json
from pathlib import Path

from fmnistedge.errors import ModelError
from fmnistedge.formats import ENGINES, PRECISIONS
from fmnistedge.labels import IMAGE_SIZE, LABELS

MANIFEST_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
FILE_KEYS = {"key", "format", "precision", "bytes", "sha256", "status"}

def input_contract(size: int = IMAGE_SIZE) -> dict:
    """The input a model file takes: ``size`` x ``size`` (labels.INPUT_SIZES)."""
    return {
        "shape": [None, size, size, 1],
        "layout": "NHWC",
        "dtype": "float32",
        "range": [0.0, 1.0],
        "pixel_scale": 1.0 / 255.0,
        "polarity": "light garment on a dark background (Fashion-MNIST)",
        "note": "int8 TFLite files quantize this float input with the scale and zero point in 'io'",
        **({"fashion_mnist": f"28x28 images enlarged to {size}x{size} by pixel repetition"}
           if size != IMAGE_SIZE else {}),
    }


INPUT_CONTRACT = input_contract()


def new_manifest(arch: str, keras_file: str, keras_sha256: str, keras_accuracy: float,
                 size: int = IMAGE_SIZE) -> dict:
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "arch": arch,
        "labels": list(LABELS),
        "input": input_contract(size),
        "keras": {"file": keras_file, "sha256": keras_sha256, "test_accuracy": keras_accuracy},
        "files": {},
    }


def load(directory: Path | str) -> dict | None:
    """The manifest in ``directory``, or None if there is none."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"Unreadable manifest {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelError(f"Malformed manifest {path}: not a JSON object; re-run 'fmnistedge export'")
    if doc.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise ModelError(f"{path} has manifest schema {doc.get('schema_version')!r}, "
                         f"expected {MANIFEST_SCHEMA_VERSION}; re-run 'fmnistedge export'")
    files = doc.get("files")
    if not isinstance(doc.get("arch"), str) or not isinstance(files, dict) or not all(
            isinstance(e, dict) and FILE_KEYS <= set(e) for e in files.values()):
        raise ModelError(f"Malformed manifest {path}: needs 'arch' and 'files' entries with "
                         f"{', '.join(sorted(FILE_KEYS))}; re-run 'fmnistedge export'")
    for name, entry in files.items():
        problem = _entry_problem(entry)
        if problem:
            raise ModelError(f"Malformed manifest {path}: files[{name!r}] {problem}; re-run 'fmnistedge export'")
    return doc


def _entry_problem(entry: dict) -> str | None:
    """What is wrong with one file entry's values, or None. Every reader (model choice,
    size check, tables) uses them as they are, so a hand-edited "int4" or "bytes": "lots"
    is caught here once instead of as a TypeError deep in one of them."""
    if entry["format"] not in ENGINES:
        return f"has format {entry['format']!r}; expected one of {', '.join(ENGINES)}"
    if entry["precision"] not in PRECISIONS:
        return f"has precision {entry['precision']!r}; expected one of {', '.join(PRECISIONS)}"
    if type(entry["bytes"]) is not int or entry["bytes"] < 0:
        return f"has bytes {entry['bytes']!r}; expected a byte count"
    for key in ("key", "sha256", "status"):
        if not isinstance(entry[key], str):
            return f"has {key} {entry[key]!r}; expected text"
    return None

"""Read the self-description embedded in a model file, and check file integrity.

ONNX files carry it as ``metadata_props["fmnistedge"]`` (JSON). TFLite files
carry it as an associated file ``fmnistedge.json`` in a zip archive appended to
the flatbuffer, the way TFLite's metadata tooling packs associated files; the
interpreter ignores the trailing bytes and Python's ``zipfile`` reads them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

META_KEY = "fmnistedge"
TFLITE_ASSOCIATED_FILE = "fmnistedge.json"


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_tflite_metadata(data: bytes) -> dict | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return json.loads(zf.read(TFLITE_ASSOCIATED_FILE))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None


def read_onnx_metadata(data: bytes) -> dict | None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        meta = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]).get_modelmeta()
    except Exception:  # not a loadable ONNX model
        return None
    raw = meta.custom_metadata_map.get(META_KEY)
    return json.loads(raw) if raw else None


def read_embedded(path: Path | str) -> dict | None:
    """The embedded fmnistedge metadata of a model file, or None if it has none."""
    data = Path(path).read_bytes()
    if Path(path).suffix.lower() == ".onnx":
        return read_onnx_metadata(data)
    return read_tflite_metadata(data)

"""Embed fmnistedge metadata in model files (the runtime reads it back TF-free).

See :mod:`fmnistedge.runtime.modelmeta` for the format of each engine.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from fmnistedge.runtime.modelmeta import META_KEY, SEAL_KEY, TFLITE_ASSOCIATED_FILE, seal_onnx


def embed_onnx(model: bytes, meta: dict) -> bytes:
    import onnx

    proto = onnx.load_from_string(model)
    keep = [p for p in proto.metadata_props if p.key not in (META_KEY, SEAL_KEY)]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    proto.metadata_props.add(key=META_KEY, value=json.dumps(meta, sort_keys=True))
    proto.producer_name = "fmnistedge"
    return seal_onnx(proto.SerializeToString())


def embed_tflite(model: bytes, meta: dict) -> bytes:
    """Append the metadata archive (sealing the flatbuffer) to a converter's output."""
    meta = {**meta, "payload": {"bytes": len(model), "sha256": hashlib.sha256(model).hexdigest()}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(TFLITE_ASSOCIATED_FILE, json.dumps(meta, sort_keys=True, indent=1))
    return model + buf.getvalue()

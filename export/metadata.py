"""Embed fmnistedge metadata in model files (the runtime reads it back TF-free).

See :mod:`fmnistedge.runtime.modelmeta` for the format of each engine.
"""

from __future__ import annotations

import io
import json
import zipfile

from fmnistedge.runtime.modelmeta import META_KEY, TFLITE_ASSOCIATED_FILE


def embed_onnx(model: bytes, meta: dict) -> bytes:
    import onnx

    proto = onnx.load_from_string(model)
    keep = [p for p in proto.metadata_props if p.key != META_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    proto.metadata_props.add(key=META_KEY, value=json.dumps(meta, sort_keys=True))
    proto.producer_name = "fmnistedge"
    return proto.SerializeToString()


def embed_tflite(model: bytes, meta: dict) -> bytes:
    """Append the metadata archive to a converter's output (a bare flatbuffer)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(TFLITE_ASSOCIATED_FILE, json.dumps(meta, sort_keys=True, indent=1))
    return model + buf.getvalue()

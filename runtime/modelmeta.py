"""Read the self-description embedded in a model file, and check file integrity.

ONNX files carry it as ``metadata_props["fmnistedge"]`` (JSON). TFLite files
carry it as an associated file ``fmnistedge.json`` in a zip archive appended to
the flatbuffer, the way TFLite's metadata tooling packs associated files; the
interpreter ignores the trailing bytes and Python's ``zipfile`` reads them.

Every file is also *sealed*, so a lone file (no manifest beside it) still gets
an integrity check before it is loaded:

* TFLite: the embedded JSON records ``payload`` = the byte count and sha256 of
  the flatbuffer in front of the archive.
* ONNX: the file ends with one more ``metadata_props`` entry,
  ``fmnistedge.sha256`` = the sha256 of every byte before it. Protobuf allows a
  repeated field to be appended to a serialized message, so the seal is a fixed
  87-byte trailer that the runtime checks without parsing the model.

A file that carries fmnistedge metadata without a seal was modified after export
and is refused. A file with neither (another tool's export) loads unchecked.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from fmnistedge.errors import ModelError

META_KEY = "fmnistedge"
TFLITE_ASSOCIATED_FILE = "fmnistedge.json"
SEAL_KEY = "fmnistedge.sha256"


def _onnx_seal_head() -> bytes:
    # ModelProto.metadata_props is field 14 (tag 0x72, length-delimited); an entry is
    # StringStringEntryProto {key: field 1 (0x0a), value: field 2 (0x12)}. All lengths < 128.
    entry_len = 2 + len(SEAL_KEY) + 2 + 64
    return bytes([0x72, entry_len, 0x0A, len(SEAL_KEY)]) + SEAL_KEY.encode() + bytes([0x12, 64])


ONNX_SEAL_HEAD = _onnx_seal_head()
# The serialized metadata entry's key ({key: field 1, len 10, "fmnistedge"} then the value tag):
# a file that has it was written by our exporter, so it must also carry the seal.
ONNX_META_ENTRY = bytes([0x0A, len(META_KEY)]) + META_KEY.encode() + bytes([0x12])
ONNX_SEAL_BYTES = len(ONNX_SEAL_HEAD) + 64


def seal_onnx(model: bytes) -> bytes:
    """Append the seal entry (the sha256 of ``model``) to a serialized ONNX model."""
    return model + ONNX_SEAL_HEAD + hashlib.sha256(model).hexdigest().encode()


def check_seal(path: Path | str) -> bool:
    """Check a model file's embedded seal; True if sealed and intact, False if it has none.

    Raises ``ModelError`` when the seal shows the file was truncated or modified.
    """
    path = Path(path)
    data = path.read_bytes()
    if path.suffix.lower() == ".onnx":
        tail = data[-ONNX_SEAL_BYTES:]
        if tail.startswith(ONNX_SEAL_HEAD):
            if hashlib.sha256(data[:-ONNX_SEAL_BYTES]).hexdigest().encode() != tail[len(ONNX_SEAL_HEAD):]:
                raise ModelError(f"{path} does not match its embedded sha256: refusing to load a "
                                 "tampered or corrupted model; re-export or re-install it")
            return True
        if SEAL_KEY.encode() in data:
            raise ModelError(f"{path} has an fmnistedge seal that is no longer at its end: "
                             "truncated or modified; re-export or re-install it")
        if ONNX_META_ENTRY in data:
            raise ModelError(f"{path} carries fmnistedge metadata but its seal was removed: "
                             "modified after export; re-export or re-install it")
        return False
    meta = read_tflite_metadata(data)
    payload = (meta or {}).get("payload")
    if payload is not None and not _is_payload(payload):
        raise ModelError(f"{path} has a malformed fmnistedge seal (payload {str(payload)[:60]!r}): "
                         "modified after export; re-export or re-install it")
    if payload is None:
        if meta is None and TFLITE_ASSOCIATED_FILE.encode() in data:
            raise ModelError(f"{path} has a damaged fmnistedge metadata archive: "
                             "truncated or modified; re-export or re-install it")
        if meta is not None:
            raise ModelError(f"{path} carries fmnistedge metadata but no seal: "
                             "modified after export; re-export or re-install it")
        return False
    body = data[:payload["bytes"]]
    if len(body) != payload["bytes"] or hashlib.sha256(body).hexdigest() != payload["sha256"]:
        raise ModelError(f"{path} does not match its embedded sha256: refusing to load a "
                         "tampered or corrupted model; re-export or re-install it")
    if not _archive_spans_the_rest(data, payload["bytes"]):
        raise ModelError(f"{path} has bytes around its metadata archive that the export did not write: "
                         "modified after export; re-export or re-install it")
    return True


def _is_payload(payload) -> bool:
    """The seal's shape as the exporter writes it: {"bytes": count, "sha256": hex digest}."""
    return (isinstance(payload, dict) and type(payload.get("bytes")) is int and payload["bytes"] >= 0
            and isinstance(payload.get("sha256"), str))


def _archive_spans_the_rest(data: bytes, start: int) -> bool:
    """True if the zip archive starts right after the flatbuffer and the file ends with it.

    ``zipfile`` tolerates bytes before and after an archive, so without this check
    inserted or appended bytes would pass the seal.
    """
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0 or len(data) < eocd + 22:
        return False
    comment = int.from_bytes(data[eocd + 20:eocd + 22], "little")
    return data[start:start + 4] == b"PK\x03\x04" and eocd + 22 + comment == len(data)


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


MAX_METADATA_BYTES = 1 << 20  # the exporter writes a few hundred bytes


def read_tflite_metadata(data: bytes) -> dict | None:
    """The embedded JSON object, or None when there is none or it cannot be read.

    The archive is untrusted input: besides BadZipFile, a crafted one makes zipfile
    raise NotImplementedError (an unsupported compression), RuntimeError (encryption),
    zlib.error, EOFError and more, and could inflate to gigabytes; all of that reads as
    "no usable metadata", which :func:`check_seal` refuses when the archive is ours.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo(TFLITE_ASSOCIATED_FILE)
            # The declared size can lie: read at most the cap from the stream itself, and
            # only the two methods the exporter could have written (bzip2/LZMA inflate unbounded).
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                return None
            with zf.open(info) as fh:
                raw = fh.read(MAX_METADATA_BYTES + 1)
            if len(raw) > MAX_METADATA_BYTES:
                return None
            meta = json.loads(raw)
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    return meta if isinstance(meta, dict) else None


def read_onnx_metadata(data: bytes, name: str = "this ONNX file") -> dict | None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        meta = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]).get_modelmeta()
    except Exception:  # not a loadable ONNX model
        return None
    return parse_onnx_metadata(meta.custom_metadata_map, name)


def parse_onnx_metadata(custom_map: dict, name: str = "this ONNX file") -> dict | None:
    """The fmnistedge JSON object of an ONNX file's custom metadata map (from any open session)."""
    raw = custom_map.get(META_KEY)
    if raw is not None and len(raw) > MAX_METADATA_BYTES:
        raise ModelError(f"The fmnistedge metadata of {name} is too large; re-export or re-install it")
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # deeply nested JSON raises RecursionError
        raise ModelError(f"The fmnistedge metadata of {name} is not JSON; re-export or re-install it") from None
    return parsed if isinstance(parsed, dict) else None


def read_embedded(path: Path | str) -> dict | None:
    """The embedded fmnistedge metadata of a model file, or None if it has none."""
    data = Path(path).read_bytes()
    if Path(path).suffix.lower() == ".onnx":
        return read_onnx_metadata(data, str(path))
    return read_tflite_metadata(data)

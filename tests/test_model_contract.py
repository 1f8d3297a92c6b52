"""Model files that load but break the runtime's contract, and crafted metadata: one-line ModelErrors.

The ONNX files are encoded by hand (a few protobuf fields), so these tests run on the
base install, without the 'train' extra's onnx package.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "0-t-shirt-top.jpg"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    """One protobuf field: an int as a varint, bytes/str/nested message length-delimited."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, dims: list) -> bytes:
    shape = b"".join(_field(1, _field(2 if isinstance(d, str) else 1, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))  # elem_type 1 = float


def onnx_linear(weights: np.ndarray) -> bytes:
    """An ONNX model: output = Flatten(input) @ weights (784 x 10), no softmax."""
    w = np.asarray(weights, np.float32)
    tensor = _field(1, 784) + _field(1, 10) + _field(2, 1) + _field(8, "W") + _field(9, w.tobytes())
    nodes = (_field(1, _field(1, "x") + _field(2, "flat") + _field(4, "Flatten"))
             + _field(1, _field(1, "flat") + _field(1, "W") + _field(2, "y") + _field(4, "MatMul")))
    graph = (nodes + _field(2, "linear") + _field(5, tensor)
             + _field(11, _value_info("x", ["N", 28, 28, 1])) + _field(12, _value_info("y", ["N", 10])))
    return _field(1, 8) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))


@pytest.mark.parametrize("kind, weight, reason", [
    ("logits", 5.0, "sum to"), ("nan", float("nan"), "not finite"), ("negative", -1.0, "negative")])
def test_a_model_whose_output_is_not_probabilities_is_a_model_error(tmp_path, kind, weight, reason):
    model = tmp_path / f"{kind}.onnx"
    model.write_bytes(onnx_linear(np.full((784, 10), weight)))
    result = runner.invoke(app, ["classify", str(SAMPLE), "--model", str(model)])
    assert result.exit_code == 1, result.output
    assert f"{model} does not output class probabilities" in result.output and reason in result.output
    assert "%" not in result.output and "Traceback" not in result.output


def test_a_softmax_like_output_is_accepted(tmp_path):
    model = tmp_path / "uniform.onnx"
    model.write_bytes(onnx_linear(np.zeros((784, 10))))  # all zeros: not probabilities either
    bad = runner.invoke(app, ["classify", str(SAMPLE), "--model", str(model)])
    assert bad.exit_code == 1 and "sum to 0.00" in bad.output, bad.output
    from fmnistedge.runtime.backends import _as_scores

    ok = np.full((2, 10), 0.1, np.float32)
    ok[1] = [0.988 / 9] * 9 + [0.0]  # an int8 softmax's rounding: sums near, not at, 1
    assert _as_scores(Path("m.onnx"), ok, 2).shape == (2, 10)


# --- crafted metadata and manifests ---------------------------------------------

def _flatbuffer() -> bytes:
    """The shipped default's int8 TFLite flatbuffer, without its metadata archive."""
    import json
    import zipfile
    import io

    from fmnistedge.runtime.models import shipped_dir

    data = (shipped_dir() / "edge-r" / "model_int8.tflite").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return data[:json.loads(zf.read("fmnistedge.json"))["payload"]["bytes"]]


def _tflite_with(tmp_path: Path, meta: bytes, compression_method: int | None = None) -> Path:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("fmnistedge.json", meta)
    archive = bytearray(buf.getvalue())
    if compression_method is not None:  # patch the local and the central directory headers
        archive[8:10] = struct.pack("<H", compression_method)
        central = archive.rfind(b"PK\x01\x02")
        archive[central + 10:central + 12] = struct.pack("<H", compression_method)
    path = tmp_path / "crafted.tflite"
    path.write_bytes(_flatbuffer() + bytes(archive))
    return path


@pytest.mark.parametrize("meta, compression", [
    (b'{"arch": "edge-r", "payload": "lots"}', None),
    (b'{"arch": "edge-r", "payload": {"bytes": "lots", "sha256": 5}}', None),
    (b'{"arch": "edge-r", "payload": {"bytes": -5, "sha256": "00"}}', None),
    (b'[1, 2]', None),
    (b'{"arch": "edge-r"}', 99),  # a compression method zipfile does not support
])
def test_crafted_tflite_metadata_is_a_one_line_model_error(tmp_path, meta, compression):
    model = _tflite_with(tmp_path, meta, compression)
    result = runner.invoke(app, ["classify", str(SAMPLE), "--model", str(model)])
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and str(model) in result.output, result.output
    assert "re-export or re-install it" in result.output


def test_crafted_metadata_types_in_a_file_are_a_one_line_model_error(tmp_path):
    import hashlib
    import json

    body = _flatbuffer()
    seal = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    model = _tflite_with(tmp_path, json.dumps({"arch": ["x"], "precision": 8, "payload": seal}).encode())
    result = runner.invoke(app, ["classify", str(SAMPLE), "--model", str(model)])
    assert result.exit_code == 1 and "malformed fmnistedge metadata" in result.output, result.output


@pytest.mark.parametrize("field, value", [("precision", "int4"), ("bytes", "lots"), ("bytes", True),
                                          ("format", "coreml"), ("sha256", None)])
def test_a_manifest_with_bad_values_is_a_one_line_model_error(tmp_path, field, value):
    import json
    import shutil

    from fmnistedge.runtime.models import shipped_dir

    art = tmp_path / "art"
    shutil.copytree(shipped_dir() / "edge-s", art / "mine")
    path = art / "mine" / "manifest.json"
    doc = json.loads(path.read_text())
    doc["files"]["model_int8.tflite"][field] = value
    path.write_text(json.dumps(doc))
    for args in (["classify", str(SAMPLE), "--model", "mine"], ["models"],
                 ["classify", str(SAMPLE), "--model", str(art / "mine" / "model_int8.tflite")]):
        result = runner.invoke(app, [*args, "--artifacts", str(art)])
        assert result.exit_code == 1, (args, result.output)
        assert f"Malformed manifest {path}: files['model_int8.tflite'] has {field} {value!r}" in result.output
        assert "Traceback" not in result.output


def test_metadata_that_inflates_beyond_its_declared_size_is_not_read():
    """A crafted archive can declare a tiny file_size and inflate to gigabytes: the reader
    stops at the cap and refuses compression methods the exporter never writes."""
    import io
    import zipfile

    from fmnistedge.runtime.modelmeta import MAX_METADATA_BYTES, TFLITE_ASSOCIATED_FILE, read_tflite_metadata

    import tracemalloc

    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            zf.writestr(TFLITE_ASSOCIATED_FILE, b"{" + b" " * (100 * MAX_METADATA_BYTES) + b"}")
        data = bytearray(buf.getvalue())
        # Lie about the size in both headers (uncompressed size: local +22, central +24).
        local = data.find(b"PK\x03\x04")
        central = data.find(b"PK\x01\x02")
        data[local + 22:local + 26] = (2).to_bytes(4, "little")
        data[central + 24:central + 28] = (2).to_bytes(4, "little")
        tracemalloc.start()
        try:
            assert read_tflite_metadata(b"model" + bytes(data)) is None
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 8 * MAX_METADATA_BYTES  # 100 MiB inside; the reader never holds more than the cap


def test_deeply_nested_onnx_metadata_is_a_one_line_model_error():
    from fmnistedge.errors import ModelError
    from fmnistedge.runtime.modelmeta import parse_onnx_metadata

    with pytest.raises(ModelError, match="not JSON"):
        parse_onnx_metadata({"fmnistedge": "[" * 100_000})

"""Exporting a tiny trained model in every format: verification, metadata, integrity, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fmnistedge import formats as fmts
from fmnistedge.formats import FORMATS
from fmnistedge.export.pipeline import ExportOptions, export_arch
from fmnistedge.runtime.integrity import check_file
from fmnistedge.runtime.modelmeta import check_seal, read_embedded
from typer.testing import CliRunner

from fmnistedge.errors import ModelError

ALL = list(FORMATS.values())


@pytest.fixture
def exported(exported_tiny):
    return exported_tiny


def test_every_format_is_written_and_verified(exported):
    arch_dir, doc = exported
    assert set(doc["files"]) == {f.filename for f in ALL}
    for name, entry in doc["files"].items():
        assert entry["status"] == "verified", (name, entry["failures"])
        assert entry["test_items"] == 10_000
        assert (arch_dir / name).stat().st_size == entry["bytes"]
        assert entry["tool_versions"]["tensorflow"] and entry["sha256"]
    fp32 = doc["files"]["model_fp32.tflite"]
    assert fp32["agreement_with_keras"] >= 0.999 and fp32["max_abs_prob_diff"] <= 1e-4
    assert "onnx_checker" in doc["files"]["model_fp32.onnx"]["checks"]
    assert doc["files"]["model_fp32.onnx"]["checks"]["opencv_dnn"]
    on_disk = json.loads((arch_dir / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(doc))


def test_int8_files_are_really_integer(exported):
    arch_dir, doc = exported
    io = doc["files"]["model_int8.tflite"]["io"]
    assert io["input"]["dtype"] == "int8" and io["output"]["dtype"] == "int8"
    assert io["input"]["scale"] > 0
    calib = doc["files"]["model_int8.tflite"]["calibration"]
    assert calib["source"] == "training set" and sum(calib["per_class"]) == 500
    assert doc["files"]["model_int8.tflite"]["bytes"] < doc["files"]["model_fp32.tflite"]["bytes"]


def test_onnx_int8_weights_use_7_bits(exported):
    """Full 8-bit weights saturate ONNX Runtime's int8 kernels on x86 without VNNI."""
    import onnx
    from onnx import numpy_helper

    arch_dir, _ = exported
    graph = onnx.load(arch_dir / "model_int8.onnx").graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and t.name.endswith("_quantized")]
    # |w| <= 64: two u8 x s8 products sum to at most 2 * 255 * 64 = 32640 < 2**15.
    assert weights and all(np.abs(w.astype(int)).max() <= 64 for w in weights)
    assert all(np.abs(w.astype(int)).max() >= 60 for w in weights)  # the range is used, not shrunk further
    assert {name: e["calibration"]["weight_bits"] for name, e in exported[1]["files"].items()
            if e["precision"] == "int8"} == {"model_int8.tflite": 8, "model_int8.onnx": 7}


def test_onnx_weight_bits_8_keeps_full_range_weights_and_records_it(exported, tmp_path):
    import shutil

    import onnx
    from fmnistedge.formats import FORMATS
    from fmnistedge.export.pipeline import ExportOptions, export_arch
    from onnx import numpy_helper

    arch_dir = tmp_path / "tiny"
    shutil.copytree(exported[0], arch_dir)
    doc = export_arch(arch_dir, [FORMATS["onnx-int8"]], ExportOptions(onnx_weight_bits=8))
    assert doc["files"]["model_int8.onnx"]["verified"]
    assert doc["files"]["model_int8.onnx"]["calibration"]["weight_bits"] == 8
    graph = onnx.load(arch_dir / "model_int8.onnx").graph
    weights = [numpy_helper.to_array(t) for t in graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and t.name.endswith("_quantized")]
    assert weights and all(np.abs(w.astype(int)).max() >= 120 for w in weights)


def test_metadata_round_trips_from_the_file_alone(exported, tmp_path):
    arch_dir, doc = exported
    for name, entry in doc["files"].items():
        lone = tmp_path / name
        shutil.copy(arch_dir / name, lone)  # no manifest beside it
        meta = read_embedded(lone)
        assert meta is not None, name
        assert meta["arch"] == "tiny" and meta["precision"] == entry["precision"]
        assert meta["labels"][0] == "T-shirt/top" and meta["input"]["layout"] == "NHWC"
        assert meta["verification"]["test_accuracy"] == entry["test_accuracy"]


def test_runtime_accuracy_equals_the_manifest(exported, real_data):
    from fmnistedge.runtime.backends import open_backend, predict_all
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data

    arch_dir, doc = exported
    x, y = data.load_split("test")
    for name in ("model_int8.tflite", "model_fp32.onnx"):
        probs = predict_all(open_backend(arch_dir / name), to_model_input(x))
        assert float((probs.argmax(1) == y).mean()) == doc["files"][name]["test_accuracy"]


def test_tampered_file_fails_its_sha256_check(exported, tmp_path):
    arch_dir, _ = exported
    copy = tmp_path / "tiny"
    shutil.copytree(arch_dir, copy)
    assert check_file(copy / "model_fp32.onnx")["status"] == "verified"
    target = copy / "model_int8.tflite"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256"):
        check_file(target)
    (copy / "model_fp32.onnx").write_bytes((copy / "model_fp32.onnx").read_bytes()[:-10])
    with pytest.raises(ModelError, match="truncated"):
        check_file(copy / "model_fp32.onnx")


@pytest.mark.parametrize("name", ["model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"])
def test_a_lone_file_is_checked_against_its_embedded_seal(exported, tmp_path, name):
    arch_dir, _ = exported
    lone = tmp_path / name  # no manifest beside it
    shutil.copy(arch_dir / name, lone)
    assert check_seal(lone) is True
    assert check_file(lone) is None  # no manifest entry, but the seal was checked
    raw = bytearray(lone.read_bytes())
    raw[len(raw) // 3] ^= 0x01  # one flipped bit inside the graph or the weights
    lone.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="embedded sha256"):
        check_file(lone)
    lone.write_bytes((arch_dir / name).read_bytes()[:-20])  # truncated
    with pytest.raises(ModelError, match="truncated"):
        check_file(lone)
    lone.write_bytes((arch_dir / name).read_bytes() + b"APPENDED")  # the loaders ignore trailing bytes
    with pytest.raises(ModelError, match="modified"):
        check_file(lone)
    if name.endswith(".tflite"):  # bytes slipped in between the flatbuffer and its metadata archive
        good = (arch_dir / name).read_bytes()
        start = read_embedded(arch_dir / name)["payload"]["bytes"]
        lone.write_bytes(good[:start] + b"\0" * 8 + good[start:])
        with pytest.raises(ModelError, match="modified"):
            check_file(lone)


def test_a_file_whose_seal_was_stripped_is_refused(exported, tmp_path):
    from fmnistedge.runtime.modelmeta import ONNX_SEAL_BYTES

    arch_dir, _ = exported
    stripped = tmp_path / "stripped.onnx"  # the trailer cut off, the fmnistedge metadata kept
    stripped.write_bytes((arch_dir / "model_int8.onnx").read_bytes()[:-ONNX_SEAL_BYTES])
    assert read_embedded(stripped)["arch"] == arch_dir.name
    with pytest.raises(ModelError, match="seal was removed"):
        check_file(stripped)


def test_a_foreign_model_file_has_no_seal(exported, tmp_path):
    import onnx

    arch_dir, _ = exported
    proto = onnx.load(arch_dir / "model_fp32.onnx")
    del proto.metadata_props[:]  # as another tool would write it
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(proto.SerializeToString())
    assert check_seal(foreign) is False and check_file(foreign) is None


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("where", ["verify", "install"])
def test_interrupted_export_leaves_previous_files_untouched(exported, tmp_path, monkeypatch, where):
    from fmnistedge.export import pipeline

    arch_dir, _ = exported
    copy = tmp_path / "tiny"
    shutil.copytree(arch_dir, copy)
    before = _snapshot(copy)
    calls = {"n": 0}
    if where == "verify":
        real = pipeline.verify

        def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt  # Ctrl-C while verifying the second file
            return real(*args, **kwargs)

        monkeypatch.setattr(pipeline, "verify", flaky)
    else:
        real_write = Path.write_bytes

        def full_disk(self, data):
            if ".partial" in self.name and calls["n"] == 1:
                raise OSError(28, "No space left on device")
            calls["n"] += ".partial" in self.name
            return real_write(self, data)

        monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises((KeyboardInterrupt, OSError)):
        export_arch(copy, [FORMATS["tflite-fp32"], FORMATS["onnx-fp32"]])
    assert _snapshot(copy) == before  # same names, same bytes: nothing partial, nothing new


def test_verification_catches_a_silently_wrong_file(exported, real_data):
    """A file that loads and runs but computes the wrong thing must fail its bar."""
    import keras
    from fmnistedge.export import keras2onnx
    from fmnistedge.export.verify import verify
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data, zoo

    arch_dir, _ = exported
    trained = keras.models.load_model(arch_dir / "model.keras", safe_mode=True)
    wrong = keras2onnx.convert(zoo.build("tiny"))  # untrained weights, same graph
    x, y = data.load_split("test")
    x = to_model_input(x)
    result, _ = verify(FORMATS["onnx-fp32"], wrong, x, y, trained.predict(x, verbose=0))
    assert result.status == "verify_failed"
    assert any("agreement" in f for f in result.failures)


def test_cli_exits_3_when_a_file_misses_its_bar(exported, tmp_path, monkeypatch):
    from fmnistedge.cli import app

    copy = tmp_path / "art"
    shutil.copytree(exported[0], copy / "tiny")
    strict = fmts.Format("tflite-fp32", "tflite", "fp32", "model_fp32.tflite", -5.0, 0.999, 1e-4)
    monkeypatch.setitem(fmts.FORMATS, "tflite-fp32", strict)
    result = CliRunner().invoke(app, ["export", "tiny", "--artifacts", str(copy),
                                      "--formats", "tflite", "--json"])
    assert result.exit_code == 3
    rows = json.loads(result.stdout)
    assert rows[0]["status"] == "verify_failed"
    assert json.loads((copy / "tiny" / "manifest.json").read_text())["files"][
        "model_fp32.tflite"]["verified"] is False


def test_not_a_keras_file_is_named(tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "model.keras").write_text("not a zip")
    with pytest.raises(ModelError, match="model.keras"):
        export_arch(d, [FORMATS["onnx-fp32"]])


def test_wrong_input_shape_is_named(tmp_path):
    import keras

    d = tmp_path / "odd"
    d.mkdir()
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.save(d / "model.keras")
    with pytest.raises(ModelError, match="expected \\(None, 28, 28, 1\\)"):
        export_arch(d, [FORMATS["onnx-fp32"]])


def test_lenet_rbf_model_exports(trained_lenet5, tmp_path):
    arch_dir, _, data_dir = trained_lenet5
    shutil.copytree(arch_dir, tmp_path / "lenet5")
    doc = export_arch(tmp_path / "lenet5", [FORMATS["tflite-fp32"], FORMATS["onnx-fp32"],
                                            FORMATS["tflite-int8"]], ExportOptions(data_dir=data_dir))
    assert doc["files"]["model_fp32.tflite"]["status"] == "verified"
    assert doc["files"]["model_fp32.onnx"]["status"] == "verified"
    assert doc["files"]["model_int8.tflite"]["test_accuracy"] > 0.2
    assert np.isfinite(doc["files"]["model_int8.tflite"]["max_abs_prob_diff"])

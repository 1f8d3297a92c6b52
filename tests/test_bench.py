"""`fmnistedge bench` end to end on the tiny model (few runs), failures recorded, exit codes."""

from __future__ import annotations

import csv
import json
import shutil
import struct

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.formats import FORMATS
from fmnistedge.measure.bench import ALL_FORMATS, KERAS_FORMATS, BenchOptions, discover, pi_estimates_ms, run
from fmnistedge.measure.benchreport import COLUMNS, pareto

runner = CliRunner()
# Batch 32, the command's default: throughput is timed over 512 // batch calls, and a Keras
# predict() call costs a tenth of a second or more whatever its batch.
FAST = ["--runs", "20", "--warmup", "2", "--batch-sizes", "1,32"]


@pytest.fixture
def bench_artifacts(exported_tiny, tmp_path):
    art = tmp_path / "artifacts"
    shutil.copytree(exported_tiny[0], art / "tiny")
    return art


def _bench_and_check_outputs(artifacts, out, formats: list[str] | None = None) -> dict:
    """Bench the tiny model through the CLI (FORMATS, or the command's default: all), check
    what every bench run writes, and return the rows by format."""
    chosen = ["--formats", ",".join(formats)] if formats else []
    result = runner.invoke(app, ["bench", "tiny", "--artifacts", str(artifacts), *FAST, *chosen,
                                 "--json", str(out / "b.json"), "--csv", str(out / "b.csv"),
                                 "--plot", str(out / "b.png"), "--markdown", str(out / "b.md")])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "b.json").read_text())
    assert doc["schema_version"] == 1 and doc["settings"]["threads"] == 1
    assert doc["environment"]["cpu"] and doc["environment"]["packages"]["onnxruntime"]
    rows = {r["format"]: r for r in doc["rows"]}
    assert set(rows) == set(formats or ALL_FORMATS)
    for r in doc["rows"]:
        assert r["status"] == "ok", r
        assert r["latency_p50_ms"] <= r["latency_p95_ms"] <= r["latency_p99_ms"]
        assert r["timed_runs"] == 20 and r["peak_rss_mb"] > 0 and r["load_ms"] > 0
        assert r["throughput_per_s"]["32"] > 0 and r["pi5_lower_bound_ms"] > 0
        assert r["test_items"] == 10_000  # the whole test set: the command has no limit
    with open(out / "b.csv", newline="") as fh:
        assert list(csv.DictReader(fh).fieldnames) == COLUMNS
    png = (out / "b.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 500
    md = (out / "b.md").read_text()
    assert "b.png" in md and doc["environment"]["cpu"] in md
    for fmt in rows:
        assert f"| `tiny` | {fmt} | ok |" in md
    return rows


def test_bench_of_the_engine_formats_writes_json_csv_png_and_markdown(bench_artifacts, exported_tiny, tmp_path):
    """Every engine format; with the Keras rows, a TensorFlow process each, it is the ci test below."""
    manifest = exported_tiny[1]
    rows = _bench_and_check_outputs(bench_artifacts, tmp_path / "out", list(FORMATS))
    # Accuracy through the runtime equals the verified accuracy in the manifest, for every file.
    for name, entry in manifest["files"].items():
        assert rows[entry["key"]]["accuracy"] == entry["test_accuracy"], name
    assert rows["onnx-fp32"]["overhead_ratio"] > 0


@pytest.mark.ci  # the Keras rows start TensorFlow in three processes: most of a minute on 2 cores
def test_bench_writes_json_csv_png_and_markdown(bench_artifacts, exported_tiny, tmp_path):
    """The command's default: every format in one run, the Keras baseline rows among them."""
    manifest = exported_tiny[1]
    rows = _bench_and_check_outputs(bench_artifacts, tmp_path / "out")
    assert rows["tflite-int8"]["accuracy"] == manifest["files"]["model_int8.tflite"]["test_accuracy"]
    assert rows["onnx-fp32"]["overhead_ratio"] > 0
    for fmt in KERAS_FORMATS:  # the Keras model in another process, another batch size: same argmax
        assert rows[fmt]["accuracy"] == pytest.approx(manifest["keras"]["test_accuracy"], abs=1e-3)


def test_a_test_limit_measures_accuracy_on_the_first_images(exported_tiny, tmp_path):
    """BenchOptions.test_limit (tests only; the command always uses the whole test set)."""
    from fmnistedge.runtime.backends import open_backend, predict_all
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data

    art = tmp_path / "artifacts"
    shutil.copytree(exported_tiny[0], art / "tiny")
    options = BenchOptions(formats=("onnx-fp32",), runs=3, warmup=1, batch_sizes=(1, 32), artifacts=art,
                           test_limit=300)
    (row,) = run(discover(["tiny"], options), options)
    assert row.status == "ok", row.error
    x, y = data.load_split("test")
    probs = predict_all(open_backend(art / "tiny" / "model_fp32.onnx"), to_model_input(x[:300]))
    assert row.metrics["test_items"] == 300
    assert row.metrics["accuracy"] == float((probs.argmax(1) == y[:300]).mean())
    assert row.metrics["throughput_per_s"]["32"] > 0
    with pytest.raises(ValueError, match="test_limit must be at least 1"):
        BenchOptions(test_limit=0)


def test_broken_file_is_recorded_and_the_rest_complete(bench_artifacts):
    target = bench_artifacts / "tiny" / "model_fp32.onnx"
    target.write_bytes(b"garbage" * 100)
    result = runner.invoke(app, ["bench", "tiny", "--artifacts", str(bench_artifacts), *FAST,
                                 "--formats", "onnx-fp32,tflite-int8,tflite-fp16", "--json", "-"])
    assert result.exit_code == 1, result.output  # some input failed; the rest was measured
    rows = {r["format"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["onnx-fp32"]["status"] == "run failed"
    assert rows["onnx-fp32"]["error"].startswith("/") and "its manifest" in rows["onnx-fp32"]["error"]
    assert rows["tflite-int8"]["status"] == "ok" and rows["tflite-fp16"]["status"] == "ok"


def test_min_accuracy_exits_3(bench_artifacts):
    result = runner.invoke(app, ["bench", "tiny", "--artifacts", str(bench_artifacts), *FAST,
                                 "--formats", "tflite-int8", "--min-accuracy", "99.5"])
    assert result.exit_code == 3
    assert "min-accuracy" in result.output


def test_usage_errors(bench_artifacts):
    assert runner.invoke(app, ["bench", "tiny", "--formats", "tflite-int4"]).exit_code == 2
    assert runner.invoke(app, ["bench", "tiny", "--batch-sizes", "x"]).exit_code == 2
    assert runner.invoke(app, ["bench"]).exit_code == 2


def test_pareto_and_pi_estimates():
    assert pareto([(1.0, 90.0), (2.0, 95.0), (3.0, 94.0), (0.5, 80.0)]) == [3, 0, 1]
    est = pi_estimates_ms(1_000_000, "int8")
    assert est["pi5_lower_bound_ms"] == pytest.approx(1000 * 2e6 / 150e9)
    assert est["pi4_lower_bound_ms"] == pytest.approx(1000 * 2e6 / 12e9)


def test_plot_without_the_report_extra_fails_before_measuring(bench_artifacts, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the 'report' extra were not installed
    out = tmp_path / "out"
    result = runner.invoke(app, ["bench", "tiny", "--artifacts", str(bench_artifacts), *FAST,
                                 "--json", str(out / "b.json"), "--plot", str(out / "b.png")])
    assert result.exit_code == 1 and "pip install 'fmnistedge[report]'" in result.output
    assert not (out / "b.json").exists()  # nothing was measured


def test_worker_runs_the_installed_package_not_a_planted_folder(synthetic_data, tmp_path, monkeypatch):
    from fmnistedge.measure.bench import _worker

    planted = tmp_path / "cwd" / "fmnistedge"
    planted.mkdir(parents=True)
    (planted / "__init__.py").write_text("")
    (planted / "benchworker.py").write_text('print(\'{"planted": true}\')\n')
    monkeypatch.chdir(planted.parent)  # as from the repository root, whose ./fmnistedge shadows the package
    spec = {"path": str(tmp_path / "missing.tflite"), "format": "tflite-int8", "threads": 1,
            "batch_sizes": [1], "data_dir": str(synthetic_data)}
    with pytest.raises(RuntimeError, match="Model file not found"):  # the real worker ran and said why
        _worker("single", spec)


def test_a_failed_row_prints_its_reason(synthetic_data, tmp_path):
    from fmnistedge.runtime.models import shipped_dir

    art = tmp_path / "artifacts"
    shutil.copytree(shipped_dir() / "edge-r", art / "edge-r")
    model = art / "edge-r" / "model_int8.tflite"
    data = bytearray(model.read_bytes())
    data[100] ^= 0xFF  # same size, wrong sha256
    model.write_bytes(bytes(data))
    result = runner.invoke(app, ["bench", "edge-r", "--artifacts", str(art), *FAST, "--formats", "tflite-int8",
                                 "--data-dir", str(synthetic_data)])
    assert result.exit_code == 1, result.output
    assert "edge-r tflite-int8:" in result.output and "does not match the sha256" in result.output


def test_without_tensorflow_keras_rows_say_so_instead_of_vanishing(synthetic_data, tmp_path, monkeypatch):
    from fmnistedge.runtime.models import shipped_dir

    from fmnistedge.measure import bench
    from fmnistedge.measure.bench import BenchOptions, discover

    monkeypatch.setattr(bench, "has_tensorflow", lambda: False)
    art = tmp_path / "artifacts"
    shutil.copytree(shipped_dir() / "edge-s", art / "mine")
    (art / "mine" / "model.keras").write_bytes(b"not read")
    rows = discover(["mine"], BenchOptions(formats=("keras-predict", "tflite-int8"), artifacts=art))
    keras = [r for r in rows if r.format == "keras-predict"]
    assert len(keras) == 1 and keras[0].status == "not run" and "'train' extra" in keras[0].error
    result = runner.invoke(app, ["bench", "edge-r", "--formats", "keras-predict", "--data-dir", str(synthetic_data),
                                 "--artifacts", str(tmp_path / "none")])
    assert result.exit_code == 1 and "pip install 'fmnistedge[train]'" in result.output, result.output
    assert "run 'fmnistedge train'" not in result.output

"""Result tables are generated from files the commands wrote, never typed."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.measure import collect, render


@pytest.fixture
def fake_artifacts(exported_tiny, tmp_path):
    """The exported tiny model relabelled as a source architecture (cnn-basic)."""
    art = tmp_path / "artifacts"
    shutil.copytree(exported_tiny[0], art / "cnn-basic")
    rec = json.loads((art / "cnn-basic" / "train.json").read_text())
    rec.update(arch="cnn-basic", family="cnn", reported_accuracy=90.30, reported_epochs=8)
    (art / "cnn-basic" / "train.json").write_text(json.dumps(rec))
    doc = json.loads((art / "cnn-basic" / "manifest.json").read_text())
    doc["arch"] = "cnn-basic"
    (art / "cnn-basic" / "manifest.json").write_text(json.dumps(doc))
    return art, rec, doc


def test_table_writes_csvs_and_regenerates_doc_blocks(fake_artifacts, tmp_path):
    art, rec, doc = fake_artifacts
    readme = tmp_path / "results.md"
    readme.write_text("intro\n<!-- seed-table:start -->\nold\n<!-- seed-table:end -->\n"
                      "<!-- export-table:start -->\n<!-- export-table:end -->\nend\n")
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out),
                                      "--doc", str(readme)])
    assert result.exit_code == 0, result.output
    with open(out / "seed-archs.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["arch"] == "cnn-basic" and row["test_accuracy"] == f"{100 * rec['test_accuracy']:.2f}"
    assert row["cpu"] and row["tensorflow"]
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert f"{100 * rec['test_accuracy']:.2f}%" in text and "| `cnn-basic` |" in text
    with open(out / "exports.csv", newline="") as fh:
        exports = list(csv.DictReader(fh))
    assert {r["format"] for r in exports} == {e["key"] for e in doc["files"].values()}
    int8 = next(r for r in exports if r["format"] == "tflite-int8")
    assert int8["delta_points"] == f"{doc['files']['model_int8.tflite']['accuracy_delta_points']:+.2f}"


def test_missing_block_is_a_clear_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(Exception, match="seed-table"):
        render.update_block(readme, "seed-table", "x")


def test_no_training_records_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["table", "--artifacts", str(tmp_path),
                                      "--results", str(tmp_path / "results")])
    assert result.exit_code == 1 and "fmnistedge train" in result.output
    assert not (tmp_path / "results" / "seed-archs.csv").exists()


def test_table_keeps_rows_of_architectures_not_in_artifacts(fake_artifacts, tmp_path):
    """Re-collecting from a folder with one architecture updates its rows, keeps the rest."""
    art, rec, doc = fake_artifacts
    out = tmp_path / "results"
    assert CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out)]).exit_code == 0
    for name in ("seed-archs.csv", "exports.csv"):  # pretend an earlier run also recorded cnn1
        with open(out / name, newline="") as fh:
            rows = list(csv.DictReader(fh))
        other = [{**r, "arch": "cnn1", "test_accuracy": "12.34"} for r in rows]
        stale = [{**r, "test_accuracy": "0.00"} for r in rows]
        collect.write_csv(other + stale, out / name, list(rows[0]))
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out)])
    assert result.exit_code == 0, result.output
    for name, n_files in (("seed-archs.csv", 1), ("exports.csv", len(doc["files"]))):
        with open(out / name, newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["arch"] for r in rows] == ["cnn1"] * n_files + ["cnn-basic"] * n_files  # zoo order
        assert {r["test_accuracy"] for r in rows if r["arch"] == "cnn1"} == {"12.34"}
        assert "0.00" not in {r["test_accuracy"] for r in rows if r["arch"] == "cnn-basic"}


def test_edge_runs_table_and_accuracy_plot(fake_artifacts, tmp_path):
    art, rec, _ = fake_artifacts
    out = tmp_path / "results"
    (out / "runs").mkdir(parents=True)
    shutil.copy(art / "cnn-basic" / "train.json", out / "runs" / "edge-x-ablation.json")
    readme = tmp_path / "results.md"
    readme.write_text("".join(f"<!-- {b}:start -->\n<!-- {b}:end -->\n"
                              for b in ("seed-table", "edge-table", "export-table")))
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out),
                                      "--doc", str(readme)])
    assert result.exit_code == 0, result.output
    with open(out / "edge-runs.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["run"] == "edge-x-ablation" and row["test_accuracy"] == f"{100 * rec['test_accuracy']:.2f}"
    assert "| `edge-x-ablation` |" in readme.read_text()
    assert (out / "accuracy-params.png").read_bytes()[:4] == b"\x89PNG"


def test_photo_block_has_a_row_per_present_class_from_the_evaluation_file(tmp_path):
    import numpy as np
    from fmnistedge.runtime.evaluate import score

    y = np.array([1, 1, 7, 7, 7])  # Trouser x2, Sneaker x3; other classes absent
    ranking = np.tile(np.linspace(0.05, 0.01, 10), (5, 1))  # no ties: classes 0, 1, 2 come next
    probs = ranking.copy()
    probs[[0, 1, 2, 3, 4], [1, 3, 7, 8, 8]] = 0.9  # one Trouser right, one Sneaker right
    doc = {"model": {"arch": "edge-r", "file": "model_int8.tflite", "precision": "int8"},
           "results": {"photo": score(y, probs), "naive": score(y, ranking)},
           "environment": {"command": "fmnistedge evaluate --photos P"}}
    path = tmp_path / "realphotos-dev.json"
    path.write_text(json.dumps(doc))
    text = render.render_photo_markdown(path)
    rows = [line for line in text.splitlines() if line.startswith("| Trouser") or line.startswith("| Sneaker")]
    assert rows == ["| Trouser | 2 | 50% | 100% | 0% | 100% |", "| Sneaker | 3 | 33% | 33% | 0% | 0% |"]
    assert "| T-shirt/top" not in text and "fmnistedge evaluate --photos P" in text


def test_targets_block_judges_each_edge_model_against_the_bench_file(tmp_path):
    def row(arch, acc, p50, params=1000, status="ok", fmt="tflite-int8"):
        return {"arch": arch, "format": fmt, "status": status, "accuracy": acc, "latency_p50_ms": p50,
                "params": params}

    doc = {"rows": [row("edge-r", 0.9404, 0.30, params=78_426), row("edge-r", 0.9406, 0.01, fmt="tflite-fp32"),
                    row("edge-m", 0.9600, 0.01, params=600_000),
                    row("cnn1", 0.9063, 0.20), row("cnn2", 0.9224, 0.50),
                    row("cnn-basic", 0.9440, 0.10),  # within 0.5 points: similar, and faster
                    row("cnn-final", 0.9500, 0.05),  # more accurate by more than 0.5 points: not a rival
                    row("cnn-standard", 0.9454, 0.02),  # exactly 0.5 points more accurate: similar
                    row("study-ann3", 0.88, 0.01, status="error")]}  # failed rows are left out
    path = tmp_path / "bench-shipped.json"
    path.write_text(json.dumps(doc))
    lines = render.render_targets_markdown(path).splitlines()
    edge_r = next(line for line in lines if line.startswith("| `edge-r`"))
    assert edge_r == ("| `edge-r` | 78,426 (<= 100,000): met | 94.04% (>= 94.0%): met | 0.300 | "
                      "1 of 4: **not met** | `cnn-standard`, `cnn-basic`, `cnn1` |")
    edge_m = next(line for line in lines if line.startswith("| `edge-m`"))
    assert "600,000 (<= 500,000): **not met**" in edge_m and "96.00% (>= 95.0%): met" in edge_m
    assert edge_m.endswith("| 5 of 5: met | none |")
    assert "| `edge-s` | - | - | - | no int8 TFLite row in this bench file | - |" in lines  # not measured
    doc["rows"] = [r for r in doc["rows"] if r["arch"].startswith("edge-")]
    path.write_text(json.dumps(doc))
    assert "not judged: no source architecture" in render.render_targets_markdown(path)


def test_export_caption_lists_every_tool_version_even_release_candidates(tmp_path):
    path = tmp_path / "exports.csv"
    rows = [{"arch": "cnn1", "format": "onnx-int8", "bytes": 1000, "keras_accuracy": "90.00", "delta_points": "+0.00",
             "status": "verified", "onnxruntime": v, "tensorflow": "2.21.0", "tf2onnx": "1.17.0",
             "ai_edge_litert": "2.3.0"} for v in ("1.32.0", "1.31.1", "1.32.0rc1")]
    collect.write_csv(rows, path, list(rows[0]))
    assert "ONNX Runtime 1.31.1 and 1.32.0 and 1.32.0rc1" in render.render_export_markdown(path)

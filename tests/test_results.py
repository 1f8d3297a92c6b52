"""Result tables are generated from files the commands wrote, never typed."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.errors import FmnistEdgeError
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
    md = tmp_path / "results.md"
    md.write_text("intro\n<!-- seed-table:start -->\nold\n<!-- seed-table:end -->\n"
                      "<!-- export-table:start -->\n<!-- export-table:end -->\nend\n")
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out),
                                      "--doc", str(md)])
    assert result.exit_code == 0, result.output
    with open(out / "seed-archs.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["arch"] == "cnn-basic" and row["test_accuracy"] == f"{100 * rec['test_accuracy']:.2f}"
    assert row["cpu"] and row["tensorflow"]
    text = md.read_text()
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
    doc = tmp_path / "results.md"
    doc.write_text("".join(f"<!-- {b}:start -->\n<!-- {b}:end -->\n"
                              for b in ("seed-table", "edge-table", "export-table")))
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out),
                                      "--doc", str(doc)])
    assert result.exit_code == 0, result.output
    with open(out / "edge-runs.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["run"] == "edge-x-ablation" and row["test_accuracy"] == f"{100 * rec['test_accuracy']:.2f}"
    assert "| `edge-x-ablation` |" in doc.read_text()
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

    # The README's short block: the same figures, the model before photo training when its file is
    # there, and links (relative to the doc) only to the pictures evaluate drew.
    doc["photos"] = "P"
    path.write_text(json.dumps(doc))
    summary = render.render_photo_summary_markdown(path, tmp_path / "README.md")
    assert "**41.7%**" in summary  # (1/2 + 1/3) / 2
    assert "| Trouser | 2 | 50% | 0% |" in summary and "| Sneaker | 3 | 33% | 0% |" in summary
    assert "before photo training" not in summary and "confusion matrix" not in summary
    before = {"results": {"photo": score(y, ranking)}, "model": {"arch": "edge-r"}}
    (tmp_path / "realphotos-dev.before.json").write_text(json.dumps(before))
    (tmp_path / "realphotos-dev.photo.confusion.png").write_bytes(b"\x89PNG")
    summary = render.render_photo_summary_markdown(path, tmp_path / "README.md")
    assert "| class | photos | now | before | naive |" in summary
    assert "; before photo training 0.0%" in summary
    before["model"]["photo_training"] = {"folder": "P"}  # a 'before' that was itself photo-trained
    (tmp_path / "realphotos-dev.before.json").write_text(json.dumps(before))
    assert "; the model shipped before 0.0%" in render.render_photo_summary_markdown(path, tmp_path / "README.md")
    before["results"]["photo"]["per_class_top1"].pop("Trouser")  # measured on other photos: left out
    (tmp_path / "realphotos-dev.before.json").write_text(json.dumps(before))
    assert "before" not in render.render_photo_summary_markdown(path, tmp_path / "README.md").split("|")[0]
    assert "[confusion matrix](realphotos-dev.photo.confusion.png)" in summary and "what it saw" not in summary


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


def test_doc_option_checks_every_file_before_writing_anything(fake_artifacts, tmp_path):
    art, _, _ = fake_artifacts
    out = tmp_path / "results"
    plain = tmp_path / "plain.md"
    plain.write_text("no generated block here\n")
    for doc, words in ((tmp_path / "missing.md", "no such Markdown file"), (plain, "no generated block")):
        result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out), "--doc", str(doc)])
        assert result.exit_code == 2 and words in result.output, result.output
        assert "Traceback" not in result.output and not out.exists()


def test_readme_option_is_a_deprecated_alias_of_doc(fake_artifacts, tmp_path):
    art, rec, _ = fake_artifacts
    doc = tmp_path / "README.md"
    doc.write_text("<!-- seed-table:start -->\n<!-- seed-table:end -->\n")
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(tmp_path / "r"),
                                      "--readme", str(doc)])
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.stderr and f"{100 * rec['test_accuracy']:.2f}%" in doc.read_text()
    assert "--readme" not in CliRunner().invoke(app, ["table", "--help"]).output  # hidden


def test_table_regenerates_only_the_blocks_a_doc_holds(fake_artifacts, tmp_path):
    """README.md holds only the shipped-models block, docs/results.md the rest: one run rewrites both."""
    art, _, _ = fake_artifacts
    first, second = tmp_path / "a.md", tmp_path / "b.md"
    first.write_text("<!-- seed-table:start -->\n<!-- seed-table:end -->\n")
    second.write_text("<!-- export-table:start -->\n<!-- export-table:end -->\n")
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(tmp_path / "r"),
                                      "--doc", str(first), "--doc", str(second)])
    assert result.exit_code == 0, result.output
    assert "| `cnn-basic` |" in first.read_text() and "Keras acc." not in first.read_text()
    assert "Keras acc." in second.read_text() and "epochs (source)" not in second.read_text()


def _shipped(models, arch, nbytes, acc, sha="a" * 64, files=("model_int8.tflite",)):
    (models / arch).mkdir(parents=True)
    entries = {f: {"verified": True, "bytes": nbytes, "test_accuracy": acc, "sha256": sha, "status": "verified",
                   "format": f.rsplit(".", 1)[1], "precision": "int8", "key": f} for f in files}
    (models / arch / "manifest.json").write_text(json.dumps({"schema_version": 1, "arch": arch, "files": entries}))


def test_shipped_block_marks_figures_measured_on_another_file(tmp_path):
    models = tmp_path / "models"
    _shipped(models, "edge-r", 2048, 0.9339, sha="b" * 64, files=("model_int8.tflite", "model_fp32.onnx"))
    _shipped(models, "cnn1", 4096, 0.9063)
    (models / "default.json").write_text(json.dumps({"arch": "edge-r"}))
    bench = tmp_path / "bench-shipped.json"
    bench.write_text(json.dumps({
        "settings": {"threads": 1}, "environment": {"cpu": "CPU X", "cores": 2},
        "rows": [{"arch": "cnn1", "format": "tflite-int8", "status": "ok", "bytes": 4096, "params": 65_994,
                  "latency_p50_ms": 0.2071},
                 {"arch": "edge-r", "format": "tflite-int8", "status": "ok", "bytes": 2000, "params": 78_491,
                  "latency_p50_ms": 0.5123}]}))
    photos = tmp_path / "realphotos-dev.json"
    photos.write_text(json.dumps({"model": {"arch": "edge-r", "file": "model_int8.tflite", "sha256": "b" * 64},
                                  "results": {"photo": {"macro_top1": 0.6049, "items": 294}}}))
    lines = render.render_shipped_markdown(bench, photos, models).splitlines()
    assert lines[2] == "| **`edge-r`** (default) | 78,491 | 2 KiB | 93.39% | 0.51* | 60.5% |"  # bench: other bytes
    assert lines[3] == "| `cnn1` | 65,994 | 4 KiB | 90.63% | 0.21 | - |"
    assert "`edge-r`: `model_fp32.onnx`" in lines[-1] and "\\* measured on an earlier file" in lines[-1]
    photos.write_text(photos.read_text().replace("b" * 64, "c" * 64))  # the photos measured another file
    assert "| 0.51* | 60.5%* |" in render.render_shipped_markdown(bench, photos, models)
    bench.write_text(bench.read_text().replace('"bytes": 2000', '"bytes": 2048'))
    photos.write_text(photos.read_text().replace("c" * 64, "b" * 64))
    text = render.render_shipped_markdown(bench, photos, models)
    assert "| 0.51 | 60.5% |" in text and "earlier file" not in text


def _swap_doc(path, old_bytes, new_sha, ratio=1.02, old_sha="e" * 64):
    path.write_text(json.dumps({
        "environment": {"cpu": "CPU Y", "command": "python scripts/bench_swap.py edge-r --old-rev abc123"},
        "rows": [{"arch": "edge-r", "format": "tflite-int8", "status": "ok", "accuracy": 0.9354}],
        "swap": {"arch": "edge-r", "old_rev": "abc123", "old": {"tflite-int8": {"bytes": old_bytes, "sha256": old_sha}},
                 "new": {"tflite-int8": {"sha256": new_sha}}, "p50_ratio_new_to_old": {"tflite-int8": ratio}}}))


def test_a_model_shipped_again_carries_its_side_by_side_ratio(tmp_path):
    """A p50 measured on the earlier file is marked † (not *) only when bench_swap.py timed that
    very earlier file (its size) against the shipped one (its sha256); the caption gives the ratio."""
    models = tmp_path / "models"
    _shipped(models, "edge-r", 2048, 0.9354, sha="b" * 64)
    (models / "default.json").write_text(json.dumps({"arch": "edge-r"}))
    bench = tmp_path / "bench.json"
    rows = [{"arch": "edge-r", "format": "tflite-int8", "status": "ok", "bytes": 2000, "params": 78_491,
             "macs": 18_691_968, "accuracy": 0.9368, "latency_p50_ms": 0.5123}]
    bench.write_text(json.dumps({"settings": {"threads": 1, "runs": 200, "warmup": 20},
                                 "environment": {"cpu": "CPU X", "cores": 2, "command": "fmnistedge bench --all"},
                                 "rows": rows}))
    swap = tmp_path / "bench-swap.json"
    _swap_doc(swap, 2000, "b" * 64)
    text = render.render_shipped_markdown(bench, None, models, swap_json=swap)
    assert "| 0.51† |" in text and "earlier file of that architecture" not in text
    assert "shipped at abc123" in text and "p50 is 1.02x the earlier file's in the 1 formats" in text and "CPU Y" in text
    assert "(this table: CPU X)" in text
    assert "| `edge-r`† |" in render.render_bench_markdown(bench, None, swap, models)
    assert "accuracy: 93.54%" in render.render_bench_markdown(bench, None, swap, models)
    assert "| `edge-r`† |" in render.render_targets_markdown(bench, swap, models)
    # another earlier file, another shipped one, or "old" and "new" the same file
    for other in ((1999, "b" * 64), (2000, "c" * 64), (2000, "b" * 64, 1.0, "b" * 64)):
        _swap_doc(swap, *other)
        text = render.render_shipped_markdown(bench, None, models, swap_json=swap)
        assert "| 0.51* |" in text and "†" not in text
        assert "†" not in render.render_bench_markdown(bench, None, swap, models)
        assert "†" not in render.render_targets_markdown(bench, swap, models)
    _swap_doc(swap, 2000, "b" * 64)  # bench.json measured again, on the shipped file: nothing to mark
    bench.write_text(bench.read_text().replace('"bytes": 2000', '"bytes": 2048'))
    assert "†" not in render.render_bench_markdown(bench, None, swap, models)
    assert "| 0.51 |" in render.render_shipped_markdown(bench, None, models, swap_json=swap)
    del rows[0]["bytes"]  # a bench row without a size never matches
    bench.write_text(json.dumps({**json.loads(bench.read_text()), "rows": rows}))
    _swap_doc(swap, None, "b" * 64)
    assert "†" not in render.render_shipped_markdown(bench, None, models, swap_json=swap)
    swap.write_text('{"swap": {"arch": "edge-r"}}')  # damaged: one clear error, not a traceback
    with pytest.raises(FmnistEdgeError, match="bench-swap.json is not a file scripts/bench_swap.py wrote"):
        render.render_shipped_markdown(bench, None, models, swap_json=swap)


def test_bench_swap_refuses_bad_arguments_in_one_line():
    """Before any measuring: an unknown revision or architecture is exit 2 with one line."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "bench_swap.py"
    for argv in (["edge-r", "--old-rev", "no-such-revision"], ["no-such-arch", "--old-rev", "HEAD"]):
        proc = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("bench_swap: ")


def test_bench_block_links_are_relative_to_the_doc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    bench = Path("results") / "bench.json"
    bench.write_text(json.dumps({
        "settings": {"threads": 1, "runs": 5, "warmup": 1}, "environment": {"cpu": "CPU X", "cores": 2, "command": "c"},
        "rows": [{"arch": "cnn1", "format": "tflite-int8", "status": "ok", "accuracy": 0.9, "latency_p50_ms": 0.2}]}))
    assert "(../results/bench.md)" in render.render_bench_markdown(bench, Path("docs") / "results.md")
    assert "(results/bench.png)" in render.render_bench_markdown(bench, Path("README.md"))


def test_speed_blocks_follow_their_result_files(tmp_path):
    photo = tmp_path / "photo-bench.json"
    photo.write_text(json.dumps({"count": 50, "median_cpu_ms_per_photo": {"fast": 30.04, "grabcut": 80.0},
                                 "cost_ratio_fast_to_grabcut": 0.3755, "top1_delta_points": 1.04,
                                 "top3_delta_points": -2.4}))
    assert ("**30.0 ms** of CPU per photo over 50 dev photos with the default segmentation, 0.38x the 80.0 ms "
            "of `--segment grabcut`, at +1.0 top-1 and -2.4 top-3 points") in render.render_photo_speed_markdown(photo)

    def row(garment, ratio=None, factors=(4, 8)):
        r = {"garment_ms": garment, "garment_with_capture_ms": garment + 0.5, "empty_ms": 1.0, "items_ok": True,
             "pi4_fps_estimate": {f"x{f}": 0 for f in factors}}
        return r | ({"ratio_to_grabcut": ratio} if ratio is not None else {})

    scan = tmp_path / "scan-bench.json"
    doc = {"sizes": ["640x480"], "command": "python scripts/bench_scan.py", "environment": {"cpu": "CPU X", "cores": 2},
           "comparison": {"a.mp4 640x480": {"background": row(2.0, 0.05), "grabcut": row(40.0)},
                          "b.mp4 640x480": {"background": row(4.5, 0.09), "grabcut": row(50.0)}}}
    scan.write_text(json.dumps(doc))
    line = render.render_scan_speed_markdown(scan).splitlines()[0]
    # worst clip: 4.5 ms, ratio 0.09; fastest GrabCut 40.0 ms; Pi 4 estimate 1000 / (5.0 ms * 8 and * 4)
    assert line.startswith("- 640x480: **4.5 ms** CPU per garment frame") and "at most **0.09x**, worst of 2 clips" in line
    assert "against 40.0 ms or more" in line and "roughly 25-50 FPS" in line and "x4-x8" in line
    for r in doc["comparison"].values():
        r["background"]["pi4_fps_estimate"] = {"x2": 0, "x10": 0}  # the factors come from the file
    scan.write_text(json.dumps(doc))
    assert "roughly 20-100 FPS" in render.render_scan_speed_markdown(scan)


def test_cold_start_sentence_from_an_older_and_the_current_result_file(tmp_path):
    """Older results/coldstart.json files (no one-thread floor) still render; the current one
    names both floors and the Typer + OpenCV floor, with its own figures."""
    env = {"cpu": "Test CPU", "cores": 2}
    old = {"runs": 3, "runtime_median_s": 0.3, "median_s": {"runtime": 0.3, "litert": 0.2},
           "median_cpu_s": {"runtime": 0.31, "litert": 0.21}, "runtime_vs_litert": 1.5,
           "runtime_vs_litert_cpu": 1.476, "environment": env}
    (tmp_path / "old.json").write_text(json.dumps(old))
    text = render.render_coldstart_markdown(tmp_path / "old.json")
    assert "1.50x the wall time" in text and "OpenBLAS" not in text and "Typer" not in text
    new = dict(old, median_s={"runtime": 0.3, "litert": 0.2, "litert_1_blas_thread": 0.19, "litert_typer_opencv": 0.24},
               median_cpu_s={"runtime": 0.31, "litert": 0.33, "litert_1_blas_thread": 0.18, "litert_typer_opencv": 0.23},
               runtime_vs_litert_1_blas_thread=1.579, runtime_vs_litert_1_blas_thread_cpu=1.722,
               typer_opencv_floor_vs_litert_1_blas_thread=1.263, typer_opencv_floor_vs_litert_1_blas_thread_cpu=1.278)
    (tmp_path / "new.json").write_text(json.dumps(new))
    text = render.render_coldstart_markdown(tmp_path / "new.json")
    assert "1.58x the wall time and 1.72x the CPU time (0.31 vs 0.18 s)" in text
    assert "1.26x its wall time and 1.28x its CPU time" in text and "Test CPU (2 cores)" in text


def test_photo_runs_table_shows_each_runs_mix_and_class_balance(tmp_path):
    """The photo-runs block: one row per photo-training run (a Fashion-MNIST-only run has none),
    with its class balance; a run recorded before --photo-balance existed drew with 1/sqrt (0.5)."""
    root = Path(__file__).resolve().parent.parent / "results" / "runs"
    runs = tmp_path / "runs"
    runs.mkdir()
    photo = json.loads((root / "edge-r-photo-fast80-flip-share20-none-set.json").read_text())
    photo["photos"].pop("balance", None)
    (runs / "old-photo-run.json").write_text(json.dumps(photo))
    photo["photos"]["balance"] = 1.0
    (runs / "balanced-run.json").write_text(json.dumps(photo))
    shutil.copy(root / "edge-r-45ep-crop-flip-erase.json", runs / "fm-only-run.json")
    rows = collect.collect_runs(runs)
    collect.write_csv(rows, tmp_path / "edge-runs.csv", collect.RUN_COLUMNS)
    table = render.render_photo_runs_markdown(tmp_path / "edge-runs.csv")
    assert "| class balance |" in table.splitlines()[0]
    assert "| `balanced-run` | 0.2 | 1.0 | set |" in table
    assert "| `old-photo-run` | 0.2 | 0.5 | set |" in table
    assert "fm-only-run" not in table
    assert "% (top) |" in table and "% (classes) |" not in table  # recorded before reject_score: the top probability
    photo["photos"]["calibration"]["reject_score"] = "classes"
    (runs / "balanced-run.json").write_text(json.dumps(photo))
    collect.write_csv(collect.collect_runs(runs), tmp_path / "edge-runs.csv", collect.RUN_COLUMNS)
    assert "% (classes) |" in render.render_photo_runs_markdown(tmp_path / "edge-runs.csv")


def test_kfold_block_shows_each_recipe_per_class_and_the_paired_difference(tmp_path):
    def recipe(name, t1, boot):
        return {"recipe": name, "runs": [{"fold": f"{k}/3", "top1_macro": t1} for k in (1, 2, 3)],
                "top1_macro": t1, "top3_macro": 0.85, "set_acc": 0.7,
                "per_class": {"Sandal": {"photos": 58, "top1": 0.5, "top3": 0.9},
                              "Ankle boot": {"photos": 16, "top1": boot, "top3": 0.6}},
                "none_of_these": {"none_photos": 652, "none_rejected": 0.6, "labelled_rejected": 0.04}}
    src = tmp_path / "kfold-photos.json"
    src.write_text(json.dumps({
        "what": "photo recipes by cross-validation", "labelled_photos": 3800, "single_label_photos": 3500,
        "recipes": [recipe("a", 0.62, 0.25), recipe("b", 0.64, 0.5)],
        "comparisons": [{"recipe": "b", "against": "a", "top1_macro_difference": 0.02, "interval_95": [-0.01, 0.05],
                         "per_class_difference": {"Sandal": 0.0, "Ankle boot": 0.25}}],
        "command": "python scripts/kfold_photos.py x", "environment": {"cpu": "AMD EPYC", "cores": 2, "machine": "x86_64",
                                                                     "git_commit": "abc1234", "packages": {"keras": "3"}}}))
    text = render.render_kfold_markdown(src)
    assert "| `a` | 1/3: 62.0, 2/3: 62.0, 3/3: 62.0 | 62.0% / 85.0% | 70.0% | 50% | 25% | 60.0% (4.0%) |" in text
    assert "| `b` |" in text and "Sandal 58, Ankle boot 16" in text
    assert "macro top-1 +2.0 points (95% interval over resampled photographers: -1.0 to +5.0)" in text
    assert "Ankle boot +25" in text and "(AMD EPYC, 2 cores, git abc1234, Keras 3)" in text


def test_a_result_file_of_another_shape_is_a_one_line_error(fake_artifacts, tmp_path):
    art, _, _ = fake_artifacts
    out = tmp_path / "results"
    out.mkdir()
    (out / "kfold-photos.json").write_text('{"what": "x", "recipes": []}')
    md = tmp_path / "results.md"
    md.write_text("<!-- kfold-photos:start -->\n<!-- kfold-photos:end -->\n")
    before = md.read_text()
    result = CliRunner().invoke(app, ["table", "--artifacts", str(art), "--results", str(out), "--doc", str(md)])
    assert result.exit_code != 0 and "cannot make the kfold-photos block" in result.output
    assert "Traceback" not in result.output and md.read_text() == before

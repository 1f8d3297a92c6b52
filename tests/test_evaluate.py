"""`fmnistedge evaluate` on a few real dev photos (read in place from ../shared, never copied)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.runtime.evaluate import score

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "realphotos-dev"


@pytest.fixture
def few_photos(tmp_path) -> Path:
    if not (DEV / "labels.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{DEV} is missing; CI runs with shared/ beside the clone")
        pytest.skip("../shared/realphotos-dev not present")
    with open(DEV / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    first = {}
    for r in rows:
        first.setdefault(r["label_index"], r)
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label_index"])
        for r in first.values():
            w.writerow([str(DEV / r["path"]), r["label_index"]])  # absolute: read in place
    return labels


def test_evaluate_reports_top1_top3_per_class_and_confusion(few_photos, tmp_path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["evaluate", "--photos", str(tmp_path), "--labels", str(few_photos),
                                      "--out", str(out), "--json", "--calibration"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert json.loads(result.stdout) == doc
    for mode in ("photo", "naive"):
        r = doc["results"][mode]
        assert r["items"] == 9 and len(r["per_class_top1"]) == 9 and "Bag" not in r["per_class_top1"]
        cm = np.array(r["confusion_matrix"])
        assert cm.sum() == 9 and r["top1"] == pytest.approx(np.trace(cm) / 9)
        assert 0 <= r["macro_top1"] <= r["macro_top3"] <= 1
        assert 0 <= r["ece"] <= 1
        for kind in ("contact", "confusion"):
            png = tmp_path / f"eval.{mode}.{kind}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    import cv2

    sheet = cv2.imread(str(tmp_path / "eval.photo.contact.png"))
    assert sheet.shape[0] >= 28 * 4 and sheet.shape[1] == 12 * 28 * 4  # 9 tiles in one row of 12
    cal = doc["calibration"]
    assert 0.05 <= cal["temperature"] <= 20 and "validation split" in cal["fitted_on"]
    assert cal["val_ece_scaled"] <= cal["val_ece"] + 1e-9  # fitted there, so no worse there
    assert set(cal["photos"]) == {"photo", "naive"}
    assert doc["model"]["sha256"] and doc["environment"]["command"]


def test_expected_calibration_error_by_hand():
    from fmnistedge.runtime.evaluate import expected_calibration_error

    y = np.array([0, 0, 0, 0])
    sure = np.tile(np.eye(10)[0], (4, 1))
    assert expected_calibration_error(y, sure) == pytest.approx(0.0)  # confident and right
    half = np.full((4, 10), 0.5 / 9)
    half[:, 1] = 0.5  # 50% sure of the wrong class, always wrong
    assert expected_calibration_error(y, half) == pytest.approx(0.5)


def test_temperature_fit_recovers_a_known_temperature():
    from fmnistedge.runtime.evaluate import apply_temperature, fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 10)) * 3
    y = np.array([rng.choice(10, p=p) for p in apply_temperature(np.exp(logits), 1.0)])
    overconfident = apply_temperature(np.exp(logits), 0.5)  # the truth is T=1 on these logits
    assert fit_temperature(overconfident, y) == pytest.approx(2.0, rel=0.1)


def test_score_by_hand():
    y = np.array([0, 0, 1, 1])
    probs = np.eye(10)[[0, 2, 1, 0]] * 0.7 + 0.03
    probs[1, 0] = 0.2  # second guess right
    r = score(y, probs)
    assert r["top1"] == 0.5 and r["per_class_top1"] == {"T-shirt/top": 0.5, "Trouser": 0.5}
    assert r["per_class_top3"]["T-shirt/top"] == 1.0


def test_unreadable_photos_are_named_skipped_and_exit_1(few_photos, tmp_path):
    with open(few_photos, "a", newline="") as fh:
        csv.writer(fh).writerow([str(tmp_path / "gone.jpg"), "3"])
    result = CliRunner().invoke(app, ["evaluate", "--photos", str(tmp_path), "--labels", str(few_photos),
                                      "--modes", "photo", "--json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"No such file: {tmp_path / 'gone.jpg'}" in result.stderr
    r = json.loads(result.stdout)["results"]["photo"]
    assert r["items"] == 9 and len(r["failures"]) == 1  # the other photos were still scored


@pytest.mark.parametrize("content, message", [
    ("path,label_index\ncaf\xe9.jpg,1\n".encode("latin-1"), "is not UTF-8 text"),
    (b"path,label_index\n\"a.jpg,1\n", "needs a path and a label_index"),
    (b"path;label_index\nx.jpg;1\n", "needs the columns path,label_index"),
])
def test_bad_labels_files_get_one_line_errors(tmp_path, content, message):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(content)
    result = CliRunner().invoke(app, ["evaluate", "--photos", str(tmp_path), "--labels", str(labels)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_labels_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    from fmnistedge.runtime.evaluate import read_labels

    (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbfpath,label_index\nx.jpg,1\n")  # Excel's "CSV UTF-8"
    assert read_labels(tmp_path) == [(tmp_path / "x.jpg", 1)]


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "sub/../../x.jpg", "../x.jpg"])
def test_labels_paths_outside_the_photo_folder_are_refused_naming_the_line(tmp_path, path):
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.runtime.evaluate import read_labels

    (tmp_path / "labels.csv").write_text(f"path,label_index\nok.jpg,1\n..ok.jpg,2\n{path},3\n")
    with pytest.raises(FmnistEdgeError, match=f"labels.csv line 4: path '{path}' is outside {tmp_path}"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label_index\nok.jpg,1\n..ok.jpg,2\nsub/../in.jpg,3\n")
    assert [p.name for p, _ in read_labels(tmp_path)] == ["ok.jpg", "..ok.jpg", "in.jpg"]

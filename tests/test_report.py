"""`fmnistedge report` on the tiny model: figures exist, links resolve, numbers match train.json."""

from __future__ import annotations

import json
import re
import shutil
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.measure.report import precision_recall

runner = CliRunner()
FIGURES = ["curves.png", "confusion.png", "per_class.png", "errors.png", "correct.png",
           "embedding.png", "exported.png"]


def _copy_tiny(exported_tiny, art):
    shutil.copytree(exported_tiny[0], art / "tiny")
    return art


@pytest.fixture(scope="module")
def reported(exported_tiny, tmp_path_factory):
    """What ``fmnistedge report tiny`` writes, through the library with a 100-image t-SNE
    (t-SNE is most of a report's time); the command itself is the ci test at the end."""
    from fmnistedge.measure.report import arch_report, overview

    art = _copy_tiny(exported_tiny, tmp_path_factory.mktemp("rep-art"))
    out = tmp_path_factory.mktemp("rep-out")
    arch_report(art / "tiny", out, tsne_items=100)
    overview(out, None)
    return art, out


def _figures_are_real_pngs(out):
    for name in FIGURES:
        raw = (out / "tiny" / name).read_bytes()
        assert raw[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", raw[16:24])
        assert width > 300 and height > 150 and len(raw) > 10_000, name
    assert not list(out.glob(".*")), "no partial folders left behind"


def _pages_link_only_existing_files(out):
    for page in (out / "index.md", out / "tiny" / "index.md"):
        links = re.findall(r"\]\(([^)]+)\)", page.read_text())
        assert links
        for link in links:
            assert (page.parent / link).is_file(), (page, link)


def _numbers_equal_train_json(art, out):
    rec = json.loads((art / "tiny" / "train.json").read_text())
    page = (out / "tiny" / "index.md").read_text()
    assert f"**{100 * rec['test_accuracy']:.2f}%**" in page
    for row in precision_recall(np.array(rec["confusion_matrix"])):
        assert (f"| {row['label']} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | "
                f"{row['support']} |") in page
    overview = (out / "index.md").read_text()
    assert f"| {100 * rec['test_accuracy']:.2f}% |" in overview


def test_every_figure_is_a_real_png(reported):
    _figures_are_real_pngs(reported[1])


def test_pages_link_only_existing_files(reported):
    _pages_link_only_existing_files(reported[1])


def test_numbers_equal_train_json(reported):
    _numbers_equal_train_json(*reported)


def test_the_page_names_its_t_sne_subset_and_a_too_small_one_is_refused(reported, tmp_path):
    from fmnistedge.measure.report import arch_report

    art, out = reported
    assert "class-stratified 100-image subset" in (out / "tiny" / "index.md").read_text()
    with pytest.raises(ValueError, match="tsne_items must be at least 50"):
        arch_report(art / "tiny", tmp_path, tsne_items=49)
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_precision_recall_by_hand():
    cm = np.zeros((10, 10), int)
    cm[0, 0], cm[0, 1], cm[1, 1] = 8, 2, 5
    rows = precision_recall(cm)
    assert rows[0]["recall"] == 0.8 and rows[0]["precision"] == 1.0
    assert rows[1]["precision"] == pytest.approx(5 / 7) and rows[1]["support"] == 5


def test_untrained_old_schema_and_unwritable(tmp_path, exported_tiny):
    result = runner.invoke(app, ["report", "cnn1", "--artifacts", str(tmp_path)])
    assert result.exit_code == 1 and "fmnistedge train cnn1" in result.output
    art = tmp_path / "art"
    shutil.copytree(exported_tiny[0], art / "tiny")
    rec = json.loads((art / "tiny" / "train.json").read_text())
    rec["schema_version"] = 0
    (art / "tiny" / "train.json").write_text(json.dumps(rec))
    result = runner.invoke(app, ["report", "tiny", "--artifacts", str(art), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "schema" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["report", "tiny", "--artifacts", str(art), "--out", str(blocker / "sub")])
    assert result.exit_code == 1 and "Cannot write" in result.output


@pytest.mark.ci  # the command's 1000-image t-SNE: half a minute on 2 cores
def test_the_report_command_writes_figures_links_and_numbers(exported_tiny, tmp_path):
    art = _copy_tiny(exported_tiny, tmp_path / "art")
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", "tiny", "--artifacts", str(art), "--out", str(out)])
    assert result.exit_code == 0, result.output
    _figures_are_real_pngs(out)
    _pages_link_only_existing_files(out)
    _numbers_equal_train_json(art, out)
    assert "class-stratified 1000-image subset" in (out / "tiny" / "index.md").read_text()

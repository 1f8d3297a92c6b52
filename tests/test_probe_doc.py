"""docs/results.md's input-size block is rendered from the probe's result files
(scripts/probe_input_size.py --doc): a re-measured file with an unchanged doc fails here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _probe():
    spec = importlib.util.spec_from_file_location("probe_input_size", ROOT / "scripts" / "probe_input_size.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_input_size_block_is_the_rendered_result_files(monkeypatch):
    text = (ROOT / "docs" / "results.md").read_text()
    found = re.search(r"<!-- input-size-probe:start -->\n(.*)\n<!-- input-size-probe:end -->", text, re.S)
    assert found, "docs/results.md lost its input-size-probe block"
    files = re.findall(r"From `(results/input-size-probe[^`]*\.json)`", found.group(1))
    assert files, "the block names no result file"
    monkeypatch.chdir(ROOT)
    assert found.group(1) == _probe().markdown([Path(f) for f in files])

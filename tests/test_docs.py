"""The README and docs/ stay what a newcomer can use: a short README with the set-up
commands first, links that resolve, and generated tables that match the committed
result files (re-measuring without regenerating fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fmnistedge.measure import tables

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS_DOC = ROOT / "docs" / "results.md"
DOCS = [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(path: Path) -> dict[str, str]:
    text = path.read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- (\S+):start -->\n(.*?)\n<!-- \1:end -->", text, re.S)}


def test_readme_is_short_and_opens_with_the_two_set_up_commands():
    text = README.read_text()
    assert len(text.encode()) <= 8 * 1024
    quick = text[text.index("## Quick start"):]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)[:2]
    # scripts/arm64_smoke.sh runs the first line of the first block literally
    assert commands[0].startswith("python3 -m venv .venv && .venv/bin/pip install . && ")
    assert "fmnistedge classify samples/" in commands[0]
    assert commands[1] == "bash .ci/run"
    assert text.index("## Quick start") < 1500  # on the first screen
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if line.startswith("python -m pytest"))
    assert f"`{test_command}`" in text  # .ci/run runs the README's test command


@pytest.mark.parametrize("path", [README, RESULTS_DOC], ids=lambda p: p.name)
def test_no_issue_numbers(path):
    assert not re.search(r"\b[Ii]ssues? \d+|(?<![\w/])#\d+\b", path.read_text())


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file) if file else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, broken


def test_the_generated_blocks_are_split_between_the_readme_and_docs_results():
    names = set(tables.blocks(ROOT / "results"))
    assert set(_blocks(README)) == {"shipped-table", "photo-summary"}
    assert set(_blocks(RESULTS_DOC)) == names - {"shipped-table", "photo-summary"}


@pytest.mark.parametrize("doc", [README, RESULTS_DOC], ids=lambda p: p.name)
def test_generated_blocks_match_the_committed_result_files(doc, monkeypatch):
    monkeypatch.chdir(ROOT)  # captions name the result files relative to the repository
    found = _blocks(doc)
    stale = []
    for name, (source, make) in tables.blocks(Path("results")).items():
        if name in found and found[name] != make(source, doc.relative_to(ROOT)):
            stale.append(name)
    assert not stale, f"regenerate with: fmnistedge table --doc {doc.relative_to(ROOT)} ({stale})"

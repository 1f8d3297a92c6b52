"""The package table of docs/architecture.md, checked: every module of the three source
folders is parsed with ``ast`` and each import (at module level or inside a function) must
be one its layer may make. A new import across layers fails here until the table (and this
file's RULES) say it is allowed.

Imports made from strings (``importlib.import_module``) are not seen; the zoo uses one, within
``fmnistedge.training``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Source folder -> the package it is installed as (pyproject's package-dir).
SOURCES = {"fmnistedge": ROOT / "fmnistedge", "fmnistedge.export": ROOT / "export",
           "fmnistedge.runtime": ROOT / "runtime"}
LAYERS = ("core", "runtime", "training", "export", "measure", "cli")
# Which layers each layer may import (its own always). The order is the flow of
# docs/architecture.md: nothing imports a layer to its right.
RULES = {
    "core": {"core"},
    "runtime": {"core"},
    "training": {"core", "runtime"},
    "export": {"core", "runtime", "training"},
    "measure": {"core", "runtime", "training", "export"},
    "cli": set(LAYERS),
}
# Known exceptions, each with its reason. Keep this list short and say why.
EXCEPTIONS: set[tuple[str, str]] = set()  # none today
# The 'train' and 'report' extras: never in the runtime or the CLI layer itself (a Pi's
# base install has none of them), elsewhere only inside functions, so `import fmnistedge.X`
# stays cheap. zoo/layers.py defines Keras layers at module level and is itself imported
# only inside functions (checked below).
EXTRAS = {"tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "sklearn"}
KERAS_MODULE = "fmnistedge.training.zoo.layers"


def layer(module: str) -> str | None:
    """The layer of a fmnistedge module name (None for anything else)."""
    if module == "fmnistedge.__main__":
        return "cli"  # `python -m fmnistedge` is the CLI's entry point
    for name in ("runtime", "training", "export", "measure", "cli"):
        if module == f"fmnistedge.{name}" or module.startswith(f"fmnistedge.{name}."):
            return name
    if module == "fmnistedge" or module.startswith("fmnistedge."):
        return "core"
    return None


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if package == "fmnistedge" and parts[0] in ("export", "runtime"):
                continue  # not a source folder of the root package (none exist; guard anyway)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported name, line, at module level) for every import statement of the file;
    ``from X import Y`` yields X.Y (Y may be a submodule: ``from fmnistedge import runtime``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        top = id(node) not in nested
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found += [(f"{base}.{a.name}", node.lineno, top) for a in node.names]
    return found


ALL = modules()


def test_every_source_folder_is_parsed():
    assert {"fmnistedge.runtime.classify", "fmnistedge.export.pipeline", "fmnistedge.training.train",
            "fmnistedge.measure.render", "fmnistedge.cli.app", "fmnistedge.labels"} <= set(ALL)
    assert {layer(m) for m in ALL} == set(LAYERS)


@pytest.mark.parametrize("module", sorted(ALL))
def test_imports_follow_the_layers(module):
    own = layer(module)
    bad = []
    for name, line, _ in imports(module, ALL[module]):
        target = layer(name)
        if target is None or target == own or target in RULES[own] or (module, name) in EXCEPTIONS:
            continue
        bad.append(f"line {line}: {own} imports {name} ({target})")
    assert not bad, f"{module}: " + "; ".join(bad)


@pytest.mark.parametrize("module", sorted(ALL))
def test_training_extras_stay_out_of_the_runtime_and_inside_functions(module):
    own = layer(module)
    bad = []
    for name, line, top in imports(module, ALL[module]):
        if name.split(".")[0] in EXTRAS:
            if own in ("runtime", "cli"):
                bad.append(f"line {line}: {name} in the {own} layer")
            elif top and module != KERAS_MODULE:
                bad.append(f"line {line}: {name} at module level")
        if (name == KERAS_MODULE or name.startswith(KERAS_MODULE + ".")) and top and module != KERAS_MODULE:
            bad.append(f"line {line}: {name} (Keras at import time) at module level")
    assert not bad, f"{module}: " + "; ".join(bad)


def test_the_checker_sees_violations(tmp_path):
    """The rules can fail: a runtime module importing training, even inside a function, and a
    module-level TensorFlow import in export, are caught."""
    path = tmp_path / "probe.py"
    path.write_text("import numpy\nimport tensorflow as tf\n\ndef f():\n    from fmnistedge.training import zoo\n"
                    "    from . import quant\n")
    found = imports("fmnistedge.runtime.probe", path)
    assert ("fmnistedge.training.zoo", 5, False) in found
    assert ("tensorflow", 2, True) in found
    assert ("fmnistedge.runtime.quant", 6, False) in found  # relative imports resolved
    assert layer("fmnistedge.training.zoo") not in RULES["runtime"]

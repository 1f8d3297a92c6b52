"""The runtime and the runtime commands never import TensorFlow (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
{body}
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))
assert not bad, bad
print('clean')
"""


def _run(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHECK.format(body=body)],
                          capture_output=True, text=True, timeout=120)


def test_runtime_package_imports_without_tensorflow():
    body = "import pkgutil, importlib, fmnistedge.runtime as r\n" \
           "for m in pkgutil.iter_modules(r.__path__):\n" \
           "    importlib.import_module('fmnistedge.runtime.' + m.name)"
    proc = _run(body)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr


def test_cli_help_does_not_import_tensorflow():
    body = "from typer.testing import CliRunner\nfrom fmnistedge.cli import app\n" \
           "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0"
    proc = _run(body)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr


def test_classify_and_models_commands_do_not_import_tensorflow():
    body = ("from typer.testing import CliRunner\nfrom fmnistedge.cli import app\n"
            "r = CliRunner().invoke(app, ['classify', 'samples/1-trouser.jpg', '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "r = CliRunner().invoke(app, ['models', '--json'])\nassert r.exit_code == 0, r.output")
    proc = subprocess.run([sys.executable, "-c", CHECK.format(body=body)], capture_output=True, text=True,
                          timeout=120, cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr

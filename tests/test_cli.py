"""CLI behaviour: exact exit codes, one-line errors, parseable --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app

runner = CliRunner()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real entry point in a subprocess, as a user would."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", "fmnistedge", *args], capture_output=True,
                          text=True, env=full_env, timeout=300)


def test_unknown_architecture_exits_2_and_names_close_matches():
    proc = run_cli("train", "cnn-finl")
    assert proc.returncode == 2
    assert "cnn-final" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_dataset_exits_1_with_one_clear_message(tmp_path):
    proc = run_cli("train", "tiny", "--data-dir", str(tmp_path / "nothing-here"))
    assert proc.returncode == 1
    assert "apt install dataset-fashion-mnist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_command_on_synthetic_files_reports_count_mismatch(synthetic_data):
    result = runner.invoke(app, ["data", "--data-dir", str(synthetic_data)])
    assert result.exit_code == 1
    assert "expected 60000" in result.output


def test_no_architecture_is_a_usage_error():
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2


def test_all_and_names_together_is_a_usage_error():
    result = runner.invoke(app, ["train", "cnn1", "--all"])
    assert result.exit_code == 2


def test_bad_option_value_is_a_usage_error():
    result = runner.invoke(app, ["train", "tiny", "--epochs", "zero"])
    assert result.exit_code == 2


def test_archs_json_lists_every_architecture():
    from fmnistedge.training import zoo

    result = runner.invoke(app, ["archs", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == zoo.names()
    assert all(r["params"] > 0 and r["macs"] > 0 for r in rows)


def test_data_json_on_real_data(real_data):
    result = runner.invoke(app, ["data", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["source"] in ("debian-package", "keras-cache", "environment", "argument")
    assert all(f["matches_reference"] for f in doc["files"])


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["archs", "--help"]])
def test_help_works(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_a_missing_system_library_is_one_line_with_the_apt_hint(tmp_path):
    fake = tmp_path / "cv2"  # an OpenCV that fails as it does on a minimal Debian without libGL
    fake.mkdir()
    (fake / "__init__.py").write_text(
        'raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")\n')
    sample = os.path.join(os.path.dirname(__file__), "..", "samples", "0-t-shirt-top.jpg")
    proc = run_cli("classify", sample, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "libGL.so.1" in proc.stderr and "apt install libgl1 libglib2.0-0" in proc.stderr
    (fake / "__init__.py").write_text(  # a broken build, not a missing library: keep the full report
        'raise ImportError("cv2.abi3.so: undefined symbol: foo")\n')
    proc = run_cli("classify", sample, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1 and "undefined symbol: foo" in proc.stderr and "apt install" not in proc.stderr


def test_models_table_is_not_cut_when_piped():
    result = runner.invoke(app, ["models", "--artifacts", "no-such-folder"])
    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert "lenet5-relu" in result.stdout and "model_int8.tflite" in result.stdout and "verified" in result.stdout


def test_first_line_of_an_exception_without_a_message_is_its_type():
    from fmnistedge.errors import first_line

    assert first_line(RuntimeError("bad model\nstack detail")) == "bad model"
    assert first_line(RuntimeError()) == "RuntimeError"  # an empty message must not break the error line


@pytest.mark.parametrize("command", [["classify", "x.png"], ["scan", "--no-show"], ["bench", "edge-r"]])
@pytest.mark.parametrize("threads", ["0", "100000"])
def test_a_thread_count_out_of_range_is_a_usage_error(command, threads, monkeypatch, tmp_path):
    from fmnistedge.runtime import models

    from fmnistedge.cli.app import MAX_THREADS
    from fmnistedge.measure import bench

    def never(*_, **__):  # reaching an engine with 100000 threads would start them all
        raise AssertionError("the thread count reached an engine")

    monkeypatch.setattr(models, "load", never)
    monkeypatch.setattr(bench, "run", never)
    result = CliRunner().invoke(app, [*command, "--threads", threads, "--artifacts", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--threads" in result.output and f"1<=x<={MAX_THREADS}" in result.output


def test_a_failed_atomic_write_names_the_destination_not_the_temporary_file(tmp_path):
    from fmnistedge.runtime.wardrobe import Wardrobe

    from fmnistedge import fileio

    dest = tmp_path / "out.csv"
    dest.mkdir()  # the rename over it fails
    with pytest.raises(OSError) as caught:
        fileio.write_text(dest, "x")
    assert caught.value.filename == str(dest) and ".partial" not in str(caught.value)
    db = tmp_path / "w.db"
    Wardrobe(db).close()
    result = CliRunner().invoke(app, ["wardrobe", "export", "--wardrobe", str(db), "--out", str(dest)])
    assert result.exit_code == 1 and f": {dest}\n" in result.output and ".partial" not in result.output, result.output
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []



@pytest.mark.parametrize("args", [["classify", "x.png", "--top-k", "0"], ["classify", "x.png", "--bogus"],
                                  ["classify"], ["classify", "x.png", "--threads", "x"],
                                  ["wardrobe", "list", "--nope"], ["scan", "--camera", "-1"]])
def test_a_usage_error_is_one_line_with_exit_2(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("Error: ") and "--help' " not in result.stderr and "--help')" in result.stderr


def test_a_library_warning_on_a_decodable_image_does_not_reach_stderr(tmp_path):
    """Pillow warns (two lines: file:line and source) on a damaged EXIF block of a JPEG it
    still decodes; stderr must carry only fmnistedge's own one-line messages."""
    import struct

    exif = (b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 1)
            + struct.pack("<HHII", 0x0112, 3, 1000, 5000) + struct.pack("<I", 0))  # orientation: 1000 shorts
    path = tmp_path / "exif.jpg"
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((48, 64, 3), 200, np.uint8)).save(path, exif=exif)
    proc = subprocess.run([sys.executable, "-m", "fmnistedge", "classify", str(path)], capture_output=True,
                          text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"})
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1
    assert proc.stderr == ""


def test_command_modules_table_matches_what_each_module_registers():
    """main() imports only the running command's module: every command the table gives a
    module must be registered by importing that module alone (a fresh process each), and
    the table must name every command of the full app exactly once."""
    from fmnistedge.cli import COMMAND_MODULES, app

    everything = [c.name or c.callback.__name__ for c in app.registered_commands] + [g.name for g in app.registered_groups]
    everything = sorted("export" if n == "export_cmd" else n for n in everything)
    assert sorted(n for names in COMMAND_MODULES.values() for n in names) == everything

    code = ("import importlib, sys\nfrom fmnistedge.cli.app import app\n"
            "importlib.import_module('fmnistedge.cli.' + sys.argv[1])\n"
            "print(' '.join(sorted([c.name or c.callback.__name__ for c in app.registered_commands]"
            " + [g.name for g in app.registered_groups])))")
    for module, names in COMMAND_MODULES.items():
        out = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        registered = set(out.stdout.split())
        registered = {"export" if n == "export_cmd" else n for n in registered}
        assert set(names) <= registered, (module, registered)


def test_running_one_command_imports_only_its_module():
    code = ("import sys\nsys.argv = ['fmnistedge', 'models', '--json']\nfrom fmnistedge.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith('fmnistedge.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = out.stdout.rsplit("LOADED", 1)[1]
    assert "runtime_cmds" in loaded and "scan_cmds" not in loaded and "train_cmds" not in loaded, loaded


def test_classify_start_up_carries_no_dead_weight():
    """What a cold 'fmnistedge classify' loads is what a Pi user waits for: no other command's
    module, no numpy.ma (np.unique and np.percentile import it: ~20 ms), and NumPy loaded with
    one OpenBLAS thread (a user's own OPENBLAS_/OMP_NUM_THREADS wins)."""
    code = ("import os, sys\nsys.argv = ['fmnistedge', 'classify', 'samples/1-trouser.jpg', '--json']\n"
            "from fmnistedge.cli import main\n"
            "assert 'numpy' not in sys.modules  # the thread setting must come before NumPy loads\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('LOADED', 'numpy.ma' in sys.modules, 'numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'),"
            " sorted(m for m in sys.modules if m.startswith('fmnistedge.cli.')))")
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                            "GOTO_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root, env=env)
    loaded = out.stdout.rsplit("LOADED", 1)[-1]
    assert loaded.startswith(" False True 1 ['fmnistedge.cli.app', 'fmnistedge.cli.classify_cmds']"), out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root,
                         env=env | {"OPENBLAS_NUM_THREADS": "2"})
    assert " True 2 " in out.stdout.rsplit("LOADED", 1)[-1], out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root,
                         env=env | {"OMP_NUM_THREADS": "2"})  # OpenBLAS reads this one too
    assert " True None " in out.stdout.rsplit("LOADED", 1)[-1], out.stdout + out.stderr


def test_segment_choices_are_the_runtimes_paths():
    """The CLI spells the segmentation paths as enums (importing the runtime would load
    OpenCV for --help); they must stay the runtime's own lists."""
    from fmnistedge.runtime import photo, scan

    from fmnistedge.cli.app import ScanSegment, Segment

    assert [s.value for s in Segment] == list(photo.SEGMENT_PATHS)
    assert [s.value for s in ScanSegment] == list(scan.SEGMENT_PATHS)

"""The models shipped inside the package: integrity, exact accuracy, samples, wheel budget."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fmnistedge.runtime.backends import open_backend, predict_all
from fmnistedge.runtime.integrity import check_file
from fmnistedge.runtime.models import default_arch, resolve, shipped_dir
from typer.testing import CliRunner

from fmnistedge import manifest
from fmnistedge.cli import app

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [
    (arch_dir.name, name)
    for arch_dir in sorted(p for p in shipped_dir().iterdir() if p.is_dir())
    for name in json.loads((arch_dir / "manifest.json").read_text())["files"]
]
WHEEL_BUDGET = 15 * 1024 * 1024  # all shipped models; see docs/shipped-models.md


def test_a_default_model_is_shipped():
    arch = default_arch()
    assert arch is not None
    ref = resolve(None)
    assert ref.arch == arch and ref.where == "shipped" and ref.entry["verified"]


@pytest.mark.parametrize("arch, name", SHIPPED)
def test_shipped_file_matches_its_manifest_and_describes_itself(arch, name):
    """Size, sha256 and the verified record of every shipped file, in its manifest and embedded
    in the file alike (fast; the accuracy sweep over the 10k test set is the ci test below)."""
    from fmnistedge.runtime.modelmeta import read_embedded

    path = shipped_dir() / arch / name
    entry = check_file(path)
    assert entry["verified"] and entry["status"] == "verified" and entry["test_items"] == 10_000
    embedded = read_embedded(path)
    assert embedded["arch"] == arch and embedded["verification"]["test_accuracy"] == entry["test_accuracy"]
    train_log = json.loads((shipped_dir() / arch / "train.json").read_text())
    assert manifest.load(shipped_dir() / arch)["keras"]["test_accuracy"] == train_log["test_accuracy"]


@pytest.mark.ci  # every shipped file over the 10k test set: most of a minute on 2 cores
@pytest.mark.parametrize("arch, name", SHIPPED)
def test_shipped_file_matches_manifest_and_its_accuracy_to_the_last_digit(arch, name, real_data):
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data

    path = shipped_dir() / arch / name
    entry = check_file(path)  # sha256 and size
    assert entry["verified"] and entry["status"] == "verified"
    x, y = data.load_split("test")
    probs = predict_all(open_backend(path), to_model_input(x))
    assert float((probs.argmax(1) == y).mean()) == entry["test_accuracy"]
    train_log = json.loads((shipped_dir() / arch / "train.json").read_text())
    assert manifest.load(shipped_dir() / arch)["keras"]["test_accuracy"] == train_log["test_accuracy"]


# Trained on the first day, minutes before the repository's first commit: no commit to record.
TRAINED_BEFORE_THE_FIRST_COMMIT = {"dense-300-100", "dense-512-512", "lenet5", "lenet5-relu"}


@pytest.mark.parametrize("arch", sorted({arch for arch, _ in SHIPPED}))
def test_shipped_training_log_records_how_the_model_was_made(arch):
    """Command, seed, epochs, wall time and commit of every training run behind a shipped model;
    a fine-tuned one ships the log of the model it started from (train.init.json), and so on."""
    folder, name = shipped_dir() / arch, "train"
    walked = ["train.json"]
    while True:
        log = json.loads((folder / f"{name}.json").read_text())
        env = log["environment"]
        assert log["arch"] == arch and env["command"].startswith("fmnistedge train")
        assert log["seed"] is not None and log["epochs_run"] >= 1 and log["train_seconds"] > 0
        assert env["git_commit"] or arch in TRAINED_BEFORE_THE_FIRST_COMMIT
        init = log.get("init_from")
        if not init:
            break
        name += ".init"
        walked.append(f"{name}.json")
        parent = json.loads((folder / f"{name}.json").read_text())
        assert (parent["test_accuracy"], parent["epochs_run"], parent["recipe"]) == (
            init["test_accuracy"], init["epochs_run"], init["recipe"])
    assert sorted(p.name for p in folder.glob("train*.json")) == sorted(walked)  # no stray logs


def test_the_default_ships_the_files_issue_7_asks_for():
    files = manifest.load(shipped_dir() / default_arch())["files"]
    assert {"model_int8.tflite", "model_int8.onnx", "model_fp32.onnx"} <= set(files)


# Ops an edge-family file may hold once batch normalization is folded into the convolutions
# and ReLU fused: an unfolded BN would show up as MUL/SUB (TFLite) or BatchNormalization/Mul (ONNX).
# A photo model with a "none" output slices its ten class probabilities off an 11-way softmax.
EDGE_TFLITE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX",
                   "STRIDED_SLICE"}
EDGE_ONNX_OPS = {"Conv", "Relu", "Add", "MaxPool", "GlobalAveragePool", "Reshape", "Squeeze", "MatMul", "Gemm",
                 "Softmax", "QuantizeLinear", "DequantizeLinear", "Slice"}


# A flip-averaged model (train --flip-average) adds the mirror (a gather of the columns) and the
# mean of the two answers (one multiplication by 0.5); an unfolded batch normalization would add
# a multiplication per layer, so there must be exactly one.
MIRROR_OPS = {"tflite": ("GATHER", "MUL"), "onnx": ("Gather", "Mul")}


@pytest.mark.parametrize("arch, name", [(a, n) for a, n in SHIPPED if a.startswith("edge-")])
def test_shipped_edge_files_have_batch_norm_folded_and_only_int8_friendly_ops(arch, name):
    path = shipped_dir() / arch / name
    mirrored = bool(json.loads((shipped_dir() / arch / "train.json").read_text()).get("flip_average"))
    if name.endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # Without the default XNNPACK delegate, which would replace the ops with one DELEGATE node.
        interp = Interpreter(model_path=str(path),
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
        ops = [op["op_name"] for op in interp._get_ops_details()]
        allowed, extra = EDGE_TFLITE_OPS, MIRROR_OPS["tflite"]
    else:
        onnx = pytest.importorskip("onnx")
        ops = [node.op_type for node in onnx.load(str(path)).graph.node]
        allowed, extra = EDGE_ONNX_OPS, MIRROR_OPS["onnx"]
    if mirrored:
        assert [ops.count(op) for op in extra] == [1, 1], ops
        allowed = allowed | set(extra)
    assert set(ops) <= allowed, set(ops) - allowed


def _expected() -> list[dict]:
    with open(ROOT / "samples" / "expected.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_golden_samples_with_the_default_model():
    """The demo photos through the whole pipeline: the README's sample right, every true label in
    the top 3, at most one top-1 miss. (The samples are the first test item of each class, chosen
    without looking at any model; Shirt, the hardest class, is a near tie between Shirt, Coat and
    T-shirt for the default model once rendered as a photo.)"""
    rows = _expected()
    assert len({r["label_index"] for r in rows}) == 10  # one per class at least
    result = CliRunner().invoke(app, ["classify", str(ROOT / "samples"), "--json"])
    assert result.exit_code == 0
    got = {Path(r["path"]).name: r for r in json.loads(result.stdout)["results"]}
    assert got["0-t-shirt-top.jpg"]["label"] == "T-shirt/top"  # the README's first command
    not_top3 = [r["file"] for r in rows if r["label"] not in [t["label"] for t in got[r["file"]]["top_k"]]]
    assert not not_top3, f"true label not in the top 3: {not_top3}"
    wrong = {r["file"]: got[r["file"]]["label"] for r in rows if got[r["file"]]["label"] != r["label"]}
    assert len(wrong) <= 1, f"misclassified samples: {wrong}"


@pytest.mark.parametrize("engine", ["onnx", "tflite"])
def test_default_model_runs_in_both_engines(engine):
    ref = resolve(None, engine)
    assert ref.engine == engine
    assert open_backend(ref.path).predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


def test_wheel_carries_the_models_within_budget(tmp_path):
    """Built from a copy of what the build reads (pyproject, README, package folders), so no
    stale build output can stand in for the shipped files: the wheel's models folder holds
    exactly the shipped files, byte for byte as their manifests say, and the whole wheel
    stays within the budget."""
    import hashlib
    import shutil

    import tomllib

    src = tmp_path / "src"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name in ["pyproject.toml", config["project"]["readme"]]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    for package_dir in set(config["tool"]["setuptools"]["package-dir"].values()):
        shutil.copytree(ROOT / package_dir, src / package_dir,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(src)], check=True, timeout=600)
    wheel = next(tmp_path.glob("fmnistedge-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        models = {i.filename[len("fmnistedge/models/"):]: zf.read(i) for i in zf.infolist()
                  if i.filename.startswith("fmnistedge/models/") and not i.filename.endswith("/")}
        names = set(zf.namelist())
    on_disk = {p.relative_to(shipped_dir()).as_posix() for p in shipped_dir().rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert set(models) == on_disk  # nothing missing, nothing extra
    for arch, name in SHIPPED:
        entry = manifest.load(shipped_dir() / arch)["files"][name]
        assert hashlib.sha256(models[f"{arch}/{name}"]).hexdigest() == entry["sha256"]
    assert {"fmnistedge/export/pipeline.py", "fmnistedge/runtime/backends.py"} <= names
    model_bytes = sum(len(b) for b in models.values())
    print(f"shipped model bytes in the wheel: {model_bytes}; wheel file: {wheel.stat().st_size} bytes")
    assert 0 < model_bytes <= WHEEL_BUDGET and wheel.stat().st_size <= WHEEL_BUDGET


@pytest.mark.parametrize("arch, name", SHIPPED)
def test_every_shipped_file_carries_an_intact_seal(arch, name):
    """A shipped file copied on its own (no manifest beside it) is still checked: its embedded
    seal holds the sha256 of its content (runtime.modelmeta)."""
    from fmnistedge.runtime.modelmeta import check_seal

    assert check_seal(shipped_dir() / arch / name) is True

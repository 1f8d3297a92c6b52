"""train --distribute: option checks (fast) and real runs under MirroredStrategy on logical
CPU devices (ci: each run is a subprocess, since devices are fixed when TensorFlow starts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fmnistedge.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args, message", [
    (["--distribute", "multiworker"], "keras-team/keras#20585"),
    (["--distribute", "ring"], "Unknown --distribute"),
    (["--cpu-replicas", "2"], "go with --distribute"),
    (["--scale-batch"], "go with --distribute"),
])
def test_distribute_options_are_checked_before_training(tmp_path, args, message):
    result = runner.invoke(app, ["train", "tiny", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "tiny").exists()


def test_cpu_replicas_is_bounded(tmp_path):
    result = runner.invoke(app, ["train", "tiny", "--out", str(tmp_path), "--distribute", "mirrored",
                                 "--cpu-replicas", "1000"])
    assert result.exit_code == 2


def _train(out: Path, *extra: str, timeout: int = 600) -> dict:
    cmd = [sys.executable, "-m", "fmnistedge", "train", "tiny", "--limit", "4000", "--epochs", "3", "--seed", "0",
           "--out", str(out), *extra]
    subprocess.run(cmd, check=True, timeout=timeout, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads((out / "tiny" / "train.json").read_text())


@pytest.mark.slow
@pytest.mark.ci
def test_mirrored_on_two_cpu_replicas_matches_one_device(tmp_path, real_data):
    """The same seed and recipe on one device and on two replicas: the same global batch and
    learning rate, recorded, and test accuracies within 3 points (short runs of the tiny model)."""
    one = _train(tmp_path / "one")
    two = _train(tmp_path / "two", "--distribute", "mirrored", "--cpu-replicas", "2")
    assert one["distribute"] is None
    d = two["distribute"]
    assert d["strategy"] == "mirrored" and d["replicas"] == 2 and d["global_batch"] == one["recipe"]["batch_size"]
    assert d["per_replica_batch"] * 2 == d["global_batch"] and d["learning_rate"] == one["recipe"]["learning_rate"]
    assert abs(one["test_accuracy"] - two["test_accuracy"]) <= 0.03
    scaled = _train(tmp_path / "scaled", "--distribute", "mirrored", "--cpu-replicas", "2", "--scale-batch")
    s = scaled["distribute"]
    assert s["global_batch"] == 2 * d["global_batch"] and s["learning_rate"] == pytest.approx(2 * d["learning_rate"])


@pytest.mark.slow
@pytest.mark.ci
def test_a_killed_mirrored_run_resumes_from_its_last_epoch(tmp_path, real_data):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fmnistedge", "train", "tiny", "--limit", "4000", "--epochs", "6", "--seed", "0",
           "--out", str(out), "--distribute", "mirrored", "--cpu-replicas", "2"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "tiny" / ".train-backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if marker.is_file() and json.loads(marker.read_text() or "{}").get("epoch", 0) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = json.loads(marker.read_text())["epoch"]
    kept = json.loads((marker.parent / "epochs.json").read_text())  # the killed attempt's epochs
    assert not (out / "tiny" / "train.json").exists()
    subprocess.run(cmd, check=True, timeout=600, env=env, capture_output=True)
    rec = json.loads((out / "tiny" / "train.json").read_text())
    assert rec["resumed_at"] == [done]  # only the missing epochs ran again ...
    assert len(rec["seconds_per_epoch"]) == 6 and len(rec["history"]["loss"]) == 6  # ... and all six are recorded
    assert rec["history"]["loss"][:done] == kept["history"]["loss"][:done]
    assert not marker.exists()  # the checkpoint is removed once the run completes

"""Shared fixtures: tiny synthetic IDX datasets the tests write themselves; and the
time each test tier took, printed at the end of every run (issue 21: the fast tier
stays within two minutes, and CI's own output says whether it does)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytest_plugins = ["pytester"]  # for the test of the tier summary below

from fmnistedge.training import data  # noqa: E402


def clip_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video file as OpenCV decodes it (BGR)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def idx_bytes(arr: np.ndarray) -> bytes:
    magic = data.IMAGES_MAGIC if arr.ndim == 3 else data.LABELS_MAGIC
    header = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_dataset(directory: Path, n_train: int = 200, n_test: int = 50, gz: bool = True,
                  seed: int = 0, learnable: bool = False) -> Path:
    """Write the four IDX files with balanced labels: random images or, ``learnable``, a
    bright bar whose row is the class on dim noise (a tiny model learns it in an epoch)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        spec = data.SPLITS[split]
        labels = (np.arange(n) % 10).astype(np.uint8)
        if learnable:
            images = rng.integers(0, 64, size=(n, 28, 28), dtype=np.uint8)
            for image, label in zip(images, labels):
                image[2 + 2 * label: 4 + 2 * label, 4:24] = 255
        else:
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        for stem, arr in ((spec.images, images), (spec.labels, labels)):
            raw = idx_bytes(arr)
            if gz:
                (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
            else:
                (directory / stem).write_bytes(raw)
    return directory


@pytest.fixture
def synthetic_data(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "fmnist")


@pytest.fixture(scope="session")
def real_data() -> data.DatasetLocation:
    """The real dataset; CI installs it, so there it must be found rather than skipped."""
    try:
        return data.find_dataset(download=False)
    except data.DatasetError:
        if os.environ.get("CI"):
            raise
        pytest.skip("real Fashion-MNIST not installed (apt install dataset-fashion-mnist)")


TINY_TRAINING = {"epochs": 3, "limit": 2000, "seed": 7}


@pytest.fixture(scope="session")
def tiny_training(real_data, tmp_path_factory) -> tuple[Path, dict]:
    """The tiny test architecture trained for a few epochs on a slice of the real data, once
    per session: (the output folder holding tiny/, the record train_arch returned). Tests
    copy tiny/ before they change anything in it."""
    from fmnistedge.training.train import TrainOptions, train_arch

    out = tmp_path_factory.mktemp("art")
    rec = train_arch("tiny", TrainOptions(**TINY_TRAINING, out=out))
    return out, rec


@pytest.fixture(scope="session")
def trained_tiny(tiny_training) -> Path:
    return tiny_training[0]


@pytest.fixture(scope="session")
def trained_lenet5(tmp_path_factory) -> tuple[Path, dict, Path]:
    """LeNet-5, whose RBF output is a custom Keras layer, trained for one epoch on learnable
    synthetic data: (arch dir, training record, data dir)."""
    from fmnistedge.training.train import TrainOptions, train_arch

    base = tmp_path_factory.mktemp("lenet5")
    data_dir = write_dataset(base / "data", n_train=500, n_test=200, learnable=True)
    rec = train_arch("lenet5", TrainOptions(epochs=1, out=base / "art", data_dir=data_dir))
    return base / "art" / "lenet5", rec, data_dir


@pytest.fixture(scope="session")
def exported_tiny(trained_tiny, tmp_path_factory) -> tuple[Path, dict]:
    """``trained_tiny`` exported in every format: (arch dir, manifest)."""
    import shutil

    from fmnistedge.formats import FORMATS
    from fmnistedge.export.pipeline import export_arch

    out = tmp_path_factory.mktemp("exp")
    shutil.copytree(trained_tiny / "tiny", out / "tiny")
    doc = export_arch(out / "tiny", list(FORMATS.values()))
    return out / "tiny", doc


# --- Tier times -------------------------------------------------------------------------

TIERS = {  # tier -> the line's label; a test marked both slow and ci is in the ci slice
    "fast": "fast tier (not slow, not ci)",
    "ci": "ci slice (ci)",
    "slow": "slow tier (slow, not ci)",
}
_TIER_OF = pytest.StashKey[dict]()


def tier_of(item: pytest.Item) -> str:
    if item.get_closest_marker("ci"):
        return "ci"
    return "slow" if item.get_closest_marker("slow") else "fast"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash.setdefault(_TIER_OF, {}).update({item.nodeid: tier_of(item) for item in items})


def tier_lines(tier_of_test: dict[str, str], reports) -> list[str]:
    """One line per tier that ran: its tests and the sum of their setup, call and teardown
    times (a session fixture's setup counts for the first test that uses it)."""
    seconds: dict[str, float] = {}
    for rep in reports:
        if isinstance(rep, pytest.TestReport) and rep.nodeid in tier_of_test:
            seconds[rep.nodeid] = seconds.get(rep.nodeid, 0.0) + rep.duration
    lines = []
    for tier, label in TIERS.items():
        ran = [s for nodeid, s in seconds.items() if tier_of_test[nodeid] == tier]
        if ran:
            lines.append(f"{label}: {len(ran)} test{'s' * (len(ran) != 1)}, {sum(ran):.1f} s")
    return lines


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    reports = [rep for reps in terminalreporter.stats.values() for rep in reps]
    for line in tier_lines(config.stash.get(_TIER_OF, {}), reports):
        terminalreporter.write_line(line)

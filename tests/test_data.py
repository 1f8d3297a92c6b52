"""Dataset lookup and IDX validation on synthetic files (including broken ones)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from fmnistedge.errors import DatasetError
from fmnistedge.training import data
from tests.conftest import idx_bytes, write_dataset


def test_loads_gz_and_raw_files(tmp_path):
    for gz in (True, False):
        d = write_dataset(tmp_path / f"gz{gz}", n_train=30, n_test=20, gz=gz)
        x, y = data.load_split("train", d)
        assert x.shape == (30, 28, 28) and x.dtype == np.uint8
        assert y.shape == (30,) and set(y.tolist()) == set(range(10))
        xt, _ = data.load_split("test", d)
        assert xt.shape == (20, 28, 28)


def test_explicit_dir_wins_and_env_var_is_next(tmp_path, monkeypatch):
    a = write_dataset(tmp_path / "a", n_train=30)
    b = write_dataset(tmp_path / "b", n_train=40)
    monkeypatch.setenv(data.ENV_VAR, str(b))
    assert data.find_dataset(a).source == "argument"
    loc = data.find_dataset()
    assert (loc.directory, loc.source) == (b, "environment")


def test_missing_dataset_lists_places_and_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError) as err:
        data.find_dataset(tmp_path / "nowhere")
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and "apt install dataset-fashion-mnist" in msg


def _corrupt(directory: Path, stem: str, raw: bytes, gz: bool = True) -> Path:
    path = directory / (stem + ".gz")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("bad_magic", "magic"),
        ("truncated_data", "Truncated"),
        ("truncated_gzip", "Corrupt or truncated"),
        ("not_gzip", "Corrupt or truncated"),
        ("label_out_of_range", "out of range"),
        ("count_mismatch", "labels"),
        ("wrong_shape", "image shape"),
        ("empty", "no IDX header"),
    ],
)
def test_broken_files_are_named_in_the_error(tmp_path, case, expected):
    d = write_dataset(tmp_path / "d", n_train=30)
    spec = data.SPLITS["train"]
    good_images = idx_bytes(np.zeros((30, 28, 28), np.uint8))
    target = spec.images
    if case == "bad_magic":
        raw = b"\x00\x00\x08\x01" + good_images[4:]
        path = _corrupt(d, target, raw)
    elif case == "truncated_data":
        path = _corrupt(d, target, good_images[:-100])
    elif case == "truncated_gzip":
        path = d / (target + ".gz")
        noisy = idx_bytes(np.random.default_rng(0).integers(0, 256, (30, 28, 28), np.uint8))
        path.write_bytes(gzip.compress(noisy)[:5000])
    elif case == "not_gzip":
        path = d / (target + ".gz")
        path.write_bytes(b"this is not gzip data at all")
    elif case == "label_out_of_range":
        target = spec.labels
        path = _corrupt(d, target, idx_bytes(np.full(30, 12, np.uint8)))
    elif case == "count_mismatch":
        target = spec.labels
        path = _corrupt(d, target, idx_bytes(np.zeros(29, np.uint8)))
    elif case == "wrong_shape":
        path = _corrupt(d, target, idx_bytes(np.zeros((30, 32, 32), np.uint8)))
    else:
        path = _corrupt(d, target, b"")
    with pytest.raises(DatasetError) as err:
        data.load_split("train", d)
    assert expected in str(err.value)
    assert path.name in str(err.value)


def test_verify_checks_official_counts(tmp_path):
    d = write_dataset(tmp_path / "d", n_train=30)
    with pytest.raises(DatasetError, match="expected 60000"):
        data.verify_dataset(d)


def test_validation_split_is_stratified_disjoint_and_from_train():
    labels = np.repeat(np.arange(10), 50).astype(np.uint8)
    images = np.arange(500 * 28 * 28, dtype=np.uint32).reshape(500, 28, 28).astype(np.uint8)
    images[:, 0, 0] = np.arange(500) % 256
    x_tr, y_tr, x_val, y_val = data.train_val_split(images, labels, 0.1, seed=3)
    assert len(y_val) == 50 and len(y_tr) == 450
    assert np.bincount(y_val, minlength=10).tolist() == [5] * 10
    again = data.train_val_split(images, labels, 0.1, seed=3)
    assert np.array_equal(again[3], y_val) and np.array_equal(again[2], x_val)


def test_stratified_sample_balances_classes():
    labels = np.repeat(np.arange(10), [100, 5, 100, 100, 100, 100, 100, 100, 100, 100])
    idx = data.stratified_sample(labels, 95, seed=1)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(set(idx.tolist())) == 95
    assert counts[1] == 5 and counts.max() - counts[counts != 5].min() <= 1


def test_real_dataset_verifies(real_data):
    location, checks = data.verify_dataset(real_data.directory)
    assert [c.items for c in checks] == [60000, 60000, 10000, 10000]
    assert all(c.matches_reference for c in checks)


def test_header_shorter_than_its_dimensions_is_named(tmp_path):
    d = write_dataset(tmp_path / "d", n_train=30)
    path = d / (data.SPLITS["train"].images + ".gz")
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00\x00\x1e\x00\x00"))
    with pytest.raises(DatasetError, match="header needs 16"):
        data.load_split("train", d)

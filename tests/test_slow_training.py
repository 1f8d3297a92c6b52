"""Real training on the full training set (marked slow).

CI runs the tests also marked ``ci`` (about a minute on 2 cores); the rest run
with ``pytest -m slow``.
"""

from __future__ import annotations

import pytest

from fmnistedge.train import TrainOptions, train_arch


@pytest.mark.slow
@pytest.mark.ci
def test_one_epoch_of_cnn_basic_on_all_data(tmp_path, real_data):
    rec = train_arch("cnn-basic", TrainOptions(epochs=1, out=tmp_path))
    assert rec["train_items"] == 54_000 and rec["test_items"] == 10_000
    assert rec["test_accuracy"] >= 0.85  # the source reaches 90.3% after 8 epochs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn1", "lenet5-relu", "cnn-standard"])
def test_source_epochs_reach_the_source_within_1_5_points(tmp_path, real_data, name):
    rec = train_arch(name, TrainOptions(out=tmp_path))
    assert 100 * rec["test_accuracy"] >= rec["reported_accuracy"] - 1.5

"""Flip averaging (fmnistedge.training.mirror, ``train --flip-average``): the saved model answers
with the mean over the image and its mirror image, in one flat graph with the plain weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnistedge.training.train import TrainOptions, train_arch


def _images(n: int = 6) -> np.ndarray:
    return np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)


def _run(model, x: np.ndarray) -> np.ndarray:
    """The model's output, eagerly (predict() would compile a function per model: seconds each)."""
    return np.asarray(model(x, training=False))


@pytest.mark.parametrize("arch", ["edge-r", "lenet5"])  # a functional graph and a Sequential one with a custom layer
def test_flip_average_is_the_mean_over_the_mirror_image_with_the_same_weights(arch, tmp_path):
    import keras

    from fmnistedge.training import mirror, zoo
    from fmnistedge.training.zoo.stats import count_macs

    plain = zoo.build(arch)
    both = mirror.flip_average(plain)
    x = _images()
    expected = (_run(plain, x) + _run(plain, x[:, :, ::-1])) / 2
    assert np.abs(_run(both, x) - expected).max() < 1e-6
    assert not np.allclose(_run(plain, x), expected)  # the mirror image does change the answer
    assert both.name == plain.name and both.count_params() == plain.count_params()
    assert [w.shape for w in both.get_weights()] == [w.shape for w in plain.get_weights()]
    # the same order too: a fine-tune (--init-from a flip-averaged model.keras) copies them into a plain model
    fresh = zoo.build(arch)
    assert not np.allclose(_run(fresh, x), _run(plain, x))  # other random weights
    fresh.set_weights(both.get_weights())
    assert np.abs(_run(fresh, x) - _run(plain, x)).max() < 1e-6
    assert count_macs(both) == 2 * count_macs(plain)
    assert mirror.flip_average(both) is both and mirror.is_flip_averaged(both) and not mirror.is_flip_averaged(plain)
    # the features report embeds are the plain network's, on the image itself
    feats = _run(keras.Model(both.inputs, mirror.penultimate(both)), x)
    assert np.allclose(feats, _run(keras.Model(plain.inputs, mirror.penultimate(plain)), x), atol=1e-6)
    both.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    assert np.abs(_run(again, x) - expected).max() < 1e-6


def test_train_flip_average_saves_and_records_the_averaging_model(tmp_path, synthetic_data):
    import keras

    rec = train_arch("tiny", TrainOptions(epochs=1, seed=1, out=tmp_path, data_dir=synthetic_data, flip_average=True))
    plain = train_arch("tiny", TrainOptions(epochs=1, seed=1, out=tmp_path / "p", data_dir=synthetic_data))
    assert rec["flip_average"] is True and plain["flip_average"] is False
    assert rec["macs"] == 2 * plain["macs"] and rec["params"] == plain["params"]
    assert rec["history"] == plain["history"]  # the same training; only the saved model differs
    on_disk = json.loads((tmp_path / "tiny" / "train.json").read_text())
    assert on_disk["flip_average"] is True
    model = keras.models.load_model(tmp_path / "tiny" / "model.keras", safe_mode=True, compile=False)
    assert any(layer.name == "flip_average" for layer in model.layers)
    # A fine-tune from it records that its start answered with the mirror average
    for start, flipped in ((tmp_path / "tiny", True), (tmp_path / "p" / "tiny", False)):
        tuned = train_arch("tiny", TrainOptions(epochs=1, seed=1, out=tmp_path / f"t{flipped}", data_dir=synthetic_data,
                                                init_from=start / "model.keras"))
        assert tuned["init_from"]["flip_averaged"] is flipped and tuned["flip_average"] is False


def test_train_help_offers_flip_average():
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "--flip-average" in result.output

"""Every registered architecture builds and outputs probabilities (parametrized over the registry)."""

from __future__ import annotations

import numpy as np
import pytest

from fmnistedge.errors import UsageError
from fmnistedge.training import zoo


@pytest.mark.parametrize("name", zoo.names(include_test=True))
def test_builds_and_outputs_probabilities(name):
    model = zoo.build(name)
    assert model.name == name
    side = 56 if zoo.get(name).grows_from else 28  # labels.INPUT_SIZES: edge-r56 takes 56 px photo renders
    assert tuple(model.input_shape) == (None, side, side, 1)
    x = np.random.default_rng(0).random((4, side, side, 1), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (4, 10)
    assert not np.isnan(probs).any()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Auto-generated names change between builds (conv2d, conv2d_1, ...); explicit ones don't.
    again = [layer.name for layer in zoo.build(name).layers]
    assert again == [layer.name for layer in model.layers], "every layer needs an explicit name"


@pytest.mark.parametrize("name", [n for n in zoo.names() if zoo.is_source(n)])
def test_source_architectures_record_their_source(name):
    spec = zoo.get(name)
    assert spec.source and spec.reported_accuracy and spec.reported_epochs
    assert spec.recipe.epochs == spec.reported_epochs
    assert spec.builder_fn().__doc__, "every builder documents its reading of the source"


def test_parameter_counts_match_the_sources():
    # The write-ups give these counts; a different count means a different network.
    assert zoo.build("cnn-basic").count_params() == 54_410
    assert zoo.build("cnn-standard").count_params() == 121_930
    assert 0.85e6 < zoo.build("cnn-final").count_params() < 0.95e6


def test_macs_of_a_known_network():
    from fmnistedge.training.zoo.stats import count_macs

    # conv1: 26*26*3*3*1*32 = 194,688; probs: 5408*10 = 54,080
    assert count_macs(zoo.build("cnn-basic")) == 194_688 + 54_080


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UsageError, match="cnn-final"):
        zoo.get("cnn-finl")
    with pytest.raises(UsageError, match="fmnistedge archs"):
        zoo.build("resnet-9000")


def test_rbf_layer_is_negative_squared_distance():
    from fmnistedge.training.zoo.layers import RBF

    layer = RBF(10)
    x = np.random.default_rng(1).standard_normal((3, 84)).astype("float32")
    out = np.asarray(layer(x))
    codes = np.asarray(layer.codes)
    expected = -((x[:, :, None] - codes[None]) ** 2).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    assert set(np.unique(codes).tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("name, budget", [("edge-s", 100_000), ("edge-r", 100_000), ("edge-m", 500_000)])
def test_edge_models_fit_their_parameter_budgets(name, budget):
    assert zoo.build(name).count_params() <= budget


def test_augmentation_keeps_shape_and_erases_some_images():
    import tensorflow as tf

    from fmnistedge.training.augment import make_augmenter, random_erase

    x = tf.ones((64, 28, 28, 1))
    erased = random_erase(x, seed=3).numpy()
    zeros_per_image = (erased == 0).reshape(64, -1).sum(axis=1)
    assert 10 < (zeros_per_image > 0).sum() < 54  # about half the images, p=0.5
    assert zeros_per_image.max() <= 0.25 * 784 + 60  # area bound (rounding of the sides)
    out = make_augmenter("crop-flip-erase", 0)(x)
    assert tuple(out.shape) == (64, 28, 28, 1)


def test_photo_augmentation_flattens_and_blurs_some_images_within_range(real_data):
    import numpy as np

    from fmnistedge.training import data
    from fmnistedge.training.augment import make_augmenter, photo_domain

    x, _ = data.load_split("test")
    batch = (x[:256] / 255.0).astype("float32")[..., None]
    out = photo_domain(batch, seed=0).numpy()
    assert out.shape == batch.shape and out.min() >= 0.0 and out.max() <= 1.0
    changed = np.abs(out - batch).reshape(256, -1).max(axis=1) > 0.05
    assert 0.5 < changed.mean() < 1.0  # most images get some transform, not necessarily all
    # Background stays black away from the garment (residue only along the mask edge;
    # the garment may be shifted by up to 2 px and zoomed, hence a 5-px neighbourhood).
    padded = np.pad(batch[..., 0] > 0, ((0, 0), (5, 5), (5, 5)))
    near = np.lib.stride_tricks.sliding_window_view(padded, (11, 11), axis=(1, 2)).any(axis=(3, 4))
    assert out[..., 0][~near].max() < 0.05
    full = make_augmenter("photo", 0)(batch)
    assert tuple(full.shape) == batch.shape


def test_shoe_pairs_touch_only_shoes_and_refit_the_pair(real_data):
    import numpy as np

    from fmnistedge.training import data
    from fmnistedge.training.augment import SHOE_CLASSES, make_augmenter, shoe_pairs

    x, y = data.load_split("test")
    batch = (x[:400] / 255.0).astype("float32")[..., None]
    out = shoe_pairs(batch, y[:400], seed=0).numpy()
    assert out.shape == batch.shape and out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    shoe = np.isin(y[:400], SHOE_CLASSES)
    changed = np.abs(out - batch).reshape(400, -1).max(axis=1) > 1e-6
    assert not changed[~shoe].any()  # garments other than shoes are untouched
    assert 0.3 < changed[shoe].mean() < 0.7  # PAIR_P = 0.5 of the shoes
    # A pair is refitted like a render: its longest side spans (nearly) the whole frame.
    on = out[changed, ..., 0] > 0.04
    extent = np.maximum(on.any(axis=1).sum(axis=1), on.any(axis=2).sum(axis=1))
    assert np.median(extent) >= 26
    full = make_augmenter("pairs", 0)(batch, y[:400])
    assert tuple(full.shape) == batch.shape


def test_photo_pairs_adds_shoe_pairs_to_the_photo_transforms(real_data):
    """Same seeds, same batch: labelling the shoes as shoes changes about PAIR_P of them, nothing else."""
    import keras
    import numpy as np

    from fmnistedge.training import data
    from fmnistedge.training.augment import SHOE_CLASSES, make_augmenter

    x, y = data.load_split("test")
    batch = (x[:400] / 255.0).astype("float32")[..., None]
    runs = []
    for classes in (y[:400], np.zeros(400, dtype=y.dtype)):  # true labels; every item a T-shirt
        keras.utils.set_random_seed(3)
        runs.append(make_augmenter("photo-pairs", 0)(batch, classes).numpy())
    with_pairs, without = runs
    assert with_pairs.shape == batch.shape and with_pairs.min() >= 0.0 and with_pairs.max() <= 1.0
    shoe = np.isin(y[:400], SHOE_CLASSES)
    differs = np.abs(with_pairs - without).reshape(400, -1).max(axis=1) > 1e-5
    assert not differs[~shoe].any()
    assert 0.3 < differs[shoe].mean() < 0.7
    assert (np.abs(without - batch).reshape(400, -1).max(axis=1) > 0.05).mean() > 0.5  # photo transforms ran


@pytest.mark.parametrize("kind", ["pairs", "photo-pairs"])
def test_every_random_draw_of_an_augmentation_has_a_seed_of_its_own(kind, monkeypatch):
    """Two draws of one shape with one seed are the same numbers (in photo-pairs, the pair coin
    was the blur coin): no seed may serve two draws of one augmentation step."""
    import numpy as np
    import tensorflow as tf

    from fmnistedge.training.augment import make_augmenter

    seeds = []
    for name in ("uniform", "normal"):
        real = getattr(tf.random, name)

        def spy(*args, _real=real, **kwargs):
            seeds.append(kwargs.get("seed"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(tf.random, name, spy)
    batch = np.zeros((4, 28, 28, 1), np.float32)
    batch[:, 8:20, 6:22] = 0.7
    make_augmenter(kind, 0)(tf.constant(batch), tf.constant([5, 7, 9, 0]))
    assert seeds and None not in seeds
    assert len(seeds) == len(set(seeds)), sorted(s for s in seeds if seeds.count(s) > 1)


@pytest.mark.ci
def test_edge_r56_grows_from_the_shipped_edge_r(tmp_path):
    """--init-from edge-r for edge-r56: the shipped photo model, rebuilt from its fp32 ONNX file and
    grafted, answers on enlarged images as the file's network does on the originals."""
    from fmnistedge.runtime.preprocess import enlarge, to_model_input
    from fmnistedge.training import data, warmstart
    from fmnistedge.training.phototrain import add_none_output
    from fmnistedge.training.run import init_source
    from fmnistedge.training.train import TrainOptions, _init_weights

    onnx_path = init_source("edge-r")
    model = add_none_output(zoo.build("edge-r56"))
    record = _init_weights(model, onnx_path, TrainOptions(seed=0))
    assert record["grafted_from"] == "edge-r" and record["flip_averaged"]
    x, y = data.load_split("test")
    x = x[:300]
    src, _, _ = warmstart.keras_from_onnx("edge-r", onnx_path, to_model_input(x))
    ours = model.predict(to_model_input(enlarge(x, 56)), verbose=0)
    np.testing.assert_allclose(ours, src.predict(to_model_input(x), verbose=0), atol=1e-5)
    assert (ours.argmax(1) == y[:300]).mean() > 0.85
    with pytest.raises(UsageError, match="not an fp32 ONNX export of 'edge-s'"):
        _init_weights(zoo.build("edge-s"), onnx_path, TrainOptions(seed=0))

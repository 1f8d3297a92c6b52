"""A few-step training run on a small slice of the real data, and its records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnistedge.training.train import TrainOptions, train_arch
from tests.conftest import TINY_TRAINING

REQUIRED = {
    "arch", "epochs_run", "history", "test_accuracy", "per_class_accuracy", "confusion_matrix",
    "params", "macs", "seconds_per_epoch", "seed", "environment", "schema_version",
}


@pytest.fixture
def tiny_run(tiny_training):
    """The session's tiny run (TINY_TRAINING: 3 epochs, limit 2000, seed 7), which the exported
    tiny model of the other tests comes from as well."""
    return tiny_training


def test_writes_model_and_train_json(tiny_run):
    out, rec = tiny_run
    on_disk = json.loads((out / "tiny" / "train.json").read_text())
    assert REQUIRED <= set(on_disk)
    assert on_disk["test_accuracy"] == rec["test_accuracy"]
    assert on_disk["epochs_run"] == 3 and len(on_disk["history"]["val_accuracy"]) == 3
    cm = np.array(on_disk["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000  # always the full test set
    assert np.isclose(np.trace(cm) / cm.sum(), on_disk["test_accuracy"])
    assert on_disk["train_items"] == 1800 and on_disk["val_items"] == 200
    assert on_disk["environment"]["packages"]["tensorflow"]
    assert not list((out / "tiny").glob(".*partial*")), "no temporary files left behind"
    assert not (out / "tiny" / ".train-backup").exists(), "epoch checkpoints removed after a finished run"


def test_trained_model_learned_something_and_reloads_safely(tiny_run):
    import keras
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data

    out, rec = tiny_run
    assert rec["test_accuracy"] > 0.4  # chance is 0.1
    model = keras.models.load_model(out / "tiny" / "model.keras", safe_mode=True)
    x, y = data.load_split("test")
    acc = (model.predict(to_model_input(x), verbose=0, batch_size=1000).argmax(1) == y).mean()
    assert acc == pytest.approx(rec["test_accuracy"], abs=1e-9)


def test_same_seed_same_model(tiny_run, tmp_path):
    _, rec = tiny_run
    again = train_arch("tiny", TrainOptions(**TINY_TRAINING, out=tmp_path))
    assert again["history"]["loss"] == rec["history"]["loss"]
    assert again["confusion_matrix"] == rec["confusion_matrix"]


def test_lenet_rbf_model_trains_and_reloads(trained_lenet5):
    import keras

    arch_dir, rec, _ = trained_lenet5
    assert rec["test_accuracy"] > 0.5  # chance is 0.1 on the synthetic classes
    model = keras.models.load_model(arch_dir / "model.keras", safe_mode=True)
    assert model.get_layer("rbf").__class__.__name__ == "RBF"


def test_augment_override_is_used_and_recorded(tmp_path, synthetic_data):
    rec = train_arch("tiny", TrainOptions(epochs=1, seed=1, out=tmp_path, augment="photo", data_dir=synthetic_data))
    assert rec["recipe"]["augment"] == "photo"
    on_disk = json.loads((tmp_path / "tiny" / "train.json").read_text())
    assert on_disk["recipe"]["augment"] == "photo"


def test_unknown_augmentation_is_a_usage_error():
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    result = CliRunner().invoke(app, ["train", "tiny", "--augment", "sepia"])
    assert result.exit_code == 2 and "Unknown augmentation 'sepia'" in result.output


@pytest.mark.ci  # two more trainings whose accuracies are compared: real training on the real data
def test_init_from_fine_tunes_and_records_its_start(tiny_run, tmp_path):
    from fmnistedge.runtime.modelmeta import sha256_file

    out, rec = tiny_run
    start = out / "tiny" / "model.keras"
    tuned = train_arch("tiny", TrainOptions(epochs=1, limit=2000, seed=7, out=tmp_path, init_from=start,
                                            learning_rate=1e-4, augment="pairs"))
    assert tuned["init_from"]["sha256"] == sha256_file(start)
    assert tuned["init_from"]["test_accuracy"] == rec["test_accuracy"]
    assert tuned["recipe"]["learning_rate"] == 1e-4 and tuned["recipe"]["augment"] == "pairs"
    # Starting from trained weights, one epoch at a small rate keeps (most of) what was learned;
    # from random weights the same epoch reaches far less.
    assert tuned["test_accuracy"] > rec["test_accuracy"] - 0.05
    scratch = train_arch("tiny", TrainOptions(epochs=1, limit=2000, seed=7, out=tmp_path / "s", learning_rate=1e-4))
    assert tuned["test_accuracy"] > scratch["test_accuracy"] + 0.05


def test_init_from_refuses_another_arch_and_its_own_output(tiny_run, tmp_path):
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    out, _ = tiny_run
    start = out / "tiny" / "model.keras"
    result = CliRunner().invoke(app, ["train", "lenet5", "--init-from", str(start), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a 'tiny' model, not 'lenet5'" in result.output
    result = CliRunner().invoke(app, ["train", "tiny", "--init-from", str(start), "--out", str(out)])
    assert result.exit_code == 2 and "would be overwritten" in result.output


@pytest.mark.parametrize("flags, message", [
    (["--seed", "8", "--limit", "2000"], "was trained with --seed 7"),
    (["--seed", "7"], "was trained with --limit 2000"),
])
def test_init_from_refuses_another_validation_split(tiny_run, tmp_path, flags, message):
    """Another seed or limit draws another validation split, holding images the start trained on."""
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    out, _ = tiny_run
    start = out / "tiny" / "model.keras"
    result = CliRunner().invoke(app, ["train", "tiny", "--init-from", str(start), "--epochs", "1",
                                      "--out", str(tmp_path), *flags])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "tiny").exists()


def test_a_resumed_run_takes_the_epochs_its_checkpoint_restores(tmp_path):
    """The epoch log of an interrupted attempt is cut to the epochs Keras' checkpoint
    restores (it may be written one epoch ahead of it); an attempt that kept no log (an
    older fmnistedge) leaves the history to the resumed epochs; no checkpoint, no resume."""
    from fmnistedge.training.train import EPOCH_LOG, _earlier_epochs

    assert _earlier_epochs(tmp_path) == {"history": {}, "seconds_per_epoch": [], "resumed_at": []}
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    (tmp_path / EPOCH_LOG).write_text(json.dumps({"history": {"loss": [3.0, 2.0, 1.0]},
                                                  "seconds_per_epoch": [5.0, 6.0, 7.0], "resumed_at": [1]}))
    assert _earlier_epochs(tmp_path) == {"history": {"loss": [3.0, 2.0]}, "seconds_per_epoch": [5.0, 6.0],
                                         "resumed_at": [1, 2]}
    (tmp_path / EPOCH_LOG).unlink()
    assert _earlier_epochs(tmp_path) == {"history": {}, "seconds_per_epoch": [], "resumed_at": [2]}
    (tmp_path / EPOCH_LOG).write_text("{not json")
    assert _earlier_epochs(tmp_path) == {"history": {}, "seconds_per_epoch": [], "resumed_at": [2]}


def test_a_resume_with_other_settings_is_refused_and_histories_merge_by_key(tmp_path):
    from fmnistedge.errors import UsageError
    from fmnistedge.training.train import EPOCH_LOG, _earlier_epochs, _merge_history

    settings = {"recipe": {"epochs": 5}, "seed": 0}
    (tmp_path / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))
    (tmp_path / EPOCH_LOG).write_text(json.dumps({"settings": settings, "history": {"loss": [2.0]},
                                                  "seconds_per_epoch": [4.0], "resumed_at": []}))
    assert _earlier_epochs(tmp_path, settings)["resumed_at"] == [1]
    with pytest.raises(UsageError, match=r"other settings \(recipe\).*delete that folder"):
        _earlier_epochs(tmp_path, {"recipe": {"epochs": 2}, "seed": 0})
    assert _merge_history({"loss": [2.0], "old": [1.0]}, {"loss": [1.5], "new": [0.5]}) == {
        "loss": [2.0, 1.5], "old": [1.0], "new": [0.5]}


def test_an_interrupted_run_resumes_and_records_every_epoch(tmp_path, synthetic_data):
    """Stopped after its 2nd epoch (a KeyboardInterrupt after the checkpoint), the same run
    resumes there and train.json holds all four epochs; other settings are refused."""
    import keras

    from fmnistedge.errors import UsageError

    class StopAfterTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    options = TrainOptions(epochs=4, seed=1, out=tmp_path, data_dir=synthetic_data)
    with pytest.raises(KeyboardInterrupt):
        train_arch("tiny", options, callbacks=[StopAfterTwo()])
    assert (tmp_path / "tiny" / ".train-backup" / "epochs.json").is_file()
    with pytest.raises(UsageError, match="other settings"):
        train_arch("tiny", TrainOptions(epochs=5, seed=1, out=tmp_path, data_dir=synthetic_data))
    rec = train_arch("tiny", options)
    assert rec["resumed_at"] == [2] and rec["epochs_run"] == 4 and len(rec["seconds_per_epoch"]) == 4
    assert all(len(v) == 4 for v in rec["history"].values())
    assert not (tmp_path / "tiny" / ".train-backup").exists()

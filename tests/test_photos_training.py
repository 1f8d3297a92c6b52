"""Photo-domain training: the photo folder, the grouped split, the render cache, the
set-valued loss and the "none of these" decision (fast tier builds its own tiny folder)."""

from __future__ import annotations

import csv
import json
import shutil
import types
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from fmnistedge.errors import FmnistEdgeError
from fmnistedge.training import photos
from fmnistedge.training.options import TrainOptions

SHARED_TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "realphotos-train"


def _garment_photo(rng, kind: int) -> np.ndarray:
    """A dark garment-like shape on a light, slightly noisy floor (BGR for imwrite)."""
    img = np.clip(rng.normal(200, 6, (120, 100, 3)), 0, 255).astype(np.uint8)
    color = tuple(int(c) for c in rng.integers(20, 90, 3))
    if kind == 1:  # trouser-like: two legs
        cv2.rectangle(img, (30, 15), (47, 105), color, -1)
        cv2.rectangle(img, (53, 15), (70, 105), color, -1)
    elif kind == 5:  # sandal-like: a low wide shape
        cv2.ellipse(img, (50, 70), (35, 12), 0, 0, 360, color, -1)
    else:  # top-like: a body with sleeves
        cv2.rectangle(img, (32, 25), (68, 100), color, -1)
        cv2.rectangle(img, (15, 25), (85, 45), color, -1)
    return img


def make_photo_folder(root: Path, n_senders: int = 8, per_sender: int = 6, seed: int = 0) -> Path:
    """A tiny folder in the layout of realphotos-train: images/ and labels.csv with single
    labels, candidate sets and 'none' rows, several photographers."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    kinds = [("0", ""), ("1", ""), ("5", ""), ("", "0|2"), ("none", "")]
    for s in range(n_senders):
        for i in range(per_sender):
            label, cands = kinds[(s + i) % len(kinds)]
            kind = int(label) if label not in ("", "none") else 0
            name = f"images/s{s}-{i}.jpg"
            cv2.imwrite(str(root / name), _garment_photo(rng, kind))
            rows.append({"path": name, "source_label": "x", "label_index": label, "candidates": cands,
                         "sender_id": str(100 + s), "kids": "False", "note": ""})
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    return make_photo_folder(tmp_path / "realphotos-train")


def test_labels_are_read_with_sets_and_none(photo_folder):
    rows = photos.read_photo_labels(photo_folder)
    assert len(rows) == 48
    assert {r.label for r in rows} == {0, 1, 5, None}
    partial = [r for r in rows if r.candidates]
    assert partial and all(r.candidates == (0, 2) and r.label is None for r in partial)
    none = [r for r in rows if r.is_none]
    assert none and all(not r.target().any() for r in none)
    assert partial[0].target().tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]


def test_an_uncertain_label_is_read_as_its_candidate_set_and_can_be_refined(tmp_path):
    """A label_index with candidates (the data set's hoodies: 2, may be 4 as zip-ups are jackets)
    is trained as the set, not as the label; a refinement decides it like any candidate set."""
    (tmp_path / "labels.csv").write_text(
        "path,source_label,label_index,candidates,sender_id,kids,note\n"
        "images/hoodie.jpg,Hoodie,2,2|4,7,False,\nimages/blouse.jpg,Blouse,6,6|0,7,False,\n"
        "images/tee.jpg,T-Shirt,0,,7,False,\n")
    rows = {r.image_id: r for r in photos.read_photo_labels(tmp_path)}
    assert rows["hoodie"].label is None and rows["hoodie"].candidates == (2, 4)
    assert rows["blouse"].target().tolist() == [1, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert rows["tee"].label == 0
    refine = tmp_path / "r.csv"
    refine.write_text("image_id,label_index,was,how\nhoodie,4,2 (2|4),zips open\n")
    assert {r.image_id: r for r in photos.read_photo_labels(tmp_path, refine)}["hoodie"].label == 4
    refine.write_text("image_id,label_index,was,how\nblouse,3,6 (0|6),x\n")
    with pytest.raises(FmnistEdgeError, match="not one of its candidates 0[|]6"):
        photos.read_photo_labels(tmp_path, refine)


@pytest.mark.parametrize("bad, message", [
    ("../outside.jpg,x,1,,7,False,", "inside"),
    ("images/a.jpg,x,12,,7,False,", "0-9"),
    ("images/a.jpg,x,,2,7,False,", "two or more candidates"),
    ("images/a.jpg,x,,0|x,7,False,", "joined by"),
])
def test_bad_label_rows_are_named_by_line(tmp_path, bad, message):
    (tmp_path / "labels.csv").write_text(
        "path,source_label,label_index,candidates,sender_id,kids,note\nimages/b.jpg,x,1,,7,False,\n" + bad + "\n")
    with pytest.raises(FmnistEdgeError) as err:
        photos.read_photo_labels(tmp_path)
    assert "line 3" in str(err.value) and message in str(err.value)


def test_label_refinements_narrow_a_candidate_set_to_one_class(photo_folder, tmp_path):
    rows = photos.read_photo_labels(photo_folder)
    partial = [r for r in rows if r.candidates]
    csv_path = tmp_path / "refine.csv"
    csv_path.write_text("image_id,label_index,was,how\n"
                        f"{partial[0].image_id},2,0|2,by eye\n{partial[1].image_id},0,0|2,by eye\n")
    refined = {r.image_id: r for r in photos.read_photo_labels(photo_folder, csv_path)}
    assert refined[partial[0].image_id].label == 2 and refined[partial[0].image_id].candidates == ()
    assert refined[partial[1].image_id].label == 0
    assert refined[partial[2].image_id].candidates == (0, 2)  # not refined: still a set
    assert sum(r.label is not None for r in refined.values()) == sum(r.label is not None for r in rows) + 2


@pytest.mark.parametrize("row, message", [
    ("{pid},5,0|2,x", "not one of its candidates"),
    ("{sid},0,,x", "not a candidate-set photo"),  # a row with a single label is not refined
    ("no-such-image,2,0|2,x", "not in"),
    ("{pid},2|0,0|2,x", "one class 0-9"),
    ("{pid},none,0|2,x", "one class 0-9"),
    ("{pid},2,0|2,x\n{pid},0,0|2,x", "once"),
])
def test_bad_label_refinements_are_refused(photo_folder, tmp_path, row, message):
    rows = photos.read_photo_labels(photo_folder)
    pid = next(r.image_id for r in rows if r.candidates)
    sid = next(r.image_id for r in rows if r.label is not None)
    csv_path = tmp_path / "refine.csv"
    csv_path.write_text("image_id,label_index,was,how\n" + row.format(pid=pid, sid=sid) + "\n")
    with pytest.raises(FmnistEdgeError, match=message):
        photos.read_photo_labels(photo_folder, csv_path)


@pytest.mark.parametrize("text", ["", "image_id,label_index\n", "image_id;label_index\nx;2\n", "a\0b"])
def test_a_refinement_file_without_rows_or_columns_is_refused(photo_folder, tmp_path, text):
    csv_path = tmp_path / "refine.csv"
    csv_path.write_text(text)
    with pytest.raises(FmnistEdgeError, match="columns|no rows|readable"):
        photos.read_photo_labels(photo_folder, csv_path)


def test_label_refinements_go_with_photos(tmp_path):
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    refine = tmp_path / "r.csv"
    refine.write_text("image_id,label_index\n")
    result = CliRunner().invoke(app, ["train", "tiny", "--label-refinements", str(refine), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "goes with --photos" in result.output


@pytest.mark.parametrize("fold, message", [
    ("2/5", "goes with --photos"), ("2", "takes K/N"), ("a/b", "takes K/N"), ("-1/3", "takes K/N"),
    ("0/3", "1 <= K <= N"), ("4/3", "1 <= K <= N"), ("1/1", "2 <= N <= 10"), ("1/11", "2 <= N <= 10"),
    ("1/99999999999999999999", "2 <= N <= 10")])
def test_photo_fold_is_bounded_and_goes_with_photos(photo_folder, tmp_path, fold, message):
    from typer.testing import CliRunner

    from fmnistedge.cli import app

    args = ["train", "tiny", "--photo-fold", fold, "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args + ([] if message == "goes with --photos" else ["--photos", str(photo_folder)]))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_fold_run_holds_out_its_fold_and_records_it(photo_folder, tmp_path):
    from fmnistedge.training.train import TrainOptions, _fold_text, _load_photos, _photo_settings

    options = TrainOptions(photos=photo_folder, photo_cache=tmp_path / "cache", photo_fold=(2, 3), seed=1)
    pset = _load_photos(options, 28)
    rows = photos.read_photo_labels(photo_folder)
    assert (pset.val == (photos.grouped_folds(rows, 3, 1) == 1)).all()
    assert _photo_settings(options)["fold"] == "2/3" and _fold_text(None) is None
    assert "fold" not in _photo_settings(replace(options, photo_fold=None))  # earlier checkpoints still resume


@pytest.mark.skipif(not SHARED_TRAIN.is_dir(), reason="needs ../shared/realphotos-train")
def test_the_repository_refinements_apply_to_the_photo_folder():
    """data/label-refinements.csv: every refined photo is in the folder and its class is one of
    its candidates (read_photo_labels refuses anything else)."""
    refine = Path(__file__).resolve().parent.parent / "data" / "label-refinements.csv"
    before = {r.image_id: r for r in photos.read_photo_labels(SHARED_TRAIN)}
    after = photos.read_photo_labels(SHARED_TRAIN, refine)
    changed = [r for r in after if r.label is not None and before[r.image_id].label is None]
    assert len(changed) == len(photos.read_refinements(refine)) > 0
    assert all(r.label in before[r.image_id].candidates for r in changed)


def test_grouped_split_never_puts_a_photographer_on_both_sides(photo_folder):
    rows = photos.read_photo_labels(photo_folder)
    for seed in range(5):
        val = photos.grouped_split(rows, 0.25, seed)
        inside = {r.sender for r, v in zip(rows, val) if v}
        outside = {r.sender for r, v in zip(rows, val) if not v}
        assert inside and outside and not inside & outside
        assert 0.15 <= val.mean() <= 0.45
    assert (photos.grouped_split(rows, 0.25, 3) == photos.grouped_split(rows, 0.25, 3)).all()


def test_grouped_folds_partition_the_photographers(photo_folder):
    """Cross-validation folds (train --photo-fold K/N): every photographer in exactly one fold,
    every fold used, sizes as even as whole photographers allow, and each photo held out by
    exactly one of the N runs."""
    rows = photos.read_photo_labels(photo_folder)
    per_sender: dict[str, int] = {}
    for r in rows:
        per_sender[r.sender] = per_sender.get(r.sender, 0) + 1
    for n in (2, 3):
        folds = photos.grouped_folds(rows, n, 1)
        owners: dict[str, set[int]] = {}
        for r, f in zip(rows, folds):
            owners.setdefault(r.sender, set()).add(int(f))
        assert all(len(v) == 1 for v in owners.values()) and len(owners) == len(per_sender)
        sizes = np.bincount(folds, minlength=n)
        assert sizes.min() > 0 and sizes.max() - sizes.min() <= max(per_sender.values())
        held = np.stack([photos.held_out(rows, 0.2, 1, (k, n)) for k in range(1, n + 1)])
        assert (held.sum(0) == 1).all()
    assert (photos.grouped_folds(rows, 3, 4) == photos.grouped_folds(rows, 3, 4)).all()
    assert (photos.held_out(rows, 0.25, 3) == photos.grouped_split(rows, 0.25, 3)).all()  # no fold: the split
    with pytest.raises(FmnistEdgeError, match="between 2 and"):
        photos.grouped_folds(rows, 1, 0)
    with pytest.raises(FmnistEdgeError, match="at least 9 photographers"):
        photos.grouped_folds(rows[:3] * 3, 9, 0)
    with pytest.raises(FmnistEdgeError, match="between 1 and 3"):
        photos.held_out(rows, 0.2, 0, (4, 3))


def test_render_cache_is_reused_and_invalidated_by_the_preprocessing_version(photo_folder, tmp_path, monkeypatch):
    from fmnistedge.runtime import preprocess

    rows = photos.read_photo_labels(photo_folder)
    cache = tmp_path / "cache"
    images, ok, methods = photos.render_photos(rows, cache, workers=1)
    assert ok.all() and images.shape == (48, 28, 28) and images.max() > 0
    # The images are exactly what classify's preprocessing gives for the same file.
    assert np.array_equal(images[0], preprocess.prepare_image(rows[0].path, "photo")[0])
    assert len(list(cache.glob("*.npz"))) == 1
    photos.render_photos(rows, cache, workers=1)
    assert len(list(cache.glob("*.npz"))) == 1  # same code, same photos: read back
    monkeypatch.setattr(preprocess, "preprocessing_version", lambda: "changed")
    photos.render_photos(rows, cache, workers=1)
    assert len(list(cache.glob("*.npz"))) == 2  # new preprocessing code: rendered again


def test_preprocessing_version_follows_the_code(monkeypatch, tmp_path):
    from fmnistedge.runtime import preprocess

    before = preprocess.preprocessing_version()
    assert before == preprocess.preprocessing_version()
    for name in preprocess._PREPROCESS_MODULES:
        shutil.copy(Path(preprocess.__file__).parent / name, tmp_path / name)
    (tmp_path / "photo.py").write_text((tmp_path / "photo.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(preprocess, "__file__", str(tmp_path / "preprocess.py"))
    assert preprocess.preprocessing_version() != before


def test_sampling_weights_favour_rare_classes_and_give_none_its_share():
    targets = np.zeros((110, 10), np.float32)
    targets[:90, 0] = 1  # 90 T-shirts
    targets[90:100, 2] = 1  # 10 pullovers
    targets[100:105] = 0  # 5 none rows
    targets[105:, [0, 2]] = 1  # 5 partial
    w = photos.sampling_weights(targets, none_share=0.1)
    assert w.sum() == pytest.approx(1.0)
    assert w[90] > 2 * w[0]  # one pullover is drawn more often than one T-shirt
    assert w[100:105].sum() == pytest.approx(0.1)


@pytest.mark.parametrize("balance, expected_ratio", [(0.0, 9.0), (0.5, 3.0), (1.0, 1.0)])
def test_photo_balance_sets_how_classes_are_drawn(balance, expected_ratio):
    targets = np.zeros((100, 10), np.float32)
    targets[:90, 0] = 1  # 90 T-shirts
    targets[90:, 2] = 1  # 10 pullovers
    w = photos.sampling_weights(targets, none_share=0.1, balance=balance)  # no none rows: no share for them
    assert w.sum() == pytest.approx(1.0)
    assert w[:90].sum() / w[90:].sum() == pytest.approx(expected_ratio)  # class mass ~ count ** (1 - balance)


def test_set_valued_loss_known_values():
    tf = pytest.importorskip("tensorflow")
    from fmnistedge.training.phototrain import NONE_WEIGHT, set_loss

    p = np.array([[0.5, 0.3, 0.2] + [0.0] * 7], np.float32)
    one = np.zeros((1, 10), np.float32)
    one[0, 0] = 1
    pair = np.zeros((1, 10), np.float32)
    pair[0, [0, 1]] = 1
    far = np.zeros((1, 10), np.float32)
    far[0, 5] = 1
    none = np.zeros((1, 10), np.float32)
    loss = set_loss(0.0)
    assert float(loss(tf.constant(one), tf.constant(p))[0]) == pytest.approx(-np.log(0.5), rel=1e-5)
    assert float(loss(tf.constant(pair), tf.constant(p))[0]) == pytest.approx(-np.log(0.8), rel=1e-5)
    # zero probability mass on the set is penalised hard
    assert float(loss(tf.constant(far), tf.constant(p))[0]) > 15
    # "none" rows: the mean negative log-probability (uniform target), weighted
    clipped = np.clip(p, 1e-7, 1)
    assert float(loss(tf.constant(none), tf.constant(p))[0]) == pytest.approx(
        -NONE_WEIGHT * np.log(clipped).mean(), rel=1e-4)
    # with smoothing, a one-class set is Keras' label-smoothed cross-entropy
    q = np.array([[0.6, 0.1, 0.05, 0.05, 0.04, 0.04, 0.04, 0.04, 0.02, 0.02]], np.float32)
    import keras

    ref = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(one, q)
    assert float(set_loss(0.1)(tf.constant(one), tf.constant(q))[0]) == pytest.approx(float(ref), rel=1e-4)


class _Uniform:
    """A backend that is never sure: every class 10%."""

    def predict(self, batch):
        return np.full((len(batch), 10), 0.1, np.float32)


class _Sure:
    def predict(self, batch):
        out = np.full((len(batch), 10), 0.01, np.float32)
        out[:, 3] = 0.91
        return out


def test_noise_and_flat_images_come_back_unknown(tmp_path):
    from fmnistedge.runtime.classify import classify_files
    from fmnistedge.runtime.openset import OpenSet

    rng = np.random.default_rng(0)
    noise, flat = tmp_path / "noise.png", tmp_path / "flat.png"
    cv2.imwrite(str(noise), rng.integers(0, 256, (80, 80, 3), dtype=np.uint8))
    cv2.imwrite(str(flat), np.full((80, 80, 3), 30, np.uint8))
    openset = OpenSet(temperature=1.0, reject_below=0.4)
    noisy, blank = classify_files([noise, flat], _Uniform(), openset=openset)
    assert noisy.label == "unknown" and noisy.class_index is None and "none of the ten" in noisy.reason
    assert noisy.best_guess["label"] == "T-shirt/top"
    assert blank.label == "unknown" and blank.reason == "no garment found"
    # a confident answer stays an answer; and a flat image is unknown even without a calibration
    (sure,) = classify_files([noise], _Sure(), openset=openset)
    assert sure.label == "Dress" and sure.reason is None
    (blank,) = classify_files([flat], _Sure(), openset=None)
    assert blank.label == "unknown"


def test_temperature_rescales_photo_confidences(tmp_path):
    from fmnistedge.runtime.classify import classify_files
    from fmnistedge.runtime.openset import OpenSet

    path = tmp_path / "g.png"
    cv2.imwrite(str(path), _garment_photo(np.random.default_rng(1), 0))
    (raw,) = classify_files([path], _Sure(), openset=OpenSet(1.0, 0.0))
    (soft,) = classify_files([path], _Sure(), openset=OpenSet(2.0, 0.0))
    assert soft.label == raw.label == "Dress" and soft.confidence < raw.confidence
    # --raw (Fashion-MNIST style input) is not a photo: no photo calibration applies
    (fm,) = classify_files([path], _Sure(), mode="raw", openset=OpenSet(2.0, 0.99))
    assert fm.label == "Dress" and fm.confidence == pytest.approx(0.91)


@pytest.mark.parametrize("block, ok", [
    ({"temperature": 1.2, "reject_below": 0.3}, True),
    ({"temperature": "hot", "reject_below": 0.3}, False),
    ({"temperature": 0.0, "reject_below": 0.3}, False),
    ({"temperature": 1.0, "reject_below": 1.5}, False),
    ({"temperature": float("nan"), "reject_below": 0.3}, False),
    ({"reject_below": 0.3}, False),
])
def test_a_bad_photo_calibration_block_is_a_model_error(block, ok):
    from fmnistedge.runtime.openset import OpenSet

    from fmnistedge.errors import ModelError

    if ok:
        assert OpenSet.from_meta({"photo_calibration": block}).reject_below == 0.3
    else:
        with pytest.raises(ModelError, match="photo_calibration"):
            OpenSet.from_meta({"photo_calibration": block})
    assert OpenSet.from_meta({}) is None


@pytest.mark.parametrize("extra, ok", [
    ({}, "top"),
    ({"reject_score": "top"}, "top"),
    ({"reject_score": "classes", "none_output": True}, "classes"),
    ({"reject_score": "classes"}, None),  # "classes" needs a "none" output
    ({"reject_score": "energy", "none_output": True}, None),
    ({"reject_score": 1, "none_output": True}, None),
])
def test_the_reject_score_is_read_and_checked(extra, ok):
    from fmnistedge.errors import ModelError
    from fmnistedge.runtime.openset import OpenSet

    block = {"temperature": 1.0, "reject_below": 0.5, **extra}
    if ok:
        assert OpenSet.from_meta({"photo_calibration": block}).reject_score == ok
    else:
        with pytest.raises(ModelError, match="reject_score"):
            OpenSet.from_meta({"photo_calibration": block})


def test_the_classes_score_rejects_on_the_none_remainder_not_the_top_class():
    """A photo split between two classes is one of the ten (the 'classes' score keeps it), a
    photo whose mass went to 'none' is not, however its top class compares."""
    from fmnistedge.runtime.openset import OpenSet

    split = np.array([0.3, 0.3] + [0.0] * 8, np.float32)  # top 0.3, classes 0.6
    gone = np.array([0.45] + [0.0] * 9, np.float32)  # top 0.45, classes 0.45 ("none" 0.55)
    top, classes = OpenSet(1.0, 0.4, True, "top"), OpenSet(1.0, 0.5, True, "classes")  # each its own threshold
    assert top.known(np.stack([split, gone])).tolist() == [False, True]
    assert classes.known(np.stack([split, gone])).tolist() == [True, False]
    assert "probability of any of the ten classes 45.0% is below the model's 50.0%" in classes.why_unknown(gone)
    assert "top probability 30.0%" in top.why_unknown(split)


def test_threshold_choice_and_curve():
    from fmnistedge.runtime.evaluate import choose_threshold, rejection_curve

    known = np.linspace(0.3, 1.0, 100)
    t = choose_threshold(known, 0.04)
    assert t == known[4] and (known < t).sum() == 4  # the largest threshold rejecting at most 4 of 100
    curve = rejection_curve(known, np.full(10, 0.35), points=21)
    rates = [c["known_rejected"] for c in curve]
    assert rates == sorted(rates) and curve[-1]["none_rejected"] == 1.0


def test_scan_never_records_an_unknown_garment():
    from fmnistedge.runtime.scan import UNKNOWN_CLASS, Voter

    v = Voter(stable_frames=3, min_confidence=0.5)
    events = [v.update(c, 0.9) for c in [2, 2, UNKNOWN_CLASS, 2, 2, UNKNOWN_CLASS, UNKNOWN_CLASS, UNKNOWN_CLASS]]
    assert events == [None] * 8
    assert [v.update(2, 0.9) for _ in range(3)][-1] == (2, pytest.approx(0.9))


@pytest.mark.slow
@pytest.mark.ci
def test_photo_training_records_and_exports_its_calibration(photo_folder, tmp_path, real_data):
    """A few steps of the tiny model with --photos: train.json records the photo split,
    metrics and calibration; export embeds it; the runtime reads it from the lone file."""
    from fmnistedge.formats import FORMATS
    from fmnistedge.export.pipeline import export_arch
    from fmnistedge.runtime.modelmeta import read_embedded
    from fmnistedge.runtime.openset import OpenSet

    from fmnistedge.training.train import TrainOptions, train_arch

    from fmnistedge.runtime.modelmeta import sha256_file

    partial = [r for r in photos.read_photo_labels(photo_folder) if r.candidates][:2]
    refine = tmp_path / "refine.csv"
    refine.write_text("image_id,label_index\n" + "".join(f"{r.image_id},2\n" for r in partial))
    rec = train_arch("tiny", TrainOptions(epochs=1, limit=2000, seed=1, out=tmp_path / "art", photos=photo_folder,
                                          photo_cache=tmp_path / "cache", epoch_size=512, photo_val_fraction=0.25,
                                          none_output=True, label_refinements=refine))
    ph = rec["photos"]
    assert ph["label_refinements"] == {"file": str(refine), "sha256": sha256_file(refine), "rows": 2}
    assert ph["train"]["photographers"] + ph["val"]["photographers"] == 8
    assert set(ph["val_metrics"]) == {"top1_macro", "top3_macro", "set_acc"}
    assert "photo_val_top1_macro" in rec["history"]
    cal = ph["calibration"]
    assert 0.05 <= cal["temperature"] <= 20 and 0 <= cal["reject_below"] <= 1
    # the "none" decision's score is the compared one that rejects the most held-out "none" photos
    compared = cal["scores_compared"]
    assert set(compared) == {"top", "classes"} and cal["reject_below"] == compared[cal["reject_score"]]["reject_below"]
    assert compared[cal["reject_score"]]["val_none_rejected"] == max(c["val_none_rejected"] for c in compared.values())
    doc = export_arch(tmp_path / "art" / "tiny", [FORMATS["tflite-int8"], FORMATS["onnx-int8"]])
    assert doc["photo_calibration"]["temperature"] == cal["temperature"] and doc["photo_calibration"]["none_output"]
    assert all(e["verified"] for e in doc["files"].values())
    from fmnistedge.runtime.backends import open_backend

    for name in ("model_int8.tflite", "model_int8.onnx"):
        lone = tmp_path / f"lone-{name}"
        shutil.copy(tmp_path / "art" / "tiny" / name, lone)
        openset = OpenSet.from_meta(read_embedded(lone))
        assert openset.reject_below == cal["reject_below"] and openset.none_output
        assert openset.reject_score == cal["reject_score"]
        backend = open_backend(lone)
        assert backend.none_remainder  # its ten outputs may sum to less than 1
        out = backend.predict(np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32))
        assert out.shape == (8, 10) and (out.sum(1) <= 1.05).all()


@pytest.mark.slow
@pytest.mark.ci
def test_a_shipped_model_is_rebuilt_from_its_fp32_onnx(real_data):
    from fmnistedge.runtime.models import shipped_dir
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training import data
    from fmnistedge.training.warmstart import keras_from_onnx

    x, _ = data.load_split("train")
    model, diff, flipped = keras_from_onnx("edge-r", shipped_dir() / "edge-r" / "model_fp32.onnx",
                                           to_model_input(x[:2000]))
    assert flipped  # the shipped default answers with the mirror average (train --flip-average)
    assert diff < 1e-4
    # training mode (batch statistics) starts from nearly the same function
    xt, yt = data.load_split("test")
    batch = to_model_input(xt[:1000])
    agree = (np.asarray(model(batch, training=True)).argmax(1) == np.asarray(model(batch)).argmax(1)).mean()
    assert agree > 0.97


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TRAIN.is_dir(), reason="needs ../shared/realphotos-train")
def test_a_short_photo_fine_tune_beats_its_start_on_held_out_photographers(tmp_path, real_data):
    """A few hundred real photos, two short epochs from a Fashion-MNIST-only model: the
    held-out photographers' labelled photos are answered within their label set more often."""
    import keras
    from fmnistedge.runtime.evaluate import photo_set_metrics
    from fmnistedge.runtime.preprocess import to_model_input

    from fmnistedge.training.train import TrainOptions, train_arch

    rows = [r for r in photos.read_photo_labels(SHARED_TRAIN) if not r.is_none][:600]
    folder = tmp_path / "photos"
    (folder / "images").mkdir(parents=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label_index", "candidates", "sender_id"])
        for r in rows:
            shutil.copy(r.path, folder / "images")
            w.writerow([f"images/{r.path.name}", "" if r.label is None else r.label,
                        "|".join(map(str, r.candidates)), r.sender])
    common = dict(limit=6000, seed=0)
    train_arch("edge-r", TrainOptions(epochs=2, out=tmp_path / "start", **common))
    start = tmp_path / "start" / "edge-r" / "model.keras"
    rec = train_arch("edge-r", TrainOptions(epochs=2, out=tmp_path / "tuned", photos=folder, photo_cache=tmp_path / "c",
                                            epoch_size=2048, init_from=start, **common))
    every = photos.load_photo_set(folder, tmp_path / "c", 0.2, 0)
    held_out = every.select(every.val)
    before = photo_set_metrics(keras.models.load_model(start).predict(to_model_input(held_out.images), verbose=0),
                               held_out.targets)
    assert rec["photos"]["val_metrics"]["set_acc"] > before["set_acc"]


def test_a_photo_that_cannot_be_read_is_left_out_and_counted(photo_folder, tmp_path):
    (photo_folder / "images" / "s0-0.jpg").write_bytes(b"not a jpeg")
    pset = photos.load_photo_set(photo_folder, tmp_path / "cache", 0.25, 0)
    assert pset.unrendered == 1 and len(pset.rows) == 47
    assert all(r.path.name != "s0-0.jpg" for r in pset.rows)


def test_mixed_batches_give_the_label_aware_augmentation_fashion_mnist_classes_only():
    """Shoe pairs are made of Fashion-MNIST's single shoes: a photo row reaches the augmenter
    with class -1 (its shoes are mostly a pair already; a set target has no one class)."""
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from fmnistedge.training.phototrain import mixed_dataset

    x_fm = np.zeros((40, 28, 28, 1), np.float32)
    y_fm = np.arange(40) % 10
    x_ph = np.zeros((6, 28, 28, 1), np.float32)
    t_ph = np.zeros((6, 10), np.float32)
    t_ph[:, [5, 7, 9]] = 1  # footwear known only as a set

    def classes_as_pixels(images, classes):
        return tf.broadcast_to(tf.cast(classes, tf.float32)[:, None, None, None], tf.shape(images))

    ds = mixed_dataset(x_fm, y_fm, x_ph, t_ph, np.full(6, 1 / 6), 0.5, 32, 0, classes_as_pixels, 64)
    images, targets = next(iter(ds))
    seen = images.numpy()[:, 0, 0, 0]
    photo = targets.numpy().sum(1) > 1
    assert photo.any() and (~photo).any()
    assert (seen[photo] == -1).all()
    assert (seen[~photo] == targets.numpy()[~photo].argmax(1)).all()
    plain = mixed_dataset(x_fm, y_fm, x_ph, t_ph, np.full(6, 1 / 6), 0.5, 32, 0, None, 64)
    assert [t.shape[0] for t in next(iter(plain))] == [32, 32]  # (images, targets), no augmenter


def test_a_photo_trained_start_may_not_have_learnt_a_photographer_the_run_holds_out(photo_folder, tmp_path):
    """Fine-tuning a photo-trained model with another held-out split would score, pick the epoch
    and calibrate on photos the start trained on: refused in one line; the same split is fine."""
    from fmnistedge.errors import UsageError
    from fmnistedge.trainlog import TRAIN_SCHEMA_VERSION
    from fmnistedge.training.train import _check_photo_start

    rows = photos.read_photo_labels(photo_folder)
    held = photos.grouped_split(rows, 0.2, 0)
    pset = types.SimpleNamespace(rows=rows, val=held)
    start = tmp_path / "start" / "model.keras"
    start.parent.mkdir()
    senders = sorted({r.sender for r, v in zip(rows, held) if v})
    (start.parent / "train.json").write_text(json.dumps({"schema_version": TRAIN_SCHEMA_VERSION, "photos": {
        "folder": str(photo_folder), "val_fraction": 0.2, "val_senders": senders}}))
    options = TrainOptions(init_from=start, photos=photo_folder)
    _check_photo_start(options, pset)  # the split it was trained with
    wider = types.SimpleNamespace(rows=rows, val=photos.grouped_split(rows, 0.5, 0))
    with pytest.raises(UsageError, match=r"trained on photos of \d+ photographer\(s\) this run would hold out"):
        _check_photo_start(options, wider)
    _check_photo_start(TrainOptions(init_from=tmp_path / "no-log.keras", photos=photo_folder), wider)  # no record


@pytest.mark.slow
@pytest.mark.ci
def test_a_56_px_photo_model_trains_exports_and_classifies_at_56_px(photo_folder, tmp_path, real_data):
    """edge-r56 through the whole chain: Fashion-MNIST enlarged and photos rendered at 56 px in
    training (the render cache keyed by the size), exported with a 56 px input contract and
    verified on the enlarged test set, and run by classify on a photo rendered at 56 px."""
    from fmnistedge.export.pipeline import export_arch
    from fmnistedge.formats import FORMATS
    from fmnistedge.labels import LABELS
    from fmnistedge.runtime.backends import open_backend
    from fmnistedge.runtime.classify import classify_files
    from fmnistedge.training.train import TrainOptions, train_arch

    rec = train_arch("edge-r56", TrainOptions(epochs=1, limit=1000, seed=1, out=tmp_path / "art",
                                              photos=photo_folder, photo_cache=tmp_path / "cache",
                                              epoch_size=256, photo_val_fraction=0.25, none_output=True))
    assert rec["photos"]["calibration"]["reject_score"] in ("top", "classes")
    cached = list((tmp_path / "cache").glob("photos-*.npz"))
    assert len(cached) == 1 and np.load(cached[0])["images"].shape[1:] == (56, 56)
    doc = export_arch(tmp_path / "art" / "edge-r56", [FORMATS["tflite-int8"], FORMATS["onnx-fp32"]])
    assert doc["input"]["shape"] == [None, 56, 56, 1]
    assert all(e["verified"] for e in doc["files"].values()), doc["files"]
    for name in ("model_int8.tflite", "model_fp32.onnx"):
        backend = open_backend(tmp_path / "art" / "edge-r56" / name)
        assert backend.input_size == 56
        photo = photos.read_photo_labels(photo_folder)[0].path
        (result,) = classify_files([photo], backend)
        assert result.label in LABELS + ("unknown",)

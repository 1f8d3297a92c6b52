"""`fmnistedge classify`: every kind of bad input gets one line and an exact exit code."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fmnistedge.runtime import imageio
from PIL import Image
from typer.testing import CliRunner

from fmnistedge.cli import app

runner = CliRunner()


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (valid CRCs, no real pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@pytest.fixture
def good_jpeg(tmp_path) -> Path:
    img = np.full((120, 90, 3), 230, np.uint8)
    img[20:100, 20:70] = (30, 30, 120)
    path = tmp_path / "good.jpg"
    Image.fromarray(img).save(path, quality=90)
    return path


@pytest.fixture
def bad_corpus(tmp_path, good_jpeg) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected message fragment)."""
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty-dir").mkdir()
    (d / "notes.jpg").write_text("this is not an image")
    (d / "zero.png").write_bytes(b"")
    raw = good_jpeg.read_bytes()
    (d / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))  # signature, then junk
    Image.new("RGB", (32, 32)).save(d / "icon.ico")
    (d / "bomb.png").write_bytes(_png_with_size(100_000, 100_000))
    return {
        "missing": (d / "missing.jpg", f"No such file: {d / 'missing.jpg'}"),
        "empty-dir": (d / "empty-dir", f"Directory contains no images: {d / 'empty-dir'}"),
        "not-image": (d / "notes.jpg", f"Not an image (or an unsupported format): {d / 'notes.jpg'}"),
        "zero": (d / "zero.png", f"Empty file (0 bytes): {d / 'zero.png'}"),
        # The decoder's own reason follows the colon; the part before it is ours.
        "truncated": (d / "truncated.jpg", f"Corrupt or truncated image {d / 'truncated.jpg'}: "),
        "corrupt": (d / "corrupt.png", f"Not an image (or an unsupported format): {d / 'corrupt.png'}"),
        "unsupported": (d / "icon.ico", f"Unsupported image format ICO: {d / 'icon.ico'}"),
        "bomb": (d / "bomb.png", "Image too large: 100000x100000 pixels exceeds the limit of 64,000,000 pixels"),
    }


@pytest.mark.parametrize("case", ["missing", "not-image", "zero", "truncated", "corrupt",
                                  "unsupported", "bomb"])
def test_decode_errors_are_one_line_and_name_the_file(bad_corpus, case):
    path, fragment = bad_corpus[case]
    with pytest.raises(imageio.ImageError) as err:
        imageio.decode(path)
    msg = str(err.value)
    assert msg.startswith(fragment) and str(path) in msg and "\n" not in msg
    if case not in ("truncated", "bomb"):
        assert msg == fragment


def test_unreadable_file_is_reported(good_jpeg, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *_: False)  # root ignores chmod, so simulate it
    with pytest.raises(imageio.ImageError, match="Permission denied"):
        imageio.decode(good_jpeg)


@pytest.mark.parametrize("mode, fmt, suffix", [
    ("RGB", "JPEG", ".jpg"), ("RGBA", "PNG", ".png"), ("I;16", "PNG", ".png"),
    ("L", "BMP", ".bmp"), ("RGB", "WEBP", ".webp"), ("RGB", "TIFF", ".tif"), ("P", "PNG", ".png"),
])
def test_common_formats_decode_to_rgb(tmp_path, mode, fmt, suffix):
    path = tmp_path / f"img-{mode.replace(';', '')}{suffix}"
    im = Image.new(mode, (40, 30), 1000 if mode == "I;16" else 128)
    im.save(path, format=fmt)
    dec = imageio.decode(path)
    assert dec.rgb.shape == (30, 40, 3) and dec.rgb.dtype == np.uint8


def test_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    big = tmp_path / "phone.jpg"
    Image.new("RGB", (4000, 3000), (120, 60, 30)).save(big, quality=80)
    dec = imageio.decode(big)
    assert imageio.RENDER_SIDE == 192
    assert dec.rgb.shape == (375, 500, 3)  # 1/8 scale: the smallest that keeps >= 192 px
    Image.new("RGB", (512, 384)).save(tmp_path / "dev-sized.jpg")
    assert imageio.decode(tmp_path / "dev-sized.jpg").rgb.shape == (192, 256, 3)  # 1/2 (1/4 would give 128)
    Image.new("RGB", (190, 120)).save(tmp_path / "small.jpg")
    assert imageio.decode(tmp_path / "small.jpg").rgb.shape == (120, 190, 3)  # small ones untouched
    Image.new("RGB", (900, 600)).save(tmp_path / "big.png")
    assert imageio.decode(tmp_path / "big.png").rgb.shape == (600, 900, 3)  # only JPEG has a reduced decode


def test_the_crop_box_is_in_the_files_own_pixels_after_a_reduced_decode(tmp_path):
    """A JPEG decoded at 1/4 scale reports the same garment box as a PNG of the same picture
    (and an EXIF-turned one the box in the picture as shown)."""
    from fmnistedge.runtime.preprocess import prepare_image

    rgb = np.full((960, 1280, 3), (200, 190, 180), np.uint8)
    rgb[200:800, 300:700] = (40, 60, 120)  # a dark garment on a light floor
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert imageio.decode(tmp_path / "a.jpg").rgb.shape[1] == 320  # really decoded at 1/4
    box_jpg = prepare_image(tmp_path / "a.jpg")[1]["box"]
    box_png = prepare_image(tmp_path / "a.png")[1]["box"]
    tol = 2 * 1280 // 80  # two pixels of the 80 px segmentation (a box 4x too small is off by hundreds)
    assert np.abs(np.array(box_jpg) - [300, 200, 400, 600]).max() <= tol, box_jpg
    assert np.abs(np.array(box_jpg) - np.array(box_png)).max() <= tol, (box_jpg, box_png)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: 960 wide, 1280 high
    Image.fromarray(rgb).save(tmp_path / "r.jpg", quality=95, exif=exif.tobytes())
    dec = imageio.decode(tmp_path / "r.jpg")
    assert dec.full_size == (960, 1280) and dec.rgb.shape[:2] == (320, 240)
    x, y, w, h = prepare_image(tmp_path / "r.jpg")[1]["box"]
    assert abs(w - 600) <= tol and abs(h - 400) <= tol and x + w <= 960 and y + h <= 1280, (x, y, w, h)


def test_alpha_and_exif_orientation(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[5:25, 10:30] = (200, 50, 50, 255)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    dec = imageio.decode(tmp_path / "a.png")
    assert dec.alpha is not None and dec.alpha[15, 20] == 255 and dec.alpha[0, 0] == 0
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    Image.new("RGB", (40, 30), (90, 90, 90)).save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert imageio.decode(tmp_path / "r.jpg").rgb.shape == (40, 30, 3)


def _model_file(exported_tiny) -> Path:
    return exported_tiny[0] / "model_int8.tflite"


def test_batch_continues_past_bad_files_and_exits_1(exported_tiny, bad_corpus, good_jpeg):
    args = [str(good_jpeg)] + [str(p) for p, _ in bad_corpus.values()] + [str(good_jpeg.parent / "x.jpg")]
    shutil.copy(good_jpeg, args[-1])
    result = runner.invoke(app, ["classify", *args, "--model", str(_model_file(exported_tiny)), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [r["path"] for r in doc["results"]] == args  # input order, whatever failed where
    by_path = {r["path"]: r for r in doc["results"]}
    assert by_path[str(good_jpeg)]["label"] and "error" not in by_path[str(good_jpeg)]
    for path, message in bad_corpus.values():
        assert by_path[str(path)]["error"].startswith(message), path
    # Human output: one line per bad file on stderr, the same words.
    human = runner.invoke(app, ["classify", *args, "--model", str(_model_file(exported_tiny))])
    assert human.exit_code == 1 and "Traceback" not in human.output
    for path, message in bad_corpus.values():
        assert f"error {message}" in human.output, path
    assert doc["model"]["precision"] == "int8"


def test_file_names_with_brackets_print_as_they_are(exported_tiny, tmp_path):
    (tmp_path / "old[").mkdir()
    odd = [tmp_path / "old[/b].jpg", tmp_path / "coat [draft].jpg"]
    for p in odd:
        p.write_bytes(b"")
    result = runner.invoke(app, ["classify", *map(str, odd), "--model", str(_model_file(exported_tiny))])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all(f"Empty file (0 bytes): {p}" in result.output for p in odd)
    result = runner.invoke(app, ["classify", str(odd[0]), "--model", str(tmp_path / "m [v2].tflite")])
    assert result.exit_code == 1 and "m [v2].tflite" in result.output


def test_all_good_exits_0_with_timings_and_top_k(exported_tiny, good_jpeg, tmp_path):
    save = tmp_path / "seen"
    result = runner.invoke(app, ["classify", str(good_jpeg), str(good_jpeg.parent / "*.jpg"),
                                 "--model", str(exported_tiny[0] / "model_fp32.onnx"),
                                 "--top-k", "5", "--json", "--save-preprocessed", str(save)])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)["results"][0]
    assert len(r["top_k"]) == 5 and r["preprocess_ms"] > 0 and r["inference_ms"] > 0
    probs = [t["probability"] for t in r["top_k"]]
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    assert 0.5 <= sum(probs) <= 1 + 1e-4  # the top 5 of 10 probabilities hold at least half the mass
    seen = np.asarray(Image.open(r["saved"]))
    assert seen.shape == (28, 28) and seen[0, 0] == 0  # black background, as the model saw it


def test_human_output_is_one_line_per_image(exported_tiny, good_jpeg):
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(_model_file(exported_tiny))])
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1 and str(good_jpeg) in result.stdout


def test_raw_mode_on_fashion_mnist_items_matches_the_test_set(exported_tiny, tmp_path, real_data):
    from fmnistedge.training import data

    x, y = data.load_split("test")
    paths = []
    for i in range(20):
        p = tmp_path / f"fm{i:02d}.png"
        Image.fromarray(x[i]).save(p)
        paths.append(str(p))
    result = runner.invoke(app, ["classify", *paths, "--raw", "--json",
                                 "--model", str(exported_tiny[0] / "model_fp32.tflite")])
    assert result.exit_code == 0
    from fmnistedge.runtime.backends import open_backend
    from fmnistedge.runtime.preprocess import to_model_input

    expected = open_backend(exported_tiny[0] / "model_fp32.tflite").predict(to_model_input(x[:20])).argmax(1)
    got = [r["class_index"] for r in json.loads(result.stdout)["results"]]
    assert got == expected.tolist()


def test_path_expansion_keeps_argument_order_and_names_each_image_once(tmp_path):
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "b.jpg"), str(tmp_path / "missing.jpg"), str(tmp_path),
            str(tmp_path / "*.gif"), str(tmp_path / "empty")]
    assert imageio.expand_paths(args) == [
        tmp_path / "b.jpg",
        (tmp_path / "missing.jpg", f"No such file: {tmp_path / 'missing.jpg'}"),
        tmp_path / "a.png",  # the folder's images, b.jpg not again
        (tmp_path / "*.gif", f"No files match the pattern: {tmp_path / '*.gif'}"),
        (tmp_path / "empty", f"Directory contains no images: {tmp_path / 'empty'}"),
    ]


def test_usage_errors_exit_2(good_jpeg):
    assert runner.invoke(app, ["classify", str(good_jpeg), "--top-k", "0"]).exit_code == 2
    assert runner.invoke(app, ["classify", str(good_jpeg), "--engine", "tensorflow"]).exit_code == 2
    assert runner.invoke(app, ["classify"]).exit_code == 2


def test_tampered_model_fails_once_before_reading_images(exported_tiny, tmp_path, good_jpeg):
    copy = tmp_path / "tiny"
    shutil.copytree(exported_tiny[0], copy)
    target = copy / "model_int8.tflite"
    raw = bytearray(target.read_bytes())
    raw[64] ^= 0x01
    target.write_bytes(bytes(raw))
    result = runner.invoke(app, ["classify", str(good_jpeg), "missing.jpg", "--model", str(target)])
    assert result.exit_code == 1
    assert "sha256" in result.output and "missing.jpg" not in result.output


def test_lone_truncated_model_and_wrong_shape_fail_clearly(exported_tiny, tmp_path, good_jpeg):
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(_model_file(exported_tiny).read_bytes()[:2000])
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(lone)])
    assert result.exit_code == 1 and "cannot load" in result.output

    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "odd",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 32, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 32, 3])])
    odd = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), odd)
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(odd)])
    assert result.exit_code == 1 and "expected (N, 28, 28, 1)" in result.output


def test_a_tflite_file_with_a_fixed_batch_of_one_fails_in_one_line_on_a_batch(tmp_path, good_jpeg):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 28, 28, 1], tf.float32)])
    def fixed(x):  # another tool's export: batch size 1 baked in
        return tf.nn.softmax(tf.reshape(x, [1, 784])[:, :10])

    conv = tf.lite.TFLiteConverter.from_concrete_functions([fixed.get_concrete_function()], fixed)
    model = tmp_path / "fixed.tflite"
    model.write_bytes(conv.convert())
    assert runner.invoke(app, ["classify", str(good_jpeg), "--model", str(model)]).exit_code == 0
    second = tmp_path / "b.jpg"
    shutil.copy(good_jpeg, second)
    result = runner.invoke(app, ["classify", str(good_jpeg), str(second), "--model", str(model)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"LiteRT failed to run {model} on a batch of 2" in result.output


def _foreign_onnx(path: Path, in_type: int, out_shape: list, classes: int) -> Path:
    """A model from another tool: flatten the 28x28 image, keep the first ``classes`` values, softmax."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["xf", "flat"], ["v"]),
             helper.make_node("Slice", ["v", "starts", "ends", "axes"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=1)]
    inits = [helper.make_tensor("flat", TensorProto.INT64, [2], [-1, 784]),
             helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
             helper.make_tensor("ends", TensorProto.INT64, [1], [classes]),
             helper.make_tensor("axes", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(nodes, "foreign", [helper.make_tensor_value_info("x", in_type, ["N", 28, 28, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


@pytest.mark.parametrize("in_type, out_shape, classes, message", [
    (1, ["N", 12], 12, "outputs 12 values per image; expected 10 class scores"),
    (2, ["N", 10], 10, "takes tensor(uint8) input; expected float32"),
])
def test_foreign_models_that_do_not_fit_the_contract_fail_in_one_line(tmp_path, good_jpeg, in_type, out_shape,
                                                                        classes, message):
    model = _foreign_onnx(tmp_path / "foreign.onnx", in_type, out_shape, classes)
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(model)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    ok = _foreign_onnx(tmp_path / "ok.onnx", 1, ["N", 10], 10)  # the same shape with 10 outputs runs
    assert runner.invoke(app, ["classify", str(good_jpeg), "--model", str(ok)]).exit_code == 0
    from fmnistedge.runtime.backends import _as_scores

    from fmnistedge.errors import ModelError

    with pytest.raises(ModelError, match=r"returned output of shape \(2, 12\) for 2 images; expected \(2, 10\)"):
        _as_scores(model, np.zeros((2, 12)), 2)  # a symbolic output dimension is only known per call


def test_unknown_model_name_lists_what_exists(good_jpeg):
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", "cnn2-int8"])
    assert result.exit_code == 2 and "fmnistedge models" in result.output


def test_models_json_lists_files(exported_tiny):
    result = runner.invoke(app, ["models", "--artifacts", str(exported_tiny[0].parent), "--json"])
    assert result.exit_code == 0
    rows = [r for r in json.loads(result.stdout)["models"] if r["where"] == "artifacts"]
    assert {r["file"] for r in rows} == set(exported_tiny[1]["files"])
    assert all(r["status"] == "verified" for r in rows)


def test_unwritable_paths_are_one_line_errors(exported_tiny, good_jpeg, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(_model_file(exported_tiny)),
                                 "--save-preprocessed", str(blocker)])
    assert result.exit_code == 1 and "Traceback" not in result.output and str(blocker) in result.output
    clip = Path(__file__).resolve().parent.parent / "samples" / "scan.mp4"
    result = runner.invoke(app, ["scan", "--source", str(clip), "--no-show", "--model", str(_model_file(exported_tiny)),
                                 "--wardrobe", str(blocker / "w.db")])
    assert result.exit_code == 1 and "Traceback" not in result.output and str(blocker) in result.output


def test_model_path_reports_the_arch_from_its_manifest(exported_tiny, good_jpeg):
    result = runner.invoke(app, ["classify", str(good_jpeg), "--json",
                                 "--model", str(exported_tiny[0] / "model_fp32.onnx")])
    assert json.loads(result.stdout)["model"]["arch"] == "tiny"


def test_precision_picks_the_file_and_a_name_falls_through_to_artifacts(exported_tiny, tmp_path, monkeypatch):
    from fmnistedge.runtime import models

    from fmnistedge.errors import ModelError, UsageError

    shipped, art = tmp_path / "shipped", tmp_path / "art"
    shutil.copytree(exported_tiny[0], art / "tiny")
    (shipped / "tiny").mkdir(parents=True)  # a shipped copy with only the int8 TFLite file
    shutil.copy(exported_tiny[0] / "model_int8.tflite", shipped / "tiny")
    doc = json.loads((exported_tiny[0] / "manifest.json").read_text())
    doc["files"] = {"model_int8.tflite": doc["files"]["model_int8.tflite"]}
    (shipped / "tiny" / "manifest.json").write_text(json.dumps(doc))
    monkeypatch.setattr(models, "shipped_dir", lambda: shipped)

    assert models.resolve("tiny", artifacts=art).where == "shipped"
    ref = models.resolve("tiny", "onnx", art)
    assert (ref.where, ref.engine, ref.precision) == ("artifacts", "onnx", "int8")
    ref = models.resolve("tiny", artifacts=art, precision="fp32")
    assert (ref.where, ref.path.name) == ("artifacts", "model_fp32.tflite")
    assert models.resolve("tiny", "onnx", art, "fp32").path.name == "model_fp32.onnx"
    with pytest.raises(ModelError, match="No usable fp16 onnx model file for tiny"):
        models.resolve("tiny", "onnx", art, "fp16")
    with pytest.raises(UsageError, match="does not match"):
        models.resolve(str(art / "tiny" / "model_int8.onnx"), precision="fp32")
    with pytest.raises(UsageError, match="Unknown precision 'int4'"):
        models.resolve("tiny", artifacts=art, precision="int4")
    assert runner.invoke(app, ["classify", "x.jpg", "--model", "tiny", "--precision", "int4"]).exit_code == 2
    good = tmp_path / "a.png"
    Image.new("RGB", (40, 40), (200, 200, 200)).save(good)
    result = runner.invoke(app, ["classify", str(good), "--model", "tiny", "--artifacts", str(art), "--engine", "onnx"])
    assert result.exit_code == 0  # says that it skipped the shipped folder and which file it used instead
    assert f"using {art / 'tiny' / 'model_int8.onnx'}" in result.stderr and str(shipped / "tiny") in result.stderr
    assert models.resolve("tiny", artifacts=art).note == ""


def test_malformed_manifest_and_failed_files_are_refused(exported_tiny, tmp_path, good_jpeg):
    from fmnistedge.runtime.models import resolve

    from fmnistedge.errors import ModelError

    copy = tmp_path / "art" / "tiny"
    shutil.copytree(exported_tiny[0], copy)
    doc = json.loads((copy / "manifest.json").read_text())
    for entry in doc["files"].values():
        if entry["format"] == "onnx":
            entry["status"], entry["verified"] = "verify_failed", False
    (copy / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="failed verification"):
        resolve("tiny", "onnx", tmp_path / "art")
    assert resolve("tiny", "tflite", tmp_path / "art").precision == "int8"
    (copy / "manifest.json").write_text("[]")
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", "tiny", "--artifacts", str(tmp_path / "art")])
    assert result.exit_code == 1 and "Malformed manifest" in result.output


def test_ctrl_c_with_json_prints_the_results_finished_so_far(tmp_path, good_jpeg):
    """SIGINT mid-batch: exit 130 and, on stdout, valid JSON with the finished results
    and "interrupted": true (it used to be 0 bytes on stdout)."""
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):  # the first batch (32) is finished before b-bad.jpg is reached
        os.link(good_jpeg, folder / f"a{i:03d}.jpg")
    (folder / "b-bad.jpg").write_text("not an image")  # its error line on stderr: the cue to interrupt
    for i in range(2000):  # about a minute of work left when the signal comes
        os.link(good_jpeg, folder / f"c{i:04d}.jpg")
    proc = subprocess.Popen([sys.executable, "-m", "fmnistedge", "classify", str(folder), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "b-bad.jpg" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "b-bad.jpg" in seen, seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    paths = [r["path"] for r in doc["results"]]
    assert 33 <= len(paths) < 2041
    assert paths[:32] == [str(folder / f"a{i:03d}.jpg") for i in range(32)]
    assert all("label" in r for r in doc["results"] if r["path"] != str(folder / "b-bad.jpg"))
    assert "Interrupted after" in err and "Traceback" not in err


def test_control_characters_in_file_names_are_escaped_in_human_output_not_in_json(tmp_path, good_jpeg):
    """A file name with ESC sequences or a newline must not drive the terminal or split a
    line: human output and one-line errors show it escaped; JSON keeps it exact."""
    folder = tmp_path / "odd"
    folder.mkdir()
    good = folder / "red\x1b[31mX\x1b]0;title\x07.jpg"
    shutil.copy(good_jpeg, good)
    bad = folder / "two\nlines\u202e.jpg"
    bad.write_text("not an image")
    result = runner.invoke(app, ["classify", str(folder)], color=True)  # color: keep what a terminal gets
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not any(ch in result.output.replace("\n", "") for ch in "\x1b\x07\u202e")
    assert result.output.count("\n") == 2  # one line per image
    assert f"{folder}/red\\x1b[31mX\\x1b]0;title\\x07.jpg: " in result.stdout
    assert f"Not an image (or an unsupported format): {folder}/two\\nlines\\u202e.jpg" in result.output
    result = runner.invoke(app, ["classify", str(folder), "--json"])
    paths = {r["path"] for r in json.loads(result.stdout)["results"]}
    assert paths == {str(good), str(bad)}


def test_printable_escapes_controls_and_keeps_other_scripts():
    from fmnistedge.progress import printable

    assert printable("plain/ok [v2].jpg") == "plain/ok [v2].jpg"
    assert printable("caf\u00e9 \u0448\u0430\u0440\u0444 \U0001f455") == "caf\u00e9 \u0448\u0430\u0440\u0444 \U0001f455"
    assert printable("a\x1bb\nc\rd\te\x7ff\x9bg\u2028h") == "a\\x1bb\\nc\\rd\\te\\x7ff\\x9bg\\u2028h"
    assert printable(b"x\xff.jpg".decode("utf-8", "surrogateescape")) == "x\\xff.jpg"


def _unwritable_folder(tmp_path) -> Path:
    """An existing folder this process cannot create files in, root included."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    if not Path("/proc/self").is_dir():
        pytest.skip("running as root without /proc: no folder root cannot write")
    return Path("/proc")  # root can chmod past permissions, not write into procfs


@pytest.mark.parametrize("kind", ["exists-unwritable", "under-a-file"])
def test_an_unwritable_save_preprocessed_folder_is_one_line_before_classifying(tmp_path, good_jpeg, kind):
    """--save-preprocessed into a folder that cannot be written used to classify every
    image and then turn each result into a failure; now it is one line up front."""
    if kind == "exists-unwritable":
        target = _unwritable_folder(tmp_path)
    else:
        (tmp_path / "somefile").write_text("x")
        target = tmp_path / "somefile" / "sub"
    images = [tmp_path / f"g{i}.jpg" for i in range(3)]
    for p in images:
        shutil.copy(good_jpeg, p)
    result = runner.invoke(app, ["classify", *map(str, images), "--save-preprocessed", str(target)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stdout == ""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"Cannot write to {target}" in lines[0], result.output
    result = runner.invoke(app, ["classify", *map(str, images), "--save-preprocessed", str(target), "--json"])
    assert result.exit_code == 1 and "{" not in result.output  # no results computed and thrown away


def test_a_damaged_tiff_is_one_line_without_libtiff_noise(tmp_path):
    """libtiff (inside Pillow) printed 'tempfile.tif: Using code not yet in table.' on
    fd 2 before our error line for a TIFF with damaged LZW data (found by tests/test_fuzz.py)."""
    import io
    import subprocess
    import sys

    img = np.full((48, 64, 3), 200, np.uint8)
    img[10:40, 20:40] = (40, 60, 150)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "TIFF", compression="tiff_lzw")
    data = bytearray(buf.getvalue())
    for i in range(20, 60):  # the LZW strip follows the 8-byte header
        data[i] ^= 0x55
    path = tmp_path / "lzw.tif"
    path.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "fmnistedge", "classify", str(path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"error Corrupt or truncated image {path}") and proc.stderr.count("\n") == 1, proc.stderr


def _pooled_onnx(path: Path, side: int) -> Path:
    """A model taking ``side`` px images: the 2x2 mean down to ``side // 2`` px, then the first ten
    pixels of the flattened image, softmaxed (an answer that depends on every input pixel's place)."""
    import onnx
    from onnx import TensorProto, helper

    half = side // 2
    nodes = [helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("AveragePool", ["nchw"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "flat"], ["v"]),
             helper.make_node("Slice", ["v", "starts", "ends", "axes"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=1)]
    inits = [helper.make_tensor("flat", TensorProto.INT64, [2], [-1, half * half]),
             helper.make_tensor("starts", TensorProto.INT64, [1], [half * half // 2]),
             helper.make_tensor("ends", TensorProto.INT64, [1], [half * half // 2 + 10]),
             helper.make_tensor("axes", TensorProto.INT64, [1], [1])]
    graph = helper.make_graph(nodes, "pooled", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                              ["N", side, side, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


def test_a_56_px_model_gets_photos_rendered_at_56_px(tmp_path, good_jpeg):
    """labels.INPUT_SIZES: the runtime reads the side from the file and renders photos at it
    (ONNX Runtime and LiteRT); another side is a one-line model error."""
    import tensorflow as tf

    from fmnistedge.runtime.backends import open_backend
    from fmnistedge.runtime.photo import photo_to_fashion_mnist
    from fmnistedge.runtime.preprocess import prepare_image, to_model_input

    @tf.function(input_signature=[tf.TensorSpec([None, 56, 56, 1], tf.float32)])
    def pooled(x):
        p = tf.nn.avg_pool2d(x, 2, 2, "VALID")
        return tf.nn.softmax(tf.reshape(p, [-1, 28 * 28])[:, 392:402])

    lite = tmp_path / "m56.tflite"
    lite.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([pooled.get_concrete_function()], pooled).convert())
    img56, _ = prepare_image(good_jpeg, "photo", size=56)
    assert img56.shape == (56, 56)
    expected = None
    for model in (_pooled_onnx(tmp_path / "m56.onnx", 56), lite):
        backend = open_backend(model)
        assert backend.input_size == 56
        saved = tmp_path / f"saved-{model.suffix[1:]}"
        result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(model), "--json",
                                     "--save-preprocessed", str(saved)])
        assert result.exit_code == 0, result.output
        (png,) = saved.iterdir()
        assert np.array_equal(np.asarray(Image.open(png)), img56)  # the 56 px render, not a 28 px one
        probs = backend.predict(to_model_input(np.stack([img56, img56])))
        expected = probs if expected is None else expected
        assert probs.shape == (2, 10) and np.allclose(probs, expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"S one of \(28, 56\)"):
        to_model_input(np.zeros((1, 30, 30), np.uint8))
    odd = _pooled_onnx(tmp_path / "m30.onnx", 30)
    result = runner.invoke(app, ["classify", str(good_jpeg), "--model", str(odd)])
    assert result.exit_code == 1 and "expected (N, 28, 28, 1) or (N, 56, 56, 1)" in result.output
    assert photo_to_fashion_mnist(np.asarray(Image.open(good_jpeg)), size=56)[0].shape == (56, 56)

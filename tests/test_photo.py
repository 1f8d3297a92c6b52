"""Photo preprocessing on synthetic scenes the tests draw: crop box and polarity."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fmnistedge.runtime import photo
from fmnistedge.runtime.preprocess import to_model_input

H, W = 300, 400
BOX = (120, 60, 160, 190)  # x, y, w, h of the garment


def _garment_mask() -> np.ndarray:
    """A T-shirt-like blob: body plus two sleeves, inside BOX."""
    m = np.zeros((H, W), np.uint8)
    x, y, w, h = BOX
    cv2.rectangle(m, (x + 35, y + 20), (x + w - 35, y + h - 1), 255, -1)
    pts = np.array([[x, y + 70], [x + 35, y], [x + w - 35, y], [x + w - 1, y + 70],
                    [x + w - 1, y + 90], [x + 35, y + 60], [x + w - 35, y + 60], [x, y + 90]])
    cv2.fillPoly(m, [pts[:4]], 255)
    cv2.fillPoly(m, [np.array([[x, y + 70], [x + 35, y + 20], [x + 35, y + 60], [x, y + 90]])], 255)
    cv2.fillPoly(m, [np.array([[x + w - 1, y + 70], [x + w - 36, y + 20], [x + w - 36, y + 60],
                               [x + w - 1, y + 90]])], 255)
    return m


def _scene(background: str, garment_rgb=(40, 60, 150)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    if background == "light":
        bg = np.full((H, W, 3), 235, np.uint8)
    elif background == "dark":
        bg = np.full((H, W, 3), 25, np.uint8)
    elif background == "textured":  # carpet-like noise around a mid tone
        bg = np.clip(rng.normal(170, 25, (H, W, 3)), 0, 255).astype(np.uint8)
        bg = cv2.GaussianBlur(bg, (3, 3), 0)
    else:  # cluttered: a wooden-floor gradient with stripes
        ramp = np.linspace(120, 200, W, dtype=np.float32)[None, :, None]
        bg = np.repeat(np.repeat(ramp, H, 0), 3, 2).astype(np.uint8)
        bg[::25] = (90, 70, 50)
    mask = _garment_mask()
    img = bg.copy()
    img[mask > 0] = garment_rgb
    return img, mask


@pytest.mark.parametrize("background", ["light", "dark", "textured", "cluttered"])
def test_segmentation_finds_the_garment_box(background):
    img, mask = _scene(background)
    found, method = photo.segment(img)
    x, y, w, h = cv2.boundingRect(found)
    bx, by, bw, bh = BOX
    assert method in ("grabcut", "border-distance")
    assert abs(x - bx) <= 8 and abs(y - by) <= 8 and abs(w - bw) <= 12 and abs(h - bh) <= 12, (x, y, w, h)
    iou = ((found > 0) & (mask > 0)).sum() / ((found > 0) | (mask > 0)).sum()
    assert iou > 0.85


@pytest.mark.parametrize("background", ["light", "dark", "textured"])
def test_output_is_a_light_garment_on_black_filling_the_frame(background):
    img, _ = _scene(background)
    out, info = photo.photo_to_fashion_mnist(img)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert info.box[2] > 0
    # Polarity: background corners black, garment bright (Fashion-MNIST style).
    assert out[:3, :3].max() < 10 and out[-3:, -3:].max() < 10
    assert out[10:22, 10:18].mean() > 100
    # Longest edge (height here) spans the full 28 px; aspect ratio is kept.
    rows = np.flatnonzero(out.max(axis=1) > 20)
    cols = np.flatnonzero(out.max(axis=0) > 20)
    assert rows[-1] - rows[0] + 1 >= 26
    assert 20 <= cols[-1] - cols[0] + 1 <= 26



def test_a_larger_render_is_the_same_garment_at_more_pixels():
    """``size`` changes only the output square (scripts/probe_input_size.py renders 56 px):
    the same box, and the 56 px image reduced to 28 px is close to the 28 px render."""
    img, _ = _scene("light")
    small, info = photo.photo_to_fashion_mnist(img)
    large, info56 = photo.photo_to_fashion_mnist(img, size=56)
    assert large.shape == (56, 56) and large.dtype == np.uint8 and info56.box == info.box
    reduced = cv2.resize(large, (28, 28), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(reduced - small.astype(int)).mean() < 12

def test_alpha_channel_is_used_as_the_mask():
    img, mask = _scene("cluttered")
    found, method = photo.segment(img, alpha=mask)
    assert method == "alpha" and cv2.boundingRect(found) == cv2.boundingRect(mask)


def test_white_garment_stays_visible():
    img, _ = _scene("dark", garment_rgb=(250, 250, 250))
    out, _ = photo.photo_to_fashion_mnist(img)
    assert out[10:22, 10:18].mean() > 40


def test_plain_image_is_empty():
    flat = np.full((100, 80, 3), 128, np.uint8)
    out, info = photo.photo_to_fashion_mnist(flat)
    assert info.method == "empty" and out.shape == (28, 28)


def test_naive_and_raw_modes():
    img, _ = _scene("light")
    naive = photo.naive(img)
    assert naive.shape == (28, 28) and naive[0, 0] < 30  # light background -> dark
    fm = np.zeros((28, 28, 3), np.uint8)
    fm[5:20, 8:20] = 200
    assert np.array_equal(photo.raw(fm), fm[..., 0])


def test_to_model_input_contract():
    x = to_model_input(np.full((2, 28, 28), 255, np.uint8))
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0
    with pytest.raises(ValueError, match="Received"):
        to_model_input(np.zeros((2, 32, 32), np.uint8))


def test_numpy_lab_matches_opencv():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 60, 3)).astype(np.uint8)
    ours = photo.rgb_to_lab(rgb)
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    assert np.abs(ours - ref).max() < 3.0  # OpenCV's 8-bit path rounds through tables


def test_bad_labels_csv_rows_are_named(tmp_path):
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.runtime.evaluate import read_labels

    (tmp_path / "labels.csv").write_text("path,label_index\na.jpg,3\nb.jpg,x\n")
    with pytest.raises(FmnistEdgeError, match="line 3"):
        read_labels(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label_index\na.jpg,12\n")
    with pytest.raises(FmnistEdgeError, match="label_index 0-9"):
        read_labels(tmp_path)


_SAME_PHOTO_TWICE = r'''
import json, sys
import cv2, numpy as np
from PIL import Image
from fmnistedge.runtime import models
from fmnistedge.runtime.classify import classify_files

rng = np.random.default_rng(7)
h, w = 480, 640  # a garment on a wooden floor: grain, sensor noise, folds, JPEG
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
wood = 150 + 25 * np.sin(xx / 9.0 + 3 * np.sin(yy / 40.0)) + rng.normal(0, 12, (h, w))
bg = np.stack([wood, wood * 0.8, wood * 0.55], -1)
m = np.zeros((h, w), np.uint8)
cv2.ellipse(m, (330, 250), (120, 170), 8, 0, 360, 255, -1)
cv2.rectangle(m, (170, 120), (300, 190), 255, -1)
cv2.rectangle(m, (360, 110), (500, 180), 255, -1)
shade = 0.75 + 0.25 * np.sin(yy / 23.0 + xx / 31.0)
cloth = np.stack([60 * shade, 90 * shade, 170 * shade], -1) + rng.normal(0, 8, (h, w, 3))
Image.fromarray(np.clip(np.where(m[..., None] > 0, cloth, bg), 0, 255).astype(np.uint8)).save(sys.argv[1], quality=85)
out = {}
for engine in ("tflite", "onnx"):
    backend = models.load(models.resolve(None, engine))
    out[engine] = [classify_files([sys.argv[1]], backend, k=10)[0].to_dict() for _ in range(3)]
print(json.dumps(out))
'''


def test_the_same_photo_gives_the_same_probabilities_on_every_call_of_a_process(tmp_path):
    """The first call of a process used to differ (unseeded k-means++ and GrabCut): a fresh
    process classifies one photo three times with each shipped engine; the probabilities
    (all ten) and the preprocessing must be identical, not merely close."""
    import json
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _SAME_PHOTO_TWICE, str(tmp_path / "floor.jpg")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr
    for engine, runs in json.loads(proc.stdout).items():
        assert runs[0]["preprocessing"]["method"] in ("grabcut", "border-distance"), runs[0]
        for r in runs[1:]:
            assert r["top_k"] == runs[0]["top_k"], engine  # exact float equality
            assert r["preprocessing"] == runs[0]["preprocessing"], engine


def test_percentile_is_numpys_to_the_last_bit():
    """photo.percentile stands in for np.percentile (which imports numpy.ma, 30-40 ms of
    start-up): the same float for the dtypes and percentiles segmentation uses."""
    from fmnistedge.runtime.photo import percentile

    rng = np.random.default_rng(0)
    for i in range(3000):
        n = int(rng.integers(1, 2000))
        a = [rng.integers(0, 256, n).astype(np.uint8), (rng.random(n) * 300).astype(np.float32),
             rng.normal(0, 50, n)][i % 3]
        for q in (0, 50, 90, 99, 99.5, 100):
            assert percentile(a, q) == float(np.percentile(a, q)), (a.dtype, n, q)


def test_byte_percentile_is_the_float32_percentile_to_the_last_bit():
    """render takes the 99th percentile of uint8 garment pixels from a histogram: the same
    float as percentile() (numpy's) of the same pixels as float32, the old code path."""
    from fmnistedge.runtime.photo import byte_percentile, percentile

    rng = np.random.default_rng(1)
    for i in range(2000):
        a = rng.integers(0, 256, int(rng.integers(1, 3000))).astype(np.uint8)
        if i % 3 == 0:
            a = np.minimum(a, rng.integers(1, 256)).astype(np.uint8)  # piles of equal values
        for q in (0, 1, 50, 99, 99.5, 100):
            assert byte_percentile(a, q) == percentile(a.astype(np.float32), q), (a.size, q)
    with pytest.raises(ValueError):
        byte_percentile(np.zeros(0, np.uint8), 99)


def test_enlarged_fashion_mnist_averages_back_to_itself():
    """A 56 px model sees Fashion-MNIST (and --raw inputs) enlarged by pixel repetition: the 2x2
    mean is the original image, so a 56 px model grafted from a 28 px one starts from the same answers."""
    from fmnistedge.runtime.preprocess import enlarge

    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    big = enlarge(x, 56)
    assert big.shape == (3, 56, 56) and enlarge(x, 28) is x
    assert np.array_equal(big.reshape(3, 28, 2, 28, 2).mean(axis=(2, 4)), x)
    rgb = np.repeat(x[0][..., None], 3, axis=2)
    assert np.array_equal(photo.raw(rgb, 56), big[0]) and np.array_equal(photo.raw(rgb), x[0])
    assert photo.naive(rgb, 56).shape == (56, 56)
    with pytest.raises(ValueError, match="Cannot enlarge"):
        enlarge(x, 42)

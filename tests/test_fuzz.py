"""Fuzz tier: mutated images, model files, manifests, labels.csv, wardrobes and option
combinations thrown at the runtime with Hypothesis.

Invariants for every case: only the documented outcomes (a result, or an fmnistedge
error; through the CLI an exit code in {0, 1, 2, 3}), an error is one line and never a
traceback, and the case finishes within a bound. Two tiers per target:

* ``ci``: a fixed, derandomized handful of cases per target (the whole file in about a
  minute on 2 cores), run by ``pytest -m "not slow or ci"``;
* ``slow``: ``FUZZ_EXAMPLES`` cases per target (default 2000), fresh random cases each run:
  ``FUZZ_EXAMPLES=5000 python -m pytest -m slow tests/test_fuzz.py``.

Each test prints its number of cases and time; with ``FUZZ_REPORT=FILE`` they are also
appended to FILE as JSON lines (docs/runtime.md, "Fuzzing").

Model files are loaded in a separate worker process (with an address-space limit), so an
engine that crashes natively on a mutated file fails the test instead of killing pytest.
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from fmnistedge.cli import app
from fmnistedge.errors import FmnistEdgeError
from fmnistedge.runtime import models
from fmnistedge.runtime.modelmeta import ONNX_SEAL_BYTES, read_tflite_metadata

runner = CliRunner()
LONG_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
EXIT_CODES = {0, 1, 2, 3}
SHIPPED = models.shipped_dir() / "edge-r"
# Cases per target in the ci tier: about 60 s for the file on 2 cores.
CI_EXAMPLES = {"image": 300, "image-cli": 30, "model": 150, "manifest": 150, "labels": 300,
               "wardrobe": 60, "wardrobe-values": 50, "args": 80}
TIERS = [pytest.param("ci", marks=pytest.mark.ci), pytest.param("long", marks=pytest.mark.slow)]


# ---------------------------------------------------------------------------- harness

def run_fuzz(name: str, tier: str, strategy, check, per_case_s: float, capsys) -> None:
    """Run ``check`` on cases drawn from ``strategy``; each must finish within ``per_case_s``."""
    n = CI_EXAMPLES[name] if tier == "ci" else LONG_EXAMPLES
    stats = {"cases": 0, "worst_s": 0.0, "outcomes": {}}

    @settings(max_examples=n, deadline=None, derandomize=tier == "ci", database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(strategy)
    def body(case):
        stats["cases"] += 1
        start = time.perf_counter()
        outcome = check(case) or "done"
        stats["outcomes"][outcome] = stats["outcomes"].get(outcome, 0) + 1
        took = time.perf_counter() - start
        stats["worst_s"] = max(stats["worst_s"], took)
        assert took < per_case_s, f"a case took {took:.1f} s (bound {per_case_s} s)"

    start = time.perf_counter()
    body()
    record = {"target": name, "tier": tier, "cases": stats["cases"], "max_examples": n,
              "seconds": round(time.perf_counter() - start, 1), "slowest_case_s": round(stats["worst_s"], 2),
              "outcomes": stats["outcomes"]}
    with capsys.disabled():
        print(f"\nfuzz {name} [{tier}]: {record['cases']} cases in {record['seconds']} s "
              f"(slowest {record['slowest_case_s']} s; {record['outcomes']})")
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a") as fh:
            fh.write(json.dumps(record) + "\n")


def one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message, message


def assert_cli_contract(result, json_out: bool = False) -> None:
    """Through the CLI: a documented exit code, no traceback, one line per error."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception!r}")
    assert result.exit_code in EXIT_CODES, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    for line in result.stderr.splitlines():
        assert line.startswith(("error ", "Error:", "note:", "Default model:", "No ", "The wardrobe")), line
    if json_out and result.exit_code in (0, 1) and result.stdout.strip():
        json.loads(result.stdout)


@st.composite
def mutated(draw, seed: bytes, region: tuple[int, int] | None = None, max_ops: int = 4) -> bytes:
    """``seed`` with 1..max_ops byte-level mutations (bit flips, set bytes, truncation,
    insertion, deletion, zeroed runs, appended bytes), placed inside ``region`` if given."""
    data = bytearray(seed)
    lo, hi = region or (0, len(seed))
    for op in draw(st.lists(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "zero", "append"]),
                            min_size=1, max_size=max_ops)):
        if op == "append" or not data:
            data += draw(st.binary(min_size=1, max_size=256))
            continue
        start, end = min(lo, len(data) - 1), max(min(hi, len(data)), min(lo, len(data) - 1) + 1)
        pos = draw(st.integers(start, end - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        else:
            k = draw(st.integers(1, 512))
            data[pos:pos + k] = bytes(len(data[pos:pos + k]))
    return bytes(data)


# ---------------------------------------------------------------------------- images

def _photo(w: int = 64, h: int = 48) -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.clip(rng.normal(180, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    img[h // 5: 4 * h // 5, w // 4: 3 * w // 4] = (40, 60, 150)
    return img


def _encode(fmt: str) -> bytes:
    img = _photo()
    buf = io.BytesIO()
    if fmt == "png16":
        Image.fromarray((img[..., 0].astype(np.uint16) * 257)).save(buf, "PNG")
    elif fmt == "png-rgba":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 200, np.uint8)])).save(buf, "PNG")
    elif fmt == "png-palette":
        Image.fromarray(img).convert("P", palette=Image.Palette.ADAPTIVE).save(buf, "PNG", transparency=0)
    elif fmt == "jpeg-exif":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate
        Image.fromarray(img).save(buf, "JPEG", exif=exif, quality=80)
    elif fmt == "jpeg-progressive":
        Image.fromarray(img).save(buf, "JPEG", progressive=True, quality=80)
    elif fmt == "gif":
        frames = [Image.fromarray(img).convert("P"), Image.fromarray(255 - img).convert("P")]
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    elif fmt == "tiff-lzw":
        Image.fromarray(img).save(buf, "TIFF", compression="tiff_lzw")
    else:
        Image.fromarray(img).save(buf, {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP",
                                        "webp": "WEBP", "ppm": "PPM"}[fmt])
    return buf.getvalue()


IMAGE_SEEDS = {fmt: _encode(fmt) for fmt in (
    "png", "png16", "png-rgba", "png-palette", "jpeg", "jpeg-exif", "jpeg-progressive", "gif", "tiff",
    "tiff-lzw", "bmp", "webp", "ppm")}
SUFFIX = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "tiff": ".tif", "bmp": ".bmp", "webp": ".webp",
          "ppm": ".ppm"}


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


DIMS = st.sampled_from([0, 1, 2, 3, 7, 28, 255, 256, 4096, 8000, 65535, 2**31 - 1]) | st.integers(0, 2**32 - 1)


@st.composite
def crafted_png(draw) -> bytes:
    """A PNG with valid CRCs whose header fields are random (size, depth, colour type)."""
    ihdr = struct.pack(">IIBBBBB", draw(DIMS), draw(DIMS), draw(st.sampled_from([1, 2, 4, 8, 16, 3, 0, 255])),
                       draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7])), 0, 0, draw(st.sampled_from([0, 1, 2])))
    raw = draw(st.binary(max_size=512)) if draw(st.booleans()) else bytes(draw(st.integers(0, 20000)))
    chunks = [_png_chunk(b"IHDR", ihdr)]
    if draw(st.booleans()):
        chunks.append(_png_chunk(b"PLTE", draw(st.binary(max_size=800))))
    if draw(st.booleans()):
        chunks.append(_png_chunk(b"tRNS", draw(st.binary(max_size=300))))
    chunks += [_png_chunk(b"IDAT", zlib.compress(raw)), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@st.composite
def crafted_bmp(draw) -> bytes:
    """A BMP whose info header is random (size, negative heights, depth, compression)."""
    width = draw(st.sampled_from([0, 1, 28, 8000, -5, 2**31 - 1]) | st.integers(-2**31, 2**31 - 1))
    height = draw(st.sampled_from([0, 1, -28, 8000, 2**31 - 1]) | st.integers(-2**31, 2**31 - 1))
    bpp = draw(st.sampled_from([1, 4, 8, 16, 24, 32, 0, 3, 64]))
    compression = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 99]))
    body = draw(st.binary(max_size=2048))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, len(body), 2835, 2835,
                       draw(st.integers(0, 2**32 - 1)) if draw(st.booleans()) else 0, 0)
    offset = draw(st.sampled_from([54, 0, 14, 10**9]) | st.integers(0, 2**32 - 1))
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(body), 0, 0, offset)
    return head + info + body


@st.composite
def crafted_gif(draw) -> bytes:
    """A GIF with random screen and frame sizes and LZW data."""
    sw, sh, fw, fh = (draw(st.integers(0, 65535)) for _ in range(4))
    lzw = draw(st.integers(0, 12))
    data = draw(st.binary(max_size=255))
    return (b"GIF89a" + struct.pack("<HHBBB", sw, sh, 0x80, 0, 0) + bytes(6)
            + b"," + struct.pack("<HHHHB", draw(st.integers(0, 65535)), draw(st.integers(0, 65535)), fw, fh, 0)
            + bytes([lzw, len(data)]) + data + b"\x00;")


images = st.one_of(
    st.sampled_from(sorted(IMAGE_SEEDS)).flatmap(
        lambda fmt: st.tuples(mutated(IMAGE_SEEDS[fmt]), st.just(SUFFIX[fmt.split("-")[0].rstrip("16")]))),
    st.sampled_from(sorted(IMAGE_SEEDS)).flatmap(  # the header: where sizes and formats are declared
        lambda fmt: st.tuples(mutated(IMAGE_SEEDS[fmt], (0, 64)), st.just(SUFFIX[fmt.split("-")[0].rstrip("16")]))),
    st.tuples(crafted_png(), st.just(".png")),
    st.tuples(crafted_bmp(), st.just(".bmp")),
    st.tuples(crafted_gif(), st.just(".gif")),
)


@pytest.fixture(scope="module")
def backend():
    return models.load(models.resolve(None, "tflite"))


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_images_through_classify_files(tier, backend, tmp_path, capsys):
    from fmnistedge.runtime.classify import Failure, Prediction, classify_files

    def check(case):
        data, suffix = case
        path = tmp_path / f"case{suffix}"
        path.write_bytes(data)
        (result,) = classify_files([path], backend)  # anything but a result per file escapes as an error
        if isinstance(result, Failure):
            one_line(result.error)
            assert str(path) in result.error
            return "error: " + result.error.split(str(path))[0].split(":")[0][:30]
        assert isinstance(result, Prediction)
        assert 0.0 <= result.confidence <= 1.0 and np.isfinite(result.confidence)
        return "classified"

    run_fuzz("image", tier, images, check, per_case_s=30, capsys=capsys)


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_images_through_the_cli(tier, tmp_path, capsys):
    def check(case):
        (data, suffix), as_json = case
        path = tmp_path / f"case{suffix}"
        path.write_bytes(data)
        result = runner.invoke(app, ["classify", str(path)] + (["--json"] if as_json else []))
        assert_cli_contract(result, as_json)
        assert result.exit_code in (0, 1)
        if result.exit_code == 1:
            assert result.stderr.count("\n") == 1, result.stderr
        return f"exit {result.exit_code}"

    run_fuzz("image-cli", tier, st.tuples(images, st.booleans()), check, per_case_s=30, capsys=capsys)


# ---------------------------------------------------------------------------- model files

_MODEL_WORKER = r'''
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import numpy as np
from fmnistedge.errors import FmnistEdgeError
from fmnistedge.runtime import models
from fmnistedge.runtime.openset import for_model
print("@@ready", flush=True)
for line in sys.stdin:
    try:
        ref = models.resolve(line.rstrip("\n"))
        backend = models.load(ref)
        for_model(ref)
        backend.predict(np.zeros((2, 28, 28, 1), np.float32))
        out = {"status": "ok"}
    except FmnistEdgeError as exc:
        out = {"status": "error", "exit": exc.exit_code, "message": str(exc)}
    except BaseException:
        out = {"status": "crash", "message": traceback.format_exc()}
    print("@@" + json.dumps(out), flush=True)
'''


class ModelWorker:
    """A process that resolves, loads and runs model files one at a time."""

    def __init__(self) -> None:
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _MODEL_WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                     env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert self._line(120) == "@@ready"

    def _line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None  # the worker died
            if line.startswith("@@"):
                return line.rstrip("\n")
        return None

    def ask(self, path: Path, timeout: float = 60) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        line = self._line(timeout)
        if line is None:
            self.proc.kill()
            self.proc.wait()
            code, self.proc = self.proc.returncode, None
            keep = Path(os.environ.get("FUZZ_KEEP", "/tmp")) / f"fuzz-crash{path.suffix}"
            shutil.copy(path, keep)
            pytest.fail(f"loading {path.name} killed or hung the worker (exit {code}); the file is kept at {keep}")
        return json.loads(line[2:])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def worker():
    w = ModelWorker()
    yield w
    w.close()


MODEL_SEEDS = {name: (SHIPPED / name).read_bytes() for name in
               ("model_int8.tflite", "model_fp32.tflite", "model_int8.onnx", "model_fp32.onnx")}
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=12)


def _tflite_parts(data: bytes) -> tuple[bytes, dict]:
    meta = read_tflite_metadata(data)
    return data[:meta["payload"]["bytes"]], meta


def _tflite_with_metadata(body: bytes, meta: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fmnistedge.json", json.dumps(meta))
    return body + buf.getvalue()


@st.composite
def model_files(draw) -> tuple[bytes, str]:
    name = draw(st.sampled_from(sorted(MODEL_SEEDS)))
    seed, suffix = MODEL_SEEDS[name], Path(name).suffix
    kind = draw(st.sampled_from(["anywhere", "body", "tail", "header", "foreign", "metadata-json"]))
    if suffix == ".tflite":
        body, meta = _tflite_parts(seed)
        if kind == "body":
            return draw(mutated(seed, (0, len(body)))), suffix
        if kind == "tail":  # the embedded metadata zip archive
            return draw(mutated(seed, (len(body), len(seed)))), suffix
        if kind == "foreign":  # no metadata at all: the bytes go to LiteRT unchecked
            return draw(mutated(body)), suffix
        if kind == "metadata-json":  # sealed, but the JSON values are anything
            meta = dict(meta)
            for key in draw(st.lists(st.sampled_from(["arch", "precision", "photo_calibration", "payload",
                                                      "labels", "input"]), min_size=1, max_size=3)):
                meta[key] = draw(JSON_VALUES | st.dictionaries(
                    st.sampled_from(["temperature", "reject_below", "bytes", "sha256"]), JSON_VALUES, max_size=3))
            return _tflite_with_metadata(body, meta), suffix
    else:
        head = len(seed) - ONNX_SEAL_BYTES
        if kind == "body":
            return draw(mutated(seed, (0, head))), suffix
        if kind == "tail":  # the seal trailer
            return draw(mutated(seed, (head, len(seed)))), suffix
        if kind == "foreign":  # seal cut off and our metadata key renamed: ONNX Runtime parses it unchecked
            body = seed[:head].replace(b"\x0a\x0afmnistedge\x12", b"\x0a\x0axmnistedge\x12")
            return draw(mutated(body)), suffix
        if kind == "metadata-json":
            return draw(mutated(seed, (max(0, head - 2000), head))), suffix
    if kind == "header":
        return draw(mutated(seed, (0, 64))), suffix
    return draw(mutated(seed)), suffix


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_model_files_through_resolve_and_load(tier, worker, tmp_path, capsys):
    def check(case):
        data, suffix = case
        path = tmp_path / f"model{suffix}"  # a lone file: the embedded seal is what checks it
        path.write_bytes(data)
        out = worker.ask(path)
        assert out["status"] != "crash", out["message"]
        if out["status"] == "error":
            one_line(out["message"])
            assert out["exit"] in EXIT_CODES
            return "refused: " + out["message"].split(str(path))[-1][:30].strip(" :")
        return "loaded and ran"

    run_fuzz("model", tier, model_files(), check, per_case_s=60, capsys=capsys)


# ---------------------------------------------------------------------------- manifests

MANIFEST_SEED = json.loads((SHIPPED / "manifest.json").read_text())
MANIFEST_PATHS = [(), ("files",), ("files", "model_int8.tflite"), ("files", "model_int8.tflite", "bytes"),
                  ("files", "model_int8.tflite", "sha256"), ("files", "model_int8.tflite", "precision"),
                  ("files", "model_int8.tflite", "format"), ("files", "model_int8.tflite", "status"),
                  ("files", "model_int8.tflite", "verified"), ("files", "model_int8.tflite", "test_accuracy"),
                  ("arch",), ("schema_version",), ("photo_calibration",), ("photo_calibration", "temperature"),
                  ("photo_calibration", "reject_below")]


@st.composite
def manifests(draw) -> bytes:
    if draw(st.integers(0, 3)) == 0:  # byte-level: broken JSON, encodings, truncation
        return draw(mutated(json.dumps(MANIFEST_SEED, indent=2).encode(), max_ops=3))
    doc = json.loads(json.dumps(MANIFEST_SEED))
    doc["files"] = {"model_int8.tflite": doc["files"]["model_int8.tflite"]}
    if draw(st.booleans()):
        doc["photo_calibration"] = {"temperature": 1.5, "reject_below": 0.3}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(MANIFEST_PATHS))
        parent = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or not path:
            continue
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_manifests(tier, tmp_path, capsys):
    from fmnistedge.runtime.openset import for_model

    arch_dir = tmp_path / "art" / "fz"
    arch_dir.mkdir(parents=True)
    shutil.copy(SHIPPED / "model_int8.tflite", arch_dir)

    def check(data):
        (arch_dir / "manifest.json").write_bytes(data)
        outcome = []
        for call in (lambda: models.list_models(arch_dir.parent),
                     lambda: for_model(models.resolve("fz", None, arch_dir.parent)),
                     lambda: for_model(models.resolve(str(arch_dir / "model_int8.tflite")))):
            try:
                call()
                outcome.append("ok")
            except FmnistEdgeError as exc:
                one_line(str(exc))
                assert exc.exit_code in EXIT_CODES
                outcome.append("refused")
        return "/".join(outcome)

    run_fuzz("manifest", tier, manifests(), check, per_case_s=30, capsys=capsys)


# ---------------------------------------------------------------------------- labels.csv

LABELS_SEED = "path,label_index,photographer\na.jpg,0,ann\nsub/b.jpg,9,bob\n"
CSV_CELLS = st.sampled_from(["a.jpg", "../x.jpg", "/etc/passwd", "", "10", "-1", "3", "3.0", " 4", "nan", "\x00",
                             "\ufeff", "\"", "a,b", "x\ny", "0x1", "\u0663"]) | st.text(max_size=12)


@st.composite
def labels_files(draw) -> bytes:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return draw(mutated(LABELS_SEED.encode(), max_ops=3))
    header = draw(st.sampled_from(["path,label_index", "path,label_index", "label_index,path",
                                   "path,label_index,path", "path", "\ufeffpath,label_index", "PATH,LABEL_INDEX", ""]))
    label = st.sampled_from([str(i) for i in range(10)]) | CSV_CELLS
    rows = draw(st.lists(st.lists(CSV_CELLS, max_size=4) | st.tuples(CSV_CELLS, label).map(list), max_size=6))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = sep.join([header] + [",".join(r) for r in rows])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace")


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_labels_csv(tier, tmp_path, capsys):
    from fmnistedge.runtime.evaluate import read_labels

    def check(data):
        (tmp_path / "labels.csv").write_bytes(data)
        try:
            items = read_labels(tmp_path)
        except FmnistEdgeError as exc:
            one_line(str(exc))
            return "refused"
        for path, label in items:
            assert 0 <= label <= 9 and isinstance(path, Path)
        return "read"

    run_fuzz("labels", tier, labels_files(), check, per_case_s=10, capsys=capsys)


# ---------------------------------------------------------------------------- wardrobes

def _wardrobe_seed(path: Path) -> bytes:
    from fmnistedge.runtime.wardrobe import Item, Wardrobe

    w = Wardrobe(path)
    for i in range(30):
        w.add(Item("Coat", 4, 0.9, "edge-r", "ab" * 32, f"camera:{i}", bytes(range(256)) * 4))
    w.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to mutate
    con.close()
    return path.read_bytes()


@st.composite
def wardrobe_files(draw, seed: bytes) -> bytes:
    page = 4096
    region = draw(st.sampled_from([None, (0, 100), (page, len(seed))]))  # anywhere, the header, the pages
    data = draw(mutated(seed, region, max_ops=3))
    if draw(st.integers(0, 3)) == 0:  # a header field: page size, format versions, schema cookie, user_version, application_id
        offset, size = draw(st.sampled_from([(16, 2), (18, 1), (19, 1), (24, 4), (28, 4), (40, 4), (44, 4),
                                             (56, 4), (60, 4), (68, 4)]))
        value = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 2**(8 * size) - 1, 2**(8 * size - 1)])
                     | st.integers(0, 2**(8 * size) - 1))
        data = data[:offset] + value.to_bytes(size, "big") + data[offset + size:]
    if draw(st.integers(0, 4)) == 0:  # a whole page zeroed or swapped
        n = max(1, len(data) // page)
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        pages = [data[i * page:(i + 1) * page] for i in range(n)]
        pages[a], pages[b] = (bytes(page), pages[b]) if draw(st.booleans()) else (pages[b], pages[a])
        data = b"".join(pages) + data[n * page:]
    return data


def _use_wardrobe(path: Path) -> str:
    """Every way the runtime opens a wardrobe; only WardrobeError (one line) may come out."""
    from fmnistedge.runtime.wardrobe import Item, Wardrobe, WardrobeError

    outcome = []
    for step in ("read", "write"):
        try:
            w = Wardrobe(path, readonly=step == "read", busy_timeout=1)
            try:
                w.items(), w.stats(), w.export("csv"), w.export("json")
                if step == "write":
                    w.add(Item("Bag", 8, 0.7, "edge-r", None, "fuzz"))
            finally:
                w.close()
            outcome.append(f"{step} ok")
        except WardrobeError as exc:
            one_line(str(exc))
            outcome.append(f"{step} refused")
    return ", ".join(outcome)


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_wardrobe_files(tier, tmp_path, capsys):
    seed = _wardrobe_seed(tmp_path / "seed.db")

    def check(data):
        path = tmp_path / "w.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(data)
        outcome = _use_wardrobe(path)
        for args in (["wardrobe", "list"], ["wardrobe", "export", "--json"]):
            assert_cli_contract(runner.invoke(app, [*args, "--wardrobe", str(path)]))
        return outcome

    run_fuzz("wardrobe", tier, wardrobe_files(seed), check, per_case_s=30, capsys=capsys)


SQL_VALUES = (st.none() | st.integers(-2**63, 2**63 - 1) | st.floats() | st.text(max_size=20)
              | st.binary(max_size=20))


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_wardrobe_values(tier, tmp_path, capsys):
    """A sound SQLite file whose rows hold values of any type (written by another tool or
    by hand): SQLite's column affinities do not stop a blob label or a text confidence."""
    from fmnistedge.runtime.wardrobe import COLUMNS

    seed = _wardrobe_seed(tmp_path / "seed.db")
    columns = [c for c in COLUMNS if c != "id"] + ["thumbnail"]

    def check(row):
        path = tmp_path / "w.db"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(seed)
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA ignore_check_constraints=1")
            con.execute(f"INSERT INTO items ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        [row.get(c, v) for c, v in zip(columns, ("Coat", 4, 0.5, "t", "m", None, "s", None))])
            con.commit()
        except sqlite3.IntegrityError:
            return "refused by SQLite"  # NOT NULL
        finally:
            con.close()
        outcome = _use_wardrobe(path)
        for args in (["wardrobe", "list"], ["wardrobe", "stats"], ["wardrobe", "export", "--json"],
                     ["wardrobe", "export", "--csv"]):
            assert_cli_contract(runner.invoke(app, [*args, "--wardrobe", str(path)]))
        return outcome

    rows = st.dictionaries(st.sampled_from(columns), SQL_VALUES, min_size=1, max_size=3)
    run_fuzz("wardrobe-values", tier, rows, check, per_case_s=30, capsys=capsys)


# ---------------------------------------------------------------------------- classify options

NUMBERS = st.sampled_from(["0", "-1", "1", "3", "11", "100000", "1e3", "x", "", "2**31", "9" * 30, "nan", "1.5",
                           " 2", "0x10", "\u0663"])
OPTION = st.one_of(
    st.tuples(st.sampled_from(["--top-k", "--threads"]), NUMBERS),
    st.tuples(st.sampled_from(["--engine"]), st.sampled_from(["onnx", "tflite", "tensorflow", "", "ONNX"])),
    st.tuples(st.sampled_from(["--precision"]), st.sampled_from(["int8", "fp16", "fp32", "int4", ""])),
    st.tuples(st.sampled_from(["--model"]), st.sampled_from(["edge-r", "edge", "nope", "x.onnx", "x.tflite", "",
                                                            "/", "../../etc/passwd"])),
    st.tuples(st.sampled_from(["--raw", "--json", "--help"])),
    st.tuples(st.sampled_from(["--bogus", "-x", "--top-k=", "--threads=-3", "--", "-"])),
    st.tuples(st.just("--save-preprocessed"), st.sampled_from(["SAVE", "/proc", "/dev/null/x"])),
)


@pytest.mark.parametrize("tier", TIERS)
def test_fuzz_classify_options(tier, tmp_path, capsys):
    image = tmp_path / "good.png"
    image.write_bytes(IMAGE_SEEDS["png"])

    def check(options):
        args = ["classify", str(image)]
        for opt in options:
            args += [a.replace("SAVE", str(tmp_path / "seen")) for a in opt]
        result = runner.invoke(app, args)
        options = args[:args.index("--")] if "--" in args else args  # after "--" every word is a PATH
        assert_cli_contract(result, "--json" in options and "--help" not in options)
        if result.exit_code == 2 and "--help" not in args:
            assert result.output.strip().count("\n") == 0, result.output  # one line, not a usage box
        return f"exit {result.exit_code}"

    run_fuzz("args", tier, st.lists(OPTION, max_size=4), check, per_case_s=30, capsys=capsys)


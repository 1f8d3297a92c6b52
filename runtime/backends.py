"""Inference engines behind one small protocol: ONNX Runtime and LiteRT.

``predict`` takes the model input contract (float32 (N, S, S, 1) in [0, 1], S the file's
``input_size``: 28, or 56 for a photo model that takes more detail (``labels.INPUT_SIZES``),
from :func:`fmnistedge.runtime.preprocess.to_model_input`) and returns float32
(N, 10) probabilities, checked to be probabilities. int8 input/output (de)quantization happens here, once.
The engine is chosen by file suffix. No TensorFlow anywhere.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from fmnistedge.errors import ModelError, first_line
from fmnistedge.formats import SUFFIXES
from fmnistedge.labels import IMAGE_SIZE, INPUT_SIZES, NUM_CLASSES
from fmnistedge.runtime.quant import dequantize, is_quantized, quantize



class Backend(Protocol):
    path: Path
    engine: str
    input_size: int  # the side of the square images it takes (labels.INPUT_SIZES)

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


def input_size(backend) -> int:
    """The image side ``backend`` takes (28 for a backend that does not say: test doubles)."""
    return getattr(backend, "input_size", IMAGE_SIZE)


def _check_shape(path: Path, shape) -> int:
    """The file's input side: (N, S, S, 1) with S in ``INPUT_SIZES``."""
    dims = tuple(int(d) if isinstance(d, (int, np.integer)) else d for d in tuple(shape)[1:])
    if len(dims) != 3 or dims[2] != 1 or dims[0] != dims[1] or dims[0] not in INPUT_SIZES:
        sizes = " or ".join(f"(N, {s}, {s}, 1)" for s in INPUT_SIZES)
        raise ModelError(f"{path} takes input of shape {tuple(shape)}; expected {sizes}")
    return dims[0]


def _check_classes(path: Path, shape) -> None:
    """The output must be one score per class: (N, 10) (a symbolic last dimension is checked per call)."""
    last = tuple(shape)[-1] if len(tuple(shape)) else None
    if isinstance(last, (int, np.integer)) and last > 0 and last != NUM_CLASSES:
        raise ModelError(f"{path} outputs {last} values per image; expected {NUM_CLASSES} class scores")


# How far an image's scores may sum from 1: an int8 softmax rounds each of its 10
# outputs to 1/256 (the shipped files sum to 0.984-1.008), logits miss by far more.
PROBABILITY_SUM_TOLERANCE = 0.05


def _as_scores(path: Path, y, n: int, none_remainder: bool = False) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.size != n * NUM_CLASSES:
        raise ModelError(f"{path} returned output of shape {y.shape} for {n} images; "
                         f"expected ({n}, {NUM_CLASSES})")
    y = y.reshape(n, NUM_CLASSES)
    _check_probabilities(path, y, none_remainder)
    return y


def _check_probabilities(path: Path, y: np.ndarray, none_remainder: bool = False) -> None:
    """Every confidence we print is read as a probability, so a model that outputs
    logits (another tool's export without its softmax) or NaN fails here instead of
    printing "Shirt (5302.7%)" or "nan%". A model whose metadata declares a "none of
    these" output (``photo_calibration.none_output``) outputs ten class probabilities
    that may sum to less than 1: the remainder is "none"."""
    problem = None
    if not np.isfinite(y).all():
        problem = "values that are not finite (NaN or infinity)"
    elif (y < -1e-3).any():
        problem = f"negative values (down to {float(y.min()):.3g})"
    elif y.size:
        sums = y.sum(axis=1)
        if none_remainder:
            sums = np.maximum(sums, 1.0)  # below 1 is the "none" probability
        worst = sums[np.argmax(np.abs(sums - 1.0))]
        if abs(worst - 1.0) > PROBABILITY_SUM_TOLERANCE:
            problem = f"scores that sum to {worst:.2f} for an image"
    if problem:
        raise ModelError(f"{path} does not output class probabilities ({problem}); expected a "
                         "softmax output: 10 values >= 0 summing to 1 per image")


class OnnxBackend:
    engine = "onnx"
    none_remainder = False  # set from the file's embedded metadata

    def __init__(self, path: Path | str, threads: int = 1, model_bytes: bytes | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads burn a core between calls; a Pi has few to spare.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                model_bytes if model_bytes is not None else str(self.path), opts,
                providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises several private exception types
            raise ModelError(f"ONNX Runtime cannot load {self.path}: {first_line(exc)}") from None
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_size = _check_shape(self.path, inp.shape)
        if inp.type != "tensor(float)":
            raise ModelError(f"{self.path} takes {inp.type} input; expected float32 pixels in [0, 1]")
        _check_classes(self.path, out.shape)
        from fmnistedge.runtime.modelmeta import parse_onnx_metadata

        self.none_remainder = _none_output(parse_onnx_metadata(
            self.session.get_modelmeta().custom_metadata_map, str(self.path)))
        self.input_name = inp.name
        self.output_name = out.name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        try:
            out = self.session.run([self.output_name], {self.input_name: batch.astype(np.float32, copy=False)})
        except Exception as exc:  # ORT raises several private exception types
            raise ModelError(f"ONNX Runtime failed to run {self.path}: {first_line(exc)}") from None
        return _as_scores(self.path, out[0], len(batch), self.none_remainder)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines (LiteRT prints "INFO: Created ... XNNPACK delegate")
    so stderr carries only fmnistedge's own messages."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # captured streams in tests
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


# Public name: decoders print to fd 2 as well (libtiff's "Using code not yet in table."
# and "LZWDecode: Not enough data" on a damaged TIFF, through Pillow), so classify and
# evaluate decode inside it too; the image's own error is still one line of ours.
quiet_native_stderr = _quiet_native_stderr


class LiteRTBackend:
    engine = "tflite"
    none_remainder = False  # set from the file's embedded metadata

    def __init__(self, path: Path | str, threads: int = 1, model_bytes: bytes | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        try:
            if model_bytes is not None:
                self.interp = Interpreter(model_content=model_bytes, num_threads=threads)
            else:
                self.interp = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot load {self.path}: {first_line(exc)}") from None
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        self.input_size = _check_shape(self.path, self.inp["shape"])
        dtype = np.dtype(self.inp["dtype"])
        if dtype != np.float32 and not (is_quantized(dtype) and self.inp["quantization"][0] > 0):
            raise ModelError(f"{self.path} takes {dtype} input without quantization parameters; "
                             f"expected float32, or int8/uint8 with a scale")
        _check_classes(self.path, self.out["shape"])
        from fmnistedge.runtime.modelmeta import read_tflite_metadata

        data = model_bytes if model_bytes is not None else self.path.read_bytes()
        self.none_remainder = _none_output(read_tflite_metadata(data))
        self._batch = None

    def _resize(self, n: int) -> None:
        if self._batch != n:
            self.interp.resize_tensor_input(self.inp["index"], [n, self.input_size, self.input_size, 1])
            with _quiet_native_stderr():
                self.interp.allocate_tensors()
            self.inp = self.interp.get_input_details()[0]
            self.out = self.interp.get_output_details()[0]
            self._batch = n

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = batch
        if is_quantized(self.inp["dtype"]):
            scale, zp = self.inp["quantization"]
            x = quantize(batch, scale, zp, self.inp["dtype"])
        try:
            self._resize(len(batch))  # a file with a fixed batch size fails here
            self.interp.set_tensor(self.inp["index"], x.astype(self.inp["dtype"], copy=False))
            self.interp.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT failed to run {self.path} on a batch of {len(batch)}: "
                             f"{first_line(exc)}") from None
        y = self.interp.get_tensor(self.out["index"])
        if is_quantized(self.out["dtype"]):
            scale, zp = self.out["quantization"]
            y = dequantize(y, scale, zp)
        return _as_scores(self.path, y, len(batch), self.none_remainder)


def engine_for(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelError(f"Unknown model file type {suffix!r} ({path}); expected {' or '.join(SUFFIXES)}")
    return SUFFIXES[suffix]


def open_backend(path: Path | str, threads: int = 1, model_bytes: bytes | None = None) -> Backend:
    """Open a model file with the engine its suffix calls for (or ``model_bytes``
    in memory, named ``path`` in messages)."""
    path = Path(path)
    if model_bytes is None and not path.is_file():
        raise ModelError(f"Model file not found: {path}")
    cls = OnnxBackend if engine_for(path) == "onnx" else LiteRTBackend
    return cls(path, threads=threads, model_bytes=model_bytes)


def _none_output(meta: dict | None) -> bool:
    """Whether a file's embedded metadata says its outputs leave a "none" remainder."""
    block = (meta or {}).get("photo_calibration")
    return isinstance(block, dict) and block.get("none_output") is True


def predict_all(backend: Backend, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Probabilities for a whole array of model inputs, in batches."""
    chunks = [backend.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), np.float32)

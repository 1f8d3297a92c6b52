"""Inference engines behind one small protocol: ONNX Runtime and LiteRT.

``predict`` takes the model input contract (float32 (N, 28, 28, 1) in [0, 1],
from :func:`fmnistedge.runtime.preprocess.to_model_input`) and returns float32
(N, 10) probabilities. int8 input/output (de)quantization happens here, once.
The engine is chosen by file suffix. No TensorFlow anywhere.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from fmnistedge.errors import ModelError
from fmnistedge.labels import INPUT_SHAPE, NUM_CLASSES
from fmnistedge.runtime.quant import dequantize, is_quantized, quantize

ENGINES = {".onnx": "onnx", ".tflite": "tflite"}


class Backend(Protocol):
    path: Path
    engine: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


def _check_shape(path: Path, shape) -> None:
    dims = tuple(shape)[1:]
    if dims != INPUT_SHAPE:
        raise ModelError(f"{path} takes input of shape {tuple(shape)}; expected (N, 28, 28, 1)")


class OnnxBackend:
    engine = "onnx"

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
            raise ModelError(f"ONNX Runtime cannot load {self.path}: {str(exc).splitlines()[0]}") from None
        inp = self.session.get_inputs()[0]
        _check_shape(self.path, inp.shape)
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name

    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run([self.output_name], {self.input_name: batch.astype(np.float32, copy=False)})
        return np.asarray(out[0], dtype=np.float32)


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


class LiteRTBackend:
    engine = "tflite"

    def __init__(self, path: Path | str, threads: int = 1, model_bytes: bytes | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        try:
            if model_bytes is not None:
                self.interp = Interpreter(model_content=model_bytes, num_threads=threads)
            else:
                self.interp = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot load {self.path}: {str(exc).splitlines()[0]}") from None
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        _check_shape(self.path, self.inp["shape"])
        self._batch = None

    def _resize(self, n: int) -> None:
        if self._batch != n:
            self.interp.resize_tensor_input(self.inp["index"], [n, *INPUT_SHAPE])
            with _quiet_native_stderr():
                self.interp.allocate_tensors()
            self.inp = self.interp.get_input_details()[0]
            self.out = self.interp.get_output_details()[0]
            self._batch = n

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self._resize(len(batch))
        x = batch
        if is_quantized(self.inp["dtype"]):
            scale, zp = self.inp["quantization"]
            x = quantize(batch, scale, zp, self.inp["dtype"])
        self.interp.set_tensor(self.inp["index"], x.astype(self.inp["dtype"], copy=False))
        self.interp.invoke()
        y = self.interp.get_tensor(self.out["index"])
        if is_quantized(self.out["dtype"]):
            scale, zp = self.out["quantization"]
            y = dequantize(y, scale, zp)
        return np.asarray(y, dtype=np.float32).reshape(len(batch), NUM_CLASSES)


def engine_for(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in ENGINES:
        raise ModelError(f"Unknown model file type {suffix!r} ({path}); expected .onnx or .tflite")
    return ENGINES[suffix]


def open_backend(path: Path | str, threads: int = 1, model_bytes: bytes | None = None) -> Backend:
    """Open a model file with the engine its suffix calls for (or ``model_bytes``
    in memory, named ``path`` in messages)."""
    path = Path(path)
    if model_bytes is None and not path.is_file():
        raise ModelError(f"Model file not found: {path}")
    cls = OnnxBackend if engine_for(path) == "onnx" else LiteRTBackend
    return cls(path, threads=threads, model_bytes=model_bytes)


def predict_all(backend: Backend, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Probabilities for a whole array of model inputs, in batches."""
    chunks = [backend.predict(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), np.float32)

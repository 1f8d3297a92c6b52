"""Measurement worker for ``fmnistedge bench``, run as a fresh subprocess.

``python -m fmnistedge.measure.benchworker single SPEC_JSON`` measures one model file in
this fresh process: load time, accuracy on the 10k test set (or its first
``test_limit`` images, for tests), throughput at
larger batches and the process's peak resident memory (what a user sees).

``python -m fmnistedge.measure.benchworker latency SPEC_JSON`` loads several models and
times batch-1 inference *interleaved* (one call of each model per round), for
the engine call through fmnistedge's classify path and for a bare engine call,
so both see the same machine noise. Prints one JSON document on stdout.

Engine rows never import TensorFlow; ``keras`` rows (the baseline) do, in their
own process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _set_keras_threads(threads: int):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


class KerasRunner:
    """Keras called as the source write-ups call it (``predict``) or directly (``model(x)``)."""

    def __init__(self, path: str, threads: int, style: str) -> None:
        _set_keras_threads(threads)
        import keras

        import fmnistedge.training.zoo.layers  # noqa: F401  registers custom layers

        self.model = keras.models.load_model(path, safe_mode=True, compile=False)
        self.style = style
        self.input_size = int(self.model.input_shape[1])

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.style == "keras-predict":
            return self.model.predict(x, verbose=0)
        return np.asarray(self.model(x, training=False))


def _open(spec: dict):
    if spec["format"].startswith("keras"):
        return KerasRunner(spec["path"], spec["threads"], spec["format"])
    from fmnistedge.runtime.backends import open_backend
    from fmnistedge.runtime.integrity import check_file

    check_file(spec["path"])  # as classify does: never time a tampered or truncated file
    return open_backend(spec["path"], threads=spec["threads"])


def single(spec: dict) -> dict:
    from fmnistedge.runtime.backends import input_size, predict_all
    from fmnistedge.runtime.preprocess import enlarge, to_model_input
    from fmnistedge.training import data

    x_u8, y = data.load_split("test", spec.get("data_dir"))
    rss_before = _rss_mb()
    start = time.perf_counter()
    runner = _open(spec)
    x = to_model_input(enlarge(x_u8, input_size(runner)))  # the test set as the model takes it
    runner.predict(x[:1])  # first call allocates; count it as part of loading
    load_ms = 1000 * (time.perf_counter() - start)
    x_eval, y_eval = x[:spec.get("test_limit")], y[:spec.get("test_limit")]  # None: all of them
    if spec["format"] == "keras-predict":
        probs = runner.model.predict(x_eval, batch_size=500, verbose=0)
    else:
        probs = predict_all(runner, x_eval, batch_size=500)
    accuracy = float((np.asarray(probs).argmax(1) == y_eval).mean())
    throughput = {}
    for bs in spec["batch_sizes"]:
        if bs == 1:
            continue
        batch = x[:bs]
        runner.predict(batch)
        reps = max(3, 512 // bs)
        t0 = time.perf_counter()
        for _ in range(reps):
            runner.predict(batch)
        throughput[str(bs)] = bs * reps / (time.perf_counter() - t0)
    return {"load_ms": load_ms, "accuracy": accuracy, "test_items": len(y_eval), "throughput_per_s": throughput,
            "peak_rss_mb": _rss_mb(), "rss_before_load_mb": rss_before}


def _bare_call(runner):
    """A bare engine call on a prepared input: what the engine costs with nothing around it."""
    from fmnistedge.runtime.backends import LiteRTBackend, OnnxBackend, input_size
    from fmnistedge.runtime.quant import quantize

    size = input_size(runner)
    x = np.random.default_rng(0).random((1, size, size, 1), dtype=np.float32)
    if isinstance(runner, OnnxBackend):
        sess, feed, outs = runner.session, {runner.input_name: x}, [runner.output_name]
        return lambda: sess.run(outs, feed)
    if isinstance(runner, LiteRTBackend):
        runner.predict(x)  # fixes the batch size at 1
        interp, inp, out = runner.interp, runner.inp, runner.out
        if np.dtype(inp["dtype"]) != np.float32:
            x = quantize(x, *inp["quantization"], inp["dtype"])

        def call():
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            return interp.get_tensor(out["index"])

        return call
    return None


def latency(spec: dict) -> dict:
    """Interleaved batch-1 timing of every model in ``spec['models']``."""
    from fmnistedge.runtime.backends import input_size
    from fmnistedge.runtime.classify import top_k
    from fmnistedge.runtime.preprocess import to_model_input

    rng = np.random.default_rng(1)
    runners, timings, bare, bare_t = {}, {}, {}, {}
    for m in spec["models"]:
        runners[m["id"]] = _open({**m, "threads": spec["threads"]})
        timings[m["id"]] = []
        fn = _bare_call(runners[m["id"]]) if not m["format"].startswith("keras") else None
        if fn is not None:
            bare[m["id"]], bare_t[m["id"]] = fn, []

    images = {mid: (rng.random((input_size(r), input_size(r))) * 255).astype(np.uint8) for mid, r in runners.items()}

    def classify_path(runner, mid):
        return top_k(runner.predict(to_model_input(images[mid][None]))[0], 3)

    for _ in range(spec["warmup"]):
        for mid, r in runners.items():
            classify_path(r, mid)
            if mid in bare:
                bare[mid]()
    for _ in range(spec["runs"]):
        for mid, r in runners.items():
            t0 = time.perf_counter()
            classify_path(r, mid)
            timings[mid].append(1000 * (time.perf_counter() - t0))
            if mid in bare:
                t0 = time.perf_counter()
                bare[mid]()
                bare_t[mid].append(1000 * (time.perf_counter() - t0))
    return {mid: {"latency_ms": timings[mid], "bare_latency_ms": bare_t.get(mid)} for mid in runners}


def main() -> None:
    from fmnistedge.errors import FmnistEdgeError

    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        result = single(spec) if mode == "single" else latency(spec)
    except FmnistEdgeError as exc:  # the parent records this line as the row's error
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(1) from None
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()

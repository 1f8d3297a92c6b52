"""Prove an exported file: run it in the engine that will run it on a device.

Every file runs on the full 10k test set in its runtime engine (ONNX Runtime or
LiteRT, never TensorFlow) and is compared with the Keras model: top-1
agreement, max |delta p| and accuracy, against the bars in ``FORMATS``. Silent
conversion failures (a file that runs but is wrong) fail here.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field

import numpy as np

from fmnistedge.errors import first_line
from fmnistedge.formats import Format
from fmnistedge.runtime.backends import LiteRTBackend, open_backend, predict_all

# Ops that mean the converter captured variables instead of constants; such a
# file can run and silently score 10% (seen with from_concrete_functions).
RESOURCE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
OPENCV_CHECK_ITEMS = 1000


@dataclass
class Verification:
    status: str  # "verified" or "verify_failed"
    test_accuracy: float
    keras_accuracy: float
    accuracy_delta_points: float
    agreement_with_keras: float
    max_abs_prob_diff: float
    test_items: int
    checks: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    io: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def open_bytes(fmt: Format, model: bytes):
    return open_backend(fmt.filename, threads=os.cpu_count() or 1, model_bytes=model)


def io_details(backend) -> dict:
    """Input/output dtypes and quantization, as users of the file need them."""
    if isinstance(backend, LiteRTBackend):
        details = {}
        for side, d in (("input", backend.inp), ("output", backend.out)):
            scale, zp = d["quantization"]
            details[side] = {"dtype": np.dtype(d["dtype"]).name, "scale": float(scale),
                             "zero_point": int(zp)}
        return details
    return {"input": {"dtype": "float32"}, "output": {"dtype": "float32"}}


def _structural_checks(fmt: Format, model: bytes, backend) -> tuple[dict, list[str]]:
    checks: dict[str, str] = {}
    failures: list[str] = []
    if fmt.engine == "tflite":
        ops = {op["op_name"] for op in backend.interp._get_ops_details()}
        bad = sorted(ops & RESOURCE_OPS)
        checks["ops"] = ",".join(sorted(ops))
        if bad:
            failures.append(f"resource-variable ops in the graph: {', '.join(bad)}")
    else:
        import onnx

        try:
            onnx.checker.check_model(onnx.load_from_string(model), full_check=True)
            checks["onnx_checker"] = "passed (full_check)"
        except onnx.checker.ValidationError as exc:
            checks["onnx_checker"] = f"failed: {first_line(exc)}"
            failures.append("onnx.checker full check failed")
    return checks, failures


def opencv_check(model: bytes, x: np.ndarray, keras_probs: np.ndarray) -> str:
    """Independent consumer: does OpenCV's DNN module load the ONNX file and agree?"""
    import cv2

    with tempfile.NamedTemporaryFile(suffix=".onnx") as tmp:
        tmp.write(model)
        tmp.flush()
        try:
            net = cv2.dnn.readNetFromONNX(tmp.name)
            net.setInput(np.ascontiguousarray(x[:OPENCV_CHECK_ITEMS]))
            out = np.asarray(net.forward()).reshape(-1, keras_probs.shape[1])
        except cv2.error as exc:
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            return f"unsupported by OpenCV {cv2.__version__}: {lines[-1][:160] if lines else 'error'}"
    ref = keras_probs[:OPENCV_CHECK_ITEMS]
    agree = float((out.argmax(1) == ref.argmax(1)).mean())
    diff = float(np.abs(out - ref).max())
    word = "agrees" if agree >= 0.999 and diff <= 1e-4 else "DISAGREES"
    return f"{word} with Keras on {len(ref)} images (OpenCV {cv2.__version__}): top-1 {agree:.4f}, max|dp| {diff:.2e}"


def verify(fmt: Format, model: bytes, x_test: np.ndarray, y_test: np.ndarray,
           keras_probs: np.ndarray) -> tuple[Verification, np.ndarray]:
    """Run ``model`` on the test set and judge it against its format's bar."""
    backend = open_bytes(fmt, model)
    probs = predict_all(backend, x_test)
    keras_acc = float((keras_probs.argmax(1) == y_test).mean())
    acc = float((probs.argmax(1) == y_test).mean())
    agreement = float((probs.argmax(1) == keras_probs.argmax(1)).mean())
    max_diff = float(np.abs(probs - keras_probs).max())
    checks, failures = _structural_checks(fmt, model, backend)
    drop = 100 * (keras_acc - acc)
    if drop > fmt.max_accuracy_drop:
        failures.append(f"accuracy {100 * acc:.2f}% is {drop:.2f} points below Keras "
                        f"(allowed {fmt.max_accuracy_drop})")
    if fmt.min_agreement is not None and agreement < fmt.min_agreement:
        failures.append(f"top-1 agreement with Keras {agreement:.4f} < {fmt.min_agreement}")
    if fmt.max_prob_diff is not None and max_diff > fmt.max_prob_diff:
        failures.append(f"max |dp| {max_diff:.2e} > {fmt.max_prob_diff:.0e}")
    if fmt.engine == "onnx" and fmt.precision == "fp32":
        checks["opencv_dnn"] = opencv_check(model, x_test, keras_probs)
    result = Verification(
        status="verify_failed" if failures else "verified",
        test_accuracy=acc, keras_accuracy=keras_acc,
        accuracy_delta_points=round(100 * (acc - keras_acc), 4),
        agreement_with_keras=agreement, max_abs_prob_diff=max_diff, test_items=int(len(y_test)),
        checks=checks, failures=failures, io=io_details(backend),
    )
    return result, probs


def same_outputs(fmt: Format, final: bytes, x: np.ndarray, expected: np.ndarray) -> bool:
    """The file with metadata embedded computes exactly what the verified bytes did."""
    return bool(np.array_equal(predict_all(open_bytes(fmt, final), x), expected))

"""Export one trained architecture to every requested format, verify, and write the manifest.

Nothing half-written: every file is converted, verified and staged under a
temporary name first; only when all are done are they renamed into place and
the manifest rewritten. Ctrl-C, a crash or a full disk at any earlier point
leaves the previous files and manifest untouched.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from fmnistedge.export import keras2onnx, keras2tflite, metadata, onnx2int8
from fmnistedge.formats import DEFAULT_CALIBRATION_SAMPLES, DEFAULT_ONNX_WEIGHT_BITS, Format
from fmnistedge.export.verify import same_outputs, verify
from fmnistedge.runtime.modelmeta import sha256_file
from fmnistedge.runtime.preprocess import enlarge, to_model_input

from fmnistedge import fileio, manifest, provenance
from fmnistedge.errors import ModelError, first_line
from fmnistedge.labels import IMAGE_SIZE, INPUT_SIZES, LABELS
from fmnistedge.training import data

CALIBRATION_SEED = 0
EXPORT_PACKAGES = ("fmnistedge", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime",
                   "ai-edge-litert", "numpy")


@dataclass(frozen=True)
class ExportOptions:
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    onnx_weight_bits: int = DEFAULT_ONNX_WEIGHT_BITS  # see fmnistedge.formats
    verify: bool = True
    data_dir: Path | None = None


def load_keras(path: Path) -> Any:
    """Load a .keras file safely (no unpickling) and check it is a Fashion-MNIST model."""
    import keras

    import fmnistedge.training.zoo.layers  # noqa: F401  registers the custom layers

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelError(f"{path} is not a loadable Keras model: {first_line(exc)[:200]}") from None
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if len(shape) != 4 or shape[3] != 1 or shape[1] != shape[2] or shape[1] not in INPUT_SIZES:
        sizes = " or ".join(f"(None, {s}, {s}, 1)" for s in INPUT_SIZES)
        raise ModelError(f"{path} takes input of shape {shape or None}; expected {sizes}")
    if tuple(model.output_shape[1:]) != (len(LABELS),):
        raise ModelError(f"{path} outputs shape {model.output_shape}; expected (None, 10)")
    return model


def calibration_images(count: int, data_dir: Path | None, size: int = IMAGE_SIZE) -> tuple[np.ndarray, dict]:
    """Calibration inputs: a class-stratified sample of the *training* set (at the model's ``size``)."""
    x, y = data.load_split("train", data_dir)
    idx = data.stratified_sample(y, count, seed=CALIBRATION_SEED)
    info = {"source": "training set", "samples": int(len(idx)),
            "selection": f"stratified by class, seed {CALIBRATION_SEED}",
            "per_class": np.bincount(y[idx], minlength=len(LABELS)).tolist()}
    return to_model_input(enlarge(x[idx], size)), info


def _convert(fmt: Format, model: Any, workdir: Path, calib: np.ndarray | None,
             cache: dict[str, bytes], onnx_weight_bits: int) -> bytes:
    if fmt.engine == "tflite":
        saved = workdir / "saved_model"
        if not saved.exists():
            keras2tflite.export_saved_model(model, saved)
        return keras2tflite.convert(saved, fmt.precision, calib)
    if "onnx-fp32" not in cache:
        cache["onnx-fp32"] = keras2onnx.convert(model)
    if fmt.precision == "fp32":
        return cache["onnx-fp32"]
    return onnx2int8.convert(cache["onnx-fp32"], calib, weight_bits=onnx_weight_bits)


def _calibration_record(fmt: Format, calib_info: dict | None, options: ExportOptions) -> dict | None:
    """How an int8 file was calibrated, with the ONNX weight width (TFLite int8 weights are 8-bit)."""
    if fmt.precision != "int8":
        return None
    return {**calib_info, "weight_bits": options.onnx_weight_bits if fmt.engine == "onnx" else 8}


def _embed(fmt: Format, raw: bytes, meta: dict) -> bytes:
    return metadata.embed_tflite(raw, meta) if fmt.engine == "tflite" else metadata.embed_onnx(raw, meta)


def export_arch(
    arch_dir: Path,
    formats: list[Format],
    options: ExportOptions = ExportOptions(),
    step: Callable[[str], None] = lambda _: None,
) -> dict:
    """Export ``arch_dir/model.keras``; returns the new manifest. Raises ModelError on bad input."""
    arch_dir = Path(arch_dir)
    keras_path = arch_dir / "model.keras"
    if not keras_path.is_file():
        raise ModelError(f"No trained model at {keras_path}; run 'fmnistedge train {arch_dir.name}' first")
    step("loading Keras model and test set")
    model = load_keras(keras_path)
    arch, size = model.name, int(model.input_shape[1])
    x_test_u8, y_test = data.load_split("test", options.data_dir)
    x_test = to_model_input(enlarge(x_test_u8, size))  # a 56 px model: enlarged as in its training
    keras_probs = np.asarray(model.predict(x_test, batch_size=1000, verbose=0), dtype=np.float32)
    keras_acc = float((keras_probs.argmax(1) == y_test).mean())
    keras_sha = sha256_file(keras_path)

    needs_calib = any(f.precision == "int8" for f in formats)
    calib, calib_info = (calibration_images(options.calibration_samples, options.data_dir, size)
                         if needs_calib else (None, None))
    tools = provenance.package_versions(EXPORT_PACKAGES)
    command = provenance.command_line()
    old = manifest.load(arch_dir)
    doc = manifest.new_manifest(arch, keras_path.name, keras_sha, keras_acc, size)
    photo_calibration = _photo_calibration(arch_dir / "train.json")
    if photo_calibration is not None:
        doc["photo_calibration"] = photo_calibration
    if old and old.get("keras", {}).get("sha256") == keras_sha:
        doc["files"] = {k: v for k, v in old["files"].items() if (arch_dir / k).is_file()}

    staged: list[tuple[Path, Path]] = []
    cache: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="fmnistedge-export-") as work:
        for fmt in formats:
            step(f"{arch}: converting {fmt.key}")
            raw = _convert(fmt, model, Path(work), calib, cache, options.onnx_weight_bits)
            meta = {
                "arch": arch, "labels": list(LABELS), "input": manifest.input_contract(size),
                "format": fmt.engine, "precision": fmt.precision, "tool_versions": tools,
                "calibration": _calibration_record(fmt, calib_info, options),
                "keras_sha256": keras_sha,
                **({"photo_calibration": photo_calibration} if photo_calibration else {}),
                "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            entry: dict[str, Any] = {"format": fmt.engine, "precision": fmt.precision,
                                     "key": fmt.key, "status": "unverified", "verified": False}
            final = _embed(fmt, raw, meta)
            if options.verify:
                step(f"{arch}: verifying {fmt.key} on {len(y_test)} test images")
                result, probs = verify(fmt, final, x_test, y_test, keras_probs)
                entry.update(status=result.status, verified=result.status == "verified",
                             **{k: v for k, v in result.to_dict().items() if k != "status"})
                meta["verification"] = {k: entry[k] for k in (
                    "status", "test_accuracy", "agreement_with_keras", "max_abs_prob_diff",
                    "accuracy_delta_points", "test_items")}
                final = _embed(fmt, raw, meta)
                if not same_outputs(fmt, final, x_test[:500], probs[:500]):
                    raise ModelError(f"{fmt.filename}: embedding metadata changed the outputs")
            tmp = Path(work) / fmt.filename
            tmp.write_bytes(final)
            entry.update(bytes=len(final), sha256=sha256_file(tmp), calibration=meta["calibration"],
                         tool_versions=tools, command=command, exported_at=meta["exported_at"])
            doc["files"][fmt.filename] = entry
            staged.append((tmp, arch_dir / fmt.filename))
        step(f"{arch}: writing files")
        _install(staged, arch_dir / manifest.MANIFEST_NAME, doc)
    return doc


def _photo_calibration(train_json: Path) -> dict | None:
    """A photo-trained model's temperature and "none of these" threshold (from its
    train.json), which the runtime applies to photos (fmnistedge.runtime.openset)."""
    import json

    if not train_json.is_file():
        return None
    rec = json.loads(train_json.read_text())
    photos = rec.get("photos")
    if not photos:
        return None
    cal = photos["calibration"]
    return {"temperature": cal["temperature"], "reject_below": cal["reject_below"], "budget": cal["budget"],
            "none_output": bool(cal.get("none_output", False)),
            **({"reject_score": cal["reject_score"]} if "reject_score" in cal else {}),  # absent: "top"
            "fitted_on": cal["fitted_on"],
            "split": {"folder": photos["folder"], "val_fraction": photos["val_fraction"], "seed": rec["seed"],
                      **({"fold": photos["fold"]} if photos.get("fold") else {}),
                      **({"senders": photos["val_senders"]} if "val_senders" in photos else {})}}


def _install(staged: list[tuple[Path, Path]], manifest_path: Path, doc: dict) -> None:
    """Copy every staged file next to its destination under a hidden name, then rename
    them all and write the manifest last: the window between old and new is a few renames."""
    with contextlib.ExitStack() as stack:
        for src, dest in staged:
            tmp = stack.enter_context(fileio.atomic_path(dest))
            tmp.write_bytes(src.read_bytes())
        # Leaving the ExitStack renames each temp file over its destination in order.
    fileio.write_json(manifest_path, doc)


def summary_rows(doc: dict, formats: list[Format]) -> list[dict]:
    rows = []
    for fmt in formats:
        e = doc["files"].get(fmt.filename)
        if e is None:
            continue
        rows.append({
            "arch": doc["arch"], "format": fmt.key, "file": fmt.filename, "bytes": e["bytes"],
            "test_accuracy": e.get("test_accuracy"), "keras_accuracy": doc["keras"]["test_accuracy"],
            "delta_points": e.get("accuracy_delta_points"), "status": e["status"],
            "failures": e.get("failures", []),
        })
    return rows



def export_targets(names: list[str] | None, artifacts: Path) -> list[Path]:
    """The trained folders to export: the named architectures' (each must be trained), or
    every trained model in ``artifacts``."""
    from fmnistedge.errors import FmnistEdgeError
    from fmnistedge.runtime.models import trained_dirs

    if names:
        dirs = [Path(artifacts) / n for n in names]
        missing = [d.name for d in dirs if not (d / "model.keras").is_file()]
        if missing:
            raise FmnistEdgeError(f"No trained model for {', '.join(missing)} in {artifacts}; "
                                  f"run 'fmnistedge train {' '.join(missing)}' first")
        return dirs
    dirs = trained_dirs(artifacts)
    if not dirs:
        raise FmnistEdgeError(f"No trained models in {artifacts}; run 'fmnistedge train ARCH' first")
    return dirs


def export_all(dirs: list[Path], formats: list[Format], options: ExportOptions, progress=None) -> list[dict]:
    """Export (and verify) every folder of ``dirs``; the summary rows of every file written."""
    from fmnistedge.progress import stepper

    per_arch = 2 + len(formats) * (2 if options.verify else 1)
    step = stepper(progress, "export", per_arch * len(dirs))
    rows = []
    for arch_dir in dirs:
        rows.extend(summary_rows(export_arch(arch_dir, formats, options, step=step), formats))
    return rows


def check_rows(rows: list[dict]) -> None:
    """Exit 3 (:class:`~fmnistedge.errors.VerificationError`) when a file missed its bar."""
    from fmnistedge.errors import VerificationError

    failed = [f"{r['arch']} {r['format']}" for r in rows if r["status"] == "verify_failed"]
    if failed:
        raise VerificationError(f"{len(failed)} file(s) failed verification: {', '.join(failed)}")

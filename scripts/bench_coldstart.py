"""Cold start of classifying one image: fmnistedge's TF-free runtime vs the floor and vs TensorFlow.

Each run is a fresh Python process (what a user waits for when typing a command).
The paths are interleaved, run by run, so machine noise hits them alike:

* runtime:    ``python -m fmnistedge classify IMAGE --json`` with the shipped default model
* litert:     the floor: a ten-line script that imports NumPy, Pillow and LiteRT, loads the
  same int8 ``.tflite`` file and classifies the image resized to 28x28 (no segmentation)
* litert_1_blas_thread: the same script with ``OPENBLAS_NUM_THREADS=1``, which the runtime
  commands set for themselves (``fmnistedge.cli``): the floor without OpenBLAS's thread pool
* litert_typer_opencv: that script importing Typer and OpenCV as well: what a classify that
  keeps Typer and segments with OpenCV cannot go below
* tensorflow: a process that imports TensorFlow, loads the same architecture's
  ``model.keras`` from ``--artifacts`` and predicts the same preprocessed image
  (left out, and said so, when there is no such file)

    python scripts/bench_coldstart.py [--runs 7] [--image samples/0-t-shirt-top.jpg] [--artifacts DIR]
        [--out results/coldstart.json]

Records wall time and the child's CPU time (user + system, less disturbed by other
load) per run; prints medians and the ratios; writes the figures with machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from argtypes import bounded
from fmnistedge.runtime.models import default_arch

from fmnistedge import fileio, provenance

TF_SNIPPET = """
import sys
import numpy as np
import keras
import fmnistedge.training.zoo.layers
from fmnistedge.runtime.preprocess import prepare_image, to_model_input
img, _ = prepare_image(sys.argv[2])
model = keras.models.load_model(sys.argv[1], safe_mode=True, compile=False)
print(int(np.argmax(model.predict(to_model_input(img[None]), verbose=0))))
"""


LITERT_SCRIPT = """
import sys
import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter
interp = Interpreter(model_path=sys.argv[1])
interp.allocate_tensors()
inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
x = np.asarray(Image.open(sys.argv[2]).convert("L").resize((28, 28)), np.float32) / 255.0
scale, zero = inp["quantization"]
interp.set_tensor(inp["index"], np.round(x[None, ..., None] / scale + zero).astype(inp["dtype"]))
interp.invoke()
print(int(np.argmax(interp.get_tensor(out["index"]))))
"""


def timed(cmd: list[str], env: dict, timeout: float = 300) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, stdout); a failing command ends the script."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, proc.stdout


def compile_package() -> None:
    """Write the .pyc files of every fmnistedge module (the package and the folders mapped into it)."""
    import compileall

    import fmnistedge.export
    import fmnistedge.runtime

    for pkg in (fmnistedge, fmnistedge.runtime, fmnistedge.export):
        for folder in pkg.__path__:
            compileall.compile_dir(folder, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=bounded(1, 1000), default=7)
    parser.add_argument("--image", type=Path, default=Path("samples/0-t-shirt-top.jpg"))
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--out", type=Path, default=Path("results/coldstart.json"))
    args = parser.parse_args()
    arch = default_arch()
    from fmnistedge.runtime import models

    ref = models.resolve(None, "tflite")
    keras_file = args.artifacts / arch / "model.keras"
    # Every path runs from compiled bytecode, as after 'pip install' (which compiles the
    # package): with PYTHONDONTWRITEBYTECODE set, an editable install would compile
    # fmnistedge's modules from source in every run (~0.1 s here) while NumPy, Pillow and
    # LiteRT come with their .pyc files.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    compile_package()
    commands = {
        "runtime": [sys.executable, "-m", "fmnistedge", "classify", str(args.image), "--json"],
        "litert": [sys.executable, "-c", LITERT_SCRIPT, str(ref.path), str(args.image)],
        # The same script with one OpenBLAS thread, as the runtime commands run NumPy
        # (fmnistedge.cli): the floor without the thread pool's start-up CPU.
        "litert_1_blas_thread": [sys.executable, "-c", LITERT_SCRIPT, str(ref.path), str(args.image)],
        # ... and with Typer and OpenCV imported as well (nothing used): the least any classify
        # that keeps Typer and segments with OpenCV can cost.
        "litert_typer_opencv": [sys.executable, "-c", "import typer, cv2" + LITERT_SCRIPT, str(ref.path),
                                str(args.image)],
    }
    if keras_file.is_file():
        commands["tensorflow"] = [sys.executable, "-c", TF_SNIPPET, str(keras_file), str(args.image)]
    else:
        print(f"{keras_file} missing: the TensorFlow row is left out", file=sys.stderr)
    envs = {name: env | {"OPENBLAS_NUM_THREADS": "1"} if name in ("litert_1_blas_thread", "litert_typer_opencv")
            else env for name in commands}
    for name, cmd in commands.items():
        timed(cmd, envs[name])  # warm the OS file cache for every path
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for i in range(args.runs):
        outs = {}
        for name, cmd in commands.items():
            w, c, outs[name] = timed(cmd, envs[name])
            wall[name].append(w)
            cpu[name].append(c)
        label = json.loads(outs["runtime"])["results"][0]["class_index"]
        print(f"run {i + 1}/{args.runs}: " + ", ".join(f"{k} {wall[k][-1]:.3f} s ({cpu[k][-1]:.3f} s CPU)"
                                                        for k in commands)
              + (f", TensorFlow same label: {label == int(outs['tensorflow'].strip().splitlines()[-1])}"
                 if "tensorflow" in outs else ""), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        "what": "a fresh process classifying one image: wall and CPU time (median of interleaved runs)",
        "image": str(args.image), "arch": arch, "runs": args.runs,
        "bytecode": "every path runs from compiled .pyc files (as after pip install)",
        "runtime_command": " ".join(commands["runtime"][1:]),
        "litert_path": f"ten-line script: NumPy, Pillow, LiteRT; {ref.path.name}; plain 28x28 resize",
        "tensorflow_path": (f"import tensorflow/keras, load {keras_file}, predict" if "tensorflow" in commands
                            else None),
        "seconds": wall, "cpu_seconds": cpu, "median_s": med, "median_cpu_s": med_cpu,
        "runtime_median_s": med["runtime"],
        "runtime_vs_litert": med["runtime"] / med["litert"],
        "runtime_vs_litert_cpu": med_cpu["runtime"] / med_cpu["litert"],
        "litert_1_blas_thread_path": "the ten-line script with OPENBLAS_NUM_THREADS=1",
        "runtime_vs_litert_1_blas_thread": med["runtime"] / med["litert_1_blas_thread"],
        "runtime_vs_litert_1_blas_thread_cpu": med_cpu["runtime"] / med_cpu["litert_1_blas_thread"],
        "litert_typer_opencv_path": "the ten-line script with one OpenBLAS thread, importing Typer and OpenCV too",
        "typer_opencv_floor_vs_litert_1_blas_thread": med["litert_typer_opencv"] / med["litert_1_blas_thread"],
        "typer_opencv_floor_vs_litert_1_blas_thread_cpu": (med_cpu["litert_typer_opencv"]
                                                           / med_cpu["litert_1_blas_thread"]),
        "environment": provenance.environment(),
    }
    if "tensorflow" in commands:
        result.update(tensorflow_median_s=med["tensorflow"], speedup=med["tensorflow"] / med["runtime"])
    fileio.write_json(args.out, result)
    print(f"cold start, median of {args.runs}: runtime {med['runtime']:.3f} s ({med_cpu['runtime']:.3f} s CPU), "
          f"ten-line LiteRT {med['litert']:.3f} s ({med_cpu['litert']:.3f} s CPU): "
          f"{result['runtime_vs_litert']:.2f}x wall, {result['runtime_vs_litert_cpu']:.2f}x CPU; with one OpenBLAS "
          f"thread {med['litert_1_blas_thread']:.3f} s ({med_cpu['litert_1_blas_thread']:.3f} s CPU): "
          f"{result['runtime_vs_litert_1_blas_thread']:.2f}x wall, "
          f"{result['runtime_vs_litert_1_blas_thread_cpu']:.2f}x CPU; that script importing Typer and OpenCV "
          f"too: {result['typer_opencv_floor_vs_litert_1_blas_thread']:.2f}x wall, "
          f"{result['typer_opencv_floor_vs_litert_1_blas_thread_cpu']:.2f}x CPU"
          + (f"; through TensorFlow {med['tensorflow']:.3f} s ({result['speedup']:.1f}x the runtime)"
             if "tensorflow" in commands else "") + f" -> {args.out}")


if __name__ == "__main__":
    main()

"""Cold start of classifying one image: fmnistedge's TF-free runtime vs going through TensorFlow.

Each run is a fresh Python process (what a user waits for when typing a command).
The two paths are interleaved, run by run, so machine noise hits both alike:

* runtime:    ``python -m fmnistedge classify IMAGE --json`` with the shipped default model
* tensorflow: a process that imports TensorFlow, loads the same architecture's
  ``model.keras`` from ``artifacts/`` and predicts the same preprocessed image

    python scripts/bench_coldstart.py [--runs 7] [--image samples/0-t-shirt-top.jpg] [--out results/coldstart.json]

Prints medians and the ratio; writes the figures with machine and versions.
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

from fmnistedge import fileio, provenance
from fmnistedge.runtime.models import default_arch

TF_SNIPPET = """
import sys
import numpy as np
import keras
import fmnistedge.zoo.layers
from fmnistedge.runtime.preprocess import prepare_image, to_model_input
img, _ = prepare_image(sys.argv[2])
model = keras.models.load_model(sys.argv[1], safe_mode=True, compile=False)
print(int(np.argmax(model.predict(to_model_input(img[None]), verbose=0))))
"""


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image", type=Path, default=Path("samples/0-t-shirt-top.jpg"))
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--out", type=Path, default=Path("results/coldstart.json"))
    args = parser.parse_args()
    arch = default_arch()
    keras_file = args.artifacts / arch / "model.keras"
    if not keras_file.is_file():
        raise SystemExit(f"{keras_file} missing: run 'fmnistedge train {arch}' first")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runtime_cmd = [sys.executable, "-m", "fmnistedge", "classify", str(args.image), "--json"]
    tf_cmd = [sys.executable, "-c", TF_SNIPPET, str(keras_file), str(args.image)]
    timed(runtime_cmd, env), timed(tf_cmd, env)  # warm the OS file cache for both
    runtime_s, tf_s = [], []
    for i in range(args.runs):
        r, out = timed(runtime_cmd, env)
        t, tf_out = timed(tf_cmd, env)
        runtime_s.append(r)
        tf_s.append(t)
        same = json.loads(out)["results"][0]["class_index"] == int(tf_out.strip().splitlines()[-1])
        print(f"run {i + 1}/{args.runs}: runtime {r:.3f} s, tensorflow {t:.3f} s, same label: {same}",
              file=sys.stderr)
    med_r, med_t = statistics.median(runtime_s), statistics.median(tf_s)
    result = {
        "what": "wall time of a fresh process classifying one image (median of interleaved runs)",
        "image": str(args.image), "arch": arch, "runs": args.runs,
        "runtime_command": " ".join(runtime_cmd[1:]),
        "tensorflow_path": f"import tensorflow/keras, load {keras_file}, predict",
        "runtime_seconds": runtime_s, "tensorflow_seconds": tf_s,
        "runtime_median_s": med_r, "tensorflow_median_s": med_t,
        "speedup": med_t / med_r,
        "environment": provenance.environment(),
    }
    fileio.write_json(args.out, result)
    print(f"cold start, median of {args.runs}: runtime {med_r:.3f} s, through TensorFlow {med_t:.3f} s, "
          f"ratio {med_t / med_r:.1f}x -> {args.out}")


if __name__ == "__main__":
    main()

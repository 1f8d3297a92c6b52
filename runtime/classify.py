"""Classify image files in batches; a bad file becomes an error entry, never a stop."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from fmnistedge import fileio
from fmnistedge.errors import FmnistEdgeError
from fmnistedge.labels import LABELS
from fmnistedge.runtime.preprocess import prepare_image, to_model_input

BATCH_SIZE = 32


@dataclass
class Prediction:
    path: str
    label: str
    class_index: int
    confidence: float
    top_k: list[dict]
    preprocess_ms: float
    inference_ms: float
    preprocessing: dict = field(default_factory=dict)
    saved: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Failure:
    path: str
    error: str

    def to_dict(self) -> dict:
        return {"path": self.path, "error": self.error}


def top_k(probs: np.ndarray, k: int) -> list[dict]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": LABELS[i], "class_index": int(i), "probability": float(probs[i])} for i in order]


def _save_path(save_dir: Path, src: Path, used: set[str]) -> Path:
    name = f"{src.stem}.png"
    n = 1
    while name in used:
        name = f"{src.stem}-{n}.png"
        n += 1
    used.add(name)
    return save_dir / name


def classify_files(
    paths: Iterable[Path], backend, mode: str = "photo", k: int = 3,
    save_dir: Path | None = None, batch_size: int = BATCH_SIZE,
    on_result: Callable[[Prediction | Failure], None] = lambda _: None,
) -> list[Prediction | Failure]:
    """Preprocess and classify ``paths`` in batches of ``batch_size`` (one engine call each).

    Results come back in input order; ``on_result`` sees each as soon as it is known.
    """
    import cv2

    results: dict[int, Prediction | Failure] = {}
    used: set[str] = set()
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    pending: list[tuple[int, Path, np.ndarray, dict, float]] = []

    def flush() -> None:
        if not pending:
            return
        batch = to_model_input(np.stack([item[2] for item in pending]))
        start = time.perf_counter()
        probs = backend.predict(batch)
        per_item = 1000 * (time.perf_counter() - start) / len(pending)
        for (index, path, img, info, prep_ms), p in zip(pending, probs):
            saved = None
            if save_dir is not None:
                target = _save_path(Path(save_dir), path, used)
                try:
                    fileio.write_bytes(target, cv2.imencode(".png", img)[1].tobytes())
                except OSError as exc:
                    failure = Failure(str(path), f"Cannot save the preprocessed image to {target}: "
                                                 f"{exc.strerror or exc}")
                    results[index] = failure
                    on_result(failure)
                    continue
                saved = str(target)
            best = int(np.argmax(p))
            result = Prediction(str(path), LABELS[best], best, float(p[best]), top_k(p, k),
                                round(prep_ms, 3), round(per_item, 3), info, saved)
            results[index] = result
            on_result(result)
        pending.clear()

    for index, path in enumerate(paths):
        start = time.perf_counter()
        try:
            img, info = prepare_image(path, mode)
        except FmnistEdgeError as exc:
            failure = Failure(str(path), str(exc))
            results[index] = failure
            on_result(failure)
            continue
        pending.append((index, Path(path), img, info, 1000 * (time.perf_counter() - start)))
        if len(pending) >= batch_size:
            flush()
    flush()
    return [results[i] for i in sorted(results)]

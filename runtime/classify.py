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
from fmnistedge.runtime.backends import input_size, quiet_native_stderr
from fmnistedge.runtime.preprocess import prepare_image, to_model_input

BATCH_SIZE = 32


@dataclass
class Prediction:
    path: str
    label: str  # a class name, or "unknown" (see ``reason`` and ``best_guess``)
    class_index: int | None  # None when unknown
    confidence: float  # calibrated top probability when the model carries a photo calibration
    top_k: list[dict]
    preprocess_ms: float
    inference_ms: float
    preprocessing: dict = field(default_factory=dict)
    saved: str | None = None
    reason: str | None = None  # why the answer is "unknown"
    best_guess: dict | None = None  # the top class even when the answer is "unknown"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Failure:
    path: str
    error: str

    def to_dict(self) -> dict:
        return {"path": self.path, "error": self.error}


class ClassifyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`classify_files`; ``results`` holds what was finished before
    it (in input order; images preprocessed but not yet through the model are not in it)."""

    def __init__(self, results: list) -> None:
        super().__init__()
        self.results = results


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


def decide(p: np.ndarray, info: dict, openset, k: int) -> dict:
    """The answer for one image's probabilities: a class, or "unknown" when no garment was
    found (a flat image) or the calibrated top probability is below the model's threshold."""
    from fmnistedge.runtime.openset import UNKNOWN

    if openset is not None and info.get("mode") == "photo":
        p = openset.calibrate(p[None])[0]
    best = int(np.argmax(p))
    guess = {"label": LABELS[best], "class_index": best, "probability": float(p[best])}
    reason = None
    if info.get("method") == "empty":
        reason = "no garment found"
    elif openset is not None and info.get("mode") == "photo" and not openset.known(p):
        reason = openset.why_unknown(p)
    known = reason is None
    return {"label": LABELS[best] if known else UNKNOWN, "class_index": best if known else None,
            "confidence": float(p[best]), "top_k": top_k(p, k), "reason": reason, "best_guess": guess}


def classify_files(
    paths: Iterable[Path], backend, mode: str = "photo", k: int = 3,
    save_dir: Path | None = None, batch_size: int = BATCH_SIZE,
    on_result: Callable[[Prediction | Failure], None] = lambda _: None, openset=None,
    segment: str | None = None,
) -> list[Prediction | Failure]:
    """Preprocess and classify ``paths`` in batches of ``batch_size`` (one engine call each).

    Results come back in input order; ``on_result`` sees each as soon as it is known.
    Ctrl-C raises :class:`ClassifyInterrupted` (a ``KeyboardInterrupt``) carrying the
    results finished before it.
    ``openset`` (:class:`fmnistedge.runtime.openset.OpenSet`) calibrates photo
    probabilities and answers "unknown" below its threshold. ``segment`` picks the
    segmentation path (``photo.SEGMENT_PATHS``; default "fast").
    """
    import cv2

    results: dict[int, Prediction | Failure] = {}
    used: set[str] = set()
    size = input_size(backend)  # photos are rendered at the side the model takes
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
            d = decide(p, info, openset, k)
            result = Prediction(str(path), d["label"], d["class_index"], d["confidence"], d["top_k"],
                                round(prep_ms, 3), round(per_item, 3), info, saved, d["reason"], d["best_guess"])
            results[index] = result
            on_result(result)
        pending.clear()

    try:
        for index, path in enumerate(paths):
            start = time.perf_counter()
            try:
                with quiet_native_stderr():  # libtiff and other C decoders write to fd 2
                    img, info = prepare_image(path, mode, segment, size)
            except FmnistEdgeError as exc:
                failure = Failure(str(path), str(exc))
                results[index] = failure
                on_result(failure)
                continue
            pending.append((index, Path(path), img, info, 1000 * (time.perf_counter() - start)))
            if len(pending) >= batch_size:
                flush()
        flush()
    except KeyboardInterrupt:
        raise ClassifyInterrupted([results[i] for i in sorted(results)]) from None
    return [results[i] for i in sorted(results)]


@dataclass
class ClassifyRun:
    """What :func:`classify_paths` did: every result (failures included) in the order the
    paths were given, whether Ctrl-C cut it short, and how many files were found."""

    results: list[Prediction | Failure]
    interrupted: bool
    files: int

    def to_document(self, ref, openset) -> dict:
        """The ``classify --json`` document."""
        calibration = None if openset is None else {"temperature": openset.temperature,
                                                    "reject_below": openset.reject_below,
                                                    "reject_score": openset.reject_score}
        return {"model": {"arch": ref.arch, "path": str(ref.path), "engine": ref.engine,
                          "precision": ref.precision, "where": ref.where,
                          "verified_accuracy": (ref.entry or {}).get("test_accuracy"),
                          "photo_calibration": calibration},
                "results": [r.to_dict() for r in self.results], "interrupted": self.interrupted}

    def check(self, as_json: bool = False) -> None:
        """Raise the run's exit code: 130 if interrupted, 1 if any input failed."""
        from fmnistedge.errors import EXIT_INPUT_FAILED, EXIT_INTERRUPTED, CommandFailed

        if self.interrupted:
            finished = sum(isinstance(r, Prediction) for r in self.results)
            where = ("the JSON on stdout holds the results finished so far (\"interrupted\": true)"
                     if as_json else "the results finished so far are printed")
            raise CommandFailed(EXIT_INTERRUPTED, f"Interrupted after {finished} of {self.files} image(s); {where}.")
        if any(isinstance(r, Failure) for r in self.results):
            raise CommandFailed(EXIT_INPUT_FAILED)


def classify_paths(patterns: list[str], backend, on_result: Callable[[Prediction | Failure], None] = lambda _: None,
                   **options) -> ClassifyRun:
    """Expand ``patterns`` (files, folders, globs) and classify every image found with
    :func:`classify_files` (``options`` are its keywords). A pattern that matches nothing
    is a :class:`Failure` too, reported through ``on_result`` before the slow part; Ctrl-C
    ends the run with the results finished so far."""
    from fmnistedge.runtime import imageio

    entries = [e if isinstance(e, Path) else Failure(str(e[0]), e[1]) for e in imageio.expand_paths(patterns)]
    files = [e for e in entries if isinstance(e, Path)]
    for e in entries:
        if isinstance(e, Failure):
            on_result(e)
    interrupted = False
    try:
        results = classify_files(files, backend, on_result=on_result, **options)
    except ClassifyInterrupted as exc:
        results, interrupted = exc.results, True
    by_path = {r.path: r for r in results}  # expand_paths names each file once
    ordered = [by_path.get(str(e)) if isinstance(e, Path) else e for e in entries]
    return ClassifyRun([r for r in ordered if r is not None], interrupted, len(files))


def result_line(r: Prediction) -> str:
    """One human-readable line for a result: the class and its alternatives, or 'unknown' and why."""
    from fmnistedge.progress import printable

    if r.class_index is None:
        guess = r.best_guess
        return (f"{printable(r.path)}: unknown ({r.reason}; best guess {guess['label']} "
                f"{100 * guess['probability']:.1f}%)")
    alts = ", ".join(f"{t['label']} {100 * t['probability']:.1f}%" for t in r.top_k[1:])
    return f"{printable(r.path)}: {r.label} ({100 * r.confidence:.1f}%)" + (f"  [{alts}]" if alts else "")

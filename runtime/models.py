"""The one model resolver: shipped inside the package, trained under ``artifacts/``, or a path.

Every command that turns an architecture name into a folder or a file comes here
(classify, scan, serve, evaluate, models, bench, export, report, the result tables and
``scripts/ship_models.py``). A name resolves to a folder with a ``manifest.json`` in a
search order: the shipped models first, then ``artifacts/`` (``prefer="shipped"``, what a
user's ``classify`` wants), or the reverse (``prefer="artifacts"``, what ``bench`` and
shipping want: the model just trained and exported). The file inside is chosen by
engine and precision, preferring verified int8 (the fast one on a CPU). A *path* to a
``.onnx`` / ``.tflite`` file is used as it is. Either way the sha256 is checked against
the manifest before any engine loads the file.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from fmnistedge import manifest, trainlog
from fmnistedge.errors import ModelError, UsageError
from fmnistedge.formats import ENGINES, PRECISIONS, SUFFIXES
from fmnistedge.runtime.backends import engine_for, open_backend
from fmnistedge.runtime.integrity import check_file
from fmnistedge.runtime.modelmeta import read_embedded

DEFAULT_FILE = "default.json"  # {"arch": ..., "why": ...} beside the shipped models
ARTIFACTS_DIR = Path("artifacts")
KERAS_FILE = "model.keras"
Prefer = Literal["shipped", "artifacts"]


@dataclass(frozen=True)
class ModelRef:
    path: Path
    arch: str
    engine: str
    precision: str
    entry: dict | None  # the manifest entry (None for a lone file without manifest)
    where: str  # "shipped", "artifacts" or "file"
    note: str = ""  # set when a name skipped a folder of that name, e.g. the shipped one


def shipped_dir() -> Path:
    """Where the wheel carries its models (``fmnistedge/models`` in the package)."""
    from fmnistedge import __file__ as pkg

    return Path(pkg).resolve().parent / "models"


def default_arch() -> str | None:
    path = shipped_dir() / DEFAULT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())["arch"]


def search_dirs(artifacts: Path | Iterable[Path] = ARTIFACTS_DIR,
                prefer: Prefer = "shipped") -> list[tuple[Path, str]]:
    """The folders a name is looked up in, in order: (folder, "shipped" or "artifacts").
    ``artifacts`` may be several folders, searched in the order given."""
    if prefer not in ("shipped", "artifacts"):
        raise ValueError(f"prefer must be 'shipped' or 'artifacts', not {prefer!r}")
    bases = [Path(artifacts)] if isinstance(artifacts, (str, Path)) else [Path(a) for a in artifacts]
    trained = [(b, "artifacts") for b in bases]
    shipped = [(shipped_dir(), "shipped")]
    return shipped + trained if prefer == "shipped" else trained + shipped


def find_arch_dir(arch: str, artifacts: Path | Iterable[Path] = ARTIFACTS_DIR, prefer: Prefer = "shipped",
                  keras: bool = False) -> Path | None:
    """The first folder named ``arch`` in search order with a manifest (or, with ``keras``,
    a trained ``model.keras``), or None."""
    for base, _ in search_dirs(artifacts, prefer):
        folder = base / arch
        if (folder / manifest.MANIFEST_NAME).is_file() or (keras and (folder / KERAS_FILE).is_file()):
            return folder
    return None


def trained_dirs(artifacts: Path = ARTIFACTS_DIR, include_test: bool = True) -> list[Path]:
    """Every ``ARTIFACTS/ARCH`` with a trained ``model.keras`` (without fmnistedge's own
    test model unless ``include_test``)."""
    dirs = sorted(p.parent for p in Path(artifacts).glob(f"*/{KERAS_FILE}"))
    return dirs if include_test else [d for d in dirs if not trainlog.is_test_model(d)]


def list_models(artifacts: Path = ARTIFACTS_DIR) -> list[dict]:
    """Every model file with a manifest entry in the shipped folder and in ``artifacts``."""
    rows = []
    for base, where in search_dirs(artifacts):
        if not base.is_dir():
            continue
        for arch_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            doc = manifest.load(arch_dir)
            if not doc:
                continue
            for name, e in doc["files"].items():
                if (arch_dir / name).is_file():
                    rows.append({"arch": doc["arch"], "file": name, "format": e["format"],
                                 "precision": e["precision"], "bytes": e["bytes"],
                                 "status": e["status"], "test_accuracy": e.get("test_accuracy"),
                                 "where": where, "path": str(arch_dir / name)})
    return rows


def _pick(arch_dir: Path, doc: dict, engine: str | None,
          precision: str | None = None) -> tuple[str, dict] | None:
    """The best usable file of ``arch_dir`` for ``engine`` and ``precision``, or None."""
    candidates = [(n, e) for n, e in doc["files"].items()
                  if (engine is None or e["format"] == engine)
                  and (precision is None or e["precision"] == precision)
                  and (arch_dir / n).is_file() and e["status"] != "verify_failed"]
    if not candidates:
        return None
    # Verified first, then int8 before fp16 before fp32, then TFLite before ONNX.
    def rank(item):
        _, e = item
        return (not e.get("verified"), PRECISIONS.index(e["precision"]), ENGINES.index(e["format"]))

    return sorted(candidates, key=rank)[0]


def resolve(model: str | None, engine: str | None = None, artifacts: Path = ARTIFACTS_DIR,
            precision: str | None = None) -> ModelRef:
    """Turn ``--model`` (name, file or None for the default) into a checked file reference.

    A name is looked up in the shipped models, then in ``artifacts``; the first folder
    with a usable file of the wanted ``engine`` and ``precision`` wins.
    """
    if engine is not None and engine not in ENGINES:
        raise UsageError(f"Unknown engine {engine!r}; expected {' or '.join(ENGINES)}")
    if precision is not None and precision not in PRECISIONS:
        raise UsageError(f"Unknown precision {precision!r}; expected {', '.join(PRECISIONS)}")
    if model is None:
        model = default_arch()
        if model is None:
            raise ModelError("No default model is shipped with this install; pass --model NAME_OR_FILE "
                             "(see 'fmnistedge models')")
    as_path = Path(model)
    if as_path.suffix.lower() in SUFFIXES:
        if engine is not None and engine_for(as_path) != engine:
            raise UsageError(f"--engine {engine} does not match the file type of {as_path}")
        entry = check_file(as_path)
        if entry is not None:
            arch, file_precision = manifest.load(as_path.parent)["arch"], entry["precision"]
        else:
            meta = read_embedded(as_path) or {}
            arch, file_precision = meta.get("arch", as_path.stem), meta.get("precision", "unknown")
            if not isinstance(arch, str) or not isinstance(file_precision, str):
                raise ModelError(f"{as_path} has malformed fmnistedge metadata (arch {arch!r}, precision "
                                 f"{file_precision!r}); re-export or re-install it")
        if precision is not None and file_precision != precision:
            raise UsageError(f"--precision {precision} does not match {as_path} ({file_precision})")
        return ModelRef(as_path, arch, engine_for(as_path), file_precision, entry, "file")
    searched = []
    for base, where in search_dirs(artifacts):
        arch_dir = base / model
        doc = manifest.load(arch_dir) if arch_dir.is_dir() else None
        if doc:
            searched.append(str(arch_dir))
            picked = _pick(arch_dir, doc, engine, precision)
            if picked is None:
                continue
            name, entry = picked
            check_file(arch_dir / name)
            note = (f"{model}: {' and '.join(searched[:-1])} has no usable file of that engine and precision; "
                    f"using {arch_dir / name}, which may be another training of {model}"
                    if len(searched) > 1 else "")
            return ModelRef(arch_dir / name, doc["arch"], entry["format"], entry["precision"], entry, where, note)
    if searched:
        wanted = " ".join(w for w in (precision, engine) if w)
        raise ModelError(f"No usable {wanted + ' ' if wanted else ''}model file for {model} in "
                         f"{' or '.join(searched)} (missing, or failed verification); run "
                         f"'fmnistedge export {model}' (or see 'fmnistedge models')")
    known = sorted({r["arch"] for r in list_models(artifacts)})
    close = difflib.get_close_matches(model, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UsageError(f"Unknown model {model!r}: not a .onnx/.tflite file and not an exported model "
                     f"(known: {', '.join(known) or 'none'}).{hint} Run 'fmnistedge models'.")


def load(ref: ModelRef, threads: int = 1):
    return open_backend(ref.path, threads=threads)

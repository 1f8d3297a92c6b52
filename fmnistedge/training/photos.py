"""Labelled real photos for training: read, render once (cached), split by photographer.

A folder in the layout of ``realphotos-train`` (the public clothing-dataset of
alexeygrigorev, CC0: https://github.com/alexeygrigorev/clothing-dataset) holds
``labels.csv`` with the columns ``path,label_index,candidates,sender_id``:

* ``label_index`` 0-9: one Fashion-MNIST class;
* empty ``label_index`` with ``candidates`` such as ``0|2``: only a set of classes
  is known (a partial label, trained through :func:`set_loss`'s set-valued objective);
* ``label_index`` with ``candidates`` (a hoodie: ``2`` with ``2|4``, as zip-up hoodies are
  jackets): an uncertain label, read as the candidate set (the label is one of them);
* ``none``: a garment of no Fashion-MNIST class (shorts, skirts, hats...), used to
  learn and measure the "none of these" decision.

Photos go through :func:`fmnistedge.runtime.preprocess.prepare_image`, the very
function ``classify`` runs, and the rendered 28x28 images are cached under a key
that includes :func:`~fmnistedge.runtime.preprocess.preprocessing_version`, so a
change to the preprocessing code re-renders them. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fmnistedge.errors import FmnistEdgeError
from fmnistedge.labels import IMAGE_SIZE, NUM_CLASSES

DOWNLOAD_HINT = ("labelled casual clothing photos, e.g. the CC0 clothing-dataset "
                 "(https://github.com/alexeygrigorev/clothing-dataset) relabelled as described in "
                 "docs/training.md")
CACHE_FORMAT = 1
PARTIAL_MODES = ("set", "drop")
MAX_FOLDS = 10  # photographer-grouped cross-validation (train --photo-fold K/N)


@dataclass(frozen=True)
class PhotoRow:
    path: Path
    image_id: str
    label: int | None  # one class, or None
    candidates: tuple[int, ...]  # the classes it may be when ``label`` is None; () for none
    sender: str

    @property
    def is_none(self) -> bool:
        """A garment of no Fashion-MNIST class."""
        return self.label is None and not self.candidates

    def target(self) -> np.ndarray:
        """The set of acceptable classes as a 10-vector of 0/1 (all zero for ``none``)."""
        t = np.zeros(NUM_CLASSES, np.float32)
        if self.label is not None:
            t[self.label] = 1.0
        else:
            t[list(self.candidates)] = 1.0
        return t


def _classes(text: str, where: str) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(c) for c in text.split("|") if c.strip()}))
    except ValueError:
        raise FmnistEdgeError(f"{where}: candidates must be class numbers joined by '|'. "
                              f"Received: {text!r}") from None
    if any(not 0 <= c < NUM_CLASSES for c in out):
        raise FmnistEdgeError(f"{where}: candidate classes must be 0-9. Received: {text!r}")
    return out


def read_refinements(path: Path) -> dict[str, int]:
    """Image id -> class from a label-refinement CSV (``image_id,label_index,was,how``; the
    repository's ``data/label-refinements.csv``): labels decided by looking at photos whose
    source label only gave a candidate set."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = [(reader.line_num, r) for r in reader]
            columns = set(reader.fieldnames or ())
    except FileNotFoundError:
        raise FmnistEdgeError(f"No label-refinement file {path}") from None
    except (UnicodeDecodeError, csv.Error, IsADirectoryError, ValueError) as exc:
        raise FmnistEdgeError(f"{path} is not a readable UTF-8 CSV file: {exc}") from None
    if not {"image_id", "label_index"} <= columns:
        raise FmnistEdgeError(f"{path} needs the columns image_id,label_index")
    if not rows:
        raise FmnistEdgeError(f"{path} refines no photo (no rows)")
    out: dict[str, int] = {}
    for line, r in rows:
        raw = (r.get("label_index") or "").strip()
        one = _classes(raw, f"{path} line {line}") if raw.replace("|", "").isdigit() else ()
        image_id = (r.get("image_id") or "").strip()
        if len(one) != 1 or not image_id or image_id in out:
            raise FmnistEdgeError(f"{path} line {line}: one image id (once) and one class 0-9 per row. "
                                  f"Received: {image_id!r}, {r.get('label_index')!r}")
        out[image_id] = one[0]
    return out


def read_photo_labels(folder: Path, refinements: Path | None = None) -> list[PhotoRow]:
    """The rows of ``folder/labels.csv`` (see the module docstring), paths inside ``folder``;
    with ``refinements`` (:func:`read_refinements`), a row whose label is a candidate set
    takes the refined class, which must be one of its candidates."""
    refined = read_refinements(refinements) if refinements is not None else {}
    folder = Path(folder)
    labels_csv = folder / "labels.csv"
    if not labels_csv.is_file():
        raise FmnistEdgeError(f"No labels file {labels_csv}: --photos needs a folder of {DOWNLOAD_HINT}")
    try:
        with open(labels_csv, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FmnistEdgeError(f"{labels_csv} is not a readable UTF-8 CSV file: {exc}") from None
    need = {"path", "label_index", "candidates", "sender_id"}
    if not rows or not need <= set(rows[0]):
        raise FmnistEdgeError(f"{labels_csv} needs the columns {','.join(sorted(need))}")
    root = folder.resolve()
    out = []
    for line, r in enumerate(rows, start=2):
        where = f"{labels_csv} line {line}"
        rel = (r.get("path") or "").strip()
        path = (folder / rel).resolve()
        if not rel or root not in path.parents:
            raise FmnistEdgeError(f"{where}: the path must name a file inside {folder}. Received: {rel!r}")
        raw = (r.get("label_index") or "").strip()
        cands = _classes(r.get("candidates") or "", where)
        if raw == "none":
            label, cands = None, ()
        elif raw == "":
            if len(cands) < 2:
                raise FmnistEdgeError(f"{where}: an empty label_index needs two or more candidates")
            label = None
        else:
            one = _classes(raw, where)
            if len(one) != 1:
                raise FmnistEdgeError(f"{where}: label_index must be one class 0-9, 'none' or empty. "
                                      f"Received: {raw!r}")
            # With candidates too the label is uncertain (a hoodie: 2, or 4 if it zips open): the set it is.
            label, cands = (None, tuple(sorted(set(cands) | set(one)))) if cands else (one[0], ())
        image_id = Path(rel).stem
        if image_id in refined:
            if label is not None or not cands:
                raise FmnistEdgeError(f"{where}: {image_id} is not a candidate-set photo "
                                      f"({'class ' + str(label) if label is not None else 'none'}); only those are refined")
            if refined[image_id] not in cands:
                raise FmnistEdgeError(f"{where}: the refinement of {image_id} to class {refined.pop(image_id)} "
                                      f"is not one of its candidates {'|'.join(map(str, cands))}")
            label, cands = refined.pop(image_id), ()
        out.append(PhotoRow(path, image_id, label, cands, (r.get("sender_id") or "").strip()))
    if refined:
        raise FmnistEdgeError(f"{refinements}: {len(refined)} refined image id(s) not in {labels_csv}, "
                              f"e.g. {next(iter(refined))}")
    return out


def grouped_split(rows: list[PhotoRow], val_fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of validation rows: whole photographers (``sender``), about
    ``val_fraction`` of the photos, drawn with ``seed``. No sender is on both sides."""
    if not 0.0 < val_fraction < 1.0:
        raise FmnistEdgeError(f"The photo validation fraction must be between 0 and 1. Received: {val_fraction}")
    senders = sorted({r.sender for r in rows})
    order = np.random.default_rng(seed).permutation(len(senders))
    counts = Counter(r.sender for r in rows)
    chosen: set[str] = set()
    total, goal = 0, val_fraction * len(rows)
    for i in order:
        if total >= goal:
            break
        chosen.add(senders[i])
        total += counts[senders[i]]
    return np.array([r.sender in chosen for r in rows], bool)


def grouped_folds(rows: list[PhotoRow], folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. ``folds`` - 1) of each row for photographer-grouped cross-validation:
    whole photographers (``sender``), drawn in a ``seed`` order, each put in the fold with
    the fewest photos so far, so the folds hold about equal numbers of photos and no sender
    is in two folds."""
    if not 2 <= folds <= MAX_FOLDS:
        raise FmnistEdgeError(f"The number of photo folds must be between 2 and {MAX_FOLDS}. Received: {folds}")
    senders = sorted({r.sender for r in rows})
    if len(senders) < folds:
        raise FmnistEdgeError(f"{folds} photo folds need at least {folds} photographers; the folder has "
                              f"{len(senders)}.")
    counts = Counter(r.sender for r in rows)
    sizes = [0] * folds
    fold_of: dict[str, int] = {}
    for i in np.random.default_rng(seed).permutation(len(senders)):
        k = min(range(folds), key=lambda f: (sizes[f], f))
        fold_of[senders[i]] = k
        sizes[k] += counts[senders[i]]
    return np.array([fold_of[r.sender] for r in rows], np.int64)


def held_out(rows: list[PhotoRow], val_fraction: float, seed: int, fold: tuple[int, int] | None = None) -> np.ndarray:
    """The photo validation mask training uses: fold ``k`` of ``n`` (1-based) of
    :func:`grouped_folds` when ``fold`` is given, else :func:`grouped_split`."""
    if fold is None:
        return grouped_split(rows, val_fraction, seed)
    k, n = fold
    if not 1 <= k <= n:
        raise FmnistEdgeError(f"The photo fold must be between 1 and {n}. Received: {k}")
    return grouped_folds(rows, n, seed) == k - 1


def _render_one(path: str, size: int = IMAGE_SIZE) -> tuple[np.ndarray | None, str]:
    from fmnistedge.runtime.preprocess import prepare_image

    try:
        img, info = prepare_image(Path(path), "photo", size=size)
    except FmnistEdgeError as exc:
        return None, f"error: {exc}"
    return img, info.get("method", "")


def cache_key(rows: list[PhotoRow], size: int = IMAGE_SIZE) -> str:
    """Changes with the preprocessing code, the render size and the set of photos (names, sizes, mtimes)."""
    from fmnistedge.runtime.preprocess import preprocessing_version

    h = hashlib.sha256(f"{CACHE_FORMAT}|{preprocessing_version()}".encode())
    if size != IMAGE_SIZE:
        h.update(f"|render {size}".encode())
    for r in rows:
        st = r.path.stat() if r.path.exists() else None
        h.update(f"|{r.path}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1}".encode())
    return h.hexdigest()[:20]


def render_photos(rows: list[PhotoRow], cache_dir: Path, workers: int = 0,
                  progress: Callable[[int, int], None] = lambda done, total: None, size: int = IMAGE_SIZE,
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rendered 28x28 (``size``) uint8 images of ``rows`` (zeros where a photo failed), a mask of the
    ones that rendered, and each one's segmentation method; cached in ``cache_dir``."""
    cache_dir = Path(cache_dir)
    cache = cache_dir / f"photos-{cache_key(rows, size)}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return z["images"], z["ok"], [str(m) for m in z["methods"]]
    images = np.zeros((len(rows), size, size), np.uint8)
    ok = np.zeros(len(rows), bool)
    methods = [""] * len(rows)
    workers = workers or min(4, os.cpu_count() or 1)
    paths = [str(r.path) for r in rows]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, (img, method) in enumerate(pool.map(_render_one, paths, [size] * len(paths), chunksize=32)):
            if img is not None:
                images[i], ok[i] = img, True
            methods[i] = method
            if (i + 1) % 100 == 0 or i + 1 == len(rows):
                progress(i + 1, len(rows))
    from fmnistedge import fileio

    cache_dir.mkdir(parents=True, exist_ok=True)
    with fileio.atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, images=images, ok=ok, methods=np.array(methods))
    return images, ok, methods


@dataclass
class PhotoSet:
    """Rendered photos with targets, split by photographer."""

    images: np.ndarray  # (N, 28, 28) uint8 (or the model's size)
    targets: np.ndarray  # (N, 10) 0/1 sets; all zero for "none"
    rows: list[PhotoRow]
    val: np.ndarray  # bool (N,)
    unrendered: int = 0  # photos of the folder that could not be read (left out)

    def select(self, mask: np.ndarray) -> "PhotoSet":
        return PhotoSet(self.images[mask], self.targets[mask],
                        [r for r, m in zip(self.rows, mask) if m], self.val[mask], self.unrendered)

    @property
    def single(self) -> np.ndarray:
        return np.array([r.label is not None for r in self.rows], bool)

    @property
    def none(self) -> np.ndarray:
        return np.array([r.is_none for r in self.rows], bool)

    @property
    def labels(self) -> np.ndarray:
        """The single label of each row, -1 where there is none."""
        return np.array([-1 if r.label is None else r.label for r in self.rows], np.int64)


def load_photo_set(folder: Path, cache_dir: Path, val_fraction: float, seed: int,
                   progress: Callable[[int, int], None] = lambda done, total: None,
                   refinements: Path | None = None, size: int = IMAGE_SIZE,
                   fold: tuple[int, int] | None = None) -> PhotoSet:
    rows = read_photo_labels(folder, refinements)
    images, ok, _ = render_photos(rows, cache_dir, progress=progress, size=size)
    val = held_out(rows, val_fraction, seed, fold)
    targets = np.stack([r.target() for r in rows]) if rows else np.zeros((0, NUM_CLASSES), np.float32)
    return PhotoSet(images, targets, rows, val, int((~ok).sum())).select(ok)


def sampling_weights(targets: np.ndarray, none_share: float, balance: float = 0.5) -> np.ndarray:
    """Per-photo sampling probabilities: each class's photos (a partial label counts
    towards each of its candidates equally) get weight ~ 1/(class count) ** ``balance``,
    so a class is drawn in proportion to its count ** (1 - balance): 0 draws photos as
    found, 1 draws every class alike, and 0.5 (the default) draws Pullover's 57 photos
    far more often than T-shirt's 1,220 but not as often as full balancing would repeat
    them; ``none`` photos share ``none_share``."""
    sizes = targets.sum(1)
    labelled = sizes > 0
    share = np.where(labelled[:, None], targets / np.maximum(sizes, 1)[:, None], 0.0)
    per_class = share.sum(0)
    w_class = np.where(per_class > 0, np.maximum(per_class, 1e-9) ** -float(balance), 0.0)
    w = (share * w_class[None]).sum(1)
    w = w / max(w.sum(), 1e-12) * (1.0 - none_share if (~labelled).any() else 1.0)
    if (~labelled).any():
        w[~labelled] = none_share / (~labelled).sum()
    return w / w.sum()

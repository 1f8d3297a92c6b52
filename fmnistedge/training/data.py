"""Find, validate and load the real Fashion-MNIST IDX files.

Lookup order (DESIGN.md, "Where the data comes from"): an explicit directory or
``$FMNISTEDGE_DATA``, the Keras cache, the Debian / Raspberry Pi OS package
``dataset-fashion-mnist``, and last the Keras downloader when online. Every file
is checked for its IDX magic number, shape, item count and label range; a
truncated or corrupt file is named in the error. Reference hashes are over the
*decompressed* content, because the Debian package recompressed the files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnistedge.errors import DatasetError
from fmnistedge.labels import IMAGE_SIZE, NUM_CLASSES

ENV_VAR = "FMNISTEDGE_DATA"
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "Install it with 'sudo apt install dataset-fashion-mnist' (Debian, Ubuntu, "
    "Raspberry Pi OS), point --data-dir or $FMNISTEDGE_DATA at a folder with the four "
    "IDX files, or run once online with TensorFlow installed to use the Keras download."
)

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension


@dataclass(frozen=True)
class SplitFiles:
    images: str
    labels: str
    count: int
    images_sha256: str  # of the decompressed IDX content
    labels_sha256: str


SPLITS: dict[str, SplitFiles] = {
    "train": SplitFiles(
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        60_000,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test": SplitFiles(
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        10_000,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


@dataclass(frozen=True)
class DatasetLocation:
    directory: Path
    source: str  # "argument", "environment", "keras-cache", "debian-package", "keras-download"


def _file_in(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _has_all_files(directory: Path) -> bool:
    return all(
        _file_in(directory, stem) is not None
        for split in SPLITS.values()
        for stem in (split.images, split.labels)
    )


def candidate_dirs(data_dir: Path | str | None = None) -> list[tuple[Path, str]]:
    """The places looked at, in lookup order (without the online download)."""
    places: list[tuple[Path, str]] = []
    if data_dir is not None:
        return [(Path(data_dir).expanduser(), "argument")]
    if os.environ.get(ENV_VAR):
        return [(Path(os.environ[ENV_VAR]).expanduser(), "environment")]
    places.append((KERAS_CACHE, "keras-cache"))
    places.append((DEBIAN_DIR, "debian-package"))
    return places


def find_dataset(data_dir: Path | str | None = None, download: bool = True) -> DatasetLocation:
    """Return where the dataset is, or raise ``DatasetError`` listing where it looked."""
    places = candidate_dirs(data_dir)
    for directory, source in places:
        if _has_all_files(directory):
            return DatasetLocation(directory, source)
    explicit = data_dir is not None or bool(os.environ.get(ENV_VAR))
    if download and not explicit:
        location = _keras_download()
        if location is not None:
            return location
    looked = ", ".join(str(p) for p, _ in places)
    raise DatasetError(f"Fashion-MNIST not found (looked in: {looked}). {HOW_TO_GET}")


def _keras_download() -> DatasetLocation | None:
    """Last resort for online users: Keras' downloader fills its cache folder."""
    try:
        from keras.datasets import fashion_mnist  # lazy: TensorFlow is an extra
    except ImportError:
        return None
    try:
        fashion_mnist.load_data()
    except Exception:  # offline, blocked or interrupted: report "not found" instead
        return None
    return DatasetLocation(KERAS_CACHE, "keras-download") if _has_all_files(KERAS_CACHE) else None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DatasetError(f"Corrupt or truncated dataset file {path}: {exc}") from None


def parse_idx(raw: bytes, path: Path, magic: int, count: int | None = None) -> np.ndarray:
    """Parse an unsigned-byte IDX buffer, validating magic number, shape and length."""
    if len(raw) < 8:
        raise DatasetError(f"Truncated dataset file {path}: {len(raw)} bytes, no IDX header")
    found_magic, n = struct.unpack(">II", raw[:8])
    if found_magic != magic:
        raise DatasetError(f"Not an IDX file of the expected kind: {path} (magic {found_magic}, expected {magic})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"Truncated dataset file {path}: {len(raw)} bytes, header needs {header}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if ndim == 3 and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"Unexpected image shape {dims[1:]} in {path}, expected (28, 28)")
    if count is not None and n != count:
        raise DatasetError(f"Unexpected item count {n} in {path}, expected {count}")
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DatasetError(
            f"Truncated or padded dataset file {path}: {len(raw) - header} data bytes, expected {expected}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_split(split: str, data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load ``train`` or ``test``: uint8 images (N, 28, 28) and uint8 labels (N,).

    Structure is validated here (magic, shape, length, label range, matching
    counts); :func:`verify_dataset` also checks the official item counts and content.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {sorted(SPLITS)}")
    location = find_dataset(data_dir)
    spec = SPLITS[split]
    images_path = _file_in(location.directory, spec.images)
    labels_path = _file_in(location.directory, spec.labels)
    assert images_path is not None and labels_path is not None  # guaranteed by find_dataset
    images = parse_idx(_read_bytes(images_path), images_path, IMAGES_MAGIC)
    labels = parse_idx(_read_bytes(labels_path), labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if labels.max(initial=0) >= NUM_CLASSES:
        raise DatasetError(f"Label out of range 0-9 in {labels_path}: found {int(labels.max())}")
    return images, labels


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Carve a stratified validation split out of the *training* set (never the test set)."""
    rng = np.random.default_rng(seed)
    val_idx: list[np.ndarray] = []
    for cls in range(NUM_CLASSES):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        val_idx.append(members[: int(round(len(members) * val_fraction))])
    val = np.sort(np.concatenate(val_idx))
    mask = np.ones(len(labels), dtype=bool)
    mask[val] = False
    return images[mask], labels[mask], images[val], labels[val]


def stratified_sample(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` items with classes as balanced as possible (for calibration, --limit)."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(NUM_CLASSES)]
    picked: list[int] = []
    depth = 0
    while len(picked) < n and any(depth < len(p) for p in per_class):
        picked.extend(int(p[depth]) for p in per_class if depth < len(p))
        depth += 1
    return np.sort(np.array(picked[:n], dtype=np.int64))


@dataclass(frozen=True)
class FileCheck:
    path: Path
    items: int
    sha256: str
    matches_reference: bool


def verify_dataset(data_dir: Path | str | None = None) -> tuple[DatasetLocation, list[FileCheck]]:
    """Validate all four files and compare their decompressed content with the reference."""
    location = find_dataset(data_dir)
    checks: list[FileCheck] = []
    for spec in SPLITS.values():
        for stem, magic, ref in (
            (spec.images, IMAGES_MAGIC, spec.images_sha256),
            (spec.labels, LABELS_MAGIC, spec.labels_sha256),
        ):
            path = _file_in(location.directory, stem)
            assert path is not None
            raw = _read_bytes(path)
            arr = parse_idx(raw, path, magic, spec.count)
            digest = hashlib.sha256(raw).hexdigest()
            checks.append(FileCheck(path, int(arr.shape[0]), digest, digest == ref))
    return location, checks

"""Check a model file against its manifest before any engine loads it."""

from __future__ import annotations

from pathlib import Path

from fmnistedge import manifest
from fmnistedge.errors import ModelError
from fmnistedge.runtime.modelmeta import check_seal, sha256_file


def check_file(path: Path | str) -> dict | None:
    """Return the file's manifest entry after checking its sha256 and size.

    Raises ``ModelError`` for a missing or truncated file or a sha256 mismatch
    (tampered or half-copied). Returns None when no manifest lists the file; the
    file's embedded seal (see :mod:`fmnistedge.runtime.modelmeta`) is then checked
    instead, so a lone fmnistedge file is never loaded unchecked.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Model file not found: {path}")
    doc = manifest.load(path.parent)
    entry = (doc or {}).get("files", {}).get(path.name)
    if entry is None:
        check_seal(path)
        return None
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise ModelError(f"{path} is {size} bytes but its manifest says {entry['bytes']}: "
                         "truncated or replaced; re-export or re-install it")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(f"{path} does not match the sha256 in its manifest "
                         f"({digest[:12]}... != {entry['sha256'][:12]}...): refusing to load a "
                         "tampered or corrupted model; re-export or re-install it")
    return entry

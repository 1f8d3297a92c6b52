"""Atomic file writes: a file is either the old good one or the new complete one.

Everything the project writes (models, manifests, train.json, result tables)
goes through here, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path in the same folder (same suffix); rename it over ``final``
    only if the block finishes. On any exception (Ctrl-C included) the temp file is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results should read like any file
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(final: Path | str, data: bytes) -> None:
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(final: Path | str, text: str) -> None:
    write_bytes(final, text.encode("utf-8"))


def write_json(final: Path | str, obj: Any) -> None:
    write_text(final, json.dumps(obj, indent=2, sort_keys=False) + "\n")

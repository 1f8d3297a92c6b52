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
    only if the block finishes. On any exception (Ctrl-C included) the temp file is removed.

    An OSError about the temporary file (the folder is not writable, the disk is full,
    ``final`` is a folder) names ``final``: the user never asked for ``.NAME.xyz.partial``."""
    final = Path(final)
    try:
        with _temporary_beside(final) as tmp:
            yield tmp
    except OSError as exc:
        if not _is_temporary_of(exc.filename, final):
            raise
        raise type(exc)(exc.errno, exc.strerror, str(final)) from None


def _is_temporary_of(name, final: Path) -> bool:
    if not isinstance(name, (str, os.PathLike)):
        return False
    path = Path(name)
    return path.parent == final.parent and path.name.startswith(f".{final.stem}.") and ".partial" in path.name


@contextlib.contextmanager
def _temporary_beside(final: Path) -> Iterator[Path]:
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


def ensure_writable_dir(directory: Path | str) -> None:
    """Fail before long work, not after it, when an output folder cannot be written."""
    from fmnistedge.errors import FmnistEdgeError

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".fmnistedge-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise FmnistEdgeError(f"Cannot write to {directory}: {exc.strerror or exc}") from None

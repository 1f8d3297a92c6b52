"""Exceptions that carry the CLI exit code they map to (see DESIGN.md, "CLI").

Library code raises these; only ``fmnistedge.cli`` turns them into exit codes,
so nothing deep inside the library calls ``sys.exit``.
"""

EXIT_OK = 0
EXIT_INPUT_FAILED = 1
EXIT_USAGE = 2
EXIT_VERIFY_FAILED = 3
EXIT_INTERRUPTED = 130


class FmnistEdgeError(Exception):
    """Base class: a user-facing error with a one-line message and an exit code."""

    exit_code = EXIT_INPUT_FAILED


class DatasetError(FmnistEdgeError):
    """The Fashion-MNIST files are missing, truncated or corrupt."""


class UsageError(FmnistEdgeError):
    """The user asked for something that does not exist (e.g. an unknown architecture)."""

    exit_code = EXIT_USAGE


class MissingExtraError(FmnistEdgeError):
    """An optional dependency (an install extra) is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {package}, which is not installed. "
            f"Install the '{extra}' extra: pip install 'fmnistedge[{extra}]'"
        )


class ModelError(FmnistEdgeError):
    """A model file is missing, unreadable, tampered with or of the wrong shape."""


class VerificationError(FmnistEdgeError):
    """A model missed its verification or accuracy bar."""

    exit_code = EXIT_VERIFY_FAILED


def first_line(exc: BaseException) -> str:
    """An exception's first message line for a one-line error (its type name if it has no message)."""
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


class CommandFailed(FmnistEdgeError):
    """The work ran and its results were reported, but some of it failed (exit 1), missed a
    bar (exit 3) or was interrupted (exit 130). ``message`` is an optional closing line;
    without one nothing more is printed (each failure was already named)."""

    def __init__(self, exit_code: int, message: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe(exc: BaseException) -> tuple[int, str, bool] | None:
    """How a command that ended with ``exc`` ends: (exit code, one line or "", whether the line
    is an error). None for an exception that is not the user's to fix (a bug: its traceback is
    the useful report)."""
    if isinstance(exc, CommandFailed):  # the work was reported; at most one closing line
        return exc.exit_code, str(exc), exc.exit_code != EXIT_INTERRUPTED
    if isinstance(exc, FmnistEdgeError):
        return exc.exit_code, str(exc), True
    if isinstance(exc, OSError):  # a path the user gave cannot be read or written
        return EXIT_INPUT_FAILED, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), True
    if isinstance(exc, ImportError) and "cannot open shared object file" in str(exc):
        # OpenCV's wheel links system libraries a minimal Debian/Ubuntu lacks.
        hint = ("; on Debian/Ubuntu: sudo apt install libgl1 libglib2.0-0"
                if any(lib in str(exc) for lib in ("libGL", "libglib", "libgthread")) else "")
        return EXIT_INPUT_FAILED, f"A system library is missing ({exc}){hint}", True
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "Interrupted; everything finished before the interrupt is kept.", False
    return None

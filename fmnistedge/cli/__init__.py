"""The ``fmnistedge`` command line: a thin Typer layer; each command parses its options, calls
one library function and renders the result (docs/architecture.md).

Exit codes (DESIGN.md): 0 ok, 1 some input failed, 2 usage error, 3 verification or accuracy
floor failed, 130 interrupted; exceptions become exit codes in one place
(``app._ErrorMappingGroup`` with :func:`fmnistedge.errors.describe`). :func:`main` imports
only the running command's module (all of them for ``--help``), so ``fmnistedge classify``
builds no other command's options; ``from fmnistedge.cli import app`` gives every command.
"""

from __future__ import annotations

import importlib
import os
import sys

from fmnistedge.cli import app as _core  # the Typer app, shared options, error mapping

del app  # noqa: F821 - the name means the full Typer app (see __getattr__), not the core module

# The modules that register commands, in --help order, and the commands each registers
# (tests/test_cli.py checks this table against what the modules register).
COMMAND_MODULES = {
    "classify_cmds": ("classify",),
    "runtime_cmds": ("models", "evaluate", "bench"),
    "scan_cmds": ("scan", "wardrobe", "service-unit"),
    "serve_cmds": ("serve",),
    "train_cmds": ("archs", "data", "train", "table", "export", "report"),
}


def load_commands(command: str | None = None) -> None:
    """Register ``command``'s module, or every module when ``command`` is None or unknown."""
    owner = next((m for m, names in COMMAND_MODULES.items() if command in names), None)
    for module in ([owner] if owner else COMMAND_MODULES):
        importlib.import_module(f"fmnistedge.cli.{module}")


def __getattr__(name: str):
    if name == "app":
        load_commands()
        return _core.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Commands whose array work is on small images (a photo reduced to 192 px, a camera frame):
# OpenBLAS's thread pool, one thread per core started when NumPy loads, buys them nothing
# and costs CPU time (start-up, every frame of a scan). A thread count the user set for
# OpenBLAS (OPENBLAS_NUM_THREADS, or OMP_/GOTO_NUM_THREADS, which it also reads) is kept.
_ONE_BLAS_THREAD = {"classify", "scan", "serve", "wardrobe", "models", "evaluate"}
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in _ONE_BLAS_THREAD and not any(v in os.environ for v in _BLAS_THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when NumPy loads (not yet: tests/test_cli.py)
    # The command is the first argument; an option first (--help, --install-completion) needs them all.
    load_commands(args[0] if args and not args[0].startswith("-") else None)
    _core.app()


__all__ = ["app", "load_commands", "main"]

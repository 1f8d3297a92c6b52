"""The ``fmnistedge`` command line: a thin Typer layer over library functions.

Exit codes (DESIGN.md): 0 ok, 1 some input failed, 2 usage error, 3 verification
or accuracy floor failed, 130 interrupted. Exceptions become exit codes in one
place, ``fmnistedge.cli.app._ErrorMappingGroup``; a user error never prints a
traceback. Heavy libraries are imported inside the commands so ``--help`` and
the runtime commands start fast and without TensorFlow. Commands are grouped by
area in ``runtime_cmds`` (listed first in --help), ``scan_cmds``, ``serve_cmds`` and ``train_cmds``.
"""

from fmnistedge.cli import runtime_cmds, scan_cmds, serve_cmds, train_cmds  # noqa: F401  (register the commands)
from fmnistedge.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]

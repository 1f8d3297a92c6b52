"""The shared core of the command line: the Typer app, the error mapping, common options and
small parsing and rendering helpers. Heavy libraries are imported inside the commands, so
``--help`` and the runtime commands start fast and without TensorFlow; the ``app`` has no
commands until their modules are imported (see :mod:`fmnistedge.cli`).
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
import typer.core

from fmnistedge import errors
from fmnistedge.formats import ENGINES, PRECISIONS
from fmnistedge.progress import print_error, printable, stderr

try:  # Typer 0.2x vendors Click; older Typers use Click itself
    from typer._click.exceptions import NoArgsIsHelpError
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # pragma: no cover - depends on the installed Typer
    import click.exceptions

    ClickUsageError = click.exceptions.UsageError
    NoArgsIsHelpError = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _ErrorMappingGroup(typer.core.TyperGroup):
    """Maps exceptions to one-line errors and documented exit codes (:func:`errors.describe`)."""

    def invoke(self, ctx):
        import sys
        import warnings

        try:
            with warnings.catch_warnings():
                if not sys.warnoptions:  # -W / PYTHONWARNINGS still show them
                    # A library's warning is two lines on stderr ("file:line: UserWarning: ..." and the
                    # source line), e.g. Pillow's on a damaged EXIF block of an image it still decodes.
                    warnings.simplefilter("ignore")
                return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise  # a bare command prints its help, as Click does
        except ClickUsageError as exc:  # a bad option or argument: one line, not Click's usage block
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            print_error(f"{exc.format_message()} (see '{where} --help')")
            raise typer.Exit(exc.exit_code) from None
        except (Exception, KeyboardInterrupt) as exc:
            ending = errors.describe(exc)
            if ending is None:
                raise
            code, line, is_error = ending
            if line:
                print_error(line) if is_error else say(line)
            raise typer.Exit(code) from None


app = typer.Typer(cls=_ErrorMappingGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Fashion-MNIST clothing classifiers from Keras training to a camera on a low-end CPU.")


@app.callback()
def _root() -> None:
    """Fashion-MNIST clothing classifiers from Keras training to a camera on a low-end CPU."""
    # A callback keeps the app a group of commands when only one command module is loaded
    # (fmnistedge.cli.main loads just the running command's module); without it Typer would
    # run a lone command with its name taken as the first argument.


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Folder with the four Fashion-MNIST IDX files "
                       "(default: $FMNISTEDGE_DATA, the Keras cache, /usr/share/datasets/fashion-mnist).")]


def say(text: object) -> None:
    """One plain line on stderr (escaped: a file name cannot move the cursor or add markup)."""
    stderr.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


def split_list(text: str, option: str, allowed=None, most: int | None = None) -> list:
    """A comma-separated option value: its items in order, each once; words from ``allowed``,
    or (``most``) whole numbers from 1 to ``most``."""
    items = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if most is not None:
        if items and all(t.isdigit() and 1 <= int(t) <= most for t in items):
            return [int(t) for t in items]
        raise errors.UsageError(f"{option} takes comma-separated whole numbers from 1 to {most}. Received: {text!r}")
    if not items or set(items) - set(allowed):
        raise errors.UsageError(f"{option} takes a comma-separated list of {', '.join(allowed)}. Received: {text!r}")
    return items


def select_archs(names: list[str] | None, all_archs: bool, every: Callable[[], list[str]] | None = None) -> list[str]:
    """ARCH... or --all (``every()``, default the zoo) to architecture names, checked against the zoo."""
    from fmnistedge.training import zoo

    if all_archs and names:
        raise errors.UsageError("Name architectures or pass --all, not both.")
    if all_archs:
        return (every or zoo.names)()
    if not names:
        raise errors.UsageError("Name at least one architecture, or pass --all. See 'fmnistedge archs'.")
    for name in names:
        zoo.get(name)  # raises with close matches
    return list(dict.fromkeys(names))


def resolve_model(model, engine, precision, artifacts: Path):
    """``--model``/``--engine``/``--precision`` to a checked model reference; says on
    stderr when a name skipped the shipped folder for another folder's file."""
    from fmnistedge.runtime import models

    ref = models.resolve(model, engine.value if engine else None, artifacts, precision.value if precision else None)
    if ref.note:
        say(f"note: {ref.note}")
    return ref


def print_table(columns, rows) -> None:
    """Print a rich table whole: cells wrap instead of being cut with an ellipsis, and
    piped output is not squeezed to 80 columns."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(printable(c) for c in row))
    for column in table.columns:
        column.overflow = "fold"
    console = Console()
    console = console if console.is_terminal else Console(width=200)
    console.print(table)


def progress():
    from fmnistedge.progress import make_progress

    return make_progress()


# The CLI's choices, from the one format table (fmnistedge.formats) and the runtime's
# segmentation paths (spelled here: importing the runtime would load OpenCV for --help;
# tests/test_cli.py checks them against runtime.photo and runtime.scan).
Engine = Enum("Engine", {e: e for e in ENGINES}, type=str)
Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)
Segment = Enum("Segment", {p: p for p in ("fast", "grabcut")}, type=str)
ScanSegment = Enum("ScanSegment", {p: p for p in ("background", "fast", "grabcut")}, type=str)

SegmentOpt = Annotated[Segment, typer.Option(
    help="Garment segmentation: 'fast' (GrabCut at 80 px, one iteration) or 'grabcut' (at 160 px, two "
         "iterations: about 4x the CPU time per photo; the path before).")]
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help="Model name (shipped, then artifacts/) or a .onnx/.tflite file. Default: the shipped default.")]
EngineOpt = Annotated[Optional[Engine], typer.Option(help="Inference engine (default: follows the file; int8 TFLite for names).")]
PrecisionOpt = Annotated[Optional[Precision], typer.Option(
    help="Weight precision of the model file (default: int8, then fp16, then fp32). On x86 CPUs "
         "without VNNI fp32 can be faster than int8: compare with 'fmnistedge bench'.")]
ArtifactsOpt = Annotated[Path, typer.Option(help="Folder of trained and exported models.")]
# The one bound on every --threads: engines create every thread they are asked for
# (--threads 100000 made ONNX Runtime start 32k threads, and then no process on the
# machine could fork), and beyond a few per core they only slow inference down.
MAX_THREADS = 4 * (os.cpu_count() or 1)
ThreadsOpt = Annotated[int, typer.Option(
    min=1, max=MAX_THREADS, help=f"Inference threads of the engine (1 is the Pi-like setting; "
                                 f"at most 4 per CPU core, {MAX_THREADS} here).")]

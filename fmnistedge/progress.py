"""Progress display on stderr (rich), so stdout stays clean for --json results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class _LazyConsole:
    """A rich Console on stderr, created on first use.

    Importing rich costs tens of milliseconds, and ``classify`` on a good file
    prints nothing through it; start-up is part of what a Pi user waits for.
    """

    _console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    def __getattr__(self, name):
        return getattr(self.get(), name)


stderr = _LazyConsole()

# Characters a terminal acts on instead of showing (ESC starts colour, cursor and title
# sequences; CR and LF move the cursor) and those that reorder the text around them.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    cp = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= cp <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{cp - 0xDC00:02x}"
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


def printable(text: object) -> str:
    """``text`` safe to print on a terminal line: control characters (C0, DEL, C1), line
    and paragraph separators, bidirectional-text controls and undecodable file-name bytes
    are written the way Python's repr writes them (``\\x1b``, ``\\n``, ``\\u202e``), so a
    file name cannot colour, move or rewrite the terminal or split an error over two
    lines. Everything else (accents, other scripts, emoji) is kept. JSON output does not
    need this: ``json.dumps`` escapes control characters itself."""
    import unicodedata

    s = str(text)
    if s.isprintable():
        return s
    return "".join(_escape_char(ch) if (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
                                        or ch in _BIDI_CONTROLS) else ch for ch in s)


def print_error(message: object, label: str = "Error:") -> None:
    """One red-labelled error line on stderr; the message is escaped, so a file named
    ``coat [v2].jpg`` prints as it is instead of being read as rich markup, and control
    characters (a file name with ESC or a newline) are shown escaped (:func:`printable`)."""
    from rich.markup import escape

    stderr.print(f"[red]{label}[/red] {escape(printable(message))}", highlight=False, soft_wrap=True)


def make_progress(transient: bool = False) -> Progress:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr.get(), transient=transient,
    )


def stepper(progress: Progress | None, description: str, total: int):
    """A bar of ``total`` steps on ``progress`` as one function, ``step(status=None, advance=1)``
    (a new ``status`` text, if given, and ``advance`` steps); without ``progress`` it does nothing,
    so library code reports progress the same way whether a command shows a bar or not."""
    if progress is None:
        return lambda status=None, advance=1: None
    task = progress.add_task(description, total=total, status="")

    def step(status: str | None = None, advance: int = 1) -> None:
        progress.update(task, advance=advance, **({} if status is None else {"status": status}))

    return step


def keras_progress_callback(progress: Progress, arch: str):
    """A Keras callback that drives two bars: epochs, and batches of the current epoch."""
    import keras

    class RichProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs = progress.add_task(f"{arch} epochs", total=self.params["epochs"], status="")
            self.batches = progress.add_task("  batches", total=self.params["steps"], status="")

        def on_epoch_begin(self, epoch, logs=None):
            progress.reset(self.batches, total=self.params["steps"], status="")

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            progress.update(self.batches, completed=batch + 1,
                            status=f"loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f}")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            status = (f"loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f} "
                      f"val_acc {logs.get('val_accuracy', 0):.4f}")
            progress.update(self.epochs, advance=1, status=status)
            if not progress.console.is_terminal:  # a log file: one line per epoch instead of bars
                progress.console.print(f"{arch} epoch {epoch + 1}/{self.params['epochs']}: {status}")

        def on_train_end(self, logs=None):
            progress.remove_task(self.batches)

    return RichProgress()

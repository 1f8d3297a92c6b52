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


def print_error(message: object, label: str = "Error:") -> None:
    """One red-labelled error line on stderr; the message is escaped, so a file named
    ``coat [v2].jpg`` prints as it is instead of being read as rich markup."""
    from rich.markup import escape

    stderr.print(f"[red]{label}[/red] {escape(str(message))}", highlight=False, soft_wrap=True)


def make_progress(transient: bool = False) -> Progress:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr.get(), transient=transient,
    )


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

"""The ``fmnistedge`` command line: a thin Typer layer over library functions.

Exit codes (DESIGN.md): 0 ok, 1 some input failed, 2 usage error, 3 verification
or accuracy floor failed, 130 interrupted. Exceptions become exit codes in one
place, :class:`_ErrorMappingGroup`; a user error never prints a traceback.
Heavy libraries are imported inside the commands so ``--help`` and the runtime
commands start fast and without TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core

from fmnistedge import errors
from fmnistedge.progress import stderr


class _ErrorMappingGroup(typer.core.TyperGroup):
    """Maps library exceptions to one-line errors and documented exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except errors.FmnistEdgeError as exc:
            stderr.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            stderr.print("Interrupted; everything finished before the interrupt is kept.")
            raise typer.Exit(errors.EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=_ErrorMappingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Fashion-MNIST clothing classifiers from Keras training to a camera on a low-end CPU.",
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder with the four Fashion-MNIST IDX files "
                 "(default: $FMNISTEDGE_DATA, the Keras cache, /usr/share/datasets/fashion-mnist)."),
]


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


@app.command()
def archs(as_json: JsonFlag = False) -> None:
    """List the model zoo: family, parameters, MACs per image and the source's figures."""
    from fmnistedge.zoo.catalog import describe_all

    rows = describe_all()
    if as_json:
        _print_json(rows)
        return
    from rich.table import Table

    from rich.console import Console

    table = Table("name", "family", "params", "MACs", "source", "reported", "epochs")
    for r in rows:
        acc = f"{r['reported_accuracy']:.2f}%" if r["reported_accuracy"] is not None else "-"
        table.add_row(r["name"], r["family"], f"{r['params']:,}", f"{r['macs']:,}", r["source"],
                      acc, str(r["reported_epochs"] or "-"))
    Console().print(table)


@app.command()
def data(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Say where the Fashion-MNIST dataset was found and verify all four files."""
    from fmnistedge.data import verify_dataset

    location, checks = verify_dataset(data_dir)
    if as_json:
        _print_json({
            "directory": str(location.directory), "source": location.source,
            "files": [{"path": str(c.path), "items": c.items, "sha256": c.sha256,
                       "matches_reference": c.matches_reference} for c in checks],
        })
    else:
        typer.echo(f"Fashion-MNIST found in {location.directory} ({location.source})")
        for c in checks:
            mark = "ok" if c.matches_reference else "valid, but content differs from the reference"
            typer.echo(f"  {c.path.name}: {c.items} items, {mark}")


@app.command()
def train(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="ARCH...", help="Architectures to train (see 'fmnistedge archs').")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Train every architecture in the zoo.")] = False,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Epochs (default: the source's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Batch size (default: the source's).")] = None,
    limit: Annotated[Optional[int], typer.Option(
        min=20, help="Train on a class-balanced subset of this many training images.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same model.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder; writes OUT/ARCH/model.keras and train.json.")] = Path("artifacts"),
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Train architectures and write OUT/ARCH/model.keras plus OUT/ARCH/train.json.

    Test accuracy is measured on the full 10,000-image test set; the validation
    split is carved from the training set.
    """
    from fmnistedge import zoo

    names = _arch_selection(arch_names, all_archs)
    from fmnistedge.data import find_dataset
    from fmnistedge.train import TrainOptions, require_keras, train_arch

    find_dataset(data_dir)  # fail fast, before TensorFlow's slow import
    require_keras()
    from fmnistedge.progress import keras_progress_callback, make_progress

    options = TrainOptions(epochs=epochs, batch_size=batch_size, limit=limit, seed=seed,
                           out=out, data_dir=data_dir)
    summaries = []
    with make_progress() as progress:
        for name in names:
            rec = train_arch(name, options, callbacks=[keras_progress_callback(progress, name)])
            summary = {k: rec[k] for k in ("arch", "test_accuracy", "reported_accuracy",
                                           "epochs_run", "params", "train_seconds")}
            summary["model"] = str(Path(out) / name / "model.keras")
            summaries.append(summary)
            if not as_json:
                src = f" (source {rec['reported_accuracy']:.2f}%)" if rec["reported_accuracy"] else ""
                progress.console.print(
                    f"{name}: test accuracy {100 * rec['test_accuracy']:.2f}%{src}, "
                    f"{rec['epochs_run']} epochs in {rec['train_seconds']:.0f} s -> {summary['model']}")
    del zoo
    if as_json:
        _print_json(summaries)


@app.command()
def table(
    artifacts: Annotated[Path, typer.Option(help="Folder of trained models (OUT of 'train').")] = Path("artifacts"),
    csv_path: Annotated[Path, typer.Option("--csv", help="CSV file to write.")] = Path("results/seed-archs.csv"),
    readme: Annotated[Optional[Path], typer.Option(
        help="Markdown file whose seed-table block to regenerate from the CSV.")] = None,
) -> None:
    """Collect every train.json into a results CSV and regenerate the README table from it."""
    from fmnistedge.results import collect_training, render_markdown, update_block, write_csv

    rows = collect_training(artifacts)
    write_csv(rows, csv_path)
    typer.echo(f"wrote {csv_path} ({len(rows)} architectures)")
    if readme is not None:
        update_block(readme, "seed-table", render_markdown(csv_path))
        typer.echo(f"updated the seed-table block in {readme}")


@app.command("export")
def export_cmd(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="[ARCH]...", help="Architectures to export (default: every trained model in --artifacts).")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Export every trained model in --artifacts.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Also write full-integer TFLite and static QDQ ONNX int8 files.")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="Also write fp16-weight TFLite.")] = False,
    formats: Annotated[str, typer.Option(help="Comma-separated engines: tflite, onnx.")] = "tflite,onnx",
    calibration_samples: Annotated[int, typer.Option(
        min=10, help="Training images (class-stratified) used to calibrate int8.")] = 500,
    artifacts: Annotated[Path, typer.Option(help="Folder of trained models (OUT of 'train').")] = Path("artifacts"),
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip verification (files are marked unverified).")] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Convert trained Keras models to TFLite and ONNX and verify every file.

    fp32 files must agree with Keras on >= 99.9% of the 10k test images with
    max |dp| <= 1e-4; int8 files must stay within 1.0 point of Keras' accuracy.
    Each file runs in the engine that will run it on a device (LiteRT, ONNX
    Runtime). Exit code 3 if any file misses its bar.
    """
    engines = [e.strip() for e in formats.split(",") if e.strip()]
    unknown = sorted(set(engines) - {"tflite", "onnx"})
    if unknown or not engines:
        raise errors.UsageError(f"--formats takes tflite and/or onnx. Received: {formats!r}")
    dirs = _export_targets(arch_names, all_archs, artifacts)
    from fmnistedge.train import require_keras

    require_keras()
    from fmnistedge.export.formats import select
    from fmnistedge.export.pipeline import ExportOptions, export_arch, summary_rows
    from fmnistedge.progress import make_progress

    chosen = select(engines, int8=int8, fp16=fp16)
    options = ExportOptions(calibration_samples=calibration_samples, verify=not no_verify,
                            data_dir=data_dir)
    rows = []
    with make_progress() as progress:
        per_arch = 2 + len(chosen) * (1 if no_verify else 2)
        task = progress.add_task("export", total=per_arch * len(dirs), status="")
        for arch_dir in dirs:
            def step(msg: str) -> None:
                progress.update(task, advance=1, status=msg)

            doc = export_arch(arch_dir, chosen, options, step=step)
            rows.extend(summary_rows(doc, chosen))
    _print_export_summary(rows, as_json)
    if any(r["status"] == "verify_failed" for r in rows):
        raise typer.Exit(errors.EXIT_VERIFY_FAILED)


def _export_targets(arch_names: list[str] | None, all_archs: bool, artifacts: Path) -> list[Path]:
    from fmnistedge.export.pipeline import trained_arch_dirs

    if arch_names:
        names = _arch_selection(arch_names, all_archs)
        dirs = [artifacts / n for n in names]
        missing = [d.name for d in dirs if not (d / "model.keras").is_file()]
        if missing:
            raise errors.FmnistEdgeError(
                f"No trained model for {', '.join(missing)} in {artifacts}; "
                f"run 'fmnistedge train {' '.join(missing)}' first")
        return dirs
    dirs = trained_arch_dirs(artifacts)
    if not dirs:
        raise errors.FmnistEdgeError(f"No trained models in {artifacts}; run 'fmnistedge train ARCH' first")
    return dirs


def _print_export_summary(rows: list[dict], as_json: bool) -> None:
    if as_json:
        _print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("arch", "format", "size", "accuracy", "Δ vs Keras", "status")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-"
        delta = f"{r['delta_points']:+.2f}" if r["delta_points"] is not None else "-"
        status = r["status"] + (f" ({'; '.join(r['failures'])})" if r["failures"] else "")
        table.add_row(r["arch"], r["format"], f"{r['bytes'] / 1024:.1f} KiB", acc, delta, status)
    Console().print(table)


def _arch_selection(arch_names: list[str] | None, all_archs: bool) -> list[str]:
    from fmnistedge import zoo

    if all_archs and arch_names:
        raise errors.UsageError("Name architectures or pass --all, not both.")
    if all_archs:
        return zoo.names()
    if not arch_names:
        raise errors.UsageError("Name at least one architecture, or pass --all. See 'fmnistedge archs'.")
    for name in arch_names:
        zoo.get(name)  # raises with close matches
    return list(dict.fromkeys(arch_names))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""Training-side commands: data, archs, train, table, export, report (TensorFlow, lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (
    ArtifactsOpt,
    DataDir,
    JsonFlag,
    _arch_selection,
    _print_json,
    app,
    ensure_writable_dir,
    print_table,
    stderr,
)


@app.command()
def archs(as_json: JsonFlag = False) -> None:
    """List the model zoo: family, parameters, MACs per image and the source's figures."""
    from fmnistedge.training.zoo.catalog import describe_all

    rows = describe_all()
    if as_json:
        _print_json(rows)
        return
    from rich.table import Table


    table = Table("name", "family", "params", "MACs", "source", "reported", "epochs")
    for r in rows:
        acc = f"{r['reported_accuracy']:.2f}%" if r["reported_accuracy"] is not None else "-"
        table.add_row(r["name"], r["family"], f"{r['params']:,}", f"{r['macs']:,}", r["source"],
                      acc, str(r["reported_epochs"] or "-"))
    print_table(table)


@app.command()
def data(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Say where the Fashion-MNIST dataset was found and verify all four files."""
    from fmnistedge.training.data import verify_dataset

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
    augment: Annotated[Optional[str], typer.Option(
        metavar="KIND", help="Override the recipe's augmentation: none, flip-zoom, crop-flip-erase, "
                             "photo, pairs or photo-pairs (see docs/training.md).")] = None,
    learning_rate: Annotated[Optional[float], typer.Option(
        min=1e-6, help="Override the recipe's (peak) learning rate.")] = None,
    init_from: Annotated[Optional[str], typer.Option(
        metavar="MODEL", help="Fine-tune: start from this trained model.keras, an fp32 .onnx export, or a "
                              "shipped model's name (its model_fp32.onnx, rebuilt) of the same architecture "
                              "instead of random weights (use its --seed and --limit, so the validation "
                              "split stays unseen).")] = None,
    photos: Annotated[Optional[Path], typer.Option(
        file_okay=False, help="Also train on labelled real photos: a folder with labels.csv "
                              "(path,label_index,candidates,sender_id; see docs/training.md for the public "
                              "data set and where to get it). They go through classify's preprocessing.")] = None,
    photo_share: Annotated[float, typer.Option(
        min=0.05, max=0.95, help="With --photos: the share of every batch drawn from the photos.")] = 0.5,
    photo_val_fraction: Annotated[float, typer.Option(
        min=0.05, max=0.5, help="With --photos: the share of photos, as whole photographers, held out to "
                                "pick the epoch, the temperature and the 'none of these' threshold.")] = 0.2,
    partial: Annotated[str, typer.Option(
        metavar="MODE", help="With --photos: photos known only as a set of classes: 'set' (trained to put "
                             "their probability on the set) or 'drop'.")] = "set",
    none_share: Annotated[float, typer.Option(
        min=0.0, max=0.5, help="With --photos: the share of photo draws that are garments of no class, "
                               "trained towards equal probabilities (0: leave them out).")] = 0.1,
    none_output: Annotated[bool, typer.Option(
        "--none-output", help="With --photos: give the model an eleventh 'none of these' class, trained on the "
                              "'none' photos (its files still output ten class probabilities; the remainder "
                              "to 1 is 'none').")] = False,
    epoch_size: Annotated[int, typer.Option(
        min=256, max=10_000_000, help="With --photos: images per epoch.")] = 16384,
    photo_cache: Annotated[Path, typer.Option(
        help="With --photos: folder for the rendered photos (re-rendered when the preprocessing "
             "code changes).")] = Path("artifacts/.photo-cache"),
    distribute: Annotated[Optional[str], typer.Option(
        metavar="STRATEGY", help="Train with tf.distribute: 'mirrored' (every local GPU, or --cpu-replicas "
                                 "logical CPU devices). See docs/training.md ('multiworker' is refused: Keras 3's "
                                 "fit does not support it).")] = None,
    cpu_replicas: Annotated[Optional[int], typer.Option(
        min=1, max=16, help="With --distribute on a machine without GPUs: split the CPU into this many "
                            "logical devices (to test the distributed path; not faster).")] = None,
    scale_batch: Annotated[bool, typer.Option(
        "--scale-batch", help="With --distribute: multiply the global batch by the number of replicas and "
                              "the learning rate with it (linear scaling); default: the recipe's global batch.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same model.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder; writes OUT/ARCH/model.keras and train.json.")] = Path("artifacts"),
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Train architectures and write OUT/ARCH/model.keras plus OUT/ARCH/train.json.

    Test accuracy is measured on the full 10,000-image test set; the validation
    split is carved from the training set.
    """
    names = _arch_selection(arch_names, all_archs)
    init_path = None
    if init_from is not None:
        if len(names) != 1:
            raise errors.UsageError("--init-from fine-tunes one architecture; name exactly one.")
        init_path = _init_source(init_from)
        if init_path.resolve() == (out / names[0] / "model.keras").resolve():
            raise errors.UsageError(f"--init-from {init_from} would be overwritten by the result; "
                                    "choose another --out.")
    from fmnistedge.training.augment import AUGMENTATIONS
    if augment is not None and augment not in AUGMENTATIONS:
        raise errors.UsageError(f"Unknown augmentation {augment!r}; choose one of: {', '.join(AUGMENTATIONS)}.")
    from fmnistedge.training.data import find_dataset
    from fmnistedge.training.train import TrainOptions, require_keras, train_arch

    if distribute is not None:
        from fmnistedge.training.distribute import MULTIWORKER_REASON, STRATEGIES

        if distribute == "multiworker":
            raise errors.UsageError(MULTIWORKER_REASON)
        if distribute not in STRATEGIES:
            raise errors.UsageError(f"Unknown --distribute {distribute!r}; choose one of: {', '.join(STRATEGIES)}.")
    elif cpu_replicas is not None or scale_batch:
        raise errors.UsageError("--cpu-replicas and --scale-batch go with --distribute.")
    if none_output and photos is None:
        raise errors.UsageError("--none-output trains on the 'none' photos: it goes with --photos.")
    if photos is not None:
        from fmnistedge.training.photos import PARTIAL_MODES, read_photo_labels

        if partial not in PARTIAL_MODES:
            raise errors.UsageError(f"Unknown --partial {partial!r}; choose one of: {', '.join(PARTIAL_MODES)}.")
        read_photo_labels(photos)  # a bad folder fails now, not after TensorFlow's import
    find_dataset(data_dir)  # fail fast, before TensorFlow's slow import
    ensure_writable_dir(out)  # and before hours of training, not after
    require_keras()
    from fmnistedge.progress import keras_progress_callback, make_progress

    options = TrainOptions(epochs=epochs, batch_size=batch_size, limit=limit, seed=seed,
                           out=out, data_dir=data_dir, augment=augment,
                           learning_rate=learning_rate, init_from=init_path, photos=photos,
                           photo_share=photo_share, photo_val_fraction=photo_val_fraction, partial=partial,
                           none_share=none_share, epoch_size=epoch_size, photo_cache=photo_cache,
                           none_output=none_output, distribute=distribute, cpu_replicas=cpu_replicas,
                           scale_batch=scale_batch)
    summaries = []
    with make_progress() as progress:
        for name in names:
            rec = train_arch(name, options, callbacks=[keras_progress_callback(progress, name)])
            summary = {k: rec[k] for k in ("arch", "test_accuracy", "reported_accuracy",
                                           "epochs_run", "params", "train_seconds")}
            summary["model"] = str(Path(out) / name / "model.keras")
            summaries.append(summary)
            skipped = (rec.get("photos") or {}).get("unrendered")
            if skipped:
                stderr.print(f"{name}: {skipped} photo(s) of {photos} could not be read and were left out "
                             f"(train.json: photos.unrendered)", markup=False)
            if not as_json:
                src = f" (source {rec['reported_accuracy']:.2f}%)" if rec["reported_accuracy"] else ""
                progress.console.print(
                    f"{name}: test accuracy {100 * rec['test_accuracy']:.2f}%{src}, "
                    f"{rec['epochs_run']} epochs in {rec['train_seconds']:.0f} s -> {summary['model']}")
    if as_json:
        _print_json(summaries)


def _init_source(text: str) -> Path:
    """--init-from: a file, or a shipped model's name (its fp32 ONNX file)."""
    path = Path(text)
    if path.is_file():
        return path
    if path.exists():
        raise errors.UsageError(f"--init-from {text} is not a file")
    from fmnistedge.runtime.models import shipped_dir

    shipped = shipped_dir() / text / "model_fp32.onnx"
    if "/" not in text and shipped.is_file():
        return shipped
    raise errors.UsageError(f"--init-from {text}: no such file, and no shipped model of that name with a "
                            "model_fp32.onnx (see 'fmnistedge models')")


@app.command()
def table(
    artifacts: Annotated[Path, typer.Option(help="Folder of trained and exported models.")] = Path("artifacts"),
    results: Annotated[Path, typer.Option(help="Folder of result files to write and read.")] = Path("results"),
    doc: Annotated[Optional[list[Path]], typer.Option(
        help="Markdown file whose generated blocks to regenerate from the result files "
             "(docs/results.md, README.md); repeat for several.")] = None,
    readme: Annotated[Optional[Path], typer.Option(hidden=True, help="Deprecated: use --doc.")] = None,
) -> None:
    """Collect train.json and manifest.json files into result CSVs; regenerate Markdown tables from them.

    Writes RESULTS/seed-archs.csv (training), RESULTS/exports.csv (every
    exported file; architectures not in ARTIFACTS keep their rows) and, from the train.json copies in
    RESULTS/runs/, RESULTS/edge-runs.csv and RESULTS/accuracy-params.png (needs the 'report' extra).
    With --doc, rewrites each block between <!-- NAME:start --> and <!-- NAME:end --> markers that the
    file holds, from those files and from RESULTS/realphotos-dev.json, coldstart.json, photo-bench.json,
    scan-bench.json, bench.json and bench-shipped.json (also the edge family's targets) when present.
    """
    from fmnistedge.measure import tables

    docs = list(doc or [])
    if readme is not None:
        stderr.print("--readme is deprecated; use --doc (the generated tables are in docs/results.md)")
        docs.append(readme)
    for message in tables.regenerate(artifacts, results, docs):
        typer.echo(message)


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
    onnx_weight_bits: Annotated[int, typer.Option(
        min=7, max=8, help="Weight width of int8 ONNX files: 7 gives the same result on every x86 CPU; "
                           "8 is more accurate and exact on ARM and VNNI CPUs, but may score differently "
                           "on other x86 CPUs (docs/export.md).")] = 7,
    artifacts: Annotated[Path, typer.Option(help="Folder of trained models (OUT of 'train').")] = Path("artifacts"),
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip verification (files are marked unverified).")] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Convert trained Keras models to TFLite and ONNX and verify every file.

    fp32 files must agree with Keras on >= 99.9% of the 10k test images with
    max |dp| <= 1e-4; int8 files must stay within 1.0 point of Keras' accuracy.
    fp16 files must agree on >= 99.5% and stay within 0.2 points; fp32 files
    also within 0.1 point. Each file runs in the engine that will run it on a
    device (LiteRT, ONNX Runtime). Exit code 3 if any file misses its bar.
    """
    engines = [e.strip() for e in formats.split(",") if e.strip()]
    unknown = sorted(set(engines) - {"tflite", "onnx"})
    if unknown or not engines:
        raise errors.UsageError(f"--formats takes tflite and/or onnx. Received: {formats!r}")
    dirs = _export_targets(arch_names, all_archs, artifacts)
    from fmnistedge.training.train import require_keras

    require_keras("Export")
    from fmnistedge.export.formats import select
    from fmnistedge.export.pipeline import ExportOptions, export_arch, summary_rows
    from fmnistedge.progress import make_progress

    chosen = select(engines, int8=int8, fp16=fp16)
    options = ExportOptions(calibration_samples=calibration_samples, onnx_weight_bits=onnx_weight_bits,
                            verify=not no_verify, data_dir=data_dir)
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
    from rich.table import Table

    table = Table("arch", "format", "size", "accuracy", "Δ vs Keras", "status")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-"
        delta = f"{r['delta_points']:+.2f}" if r["delta_points"] is not None else "-"
        status = r["status"] + (f" ({'; '.join(r['failures'])})" if r["failures"] else "")
        table.add_row(r["arch"], r["format"], f"{r['bytes'] / 1024:.1f} KiB", acc, delta, status)
    print_table(table)


@app.command()
def report(
    arch_names: Annotated[Optional[list[str]], typer.Argument(metavar="[ARCH]...", help="Architectures to report on.")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Every trained architecture in --artifacts.")] = False,
    artifacts: ArtifactsOpt = Path("artifacts"),
    out: Annotated[Path, typer.Option(help="Folder for the pages and figures.")] = Path("docs/reports"),
    bench_json: Annotated[Optional[Path], typer.Option(
        "--bench", help="A 'fmnistedge bench --json' file for the overview's latency column.")] = Path("results/bench.json"),
) -> None:
    """Draw training curves, confusion matrices, galleries and embeddings per architecture.

    Writes OUT/ARCH/index.md with its PNG figures, and OUT/index.md, an overview of
    every architecture reported. Needs the 'report' extra (matplotlib, scikit-learn) and
    the 'train' extra (TensorFlow, to load the Keras models).
    """
    from fmnistedge.training.train import require_keras

    if all_archs and arch_names:
        raise errors.UsageError("Name architectures or pass --all, not both.")
    if all_archs:
        from fmnistedge.export.pipeline import trained_arch_dirs

        dirs = [d for d in trained_arch_dirs(artifacts) if d.name != "tiny"]
        if not dirs:
            raise errors.FmnistEdgeError(f"No trained models in {artifacts}; run 'fmnistedge train ARCH' first")
    elif arch_names:
        dirs = [artifacts / n for n in _arch_selection(arch_names, False)]
    else:
        raise errors.UsageError("Name architectures or pass --all.")
    for module, package in (("matplotlib", "matplotlib"), ("sklearn", "scikit-learn")):
        import importlib.util

        if importlib.util.find_spec(module) is None:
            raise errors.MissingExtraError(package, "report", "Reports")
    require_keras("Reports (they load the Keras models)")
    ensure_writable_dir(out)
    from fmnistedge.measure.report import arch_report, overview
    from fmnistedge.progress import make_progress

    with make_progress() as progress:
        task = progress.add_task("report", total=len(dirs), status="")
        for d in dirs:
            progress.update(task, status=d.name)
            arch_report(d, out)
            progress.advance(task)
    overview(out, bench_json)
    typer.echo(f"wrote {len(dirs)} report(s) and {out / 'index.md'}")

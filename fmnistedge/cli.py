"""The ``fmnistedge`` command line: a thin Typer layer over library functions.

Exit codes (DESIGN.md): 0 ok, 1 some input failed, 2 usage error, 3 verification
or accuracy floor failed, 130 interrupted. Exceptions become exit codes in one
place, :class:`_ErrorMappingGroup`; a user error never prints a traceback.
Heavy libraries are imported inside the commands so ``--help`` and the runtime
commands start fast and without TensorFlow.
"""

from __future__ import annotations

import json
from enum import Enum
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
    artifacts: Annotated[Path, typer.Option(help="Folder of trained and exported models.")] = Path("artifacts"),
    results: Annotated[Path, typer.Option(help="Folder of result files to write and read.")] = Path("results"),
    readme: Annotated[Optional[Path], typer.Option(
        help="Markdown file whose generated blocks to regenerate from the result files.")] = None,
) -> None:
    """Collect train.json and manifest.json files into result CSVs; regenerate README tables from them.

    Writes RESULTS/seed-archs.csv (training) and RESULTS/exports.csv (every
    exported file). With --readme, rewrites the blocks between
    <!-- NAME:start --> and <!-- NAME:end --> markers from those files and from
    RESULTS/realphotos-dev.json and RESULTS/coldstart.json when present.
    """
    from fmnistedge import results as res

    seed_csv, export_csv = results / "seed-archs.csv", results / "exports.csv"
    train_rows = res.collect_training(artifacts)
    res.write_csv(train_rows, seed_csv)
    typer.echo(f"wrote {seed_csv} ({len(train_rows)} architectures)")
    export_rows = res.collect_exports(artifacts)
    if export_rows:
        res.write_csv(export_rows, export_csv, res.EXPORT_COLUMNS)
        typer.echo(f"wrote {export_csv} ({len(export_rows)} files)")
    if readme is None:
        return
    blocks = {"seed-table": (seed_csv, res.render_markdown),
              "export-table": (export_csv, res.render_export_markdown),
              "photo-table": (results / "realphotos-dev.json", res.render_photo_markdown),
              "coldstart": (results / "coldstart.json", res.render_coldstart_markdown)}
    for name, (source, render) in blocks.items():
        if source.is_file():
            res.update_block(readme, name, render(source))
            typer.echo(f"updated the {name} block in {readme} from {source}")


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


class Engine(str, Enum):
    onnx = "onnx"
    tflite = "tflite"


ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help="Model name (shipped, then artifacts/) or a .onnx/.tflite file. Default: the shipped default.")]
EngineOpt = Annotated[Optional[Engine], typer.Option(help="Inference engine (default: follows the file; int8 TFLite for names).")]
ArtifactsOpt = Annotated[Path, typer.Option(help="Folder of trained and exported models.")]


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH...", help="Image files, folders (searched recursively) or glob patterns.")],
    model: ModelOpt = None,
    engine: EngineOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10, help="How many guesses to show.")] = 3,
    threads: Annotated[int, typer.Option(min=1, help="Inference threads (1 is the Pi-like setting).")] = 1,
    raw: Annotated[bool, typer.Option("--raw", help="Images are already 28x28 Fashion-MNIST style: skip garment segmentation.")] = False,
    save_preprocessed: Annotated[Optional[Path], typer.Option(
        help="Write the 28x28 image the model saw for each input into this folder.")] = None,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: JsonFlag = False,
) -> None:
    """Classify photos of clothing with a TensorFlow-free engine.

    Each photo is segmented (the garment is separated from its background),
    cropped, negated and fitted into 28x28 like Fashion-MNIST. Exit code 1 if
    any input failed (the others are still classified), 2 for usage errors.
    """
    from fmnistedge.runtime import imageio, models
    from fmnistedge.runtime.classify import Failure, classify_files

    ref = models.resolve(model, engine.value if engine else None, artifacts)
    backend = models.load(ref, threads=threads)  # a bad model fails once, before any image
    files, problems = imageio.find_images(paths)
    failures = [Failure(str(p), msg) for p, msg in problems]
    for f in failures:
        stderr.print(f"[red]error[/red] {f.error}", highlight=False)

    def show(r) -> None:
        if isinstance(r, Failure):
            stderr.print(f"[red]error[/red] {r.error}", highlight=False, soft_wrap=True)
        elif not as_json:
            alts = ", ".join(f"{t['label']} {100 * t['probability']:.1f}%" for t in r.top_k[1:])
            typer.echo(f"{r.path}: {r.label} ({100 * r.confidence:.1f}%)" + (f"  [{alts}]" if alts else ""))

    results = classify_files(files, backend, mode="raw" if raw else "photo", k=top_k,
                             save_dir=save_preprocessed, on_result=show)
    all_results = failures + results
    if as_json:
        _print_json({
            "model": {"arch": ref.arch, "path": str(ref.path), "engine": ref.engine,
                      "precision": ref.precision, "where": ref.where,
                      "verified_accuracy": (ref.entry or {}).get("test_accuracy")},
            "results": [r.to_dict() for r in all_results],
        })
    if any(isinstance(r, Failure) for r in all_results):
        raise typer.Exit(errors.EXIT_INPUT_FAILED)


@app.command()
def models(artifacts: ArtifactsOpt = Path("artifacts"), as_json: JsonFlag = False) -> None:
    """List the model files this install can use: shipped ones and those under artifacts/."""
    from fmnistedge.runtime.models import default_arch, list_models

    rows = list_models(artifacts)
    if as_json:
        _print_json({"default": default_arch(), "models": rows})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("arch", "file", "format", "precision", "size", "verified accuracy", "status", "where")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-"
        table.add_row(r["arch"], r["file"], r["format"], r["precision"], f"{r['bytes'] / 1024:.1f} KiB",
                      acc, r["status"], r["where"])
    Console().print(table)
    if not rows:
        stderr.print("No models found; train and export one ('fmnistedge train', 'fmnistedge export').")
    else:
        stderr.print(f"Default model: {default_arch() or 'none shipped'}")


@app.command()
def evaluate(
    photos: Annotated[Path, typer.Option(help="Folder of labelled photos with a labels.csv (path,label_index,...).")],
    labels: Annotated[Optional[Path], typer.Option(help="Labels CSV (default: PHOTOS/labels.csv).")] = None,
    model: ModelOpt = None,
    engine: EngineOpt = None,
    modes: Annotated[str, typer.Option(help="Comma-separated preprocessing modes to compare: photo, naive, raw.")] = "photo,naive",
    out: Annotated[Optional[Path], typer.Option(help="Write the full results (JSON) here.")] = None,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: JsonFlag = False,
) -> None:
    """Measure a model on labelled real photos: top-1, top-3, per-class accuracy, confusion matrix.

    'photo' is fmnistedge's garment segmentation; 'naive' is the plain
    resize-and-negate baseline, reported beside it.
    """
    from fmnistedge import fileio, provenance
    from fmnistedge.progress import make_progress
    from fmnistedge.runtime import models
    from fmnistedge.runtime.evaluate import evaluate_photos, read_labels
    from fmnistedge.runtime.preprocess import PHOTO_MODES

    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    if not wanted or set(wanted) - set(PHOTO_MODES):
        raise errors.UsageError(f"--modes takes photo, naive and/or raw. Received: {modes!r}")
    ref = models.resolve(model, engine.value if engine else None, artifacts)
    backend = models.load(ref)
    items = read_labels(photos, labels)
    report = {"model": {"arch": ref.arch, "file": ref.path.name, "engine": ref.engine,
                        "precision": ref.precision, "sha256": (ref.entry or {}).get("sha256"),
                        "verified_test_accuracy": (ref.entry or {}).get("test_accuracy")},
              "photos": str(photos), "results": {}, "environment": provenance.environment()}
    with make_progress() as progress:
        for mode in wanted:
            task = progress.add_task(f"{mode}", total=len(items), status="")
            report["results"][mode] = evaluate_photos(
                items, backend, mode, tick=lambda: progress.advance(task))
    if out is not None:
        fileio.write_json(out, report)
    if as_json:
        _print_json(report)
        return
    for mode, r in report["results"].items():
        typer.echo(f"{mode:>6}: top-1 {100 * r['macro_top1']:.1f}%  top-3 {100 * r['macro_top3']:.1f}% "
                   f"(macro over {len(r['per_class_top1'])} classes; overall top-1 {100 * r['top1']:.1f}%, "
                   f"{r['items']} photos, {len(r['failures'])} unreadable)")
    first = report["results"][wanted[0]]
    typer.echo("per class (top-1): " + ", ".join(
        f"{k} {100 * v:.0f}%" for k, v in first["per_class_top1"].items()))


@app.command()
def bench(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="[ARCH]...", help="Architectures to measure (default with --all: every one found).")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Every architecture with models in --artifacts or shipped.")] = False,
    formats: Annotated[str, typer.Option(help="Comma-separated: keras-predict, keras-call, tflite-fp32, "
                                         "tflite-fp16, tflite-int8, onnx-fp32, onnx-int8.")] = ",".join(
        ("keras-predict", "keras-call", "tflite-fp32", "tflite-fp16", "tflite-int8", "onnx-fp32", "onnx-int8")),
    threads: Annotated[int, typer.Option(min=1, help="Threads for every engine (1 = the Pi-like setting).")] = 1,
    runs: Annotated[int, typer.Option(min=10, help="Timed batch-1 runs per model (interleaved).")] = 300,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed warm-up runs per model.")] = 30,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes for throughput.")] = "1,32",
    json_path: Annotated[Optional[str], typer.Option("--json", help="Write JSON here ('-' for stdout).")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write CSV here.")] = None,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write a PNG plot (needs the 'report' extra).")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a Markdown report here.")] = None,
    min_accuracy: Annotated[Optional[float], typer.Option(
        help="Exit 3 if any measured model is below this accuracy (percent).")] = None,
    artifacts: ArtifactsOpt = Path("artifacts"),
    data_dir: DataDir = None,
) -> None:
    """Measure latency against accuracy for every architecture and format.

    Each file is loaded in a fresh process (load time, accuracy on the 10k test
    set, peak memory, throughput); batch-1 latency is timed with the formats
    interleaved. A row that fails is recorded and the run goes on.
    """
    from fmnistedge import bench as b
    from fmnistedge import benchreport, fileio, provenance, zoo
    from fmnistedge.progress import make_progress

    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    if not fmts or set(fmts) - set(b.ALL_FORMATS):
        raise errors.UsageError(f"Unknown format in --formats {formats!r}; choose from {', '.join(b.ALL_FORMATS)}")
    try:
        sizes = tuple(int(v) for v in batch_sizes.split(","))
    except ValueError:
        raise errors.UsageError(f"--batch-sizes takes comma-separated integers. Received: {batch_sizes!r}") from None
    names = _arch_selection(arch_names, all_archs) if arch_names else zoo.names()
    if not arch_names and not all_archs:
        raise errors.UsageError("Name architectures or pass --all.")
    options = b.BenchOptions(fmts, threads, runs, warmup, sizes, artifacts, data_dir)
    rows = b.discover(names, options)
    if not rows:
        raise errors.FmnistEdgeError(f"No models to measure in {artifacts} or the shipped models; "
                                     "run 'fmnistedge train' and 'fmnistedge export' first")
    with make_progress() as progress:
        task = progress.add_task("bench", total=sum(r.status == "pending" for r in rows) + 2, status="")
        b.run(rows, options, tick=lambda msg: progress.update(task, advance=1, status=msg))
    doc = benchreport.to_document(rows, options, provenance.environment())
    if json_path == "-":
        _print_json(doc)
    elif json_path:
        fileio.write_json(Path(json_path), doc)
    if csv_path:
        benchreport.write_csv(doc, csv_path)
    if plot_path:
        benchreport.plot(doc, plot_path)
    if markdown:
        fileio.write_text(markdown, benchreport.markdown_report(doc, plot_path))
    if json_path != "-":
        from rich.console import Console

        Console(width=200).print(benchreport.markdown_table(doc), soft_wrap=True, highlight=False)
    below = [r for r in doc["rows"] if r["status"] == "ok" and min_accuracy is not None
             and 100 * r["accuracy"] < min_accuracy]
    for r in below:
        stderr.print(f"{r['arch']} {r['format']}: accuracy {100 * r['accuracy']:.2f}% < --min-accuracy {min_accuracy}")
    if below:
        raise typer.Exit(errors.EXIT_VERIFY_FAILED)


WardrobeOpt = Annotated[Optional[Path], typer.Option(
    "--wardrobe", help="Wardrobe database (default: ~/.local/share/fmnistedge/wardrobe.db).")]


@app.command()
def scan(
    camera: Annotated[Optional[int], typer.Option(help="USB webcam index (default 0 when no other source is given).")] = None,
    source: Annotated[Optional[str], typer.Option(help="A video file or stream URL instead of a camera.")] = None,
    picamera: Annotated[bool, typer.Option("--picamera", help="Raspberry Pi camera module through Picamera2.")] = False,
    model: ModelOpt = None,
    engine: EngineOpt = None,
    show: Annotated[Optional[bool], typer.Option(
        "--show/--no-show", help="Preview window (default: when a display is available).")] = None,
    wardrobe: WardrobeOpt = None,
    min_confidence: Annotated[float, typer.Option(min=0.0, max=1.0, help="Record only guesses this confident.")] = 0.6,
    stable_frames: Annotated[int, typer.Option(min=1, help="Frames in a row with the same label to record an item.")] = 5,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(min=0.1, help="Stop after this many seconds.")] = None,
    roi: Annotated[float, typer.Option(min=0.1, max=1.0, help="Guide box: centered square, this fraction of the shorter side.")] = 0.8,
    threads: Annotated[int, typer.Option(min=1, help="Inference threads.")] = 1,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout: one per item, then the summary.")] = False,
) -> None:
    """Scan garments held in front of a camera and record them in the wardrobe.

    An item is recorded when the same label stays above --min-confidence for
    --stable-frames frames; the same item is not recorded again until the scene
    changes (the item is removed and the view is empty). Every item is committed
    at once: Ctrl-C (exit 130) or SIGTERM (exit 0) keeps everything recorded.
    """
    import signal

    from fmnistedge.runtime import models
    from fmnistedge.runtime.scan import (OpenCVSource, PicameraSource, ScanStats, Voter,
                                         classify_frame, run_scan)
    from fmnistedge.runtime.wardrobe import Item, Wardrobe

    if sum(x is not None and x is not False for x in (camera, source, picamera or None)) > 1:
        raise errors.UsageError("Choose one of --camera, --source and --picamera.")
    ref = models.resolve(model, engine.value if engine else None, artifacts)
    backend = models.load(ref, threads=threads)
    store = Wardrobe(wardrobe)
    src = PicameraSource() if picamera else OpenCVSource(source if source is not None else (camera or 0))
    source_name = "picamera" if picamera else str(source if source is not None else f"camera:{camera or 0}")
    recorded_ids: list[int] = []

    def on_record(r) -> None:
        recorded_ids.append(store.add(Item(r.label, r.class_index, r.confidence, ref.arch,
                                           (ref.entry or {}).get("sha256"), source_name, r.thumbnail)))
        line = {"id": recorded_ids[-1], "label": r.label, "confidence": round(r.confidence, 4), "frame": r.frame}
        typer.echo(json.dumps(line) if as_json else f"#{line['id']} {r.label} ({100 * r.confidence:.0f}%) at frame {r.frame}")

    def undo() -> str | None:
        if recorded_ids and store.remove(recorded_ids[-1]):
            return f"removed #{recorded_ids.pop()}"
        return None

    preview = None
    if show or (show is None and not as_json):
        from fmnistedge.runtime.preview import Preview, display_available

        if display_available():
            preview = Preview(undo, roi)
        elif show:
            stderr.print("No display available; scanning without a preview.")
    stop = {"flag": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    stats = ScanStats()
    stderr.print(f"Scanning {source_name} with {ref.arch} ({ref.engine} {ref.precision}); "
                 f"wardrobe {store.path}. Ctrl-C to stop.")
    interrupted = False
    try:
        run_scan(iter(src), lambda rgb: classify_frame(rgb, backend, roi),
                 Voter(stable_frames, min_confidence), on_record, preview, max_frames, max_seconds,
                 should_stop=lambda: stop["flag"], stats=stats)
    except KeyboardInterrupt:
        interrupted, stats.stopped = True, "interrupted"
    finally:
        signal.signal(signal.SIGTERM, previous)
        src.close()
        if preview is not None:
            preview.close()
        store.close()
    if getattr(src, "lost", False):
        stats.stopped = "camera lost"
    summary = stats.summary()
    summary["wardrobe"] = str(store.path)
    if as_json:
        typer.echo(json.dumps({"summary": summary}))
    else:
        per = ", ".join(f"{k} {v}" for k, v in summary["per_label"].items()) or "none"
        stderr.print(f"{summary['items']} item(s) recorded ({per}); {summary['frames']} frames, "
                     f"{summary['fps']} FPS, {summary['latency_ms_mean']} ms per frame; stopped: {summary['stopped']}")
    if interrupted:
        raise typer.Exit(errors.EXIT_INTERRUPTED)


wardrobe_app = typer.Typer(cls=_ErrorMappingGroup, no_args_is_help=True,
                           help="The wardrobe inventory that 'scan' fills.")
app.add_typer(wardrobe_app, name="wardrobe")


def _open_wardrobe(path: Optional[Path]):
    from fmnistedge.runtime.wardrobe import Wardrobe

    return Wardrobe(path)


@wardrobe_app.command("list")
def wardrobe_list(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """List every recorded item."""
    items = _open_wardrobe(wardrobe).items()
    if as_json:
        _print_json(items)
        return
    for it in items:
        typer.echo(f"#{it['id']} {it['label']} ({100 * it['confidence']:.0f}%) {it['first_seen']} "
                   f"[{it['model']}, {it['source']}]")
    if not items:
        stderr.print("The wardrobe is empty; add items with 'fmnistedge scan'.")


@wardrobe_app.command("stats")
def wardrobe_stats(wardrobe: WardrobeOpt = None, as_json: JsonFlag = False) -> None:
    """Items per label."""
    stats = _open_wardrobe(wardrobe).stats()
    if as_json:
        _print_json(stats)
        return
    typer.echo(f"{stats['items']} item(s)")
    for label, n in stats["per_label"].items():
        typer.echo(f"  {label}: {n}")


@wardrobe_app.command("export")
def wardrobe_export(
    wardrobe: WardrobeOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV (the default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the wardrobe as CSV or JSON (thumbnails are not included)."""
    from fmnistedge import fileio

    if as_csv and as_json:
        raise errors.UsageError("Choose --csv or --json, not both.")
    text = _open_wardrobe(wardrobe).export("json" if as_json else "csv")
    if out is None:
        typer.echo(text, nl=False)
    else:
        fileio.write_text(out, text)


@wardrobe_app.command("remove")
def wardrobe_remove(item_id: Annotated[int, typer.Argument(metavar="ID")], wardrobe: WardrobeOpt = None) -> None:
    """Remove one item by its id."""
    if not _open_wardrobe(wardrobe).remove(item_id):
        raise errors.FmnistEdgeError(f"No item #{item_id} in the wardrobe")
    typer.echo(f"removed #{item_id}")


@wardrobe_app.command("clear")
def wardrobe_clear(
    wardrobe: WardrobeOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete every item.")] = False,
) -> None:
    """Delete every item (needs --yes)."""
    if not yes:
        raise errors.UsageError("This deletes every item; pass --yes to confirm.")
    typer.echo(f"removed {_open_wardrobe(wardrobe).clear()} item(s)")


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
    every architecture reported. Needs the 'report' extra (matplotlib, scikit-learn).
    """
    from fmnistedge.train import require_keras

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
    require_keras()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise errors.FmnistEdgeError(f"Cannot write to {out}: {exc.strerror}") from None
    from fmnistedge.progress import make_progress
    from fmnistedge.report import arch_report, overview

    summaries = []
    with make_progress() as progress:
        task = progress.add_task("report", total=len(dirs), status="")
        for d in dirs:
            progress.update(task, status=d.name)
            summaries.append(arch_report(d, out))
            progress.advance(task)
    overview(summaries, out, bench_json)
    typer.echo(f"wrote {len(summaries)} report(s) and {out / 'index.md'}")


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

"""Runtime commands: models, evaluate, bench (classify is in classify_cmds). They never import TensorFlow
(bench imports it only in its own worker processes for the Keras baseline rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge.cli.app import (ArtifactsOpt, DataDir, EngineOpt, JsonFlag, ModelOpt, PrecisionOpt, ThreadsOpt, app,
                                print_json, print_table, progress, resolve_model, say, select_archs, split_list)
from fmnistedge.formats import BENCH_FORMATS
from fmnistedge.measure.bench import BenchOptions as B  # bench's defaults


@app.command()
def models(artifacts: ArtifactsOpt = Path("artifacts"), as_json: JsonFlag = False) -> None:
    """List the model files this install can use: shipped ones and those under artifacts/."""
    from fmnistedge.runtime.models import default_arch, list_models

    rows = list_models(artifacts)
    if as_json:
        return print_json({"default": default_arch(), "models": rows})
    print_table(("arch", "file", "format", "precision", "size", "verified accuracy", "status", "where"), (
        (r["arch"], r["file"], r["format"], r["precision"], f"{r['bytes'] / 1024:.1f} KiB",
         f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-", r["status"], r["where"])
        for r in rows))
    say(f"Default model: {default_arch() or 'none shipped'}" if rows else
        "No models found; train and export one ('fmnistedge train', 'fmnistedge export').")


@app.command()
def evaluate(
    photos: Annotated[Path, typer.Option(help="Folder of labelled photos with a labels.csv (path,label_index,...).")],
    labels: Annotated[Optional[Path], typer.Option(help="Labels CSV (default: PHOTOS/labels.csv).")] = None,
    model: ModelOpt = None,
    engine: EngineOpt = None,
    precision: PrecisionOpt = None,
    modes: Annotated[str, typer.Option(help="Comma-separated preprocessing modes to compare: photo, naive, raw.")] = "photo,naive",
    segment: Annotated[str, typer.Option(
        help="Comma-separated segmentation paths for the 'photo' mode: fast (the default path) and/or "
             "grabcut (the slower path, reported as 'photo-grabcut'), measured in the same run.")] = "fast",
    out: Annotated[Optional[Path], typer.Option(
        help="Write the full results (JSON) here, and beside it, per mode, OUT-STEM.MODE.confusion.png "
             "(needs the 'report' extra) and OUT-STEM.MODE.contact.png.")] = None,
    calibration: Annotated[bool, typer.Option(
        "--calibration", help="Also fit a temperature on the Fashion-MNIST validation split (needs the "
                              "dataset) and report ECE on that split and on the photos with it.")] = False,
    none_photos: Annotated[Optional[Path], typer.Option(
        file_okay=False, help="A labelled photo folder (labels.csv with 'none' rows: garments of no class) "
                              "to measure the 'none of these' rejection of a photo-trained model on; only "
                              "the photographers held out from its training when it was trained on that "
                              "folder.")] = None,
    data_dir: DataDir = None,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: JsonFlag = False,
) -> None:
    """Measure a model on labelled real photos: top-1, top-3, per-class accuracy, confusion matrix.

    'photo' is fmnistedge's garment segmentation; 'naive' is the plain
    resize-and-negate baseline, reported beside it. With --out, a confusion-matrix
    PNG and a contact sheet of the 28x28 inputs the model saw (true label,
    prediction and confidence under each) are written beside the JSON.
    Photos that cannot be read are named on stderr and skipped; the exit code is
    then 1 (the results of the others are still printed and written).
    ECE is the expected calibration error of the confidences (15 bins).
    """
    from fmnistedge.errors import EXIT_INPUT_FAILED, CommandFailed
    from fmnistedge.measure import evaluation
    from fmnistedge.progress import print_error

    from fmnistedge.runtime.photo import SEGMENT_PATHS
    from fmnistedge.runtime.preprocess import PHOTO_MODES

    runs = evaluation.parse_runs(split_list(modes, "--modes", PHOTO_MODES), split_list(segment, "--segment", SEGMENT_PATHS))
    ref = resolve_model(model, engine, precision, artifacts)
    with progress() as bar:
        report = evaluation.evaluate(ref, photos, runs, labels, calibration, none_photos, data_dir, out, bar, say)
    for f in evaluation.failures(report):
        print_error(f["error"], "error")
    if as_json:
        print_json(report)
    else:
        typer.echo("\n".join(evaluation.summary_lines(report)))
    if evaluation.failures(report):
        raise CommandFailed(EXIT_INPUT_FAILED)


@app.command()
def bench(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="[ARCH]...", help="Architectures to measure (default with --all: every one found).")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Every architecture with models in --artifacts or shipped.")] = False,
    formats: Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(BENCH_FORMATS)}.")] = ",".join(BENCH_FORMATS),
    threads: ThreadsOpt = B.threads,
    runs: Annotated[int, typer.Option(min=10, max=1_000_000, help="Timed batch-1 runs per model (interleaved).")] = B.runs,
    warmup: Annotated[int, typer.Option(min=0, max=1_000_000, help="Untimed warm-up runs per model.")] = B.warmup,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes for throughput.")] = ",".join(
        map(str, B.batch_sizes)),
    json_path: Annotated[Optional[str], typer.Option("--json", help="Write JSON here ('-' for stdout).")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write CSV here.")] = None,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write a PNG plot (needs the 'report' extra).")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a Markdown report here.")] = None,
    min_accuracy: Annotated[Optional[float], typer.Option(
        min=0.0, max=100.0, help="Exit 3 if any measured model is below this accuracy (percent).")] = None,
    artifacts: ArtifactsOpt = B.artifacts,
    data_dir: DataDir = B.data_dir,
) -> None:
    """Measure latency against accuracy for every architecture and format.

    Each file is loaded in a fresh process (load time, accuracy on the 10k test
    set, peak memory, throughput); batch-1 latency is timed with the formats
    interleaved. A row that fails is recorded and the run goes on; the exit code
    is then 1 (3 if a model is below --min-accuracy).
    """
    from fmnistedge.fileio import ensure_writable_dir
    from fmnistedge.measure import bench as b
    from fmnistedge.measure import benchreport

    fmts = tuple(split_list(formats, "--formats", BENCH_FORMATS))
    sizes = tuple(split_list(batch_sizes, "--batch-sizes", most=10_000))
    names = select_archs(arch_names, all_archs)
    if plot_path:
        from fmnistedge.measure import reportfigs

        reportfigs.plt("The --plot option")  # a missing extra fails now, not after minutes of measuring
    json_file = Path(json_path) if json_path not in (None, "-") else None
    for path in (json_file, csv_path, plot_path, markdown):
        if path is not None:
            ensure_writable_dir(path.parent)
    options = b.BenchOptions(fmts, threads, runs, warmup, sizes, artifacts, data_dir)
    with progress() as bar:
        doc = b.measure(names, options, bar, say)
    benchreport.write_outputs(doc, json_file, csv_path, plot_path, markdown)
    if json_path == "-":
        print_json(doc)
    else:
        from rich.console import Console

        Console(width=200).print(benchreport.markdown_table(doc), soft_wrap=True, highlight=False)
    benchreport.check(doc, min_accuracy, say)

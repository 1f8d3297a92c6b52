"""Training-side commands: data, archs, train, table, export, report (TensorFlow, lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (ArtifactsOpt, DataDir, JsonFlag, app, print_json, print_table, progress, say,
                                select_archs, split_list)
from fmnistedge.formats import DEFAULT_CALIBRATION_SAMPLES, DEFAULT_ONNX_WEIGHT_BITS, ENGINES, ONNX_WEIGHT_BITS
from fmnistedge.training.options import TrainOptions as T  # train's defaults

O = typer.Option


@app.command()
def archs(as_json: JsonFlag = False) -> None:
    """List the model zoo: family, parameters, MACs per image and the source's figures."""
    from fmnistedge.training.zoo.catalog import describe_all

    rows = describe_all()
    if as_json:
        return print_json(rows)
    print_table(("name", "family", "params", "MACs", "source", "reported", "epochs"), (
        (r["name"], r["family"], f"{r['params']:,}", f"{r['macs']:,}", r["source"],
         f"{r['reported_accuracy']:.2f}%" if r["reported_accuracy"] is not None else "-",
         str(r["reported_epochs"] or "-")) for r in rows))


@app.command()
def data(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Say where the Fashion-MNIST dataset was found and verify all four files."""
    from fmnistedge.training.data import verify_dataset

    location, checks = verify_dataset(data_dir)
    if as_json:
        return print_json({"directory": str(location.directory), "source": location.source, "files": [
            {"path": str(c.path), "items": c.items, "sha256": c.sha256, "matches_reference": c.matches_reference}
            for c in checks]})
    typer.echo(f"Fashion-MNIST found in {location.directory} ({location.source})")
    for c in checks:
        typer.echo(f"  {c.path.name}: {c.items} items, "
                   + ("ok" if c.matches_reference else "valid, but content differs from the reference"))


def parse_fold(text: str | None) -> tuple[int, int] | None:
    """``--photo-fold K/N`` as (K, N), both bounded; a one-line usage error otherwise."""
    if text is None:
        return None
    from fmnistedge.training.photos import MAX_FOLDS

    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()):
        raise errors.UsageError(f"--photo-fold takes K/N, e.g. 2/5. Received: {text!r}")
    k_, n_ = int(k), int(n)
    if not 2 <= n_ <= MAX_FOLDS or not 1 <= k_ <= n_:
        raise errors.UsageError(f"--photo-fold K/N needs 2 <= N <= {MAX_FOLDS} and 1 <= K <= N. Received: {text!r}")
    return k_, n_


@app.command()
def train(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="ARCH...", help="Architectures to train (see 'fmnistedge archs').")] = None,
    all_archs: Annotated[bool, O("--all", help="Train every architecture in the zoo.")] = False,
    epochs: Annotated[Optional[int], O(min=1, max=100_000, help="Epochs (default: the source's).")] = T.epochs,
    batch_size: Annotated[Optional[int], O(min=1, max=65_536, help="Batch size (default: the source's).")] = T.batch_size,
    limit: Annotated[Optional[int], O(min=20, max=60_000, help="Train on a class-balanced subset of this many training "
                                                             "images.")] = T.limit,
    augment: Annotated[Optional[str], O(metavar="KIND", help="Override the recipe's augmentation: none, flip-zoom, "
                                        "crop-flip-erase, photo, pairs or photo-pairs (see docs/training.md).")] = T.augment,
    learning_rate: Annotated[Optional[float], O(min=1e-6, max=10.0, help="Override the recipe's (peak) learning "
                                                                       "rate.")] = T.learning_rate,
    init_from: Annotated[Optional[str], O(metavar="MODEL", help=(
        "Fine-tune: start from this trained model.keras, an fp32 .onnx export, or a shipped model's name (its "
        "model_fp32.onnx, rebuilt) of the same architecture instead of random weights (use its --seed and --limit, "
        "so the validation split stays unseen)."))] = None,
    photos: Annotated[Optional[Path], O(file_okay=False, help=(
        "Also train on labelled real photos: a folder with labels.csv (path,label_index,candidates,sender_id; see "
        "docs/training.md for the public data set and where to get it). They go through classify's preprocessing."))
    ] = T.photos,
    photo_share: Annotated[float, O(min=0.05, max=0.95, help="With --photos: the share of every batch drawn from the "
                                                             "photos.")] = T.photo_share,
    photo_val_fraction: Annotated[float, O(min=0.05, max=0.5, help=(
        "With --photos: the share of photos, as whole photographers, held out to pick the epoch, the temperature "
        "and the 'none of these' threshold."))] = T.photo_val_fraction,
    photo_fold: Annotated[Optional[str], O(metavar="K/N", help=(
        "With --photos: photographer-grouped cross-validation: hold out fold K of N (N 2-10) groups of whole "
        "photographers instead of --photo-val-fraction; run K = 1..N with one --seed and pool the held-out scores "
        "(scripts/kfold_photos.py)."))] = None,
    partial: Annotated[str, O(metavar="MODE", help=(
        "With --photos: photos known only as a set of classes: 'set' (trained to put their probability on the set) "
        "or 'drop'."))] = T.partial,
    label_refinements: Annotated[Optional[Path], O(dir_okay=False, metavar="CSV", help=(
        "With --photos: labels decided by looking at photos whose label is a candidate set (image_id,label_index,"
        "was,how; this repository's data/label-refinements.csv, see docs/training.md)."))] = T.label_refinements,
    none_share: Annotated[float, O(min=0.0, max=0.5, help=(
        "With --photos: the share of photo draws that are garments of no class, trained towards equal "
        "probabilities (0: leave them out)."))] = T.none_share,
    photo_balance: Annotated[float, O(min=0.0, max=1.0, help=(
        "With --photos: class balance of the photo draws, each class drawn ~ its photos^(1 - balance): 0 as found, "
        "1 every class alike."))] = T.photo_balance,
    none_output: Annotated[bool, O("--none-output", help=(
        "With --photos: give the model an eleventh 'none of these' class, trained on the 'none' photos (its files "
        "still output ten class probabilities; the remainder to 1 is 'none')."))] = T.none_output,
    flip_average: Annotated[bool, O("--flip-average", help=(
        "Save a model that answers with the mean of its answers on the image and on the image mirrored left to "
        "right (built into the model file: twice the compute per image; see docs/training.md)."))] = T.flip_average,
    epoch_size: Annotated[int, O(min=256, max=10_000_000, help="With --photos: images per epoch.")] = T.epoch_size,
    photo_cache: Annotated[Path, O(help="With --photos: folder for the rendered photos (re-rendered when the "
                                        "preprocessing code changes).")] = T.photo_cache,
    distribute: Annotated[Optional[str], O(metavar="STRATEGY", help=(
        "Train with tf.distribute: 'mirrored' (every local GPU, or --cpu-replicas logical CPU devices). See "
        "docs/training.md ('multiworker' is refused: Keras 3's fit does not support it)."))] = T.distribute,
    cpu_replicas: Annotated[Optional[int], O(min=1, max=16, help=(
        "With --distribute on a machine without GPUs: split the CPU into this many logical devices (to test the "
        "distributed path; not faster)."))] = T.cpu_replicas,
    scale_batch: Annotated[bool, O("--scale-batch", help=(
        "With --distribute: multiply the global batch by the number of replicas and the learning rate with it "
        "(linear scaling); default: the recipe's global batch."))] = T.scale_batch,
    seed: Annotated[int, O(min=0, max=2**31 - 1, help="Random seed; the same seed gives the same model.")] = T.seed,
    out: Annotated[Path, O(help="Output folder; writes OUT/ARCH/model.keras and train.json.")] = T.out,
    data_dir: DataDir = T.data_dir,
    as_json: JsonFlag = False,
) -> None:
    """Train architectures and write OUT/ARCH/model.keras plus OUT/ARCH/train.json.

    Test accuracy is measured on the full 10,000-image test set; the validation
    split is carved from the training set.
    """
    from fmnistedge.training import run

    names = select_archs(arch_names, all_archs)
    options = run.check(names, T(
        epochs=epochs, batch_size=batch_size, limit=limit, seed=seed, out=out, data_dir=data_dir, augment=augment,
        learning_rate=learning_rate, photos=photos, photo_share=photo_share, photo_val_fraction=photo_val_fraction,
        photo_fold=parse_fold(photo_fold),
        partial=partial, none_share=none_share, photo_balance=photo_balance, epoch_size=epoch_size, photo_cache=photo_cache,
        none_output=none_output, flip_average=flip_average, label_refinements=label_refinements,
        distribute=distribute, cpu_replicas=cpu_replicas, scale_batch=scale_batch), init_from)
    with progress() as bar:
        done = run.train_all(names, options, bar, say, lambda s: as_json or bar.console.print(run.summary_line(s)))
    if as_json:
        print_json(done)


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
    scan-bench.json and bench.json (also the edge family's targets) when present.
    """
    from fmnistedge.measure import tables

    docs = list(doc or [])
    if readme is not None:
        say("--readme is deprecated; use --doc (the generated tables are in docs/results.md)")
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
    formats: Annotated[str, typer.Option(help=f"Comma-separated engines: {', '.join(ENGINES)}.")] = ",".join(ENGINES),
    calibration_samples: Annotated[int, typer.Option(
        min=10, max=60_000, help="Training images (class-stratified) used to calibrate int8.")] = DEFAULT_CALIBRATION_SAMPLES,
    onnx_weight_bits: Annotated[int, typer.Option(
        min=min(ONNX_WEIGHT_BITS), max=max(ONNX_WEIGHT_BITS),
        help="Weight width of int8 ONNX files: 7 gives the same result on every x86 CPU; 8 is more accurate and "
             "exact on ARM and VNNI CPUs, but may score differently on other x86 CPUs (docs/export.md).")
    ] = DEFAULT_ONNX_WEIGHT_BITS,
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
    from fmnistedge.export import pipeline
    from fmnistedge.formats import select
    from fmnistedge.training.train import require_keras

    engines = split_list(formats, "--formats", ENGINES)
    dirs = pipeline.export_targets(select_archs(arch_names, all_archs) if arch_names else None, artifacts)
    require_keras("Export")
    options = pipeline.ExportOptions(calibration_samples=calibration_samples, onnx_weight_bits=onnx_weight_bits,
                                     verify=not no_verify, data_dir=data_dir)
    with progress() as bar:
        rows = pipeline.export_all(dirs, select(engines, int8=int8, fp16=fp16), options, bar)
    if as_json:
        print_json(rows)
    else:
        print_table(("arch", "format", "size", "accuracy", "Δ vs Keras", "status"), (
            (r["arch"], r["format"], f"{r['bytes'] / 1024:.1f} KiB",
             f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-",
             f"{r['delta_points']:+.2f}" if r["delta_points"] is not None else "-",
             r["status"] + (f" ({'; '.join(r['failures'])})" if r["failures"] else "")) for r in rows))
    pipeline.check_rows(rows)


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
    from fmnistedge.measure.report import report_all
    from fmnistedge.runtime.models import trained_dirs

    names = select_archs(arch_names, all_archs, lambda: [d.name for d in trained_dirs(artifacts, include_test=False)])
    if not names:
        raise errors.FmnistEdgeError(f"No trained models in {artifacts}; run 'fmnistedge train ARCH' first")
    with progress() as bar:
        report_all([artifacts / n for n in names], out, bench_json, bar)
    typer.echo(f"wrote {len(names)} report(s) and {out / 'index.md'}")

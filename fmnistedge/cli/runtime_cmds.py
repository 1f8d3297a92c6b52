"""Runtime commands: models, evaluate, bench (classify is in classify_cmds). They never import TensorFlow
(bench imports it only in its own worker processes for the Keras baseline rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (
    ArtifactsOpt,
    DataDir,
    EngineOpt,
    JsonFlag,
    ModelOpt,
    PrecisionOpt,
    ThreadsOpt,
    _arch_selection,
    _print_json,
    app,
    ensure_writable_dir,
    print_table,
    resolve_model,
    stderr,
)
from fmnistedge.progress import print_error, printable


@app.command()
def models(artifacts: ArtifactsOpt = Path("artifacts"), as_json: JsonFlag = False) -> None:
    """List the model files this install can use: shipped ones and those under artifacts/."""
    from fmnistedge.runtime.models import default_arch, list_models

    rows = list_models(artifacts)
    if as_json:
        _print_json({"default": default_arch(), "models": rows})
        return
    from rich.table import Table

    table = Table("arch", "file", "format", "precision", "size", "verified accuracy", "status", "where")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-"
        table.add_row(*map(printable, (r["arch"], r["file"], r["format"], r["precision"])),
                      f"{r['bytes'] / 1024:.1f} KiB", acc, printable(r["status"]), r["where"])
    print_table(table)
    if not rows:
        stderr.print("No models found; train and export one ('fmnistedge train', 'fmnistedge export').")
    else:
        stderr.print(f"Default model: {printable(default_arch() or 'none shipped')}", markup=False)


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
    from fmnistedge import fileio, provenance
    from fmnistedge.progress import make_progress
    from fmnistedge.runtime import models
    from fmnistedge.runtime.evaluate import evaluate_photos, read_labels
    from fmnistedge.runtime.photo import DEFAULT_SEGMENT, SEGMENT_PATHS
    from fmnistedge.runtime.preprocess import PHOTO_MODES

    asked = [m.strip() for m in modes.split(",") if m.strip()]
    if not asked or set(asked) - set(PHOTO_MODES):
        raise errors.UsageError(f"--modes takes photo, naive and/or raw. Received: {modes!r}")
    paths = list(dict.fromkeys(s.strip() for s in segment.split(",") if s.strip()))
    if not paths or set(paths) - set(SEGMENT_PATHS):
        raise errors.UsageError(f"--segment takes {' and/or '.join(SEGMENT_PATHS)}. Received: {segment!r}")
    # A result per mode and, for 'photo', per segmentation path: "photo" is the default path.
    runs = [(mode if mode != "photo" or path == DEFAULT_SEGMENT else f"photo-{path}", mode, path)
            for mode in dict.fromkeys(asked) for path in (paths if mode == "photo" else [None])]
    wanted = [key for key, _, _ in runs]
    ref = resolve_model(model, engine, precision, artifacts)
    backend = models.load(ref)
    items = read_labels(photos, labels)
    if out is not None:
        ensure_writable_dir(out.parent)
    report = {"model": {"arch": ref.arch, "file": ref.path.name, "engine": ref.engine,
                        "precision": ref.precision, "sha256": (ref.entry or {}).get("sha256"),
                        "verified_test_accuracy": (ref.entry or {}).get("test_accuracy")},
              "photos": str(photos), "results": {}, "environment": provenance.environment()}
    held_out = _photo_training(ref)
    if held_out is not None:
        report["model"]["photo_training"] = held_out
    seen = {}
    with make_progress() as progress:
        for key, mode, path in runs:
            task = progress.add_task(key, total=len(items), status="")
            report["results"][key], seen[key] = evaluate_photos(
                items, backend, mode, tick=lambda: progress.advance(task), segment=path)
    # Every mode reads the same photos, so the first mode's failures are all of them.
    failed = report["results"][wanted[0]]["failures"]
    for f in failed:
        print_error(f["error"], "error")
    if calibration:
        report["calibration"] = _temperature_report(ref, backend, report, data_dir)
    _open_set(report, ref, backend, none_photos)
    if out is not None:
        fileio.write_json(out, report)
        _evaluation_figures(report, seen, out)
    if as_json:
        _print_json(report)
    else:
        _print_evaluation(report, wanted, calibration)
    if failed:
        raise typer.Exit(errors.EXIT_INPUT_FAILED)


def _photo_training(ref) -> dict | None:
    """A photo-trained model's scores on the photographers its training held out (its train.json)."""
    import json

    log = ref.path.parent / "train.json"
    try:
        photos = json.loads(log.read_text()).get("photos") if log.is_file() else None
    except (OSError, ValueError):
        return None
    if not isinstance(photos, dict) or "val_metrics" not in photos:
        return None
    return {"folder": photos.get("folder"), "val": photos.get("val"), "val_metrics": photos["val_metrics"]}


def _open_set(report: dict, ref, backend, none_folder: Path | None) -> None:
    """With a photo-trained model: its calibration and 'none of these' decision on the dev
    photos (and on --none-photos), into report['open_set']."""
    import numpy as np

    from fmnistedge.runtime.evaluate import none_photos, open_set_report
    from fmnistedge.runtime.openset import OpenSet, model_meta
    from fmnistedge.runtime.preprocess import prepare_image, to_model_input

    meta, where = model_meta(ref)
    openset = OpenSet.from_meta(meta, where)
    if openset is None or "photo" not in report["results"]:
        if none_folder is not None:
            stderr.print(f"{ref.arch} carries no photo calibration: --none-photos is not measured.")
        return
    none_probs, note, failed = None, "", 0
    if none_folder is not None:
        paths, note = none_photos(none_folder, meta.get("photo_calibration"))
        images = []
        for p in paths:
            try:
                images.append(prepare_image(p, "photo")[0])
            except errors.FmnistEdgeError:
                failed += 1
        none_probs = backend.predict(to_model_input(np.stack(images))) if images else np.zeros((0, 10))
    report["open_set"] = open_set_report(openset, report["results"]["photo"], none_probs, note, failed)


def _print_evaluation(report: dict, wanted: list[str], calibration: bool) -> None:
    for mode, r in report["results"].items():
        typer.echo(f"{mode:>6}: top-1 {100 * r['macro_top1']:.1f}%  top-3 {100 * r['macro_top3']:.1f}% "
                   f"(macro over {len(r['per_class_top1'])} classes; overall top-1 {100 * r['top1']:.1f}%, "
                   f"{r['items']} photos, {len(r['failures'])} unreadable; ECE {r['ece']:.3f})")
    if calibration:
        c = report["calibration"]
        typer.echo(f"temperature {c['temperature']:.3f} (fitted on {c['fitted_on']}): ECE there "
                   f"{c['val_ece']:.3f} -> {c['val_ece_scaled']:.3f}; on the photos "
                   + ", ".join(f"{m} {v['ece']:.3f} -> {v['ece_scaled']:.3f}" for m, v in c["photos"].items()))
    if "open_set" in report:
        o = report["open_set"]
        none = (f"{100 * o['none_rejected']:.1f}% of {o['none_photos']} 'none' photos rejected"
                if o["none_rejected"] is not None else "no 'none' photos measured (--none-photos)")
        typer.echo(f"none of these: below {100 * o['reject_below']:.1f}% (temperature {o['temperature']:.3f}): "
                   f"{100 * o['dev_wrongly_rejected']:.1f}% of these photos wrongly rejected, {none}; "
                   f"ECE {o['dev_ece_raw']:.3f} -> {o['dev_ece_calibrated']:.3f} calibrated")
    first = report["results"][wanted[0]]
    typer.echo("per class (top-1): " + ", ".join(
        f"{k} {100 * v:.0f}%" for k, v in first["per_class_top1"].items()))


def _temperature_report(ref, backend, report: dict, data_dir) -> dict:
    """Temperature scaling fitted on the validation split the model was *not* trained on."""
    import json

    import numpy as np

    from fmnistedge.labels import LABELS
    from fmnistedge.runtime.backends import predict_all
    from fmnistedge.runtime.evaluate import (
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
    )
    from fmnistedge.runtime.preprocess import to_model_input
    from fmnistedge.training import data

    train_json = ref.path.parent / "train.json"
    seed = json.loads(train_json.read_text()).get("seed", 0) if train_json.is_file() else 0
    x, y = data.load_split("train", data_dir)
    _, _, x_val, y_val = data.train_val_split(x, y, 0.1, seed)
    probs = predict_all(backend, to_model_input(x_val))
    t = fit_temperature(probs, y_val)
    index = {name: i for i, name in enumerate(LABELS)}
    photos = {}
    for mode, r in report["results"].items():
        y_true = np.array([index[p["true"]] for p in r["predictions"]])
        probs_photos = np.array([p["probs"] for p in r["predictions"]])
        photos[mode] = {"ece": r["ece"], "ece_scaled": expected_calibration_error(
            y_true, apply_temperature(probs_photos, t))}
    return {"temperature": t, "fitted_on": f"Fashion-MNIST validation split (10% of train, seed {seed}, "
                                          f"{len(y_val)} images)",
            "val_ece": expected_calibration_error(y_val, probs),
            "val_ece_scaled": expected_calibration_error(y_val, apply_temperature(probs, t)),
            "photos": photos}


def _evaluation_figures(report: dict, seen: dict, out: Path) -> None:
    """Per mode: a confusion-matrix PNG (matplotlib, the 'report' extra) and a contact sheet."""
    import numpy as np

    from fmnistedge.labels import LABELS
    from fmnistedge.runtime.evaluate import contact_sheet

    index = {name: i for i, name in enumerate(LABELS)}
    for mode, r in report["results"].items():
        preds = r["predictions"]
        contact_sheet(seen[mode], [index[p["true"]] for p in preds], [index[p["pred"]] for p in preds],
                      [p["confidence"] for p in preds], out.with_name(f"{out.stem}.{mode}.contact.png"))
        try:
            from fmnistedge.measure import reportfigs

            reportfigs.confusion(np.array(r["confusion_matrix"]),
                                 f"{report['model']['arch']} {report['model']['file']} on {report['photos']} "
                                 f"({mode}): top-1 {100 * r['macro_top1']:.1f}% macro",
                                 out.with_name(f"{out.stem}.{mode}.confusion.png"))
        except errors.MissingExtraError as exc:
            stderr.print(f"Skipped the confusion-matrix PNG: {exc}", markup=False)
    o = report.get("open_set")
    if o is not None and o["none_photos"]:
        try:
            from fmnistedge.measure import reportfigs

            reportfigs.rejection_curve(
                o["curve"], o["reject_below"],
                f"{report['model']['arch']} {report['model']['file']}: 'none' photos ({o['none_photos']}) "
                f"vs {report['photos']}", out.with_name(f"{out.stem}.none-curve.png"), goal=(0.05, 0.60))
        except errors.MissingExtraError as exc:
            stderr.print(f"Skipped the rejection-curve PNG: {exc}", markup=False)


@app.command()
def bench(
    arch_names: Annotated[Optional[list[str]], typer.Argument(
        metavar="[ARCH]...", help="Architectures to measure (default with --all: every one found).")] = None,
    all_archs: Annotated[bool, typer.Option("--all", help="Every architecture with models in --artifacts or shipped.")] = False,
    formats: Annotated[str, typer.Option(help="Comma-separated: keras-predict, keras-call, tflite-fp32, "
                                         "tflite-fp16, tflite-int8, onnx-fp32, onnx-int8.")] = ",".join(
        ("keras-predict", "keras-call", "tflite-fp32", "tflite-fp16", "tflite-int8", "onnx-fp32", "onnx-int8")),
    threads: ThreadsOpt = 1,
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
    interleaved. A row that fails is recorded and the run goes on; the exit code
    is then 1 (3 if a model is below --min-accuracy).
    """
    from fmnistedge import fileio, provenance
    from fmnistedge.measure import bench as b
    from fmnistedge.measure import benchreport
    from fmnistedge.progress import make_progress
    from fmnistedge.training import zoo

    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    if not fmts or set(fmts) - set(b.ALL_FORMATS):
        raise errors.UsageError(f"Unknown format in --formats {formats!r}; choose from {', '.join(b.ALL_FORMATS)}")
    try:
        sizes = tuple(int(v) for v in batch_sizes.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise errors.UsageError(f"--batch-sizes takes comma-separated integers >= 1. Received: {batch_sizes!r}")
    names = _arch_selection(arch_names, all_archs) if arch_names else zoo.names()
    if not arch_names and not all_archs:
        raise errors.UsageError("Name architectures or pass --all.")
    from fmnistedge.training.data import find_dataset

    find_dataset(data_dir)  # accuracy needs the test set: fail now, not in every row
    if plot_path:
        from fmnistedge.measure import reportfigs

        reportfigs.plt("The --plot option")  # a missing extra fails now, not after minutes of measuring
    for path in (Path(json_path) if json_path not in (None, "-") else None, csv_path, plot_path, markdown):
        if path is not None:
            ensure_writable_dir(path.parent)
    options = b.BenchOptions(fmts, threads, runs, warmup, sizes, artifacts, data_dir)
    rows = b.discover(names, options)
    if not rows and set(fmts) <= set(b.KERAS_FORMATS) and not b.has_tensorflow():
        raise errors.FmnistEdgeError(f"No Keras models to measure, and {b.KERAS_NEEDS_TENSORFLOW}")
    if not rows:
        raise errors.FmnistEdgeError(f"No models to measure in {artifacts} or the shipped models; "
                                     "run 'fmnistedge train' and 'fmnistedge export' first")
    if any(r.status == "not run" for r in rows):
        stderr.print(f"note: {b.KERAS_NEEDS_TENSORFLOW}", markup=False, highlight=False)
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
    for r in doc["rows"]:  # the table has no room for why a row failed
        if r["status"] in ("run failed", "verify failed"):
            print_error(f"{r['arch']} {r['format']}: {r['error'] or 'no reason recorded'}")
    below = [r for r in doc["rows"] if r["status"] == "ok" and min_accuracy is not None
             and 100 * r["accuracy"] < min_accuracy]
    for r in below:
        stderr.print(f"{r['arch']} {r['format']}: accuracy {100 * r['accuracy']:.2f}% < --min-accuracy {min_accuracy}")
    if below:
        raise typer.Exit(errors.EXIT_VERIFY_FAILED)
    if any(r["status"] == "run failed" for r in doc["rows"]):
        raise typer.Exit(errors.EXIT_INPUT_FAILED)

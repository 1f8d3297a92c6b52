"""``fmnistedge classify``: on its own so that running it builds no other command's options
(start-up is what a Pi user waits for; see docs/runtime.md, "Start-up")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge import errors
from fmnistedge.cli.app import (ArtifactsOpt, EngineOpt, JsonFlag, ModelOpt, PrecisionOpt, Segment, SegmentOpt,
                                ThreadsOpt, _print_json, app, ensure_writable_dir, resolve_model, stderr)
from fmnistedge.progress import print_error, printable


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH...", help="Image files, folders (searched recursively) or glob patterns.")],
    model: ModelOpt = None,
    engine: EngineOpt = None,
    precision: PrecisionOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=10, help="How many guesses to show.")] = 3,
    threads: ThreadsOpt = 1,
    raw: Annotated[bool, typer.Option("--raw", help="Images are already 28x28 Fashion-MNIST style: skip garment segmentation.")] = False,
    segment: SegmentOpt = Segment.fast,
    save_preprocessed: Annotated[Optional[Path], typer.Option(
        help="Write the 28x28 image the model saw for each input into this folder.")] = None,
    artifacts: ArtifactsOpt = Path("artifacts"),
    as_json: JsonFlag = False,
) -> None:
    """Classify photos of clothing with a TensorFlow-free engine.

    Each photo is segmented (the garment is separated from its background),
    cropped, negated and fitted into 28x28 like Fashion-MNIST. A model trained on
    real photos carries a calibration: its probabilities are rescaled to match how
    often it is right on photos, and a photo whose top probability stays below the
    model's threshold is answered 'unknown' (none of the ten classes; the best
    guess is still shown and in --json). A blank image is 'unknown' too (no
    garment found). 'unknown' is an answer, not an error: exit code 0. Exit code 1
    if any input failed (the others are still classified), 2 for usage errors.
    """
    from fmnistedge.runtime import imageio, models
    from fmnistedge.runtime.classify import ClassifyInterrupted, Failure, classify_files
    from fmnistedge.runtime.openset import for_model

    if save_preprocessed is not None:
        # One line now, not one failed result per image after all the work.
        ensure_writable_dir(save_preprocessed)
    ref = resolve_model(model, engine, precision, artifacts)
    backend = models.load(ref, threads=threads)  # a bad model fails once, before any image
    openset = for_model(ref)
    entries = imageio.expand_paths(paths)
    files = [e for e in entries if isinstance(e, Path)]
    for e in entries:
        if not isinstance(e, Path):
            print_error(e[1], "error")  # before the slow part, so a typo shows at once

    def show(r) -> None:
        if isinstance(r, Failure):
            print_error(r.error, "error")
        elif not as_json and r.class_index is None:
            guess = r.best_guess
            typer.echo(f"{printable(r.path)}: unknown ({r.reason}; best guess {guess['label']} "
                       f"{100 * guess['probability']:.1f}%)")
        elif not as_json:
            alts = ", ".join(f"{t['label']} {100 * t['probability']:.1f}%" for t in r.top_k[1:])
            typer.echo(f"{printable(r.path)}: {r.label} ({100 * r.confidence:.1f}%)" + (f"  [{alts}]" if alts else ""))

    interrupted = False
    try:
        results = classify_files(files, backend, mode="raw" if raw else "photo", k=top_k,
                                 save_dir=save_preprocessed, on_result=show, openset=openset,
                                 segment=segment.value)
    except ClassifyInterrupted as exc:  # Ctrl-C: the results finished so far are still reported
        results, interrupted = exc.results, True
    by_path = {r.path: r for r in results}  # expand_paths names each file once
    all_results = [by_path.get(str(e)) if isinstance(e, Path) else Failure(str(e[0]), e[1]) for e in entries]
    all_results = [r for r in all_results if r is not None]  # None: not finished before Ctrl-C
    if as_json:
        _print_json({
            "model": {"arch": ref.arch, "path": str(ref.path), "engine": ref.engine,
                      "precision": ref.precision, "where": ref.where,
                      "verified_accuracy": (ref.entry or {}).get("test_accuracy"),
                      "photo_calibration": (None if openset is None else
                                            {"temperature": openset.temperature,
                                             "reject_below": openset.reject_below})},
            "results": [r.to_dict() for r in all_results],
            "interrupted": interrupted,
        })
    if interrupted:
        stderr.print(f"Interrupted after {len(results)} of {len(files)} image(s); "
                     + ("the JSON on stdout holds the results finished so far (\"interrupted\": true)."
                           if as_json else "the results finished so far are printed."), highlight=False, markup=False)
        raise typer.Exit(errors.EXIT_INTERRUPTED)
    if any(isinstance(r, Failure) for r in all_results):
        raise typer.Exit(errors.EXIT_INPUT_FAILED)

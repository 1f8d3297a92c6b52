"""``fmnistedge classify``: on its own so that running it builds no other command's options
(start-up is what a Pi user waits for; see docs/runtime.md, "Start-up")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fmnistedge.cli.app import (ArtifactsOpt, EngineOpt, JsonFlag, ModelOpt, PrecisionOpt, Segment, SegmentOpt,
                                ThreadsOpt, app, print_json, resolve_model)
from fmnistedge.progress import print_error


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
    from fmnistedge.fileio import ensure_writable_dir
    from fmnistedge.runtime import models
    from fmnistedge.runtime.classify import Failure, classify_paths, result_line
    from fmnistedge.runtime.openset import for_model

    if save_preprocessed is not None:
        ensure_writable_dir(save_preprocessed)  # one line now, not one failed result per image after all the work
    ref = resolve_model(model, engine, precision, artifacts)
    backend, openset = models.load(ref, threads=threads), for_model(ref)  # a bad model fails once, before any image

    def show(r) -> None:
        if isinstance(r, Failure):
            print_error(r.error, "error")
        elif not as_json:
            typer.echo(result_line(r))

    run = classify_paths(paths, backend, show, mode="raw" if raw else "photo", k=top_k, save_dir=save_preprocessed,
                         openset=openset, segment=segment.value)
    if as_json:
        print_json(run.to_document(ref, openset))
    run.check(as_json)

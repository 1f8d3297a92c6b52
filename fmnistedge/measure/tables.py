"""``fmnistedge table`` as a library call: collect the training and export records into the
result CSVs, draw the accuracy-parameters plot, and regenerate the generated blocks of
Markdown files (``docs/results.md``, the README's shipped-models table) from the result files.

Which block comes from which file is decided here, once (``blocks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fmnistedge import errors
from fmnistedge.measure import collect, render


def blocks(results: Path, photo_runs: bool = True) -> dict[str, tuple[Path, Callable[[Path, Path], str]]]:
    """Block name -> (the result file it is generated from, renderer(source, doc) -> Markdown).
    ``photo_runs``: whether the edge runs include photo-domain runs (their own block)."""
    photos = results / "realphotos-dev.json"
    swap = results / "bench-swap.json"  # scripts/bench_swap.py: a model shipped again since bench.json
    table = {
        "shipped-table": (results / "bench.json",
                          lambda src, doc: render.render_shipped_markdown(src, photos, swap_json=swap)),
        "seed-table": (results / "seed-archs.csv", lambda src, doc: render.render_seed_markdown(src)),
        "edge-table": (results / "edge-runs.csv", lambda src, doc: render.render_runs_markdown(src)),
        "export-table": (results / "exports.csv", lambda src, doc: render.render_export_markdown(src)),
        "photo-table": (photos, lambda src, doc: render.render_photo_markdown(src)),
        "photo-summary": (photos, render.render_photo_summary_markdown),
        "coldstart": (results / "coldstart.json", lambda src, doc: render.render_coldstart_markdown(src)),
        "photo-speed": (results / "photo-bench.json", lambda src, doc: render.render_photo_speed_markdown(src)),
        "scan-speed": (results / "scan-bench.json", lambda src, doc: render.render_scan_speed_markdown(src)),
        "bench-table": (results / "bench.json", lambda src, doc: render.render_bench_markdown(src, doc, swap)),
        "targets-table": (results / "bench.json", lambda src, doc: render.render_targets_markdown(src, swap)),
        "input-size-probe": (results / "input-size-probe-24ep.json",
                             lambda src, doc: render.render_input_probe_markdown(src)),
        "kfold-photos": (results / "kfold-photos.json", lambda src, doc: render.render_kfold_markdown(src)),
    }
    if photo_runs:
        table["photo-runs"] = (results / "edge-runs.csv", lambda src, doc: render.render_photo_runs_markdown(src))
    return table


def _docs(doc: Path | Sequence[Path] | None, names: Sequence[str]) -> list[Path]:
    """The Markdown files to rewrite, each checked before anything is written: it exists and
    holds at least one block this module generates."""
    docs = [] if doc is None else [Path(doc)] if isinstance(doc, (str, Path)) else [Path(d) for d in doc]
    for d in docs:
        if not d.is_file():
            raise errors.UsageError(f"--doc {d}: no such Markdown file")
        text = d.read_text()
        if not any(f"<!-- {name}:start -->" in text for name in names):
            raise errors.UsageError(f"--doc {d} has no generated block (<!-- NAME:start --> ... <!-- NAME:end -->, "
                                    f"NAME one of {', '.join(names)})")
    return docs


def regenerate(artifacts: Path, results: Path, doc: Path | Sequence[Path] | None = None) -> list[str]:
    """Write RESULTS/seed-archs.csv (from ARTIFACTS/*/train.json; architectures not in ARTIFACTS
    keep their rows), RESULTS/exports.csv (every exported file in ARTIFACTS/*/manifest.json,
    likewise), RESULTS/edge-runs.csv (from the train.json copies in RESULTS/runs/) and
    RESULTS/accuracy-params.png (skipped without the 'report' extra). With ``doc`` (one
    Markdown file or several), rewrite every generated block each one holds from the result
    file it comes from, when that file exists. Returns one message per file written, block
    updated or step skipped."""
    artifacts, results = Path(artifacts), Path(results)
    docs = _docs(doc, list(blocks(results)))
    messages = []
    seed_csv, export_csv = results / "seed-archs.csv", results / "exports.csv"
    train_rows = collect.collect_training(artifacts)
    seed_rows = collect.merge_rows(train_rows, seed_csv)
    if not seed_rows:
        raise errors.FmnistEdgeError(
            f"No train.json under {artifacts} and no {seed_csv}; run 'fmnistedge train' first")
    collect.write_csv(seed_rows, seed_csv)
    messages.append(f"wrote {seed_csv} ({len(train_rows)} architectures from {artifacts}, "
                    f"{len(seed_rows) - len(train_rows)} kept)")
    export_rows = collect.collect_exports(artifacts) if artifacts.is_dir() else []
    all_exports = collect.merge_rows(export_rows, export_csv)
    if all_exports:
        collect.write_csv(all_exports, export_csv, collect.EXPORT_COLUMNS)
        messages.append(f"wrote {export_csv} ({len(export_rows)} files from {artifacts}, "
                        f"{len(all_exports) - len(export_rows)} kept)")
    runs_csv = results / "edge-runs.csv"
    run_rows = collect.collect_runs(results / "runs")
    if run_rows:
        collect.write_csv(run_rows, runs_csv, collect.RUN_COLUMNS)
        messages.append(f"wrote {runs_csv} ({len(run_rows)} runs)")
    try:
        render.accuracy_params_plot(seed_csv, runs_csv, results / "accuracy-params.png")
        messages.append(f"wrote {results / 'accuracy-params.png'}")
    except errors.MissingExtraError as exc:
        messages.append(f"skipped {results / 'accuracy-params.png'}: {exc}")
    table = blocks(results, photo_runs=any(r.get("photo_share") for r in run_rows))
    for d in docs:
        text = d.read_text()
        for name, (source, make) in table.items():
            if f"<!-- {name}:start -->" in text and source.is_file():
                try:
                    block = make(source, d)
                except (KeyError, IndexError, TypeError, ValueError) as exc:  # a result file of another shape
                    raise errors.FmnistEdgeError(f"{source}: cannot make the {name} block from it "
                                                 f"({type(exc).__name__}: {exc}); rewrite it with the command "
                                                 "that wrote it") from exc
                render.update_block(d, name, block)
                messages.append(f"updated the {name} block in {d} from {source}")
    return messages

"""Compare two runs of the arm64 smoke test's commands (scripts/arm64_smoke.sh).

Each folder holds what one machine wrote: ``readme.txt`` (the README's first command's
stdout: pip's lines, then classify's), ``classify.json`` (``fmnistedge classify --json
samples/*.jpg``), one ``scan-CLIP.jsonl`` per clip (``fmnistedge scan --source CLIP
--no-show --json``; ``scan.mp4``, the sample clip, and ``scan-lossless.avi``, its frames
as the x86 machine decoded them, stored losslessly), ``wardrobe.json`` (``fmnistedge
wardrobe list --json`` after the sample clip's scan) and ``frames.txt`` (a sha256 of each
clip's decoded frames).

Classes, scan items (label, frame, id), scan summaries and the wardrobe's labels must be
identical. Probabilities may differ by at most ``--tolerance`` (absolute), with one
exception: the sample clip is MPEG-4, and FFmpeg's decoders are not bit-exact across
architectures (different SIMD code for the inverse transform and the colour conversion),
so the two machines scan slightly different pixels; its item confidences get
``--clip-tolerance``. The lossless copy gives both machines the same pixels, so its scan
is held to ``--tolerance``, and its frames must decode identically. Prints a table and a
last line ``VERDICT: PASS`` or ``VERDICT: FAIL``; exit 0 or 1.

    python scripts/smoke_compare.py X86_DIR ARM64_DIR [--tolerance 0.02] [--clip-tolerance 0.05]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from argtypes import bounded_float

CLIPS = ("scan.mp4", "scan-lossless.avi")
LOSSY = {"scan.mp4"}


def _load(folder: Path) -> dict:
    readme = [line for line in (folder / "readme.txt").read_text().splitlines() if line.strip()]
    scans = {}
    for clip in CLIPS:
        lines = [json.loads(line) for line in (folder / f"scan-{clip}.jsonl").read_text().splitlines() if line.strip()]
        scans[clip] = {"items": [d for d in lines if "summary" not in d],
                       "summary": next(d["summary"] for d in lines if "summary" in d)}
    frames = dict(line.split() for line in (folder / "frames.txt").read_text().splitlines() if line.strip())
    return {"readme": readme[-1] if readme else "",  # the classify line, after pip's own output
            "classify": json.loads((folder / "classify.json").read_text()),
            "scans": scans, "frames": frames,
            "wardrobe": json.loads((folder / "wardrobe.json").read_text())}


def _probs(result: dict) -> dict[int, float]:
    return {t["class_index"]: t["probability"] for t in result.get("top_k") or []}


def _top_k_agree(x: dict, y: dict, tol: float) -> bool:
    """The same top-k order, except that two classes whose probabilities are within ``tol`` of
    each other (near-ties, which the tolerance already lets move) may swap places, and the
    last place may go to another class within ``tol`` of it."""
    xs, ys = x.get("top_k") or [], y.get("top_k") or []
    if [t["class_index"] for t in xs] == [t["class_index"] for t in ys]:
        return True
    for mine, other in ((xs, ys), (ys, xs)):
        rank = {t["class_index"]: i for i, t in enumerate(other)}
        last = other[-1]["probability"] if other else 0.0
        for i, a in enumerate(mine):
            for b in mine[i + 1:]:
                ra, rb = rank.get(a["class_index"]), rank.get(b["class_index"])
                if ra is not None and rb is not None and ra > rb and abs(a["probability"] - b["probability"]) > tol:
                    return False  # a real swap, not a near-tie
            if a["class_index"] not in rank and abs(a["probability"] - last) > tol:
                return False  # fell out of the other top-k from well above its last place
    return True


def _compare_classify(a: dict, b: dict, tol: float, lines: list[str], diffs: list[str]) -> float:
    worst = 0.0
    ra, rb = a["classify"]["results"], b["classify"]["results"]
    if [r["path"] for r in ra] != [r["path"] for r in rb]:
        diffs.append("classify: different files")
    lines.append(f"{'sample':<26} {'x86':<14} {'arm64':<14} {'p x86':>8} {'p arm64':>8} {'|dp| max':>9}  preprocessing box")
    for x, y in zip(ra, rb):
        px, py = _probs(x), _probs(y)
        d = max([abs(px[k] - py[k]) for k in set(px) & set(py)]
                + [abs((x["confidence"] or 0) - (y["confidence"] or 0))])
        worst = max(worst, d)
        same_box = (x.get("preprocessing") or {}).get("box") == (y.get("preprocessing") or {}).get("box")
        lines.append(f"{Path(x['path']).name:<26} {str(x['label']):<14} {str(y['label']):<14} "
                     f"{x['confidence'] or 0:>8.4f} {y['confidence'] or 0:>8.4f} {d:>9.5f}  "
                     f"{'same' if same_box else 'differs'}")
        if (x["label"], x["class_index"]) != (y["label"], y["class_index"]):
            diffs.append(f"classify {x['path']}: {x['label']} on x86, {y['label']} on arm64")
        if not _top_k_agree(x, y, tol):
            diffs.append(f"classify {x['path']}: top-k classes differ beyond near-ties")
        if d > tol:
            diffs.append(f"classify {x['path']}: a probability differs by {d:.5f} > {tol}")
    return worst


def _compare_scan(clip: str, a: dict, b: dict, tol: float, lines: list[str], diffs: list[str]) -> float:
    worst = 0.0
    ia, ib = a["items"], b["items"]
    lines.append("")
    lines.append(f"{'scan ' + clip:<24} {'x86':<24} {'arm64':<24} {'|dconf|':>8}  (tolerance {tol})")
    show = lambda r: f"{r['label']} @ frame {r['frame']}" if r else "-"  # noqa: E731
    for i in range(max(len(ia), len(ib))):
        x = ia[i] if i < len(ia) else None
        y = ib[i] if i < len(ib) else None
        d = abs(x["confidence"] - y["confidence"]) if x and y else float("nan")
        lines.append(f"  item {i + 1:<17} {show(x):<24} {show(y):<24} {d:>8.5f}")
        if not (x and y) or (x["label"], x["frame"], x["id"]) != (y["label"], y["frame"], y["id"]):
            diffs.append(f"scan {clip} item {i + 1}: {show(x)} on x86, {show(y)} on arm64")
            continue
        worst = max(worst, d)
        if d > tol:
            diffs.append(f"scan {clip} item {i + 1}: confidence differs by {d:.5f} > {tol}")
    sa, sb = a["summary"], b["summary"]
    for key in ("items", "per_label", "frames", "empty_frames", "stopped"):
        if sa[key] != sb[key]:
            diffs.append(f"scan {clip} summary {key}: {sa[key]} on x86, {sb[key]} on arm64")
    lines.append(f"  summary: x86 {sa['items']} items in {sa['frames']} frames ({sa['stopped']}); "
                 f"arm64 {sb['items']} items in {sb['frames']} frames ({sb['stopped']})")
    return worst


def compare(a: dict, b: dict, tol: float, clip_tol: float) -> tuple[list[str], list[str], dict[str, float]]:
    """(table lines, differences, largest probability difference per part)."""
    lines: list[str] = []
    diffs: list[str] = []
    worst = {"classify": _compare_classify(a, b, tol, lines, diffs)}
    lines.append("")
    for clip in CLIPS:
        fa, fb = a["frames"].get(clip), b["frames"].get(clip)
        same = fa is not None and fa == fb
        lines.append(f"decoded frames of {clip}: {'identical' if same else 'differ'} (sha256 x86 {fa}, arm64 {fb})")
        if not same and clip not in LOSSY:
            diffs.append(f"{clip}: the lossless clip decodes differently on the two machines")
    for clip in CLIPS:
        worst[clip] = _compare_scan(clip, a["scans"][clip], b["scans"][clip],
                                    clip_tol if clip in LOSSY else tol, lines, diffs)
    lines.append("")
    wa, wb = [w["label"] for w in a["wardrobe"]], [w["label"] for w in b["wardrobe"]]
    lines.append(f"wardrobe list: x86 {wa}; arm64 {wb}")
    if wa != wb or wa != [r["label"] for r in a["scans"]["scan.mp4"]["items"]]:
        diffs.append("wardrobe list: labels differ (between the machines or from the scan's items)")
    la, lb = (s.split("(")[0].strip() for s in (a["readme"], b["readme"]))
    lines.append(f"README's first command: x86 '{a['readme']}'; arm64 '{b['readme']}'")
    if la != lb or not la:
        diffs.append(f"README's first command: '{la}' on x86, '{lb}' on arm64")
    return lines, diffs, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("x86", type=Path)
    parser.add_argument("arm64", type=Path)
    parser.add_argument("--tolerance", type=bounded_float(0.0, 1.0), default=0.02)
    parser.add_argument("--clip-tolerance", type=bounded_float(0.0, 1.0), default=0.05)
    args = parser.parse_args(argv)
    try:
        a, b = _load(args.x86), _load(args.arm64)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        print(f"VERDICT: FAIL - a run's output is missing or unreadable ({exc})")
        return 1
    lines, diffs, worst = compare(a, b, args.tolerance, args.clip_tolerance)
    print("\n".join(lines))
    print("largest probability difference: " + ", ".join(f"{k} {v:.6f}" for k, v in worst.items())
          + f" (tolerance {args.tolerance}; {args.clip_tolerance} for the MPEG-4 clip's items)")
    for d in diffs:
        print(f"DIFFERENCE: {d}")
    if diffs:
        print(f"VERDICT: FAIL - {len(diffs)} difference(s) between x86 and arm64")
        return 1
    n = len(a["classify"]["results"])
    items = {clip: len(s["items"]) for clip, s in a["scans"].items()}
    print(f"VERDICT: PASS - arm64 and x86 agree: {n} samples with identical classes and probabilities "
          f"within {args.tolerance} (largest difference {worst['classify']:.6f}); identical scan items "
          f"({items['scan.mp4']} from scan.mp4, confidences within {args.clip_tolerance}: its MPEG-4 frames "
          f"decode differently; {items['scan-lossless.avi']} from the lossless copy, within {args.tolerance}, "
          f"largest difference {worst['scan-lossless.avi']:.6f}); the same wardrobe and Quick start answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())

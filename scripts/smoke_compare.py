"""Compare two runs of the arm64 smoke test's commands (scripts/arm64_smoke.sh).

Each folder holds what one machine wrote: ``readme.txt`` (the README's first command's
stdout: pip's lines, then classify's),
``classify.json`` (``fmnistedge classify --json samples/*.jpg``), ``scan.jsonl``
(``fmnistedge scan --source samples/scan.mp4 --no-show --json``) and ``wardrobe.json``
(``fmnistedge wardrobe list --json``). Classes, the scan's items and the wardrobe's
labels must be identical; every probability may differ by at most ``--tolerance``
(absolute). Prints a table and a last line ``VERDICT: PASS`` or ``VERDICT: FAIL``;
exit 0 or 1.

    python scripts/smoke_compare.py X86_DIR ARM64_DIR [--tolerance 0.01]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _load(folder: Path) -> dict:
    scan = [json.loads(line) for line in (folder / "scan.jsonl").read_text().splitlines() if line.strip()]
    readme = [line for line in (folder / "readme.txt").read_text().splitlines() if line.strip()]
    return {"readme": readme[-1] if readme else "",  # the classify line, after pip's own output
            "classify": json.loads((folder / "classify.json").read_text()),
            "items": [d for d in scan if "summary" not in d],
            "summary": next(d["summary"] for d in scan if "summary" in d),
            "wardrobe": json.loads((folder / "wardrobe.json").read_text())}


def _probs(result: dict) -> dict[int, float]:
    return {t["class_index"]: t["probability"] for t in result.get("top_k") or []}


def compare(a: dict, b: dict, tol: float) -> tuple[list[str], list[str], float]:
    """(table lines, differences, largest probability difference)."""
    lines, diffs, worst = [], [], 0.0
    ra, rb = a["classify"]["results"], b["classify"]["results"]
    if [r["path"] for r in ra] != [r["path"] for r in rb]:
        diffs.append("classify: different files")
    lines.append(f"{'sample':<26} {'x86':<14} {'arm64':<14} {'p x86':>8} {'p arm64':>8} {'|dp| max':>9}  preprocessing box")
    for x, y in zip(ra, rb):
        px, py = _probs(x), _probs(y)
        common = set(px) & set(py)
        d = max([abs(px[k] - py[k]) for k in common] + [abs((x["confidence"] or 0) - (y["confidence"] or 0))])
        worst = max(worst, d)
        same_box = (x.get("preprocessing") or {}).get("box") == (y.get("preprocessing") or {}).get("box")
        lines.append(f"{Path(x['path']).name:<26} {str(x['label']):<14} {str(y['label']):<14} "
                     f"{x['confidence'] or 0:>8.4f} {y['confidence'] or 0:>8.4f} {d:>9.5f}  "
                     f"{'same' if same_box else 'differs'}")
        if (x["label"], x["class_index"]) != (y["label"], y["class_index"]):
            diffs.append(f"classify {x['path']}: {x['label']} on x86, {y['label']} on arm64")
        if [t["class_index"] for t in x.get("top_k") or []] != [t["class_index"] for t in y.get("top_k") or []]:
            diffs.append(f"classify {x['path']}: top-k classes differ")
        if d > tol:
            diffs.append(f"classify {x['path']}: a probability differs by {d:.5f} > {tol}")

    ia, ib = a["items"], b["items"]
    lines.append("")
    lines.append(f"{'scan item':<10} {'x86':<24} {'arm64':<24} {'|dconf|':>8}")
    for i in range(max(len(ia), len(ib))):
        x = ia[i] if i < len(ia) else None
        y = ib[i] if i < len(ib) else None
        show = lambda r: f"{r['label']} @ frame {r['frame']}" if r else "-"  # noqa: E731
        d = abs(x["confidence"] - y["confidence"]) if x and y else float("nan")
        lines.append(f"#{i + 1:<9} {show(x):<24} {show(y):<24} {d:>8.5f}")
        if not (x and y) or (x["label"], x["frame"], x["id"]) != (y["label"], y["frame"], y["id"]):
            diffs.append(f"scan item {i + 1}: {show(x)} on x86, {show(y)} on arm64")
        elif d > tol:
            diffs.append(f"scan item {i + 1}: confidence differs by {d:.5f} > {tol}")
        if x and y:
            worst = max(worst, d)
    for key in ("items", "per_label", "frames", "empty_frames", "stopped"):
        if a["summary"][key] != b["summary"][key]:
            diffs.append(f"scan summary {key}: {a['summary'][key]} on x86, {b['summary'][key]} on arm64")
    lines.append(f"scan summary: x86 {a['summary']['items']} items in {a['summary']['frames']} frames "
                 f"({a['summary']['stopped']}); arm64 {b['summary']['items']} items in {b['summary']['frames']} "
                 f"frames ({b['summary']['stopped']})")
    wa, wb = [w["label"] for w in a["wardrobe"]], [w["label"] for w in b["wardrobe"]]
    lines.append(f"wardrobe list: x86 {wa}; arm64 {wb}")
    if wa != wb or wa != [r["label"] for r in ia]:
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
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args(argv)
    try:
        a, b = _load(args.x86), _load(args.arm64)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        print(f"VERDICT: FAIL - a run's output is missing or unreadable ({exc})")
        return 1
    lines, diffs, worst = compare(a, b, args.tolerance)
    print("\n".join(lines))
    print(f"largest probability difference: {worst:.6f} (tolerance {args.tolerance})")
    for d in diffs:
        print(f"DIFFERENCE: {d}")
    n = len(a["classify"]["results"])
    if diffs:
        print(f"VERDICT: FAIL - {len(diffs)} difference(s) between x86 and arm64")
        return 1
    print(f"VERDICT: PASS - arm64 and x86 agree: {n} samples with identical classes, "
          f"{len(a['items'])} identical scan items, probabilities within {args.tolerance} "
          f"(largest difference {worst:.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The arm64 proof (scripts/arm64_smoke.sh) and its comparison (scripts/smoke_compare.py).

The comparison's tests are fast and always run. The smoke run itself needs root, the
network (a Debian mirror and the package index) and 15-25 minutes on 2 cores (the arm64
root is built once and cached), so it is marked ``arm64`` and ``slow`` (outside CI's
``-m "not slow or ci"``) and skipped unless ``FMNISTEDGE_ARM64_SMOKE=1``:

    FMNISTEDGE_ARM64_SMOKE=1 python -m pytest -m arm64 -s tests/test_arm64_smoke.py
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import smoke_compare  # noqa: E402


def _run() -> dict:
    item = lambda i, label, frame, p: {"id": i, "label": label, "confidence": p, "frame": frame}  # noqa: E731
    result = lambda path, label, k, p: {  # noqa: E731
        "path": path, "label": label, "class_index": k, "confidence": p,
        "top_k": [{"label": label, "class_index": k, "probability": p},
                  {"label": "Coat", "class_index": 4, "probability": 1 - p}],
        "preprocessing": {"box": [1, 2, 3, 4]}}
    scan = lambda: {"items": [item(1, "Trouser", 11, 0.93), item(2, "Sneaker", 29, 0.88)],  # noqa: E731
                    "summary": {"items": 2, "per_label": {"Trouser": 1, "Sneaker": 1}, "frames": 96,
                                "empty_frames": 0, "stopped": "source ended"}}
    return {"readme": "samples/0-t-shirt-top.jpg: T-shirt/top (97.6%)  [Pullover 0.5%]",
            "classify": {"results": [result("samples/0-t-shirt-top.jpg", "T-shirt/top", 0, 0.97),
                                     result("samples/6-shirt.jpg", "Shirt", 6, 0.61)]},
            "scans": {"scan.mp4": scan(), "scan-lossless.avi": scan()},
            "frames": {"scan.mp4": "aa", "scan-lossless.avi": "bb"},
            "wardrobe": [{"label": "Trouser"}, {"label": "Sneaker"}]}


def test_compare_passes_identical_runs_and_small_differences():
    a, b = _run(), _run()
    b["classify"]["results"][1]["top_k"][0]["probability"] += 0.004
    b["classify"]["results"][1]["confidence"] += 0.004
    b["scans"]["scan-lossless.avi"]["items"][0]["confidence"] -= 0.004
    b["scans"]["scan.mp4"]["items"][0]["confidence"] -= 0.03  # the MPEG-4 clip's own tolerance
    b["frames"]["scan.mp4"] = "cc"  # its frames may decode differently
    _, diffs, worst = smoke_compare.compare(a, b, 0.01, 0.05)
    assert diffs == []
    assert worst["classify"] == pytest.approx(0.004) and worst["scan.mp4"] == pytest.approx(0.03)


def _three(*pairs):
    return {"top_k": [{"label": str(k), "class_index": k, "probability": p} for k, p in pairs]}


def test_top_k_may_swap_near_ties_only():
    x = _three((3, .98), (7, .0038), (0, .0023))
    assert smoke_compare._top_k_agree(x, _three((3, .98), (0, .0031), (7, .0030)), 0.01)  # a tail near-tie
    assert smoke_compare._top_k_agree(x, _three((3, .98), (7, .0038), (5, .0025)), 0.01)  # the last place traded
    assert not smoke_compare._top_k_agree(_three((3, .6), (7, .3), (0, .1)), _three((3, .6), (0, .3), (7, .1)), 0.01)
    assert not smoke_compare._top_k_agree(_three((3, .6), (7, .3), (0, .1)), _three((3, .6), (5, .3), (0, .1)), 0.01)


@pytest.mark.parametrize("change, expected", [
    (lambda r: r["classify"]["results"][1].update(label="Coat", class_index=4), "Shirt on x86, Coat on arm64"),
    (lambda r: r["classify"]["results"][0]["top_k"][1].update(probability=0.05), "differs by 0.02"),
    (lambda r: r["scans"]["scan.mp4"]["items"][1].update(frame=30), "scan scan.mp4 item 2"),
    (lambda r: r["scans"]["scan-lossless.avi"]["items"].pop(), "scan scan-lossless.avi item 2"),
    (lambda r: r["scans"]["scan-lossless.avi"]["items"][0].update(confidence=0.95), "confidence differs"),
    (lambda r: r["scans"]["scan.mp4"]["items"][0].update(confidence=0.99), "confidence differs"),
    (lambda r: r["scans"]["scan.mp4"]["summary"].update(frames=95), "summary frames"),
    (lambda r: r["frames"].update({"scan-lossless.avi": "cc"}), "lossless clip decodes differently"),
    (lambda r: r["wardrobe"].pop(), "wardrobe list"),
    (lambda r: r.update(readme="samples/0-t-shirt-top.jpg: Coat (50.0%)"), "README's first command"),
])
def test_compare_fails_on_any_difference(change, expected):
    a, b = _run(), copy.deepcopy(_run())
    change(b)
    _, diffs, _ = smoke_compare.compare(a, b, 0.01, 0.05)
    assert any(expected in d for d in diffs), diffs


def test_compare_cli_prints_a_verdict_and_exits_1_on_a_difference(tmp_path):
    for name, run in (("x86", _run()), ("arm64", _run())):
        folder = tmp_path / name
        folder.mkdir()
        if name == "arm64":
            run["scans"]["scan.mp4"]["items"][0]["label"] = "Dress"
        (folder / "readme.txt").write_text("Successfully installed fmnistedge-0.1.0\n" + run["readme"] + "\n")
        (folder / "classify.json").write_text(json.dumps(run["classify"]))
        for clip, scan in run["scans"].items():
            (folder / f"scan-{clip}.jsonl").write_text("".join(json.dumps(i) + "\n" for i in scan["items"])
                                                       + json.dumps({"summary": scan["summary"]}) + "\n")
        (folder / "frames.txt").write_text("".join(f"{k} {v}\n" for k, v in run["frames"].items()))
        (folder / "wardrobe.json").write_text(json.dumps(run["wardrobe"]))
    script = str(ROOT / "scripts" / "smoke_compare.py")
    proc = subprocess.run([sys.executable, script, str(tmp_path / "x86"), str(tmp_path / "arm64")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout.splitlines()[-1].startswith("VERDICT: FAIL")
    proc = subprocess.run([sys.executable, script, str(tmp_path / "x86"), str(tmp_path / "x86")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("VERDICT: PASS"), proc.stdout
    (tmp_path / "x86" / "frames.txt").unlink()
    proc = subprocess.run([sys.executable, script, str(tmp_path / "x86"), str(tmp_path / "arm64")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "missing or unreadable" in proc.stdout


@pytest.mark.arm64
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("FMNISTEDGE_ARM64_SMOKE") != "1",
                    reason="the arm64 smoke run needs root, network and 15+ minutes: set FMNISTEDGE_ARM64_SMOKE=1")
def test_arm64_smoke_run_agrees_with_x86(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the arm64 smoke run needs root (debootstrap, chroot, mounts)")
    log = tmp_path / "arm64-smoke.txt"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "arm64_smoke.sh"), "--log", str(log)],
                          capture_output=True, text=True, timeout=3600)
    lines = log.read_text().splitlines() if log.exists() else []
    assert proc.returncode == 0, "\n".join(lines[-40:]) + proc.stderr[-2000:]
    assert lines and lines[-1].startswith("VERDICT: PASS")

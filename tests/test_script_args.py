"""The maintainer scripts bound every number they take (scripts/argtypes.py): a value out of
range is a usage error (exit 2) that names the range, before anything is measured or written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

from argtypes import bounded, bounded_float, bounded_list  # noqa: E402


def test_bounded_types_accept_the_range_and_refuse_the_rest():
    import argparse

    assert bounded(1, 10)("10") == 10 and bounded_float(0.0, 1.0)("0.25") == 0.25
    assert bounded_list(28, 56)("28, 56") == [28, 56]
    for text in ("", "28,,56", "28," * 20):
        with pytest.raises(argparse.ArgumentTypeError):
            bounded_list(28, 56)(text)
    for parse, text in ((bounded(1, 10), "11"), (bounded(1, 10), "-1"), (bounded(1, 10), "1e9"),
                        (bounded_float(0.0, 1.0), "nan"), (bounded_float(0.0, 1.0), "inf"),
                        (bounded_float(0.0, 1.0), "1.5"), (bounded_float(0.0, 1.0), "x")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@pytest.mark.parametrize("argv", [
    ["bench_coldstart.py", "--runs", "100000"],
    ["bench_photos.py", "--repeats", "0"],
    ["bench_serve.py", "--runs", "1000000"],
    ["measure_rss.py", "--repeats", "101"],
    ["make_samples.py", "--per-class", "0"],
    ["probe_input_size.py", "--photos", ".", "--out", "x.json", "--photo-share", "2"],
    ["rebuild_results.py", "--runs", "0"],
    ["bench_swap.py", "edge-r", "--old-rev", "HEAD", "--warmup", "1000000"],
    ["probe_input_size.py", "--photos", ".", "--out", "x.json", "--sizes", "28,x"],
    ["probe_input_size.py", "--photos", ".", "--out", "x.json", "--seeds", "-1"],
    ["smoke_compare.py", "a", "b", "--tolerance", "nan"],
    ["kfold_photos.py", "a=x.onnx", "--photos", ".", "--bootstrap", "100001"],
])
def test_a_number_out_of_range_is_a_usage_error(argv, tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert any(m in proc.stderr for m in ("a whole number from", "a number from", "comma-separated whole numbers"))


def test_kfold_photos_refuses_a_malformed_recipe_and_a_model_that_is_no_fold_run(tmp_path):
    run = [sys.executable, str(SCRIPTS / "kfold_photos.py"), "--photos", str(tmp_path)]
    proc = subprocess.run(run + ["no-equals-sign"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "NAME=MODEL" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "labels.csv").write_text("path,source_label,label_index,candidates,sender_id,kids,note\n"
                                         "images/a.jpg,T-Shirt,0,,1,False,\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "train.json").write_text('{"photos": {"val_fraction": 0.2}}')
    proc = subprocess.run(run + ["a=m/model_fp32.onnx"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0 and "not a --photo-fold K/N run" in proc.stderr and "Traceback" not in proc.stderr

"""Copy verified exported models into the package (``fmnistedge/models``) for the wheel.

    python scripts/ship_models.py ARCH [ARCH ...] --default ARCH [--why TEXT]
        [--files model_int8.tflite,model_int8.onnx] [--default-files ...] [--artifacts artifacts]

For each architecture: the chosen files (only verified ones), a manifest that
lists exactly those files, and its ``train.json`` (the training log: command,
seed, epochs, wall time, commit). ``default.json`` names the default model.
Existing shipped folders of the named architectures are replaced; an architecture
with no folder in ``--artifacts`` has its shipped folder trimmed to the chosen
files. The total size is printed against the wheel budget.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from fmnistedge import fileio, manifest
from fmnistedge.runtime.integrity import check_file

SHIPPED = Path(__file__).resolve().parent.parent / "fmnistedge" / "models"
BUDGET_BYTES = 15 * 1024 * 1024


def ship(arch: str, files: list[str], artifacts: Path) -> int:
    """Ship ``files`` of ``artifacts/arch``; without that folder, trim the shipped one to ``files``."""
    src = artifacts / arch if (artifacts / arch).is_dir() else SHIPPED / arch
    doc = manifest.load(src)
    if doc is None:
        raise SystemExit(f"{src} has no manifest.json; run 'fmnistedge export {arch} --int8' first")
    entries = {}
    for name in files:
        entry = check_file(src / name)
        if entry is None or not entry.get("verified"):
            raise SystemExit(f"{src / name} is not a verified file of its manifest; not shipping it")
        entries[name] = entry
    dest = SHIPPED / arch
    with tempfile.TemporaryDirectory(dir=SHIPPED) as tmp:
        staged = Path(tmp) / arch
        staged.mkdir()
        for name in files:
            shutil.copy2(src / name, staged / name)
        shutil.copy2(src / "train.json", staged / "train.json")
        fileio.write_json(staged / manifest.MANIFEST_NAME, {**doc, "files": entries})
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    return sum((dest / n).stat().st_size for n in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="+")
    parser.add_argument("--default", required=True)
    parser.add_argument("--why", default="")
    parser.add_argument("--files", default="model_int8.tflite")
    parser.add_argument("--default-files", default="model_int8.tflite,model_int8.onnx,model_fp32.onnx")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    args = parser.parse_args()
    if args.default not in args.archs:
        raise SystemExit("--default must be one of the shipped architectures")
    total = 0
    for arch in args.archs:
        files = (args.default_files if arch == args.default else args.files).split(",")
        size = ship(arch, files, args.artifacts)
        total += size
        print(f"{arch}: {', '.join(files)} ({size / 1024:.0f} KiB)")
    fileio.write_json(SHIPPED / "default.json", {"arch": args.default, "why": args.why})
    everything = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    print(f"shipped models: {everything / 1024 / 1024:.2f} MiB of the {BUDGET_BYTES / 1024 / 1024:.0f} MiB budget")
    if everything > BUDGET_BYTES:
        raise SystemExit("over the wheel-size budget")


if __name__ == "__main__":
    main()

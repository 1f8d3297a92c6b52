"""Copy verified exported models into the package (``fmnistedge/models``) for the wheel.

    python scripts/ship_models.py ARCH [ARCH ...] --default ARCH [--why TEXT]
        [--files model_int8.tflite,model_int8.onnx] [--default-files ...] [--artifacts DIR ...]

For each architecture: the chosen files (only verified ones), a manifest that
lists exactly those files, and its ``train.json`` (the training log: command,
seed, epochs, wall time, commit). A fine-tuned model (``init_from`` in its
``train.json``) also ships the log of the model it started from as
``train.init.json`` (and so on down the chain: ``train.init.init.json``), found
next to that model, whose sha256 must match; a model fine-tuned from a shipped one
(``fmnistedge train --init-from edge-r``) takes that folder's chain along. ``default.json`` names the default model.
Existing shipped folders of the named architectures are replaced; an architecture
with no folder in ``--artifacts`` has its shipped folder trimmed to the chosen
files. The total size is printed against the wheel budget.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from fmnistedge import fileio, manifest
from fmnistedge.runtime.integrity import check_file
from fmnistedge.runtime.modelmeta import sha256_file
from fmnistedge.runtime.models import find_arch_dir

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "fmnistedge" / "models"
BUDGET_BYTES = 15 * 1024 * 1024


def ship(arch: str, files: list[str], artifacts: list[Path]) -> int:
    """Ship ``files`` of ``FOLDER/arch`` for the first of ``artifacts`` that has it; without
    one, trim the shipped folder to ``files``."""
    src = find_arch_dir(arch, artifacts, prefer="artifacts", keras=True) or SHIPPED / arch
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
        if src.resolve().parent == SHIPPED and (src / "train.init.json").is_file():  # trimming: the chain stays
            for log in src.glob("train.init*.json"):
                shutil.copy2(log, staged / log.name)
        else:
            copy_training_chain(src / "train.json", staged)
        fileio.write_json(staged / manifest.MANIFEST_NAME, {**doc, "files": entries})
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    return sum((dest / n).stat().st_size for n in files)


def copy_training_chain(train_log: Path, staged: Path) -> None:
    """Copy the ``train.json`` of each model this one was fine-tuned from (``init_from``), so
    the shipped folder holds the whole training history: train.init.json, train.init.init.json, ..."""
    rec, name = json.loads(train_log.read_text()), "train"
    while rec.get("init_from"):
        init = rec["init_from"]
        # A relative path is relative to where training ran: usually the repository root.
        model = next((c for c in (Path(init["path"]), ROOT / init["path"]) if c.is_file()), Path(init["path"]))
        log = model.with_name("train.json")
        if not (model.is_file() and log.is_file() and sha256_file(model) == init["sha256"]):
            raise SystemExit(f"{train_log} was fine-tuned from {init['path']} (sha256 {init['sha256'][:12]}...), "
                             f"which is not there with its train.json; its training log must ship too")
        name += ".init"
        shutil.copy2(log, staged / f"{name}.json")
        carried = sorted(log.parent.glob("train.init*.json"))
        if log.parent.resolve().parent == SHIPPED.resolve() or carried:
            # Fine-tuned from a shipped model (its fp32 ONNX, rebuilt), or from a folder taken
            # from an earlier release: that folder holds the rest of the chain already, since its
            # own starting model.keras is not shipped.
            for older in carried:
                shutil.copy2(older, staged / older.name.replace("train.", f"{name}.", 1))
            return
        rec, train_log = json.loads(log.read_text()), log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="+")
    parser.add_argument("--default", required=True)
    parser.add_argument("--why", default="", help="why the default is the default (kept when it stays the same)")
    parser.add_argument("--files", default="model_int8.tflite")
    parser.add_argument("--default-files", default="model_int8.tflite,model_int8.onnx,model_fp32.onnx")
    parser.add_argument("--artifacts", type=Path, action="append",
                        help="folder of exported models; repeat to search several in order (default: artifacts)")
    args = parser.parse_args()
    if args.default not in args.archs and not (SHIPPED / args.default / manifest.MANIFEST_NAME).is_file():
        raise SystemExit("--default must be one of the architectures named, or one already shipped")
    current = json.loads((SHIPPED / "default.json").read_text()) if (SHIPPED / "default.json").is_file() else {}
    why = args.why or (current.get("why", "") if current.get("arch") == args.default else "")
    if not why:
        raise SystemExit("--why is needed when the default model changes (it is shown to users)")
    total = 0
    for arch in args.archs:
        files = (args.default_files if arch == args.default else args.files).split(",")
        size = ship(arch, files, args.artifacts or [Path("artifacts")])
        total += size
        print(f"{arch}: {', '.join(files)} ({size / 1024:.0f} KiB)")
    fileio.write_json(SHIPPED / "default.json", {"arch": args.default, "why": why})
    everything = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    print(f"shipped models: {everything / 1024 / 1024:.2f} MiB of the {BUDGET_BYTES / 1024 / 1024:.0f} MiB budget")
    if everything > BUDGET_BYTES:
        raise SystemExit("over the wheel-size budget")


if __name__ == "__main__":
    main()

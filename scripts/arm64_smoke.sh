#!/usr/bin/env bash
# Proof on arm64: run fmnistedge in a Debian bookworm arm64 userland (Python 3.11, what
# Raspberry Pi OS bookworm ships) under qemu-user-static, and compare its answers with the
# same commands on this x86 machine.
#
# Builds (once, cached outside the repo) the arm64 root with debootstrap; builds the
# project's wheel on the host from the tracked files; installs it with its base
# dependencies from the package index in a fresh arm64 venv and in an x86 venv (the same
# dependency versions on both: the x86 venv's `pip freeze` constrains the arm64 install);
# runs in each: the README's first command (literally, in a copy of the source tree),
# `fmnistedge classify --json samples/*.jpg`, a headless
# `fmnistedge scan --source samples/scan.mp4 --no-show --json --wardrobe W`,
# `fmnistedge wardrobe list --json` and a scan of a lossless copy of the clip's frames;
# then scripts/smoke_compare.py compares them: identical classes and scan items,
# probabilities within --tolerance (--clip-tolerance for the MPEG-4 clip's items). Exit 0 only when
# everything ran and agreed; 1 on any difference or failed step; 2 on usage errors.
#
# Needs root (debootstrap, chroot, mounts), network (Debian mirror, package index) and
# about 15 minutes the first time (the root), 10 after. Emulated timings mean nothing.
#
#   sudo scripts/arm64_smoke.sh [--cache DIR] [--log FILE] [--tolerance X] [--clip-tolerance X] [--rebuild-root]
#
# --cache DIR (or $FMNISTEDGE_ARM64_CACHE; default ~/.cache/fmnistedge-arm64): where the
#   arm64 root and the x86 venv are kept; never inside the repository.
# --log FILE: also write everything printed to FILE (results/arm64-smoke.txt is one).
# --tolerance X (default 0.02): largest allowed absolute difference of a probability. The default
#   photo path runs one GrabCut iteration at 96 px; a few borderline mask pixels then fall
#   differently under aarch64 and x86 floating-point rounding (up to 0.014 measured on the samples;
#   the labels stay identical), where two iterations at 160 px gave bit-identical inputs.
# --clip-tolerance X (default 0.05): the same for the items of samples/scan.mp4, whose
#   MPEG-4 frames FFmpeg decodes slightly differently on each architecture (a lossless
#   copy of the x86-decoded frames is scanned too, and held to --tolerance).
# $FMNISTEDGE_ARM64_MIRROR: the Debian mirror (default: the one apt uses here).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FMNISTEDGE_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fmnistedge-arm64}
LOG=""
TOL=0.02
CLIP_TOL=0.05
REBUILD=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "arm64_smoke: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --cache) CACHE=${2:?--cache needs a folder}; shift 2 ;;
        --log) LOG=${2:?--log needs a file}; shift 2 ;;
        --tolerance) TOL=${2:?--tolerance needs a number}; shift 2 ;;
        --clip-tolerance) CLIP_TOL=${2:?--clip-tolerance needs a number}; shift 2 ;;
        --rebuild-root) REBUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "arm64_smoke: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "arm64_smoke: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
case "$CACHE/" in "$(cd "$REPO" && pwd -P)/"*)
    echo "arm64_smoke: the cache must be outside the repository (got $CACHE)" >&2; exit 2 ;; esac
if [ -n "$LOG" ]; then
    mkdir -p "$(dirname "$LOG")"; : > "$LOG"
    exec > >(tee -a "$LOG") 2>&1
fi

ROOT=$CACHE/bookworm-arm64
X86_VENV=$CACHE/x86-venv
WORK=$(mktemp -d /tmp/fmnistedge-arm64.XXXXXX)
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }
# The host's pip config may name local indexes that do not exist everywhere; pip warns per package.
host_pip() { "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }; }

HOST_PY=${PYTHON:-python3}
echo "# fmnistedge arm64 smoke test"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "command:  scripts/arm64_smoke.sh --tolerance $TOL --clip-tolerance $CLIP_TOL${LOG:+ --log $LOG}"
echo "commit:   $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- . ':!results' || echo ' (plus uncommitted changes)')"
echo "host:     $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores), $(. /etc/os-release; echo "$PRETTY_NAME"), $($HOST_PY --version)"
echo "emulator: $(qemu-aarch64-static --version 2>/dev/null | head -1 || echo 'qemu-aarch64-static missing'), QEMU_CPU=cortex-a72, /proc/cpuinfo of a Raspberry Pi 4 (scripts/pi4-cpuinfo.txt)"
echo "tolerance: $TOL (absolute, per probability); $CLIP_TOL for the items of the MPEG-4 sample clip"

step "tools"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "binfmt_misc has no enabled qemu-aarch64 entry"
echo "qemu-aarch64 binfmt: enabled"

mirror() {
    if [ -n "${FMNISTEDGE_ARM64_MIRROR:-}" ]; then echo "$FMNISTEDGE_ARM64_MIRROR"; return; fi
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
    [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1)
    echo "${m:-http://deb.debian.org/debian}"
}

step "arm64 root: $ROOT"
if [ "$REBUILD" -eq 1 ] || [ ! -f "$ROOT/.fmnistedge-root-ok" ]; then
    [ -n "$ROOT" ] && [ "$ROOT" != / ] && rm -rf --one-file-system "$ROOT"
    MIRROR=$(mirror)
    echo "debootstrap from $MIRROR (several minutes)"
    if ! debootstrap --arch=arm64 --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$ROOT" "$MIRROR" \
            > "$CACHE/debootstrap.log" 2>&1; then
        # Under emulation a fork in a maintainer script sometimes fails; configuring again finishes it.
        echo "debootstrap failed (log: $CACHE/debootstrap.log); finishing with dpkg --configure -a"
        chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --configure -a
    fi
    chroot "$ROOT" /usr/bin/python3 -c "import venv, ensurepip" || die "the arm64 root has no working python3-venv"
    touch "$ROOT/.fmnistedge-root-ok"
else
    echo "cached (--rebuild-root builds it again)"
fi

# The host's extra CA certificates (a TLS-inspecting proxy's): pip fails verification without them.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    changed=0
    for crt in /usr/local/share/ca-certificates/*.crt; do
        cmp -s "$crt" "$ROOT/usr/local/share/ca-certificates/$(basename "$crt")" || { cp "$crt" "$ROOT/usr/local/share/ca-certificates/"; changed=1; }
    done
    [ "$changed" -eq 0 ] || chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin update-ca-certificates >/dev/null
fi

bind() {  # bind(what, where, [mount options...])
    local where=$2
    mount "${@:3}" "$1" "$where"
    MOUNTS+=("$where")
}
bind proc "$ROOT/proc" -t proc
bind sysfs "$ROOT/sys" -t sysfs
bind /dev "$ROOT/dev" --bind
bind /dev/pts "$ROOT/dev/pts" --bind
# ONNX Runtime reads /proc/cpuinfo at import and crashes on the x86 one under qemu.
bind "$REPO/scripts/pi4-cpuinfo.txt" "$ROOT/proc/cpuinfo" --bind
echo "arm64 root: $(chroot "$ROOT" /usr/bin/env QEMU_CPU=cortex-a72 uname -m), Debian $(cat "$ROOT/etc/debian_version"), $(chroot "$ROOT" /usr/bin/env QEMU_CPU=cortex-a72 python3 --version), $(chroot "$ROOT" /usr/bin/env QEMU_CPU=cortex-a72 python3 -m pip --version | cut -d' ' -f1-2)"

step "wheel (built on the host from the tracked files)"
mkdir -p "$WORK/src" "$WORK/dist" "$WORK/x86" "$WORK/arm64"
git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$WORK/src"
host_pip "$HOST_PY" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/fmnistedge-*.whl)
echo "$(basename "$WHEEL"): $(du -h "$WHEEL" | cut -f1), $(python3 -c "import sys,zipfile; n=[i for i in zipfile.ZipFile(sys.argv[1]).namelist() if i.endswith(('.tflite','.onnx'))]; print(len(n), 'model files inside')" "$WHEEL")"
rm -rf "$WORK/src/build" "$WORK"/src/*.egg-info
README_CMD=$(awk '/^## Quick start/{q=1} q && /^```bash/{f=1; next} f && /^```/{exit} f' "$REPO/README.md" | head -1)
[ -n "$README_CMD" ] || die "no first command found in README.md's Quick start"

step "x86: venv $X86_VENV"
[ -x "$X86_VENV/bin/python" ] || python3 -m venv "$X86_VENV"
host_pip "$X86_VENV/bin/pip" install -q "$WHEEL"
host_pip "$X86_VENV/bin/pip" install -q --no-deps --force-reinstall "$WHEEL"
"$X86_VENV/bin/pip" freeze --exclude fmnistedge | grep -v '^-e ' > "$WORK/constraints.txt"
echo "versions: $(tr '\n' ' ' < "$WORK/constraints.txt")"

run_commands() {  # run_commands(fmnistedge, out dir, wardrobe): the compared commands, in the source copy
    local fe=$1 out=$2 db=$3
    rm -f "$db"*
    "$fe" classify --json samples/*.jpg > "$out/classify.json"
    "$fe" scan --source samples/scan.mp4 --no-show --json --wardrobe "$db" > "$out/scan-scan.mp4.jsonl"
    "$fe" wardrobe list --json --wardrobe "$db" > "$out/wardrobe.json"
    "$fe" scan --source samples/scan-lossless.avi --no-show --json --wardrobe "$db.lossless.db" \
        > "$out/scan-scan-lossless.avi.jsonl"
    "$(dirname "$fe")/python" scripts/clip_frames.py digest samples/scan.mp4 samples/scan-lossless.avi > "$out/frames.txt"
}

# FFmpeg's MPEG-4 decoding is not bit-exact across architectures: a lossless copy of the
# frames as decoded here gives both machines the same pixels to scan (scripts/smoke_compare.py).
"$X86_VENV/bin/python" "$WORK/src/scripts/clip_frames.py" lossless "$WORK/src/samples/scan.mp4" "$WORK/src/samples/scan-lossless.avi"

step "x86: the commands"
cp -a "$WORK/src" "$WORK/x86-src"
(cd "$WORK/x86-src" && bash -c "$README_CMD" 2> >(grep -v "^WARNING: Location 'file:" >&2)) > "$WORK/x86/readme.txt"
echo "README's first command: $README_CMD"
echo "  -> $(tail -1 "$WORK/x86/readme.txt")"
(cd "$WORK/src" && run_commands "$X86_VENV/bin/fmnistedge" "$WORK/x86" "$WORK/x86/wardrobe.db")

step "arm64: fresh venv with the wheel and its base dependencies (pinned to the x86 versions)"
SMOKE=/opt/fmnistedge-smoke
rm -rf "$ROOT$SMOKE"; mkdir -p "$ROOT$SMOKE/out"
cp -a "$WORK/src" "$ROOT$SMOKE/src"
cp "$WHEEL" "$WORK/constraints.txt" "$ROOT$SMOKE/"
in_arm() {  # a command line in the arm64 root, clean environment plus the index/proxy settings
    local envs=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU=cortex-a72
                PIP_CONSTRAINT="$SMOKE/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1
                PIP_DEFAULT_TIMEOUT=180 PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
    local v
    for v in PIP_INDEX_URL HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
        [ -n "${!v:-}" ] && case "${!v}" in file:*) ;; *) envs+=("$v=${!v}") ;; esac
    done
    chroot "$ROOT" /usr/bin/env -i "${envs[@]}" /bin/bash -c "$1"
}
in_arm "python3 -m venv $SMOKE/venv && $SMOKE/venv/bin/pip install -q $SMOKE/$(basename "$WHEEL")"
echo "installed: $(in_arm "$SMOKE/venv/bin/pip freeze" | tr '\n' ' ')"
echo "site-packages: $(in_arm "du -sm $SMOKE/venv/lib/python3*/site-packages | cut -f1") MB"

step "arm64: the commands"
in_arm "cd $SMOKE/src && $README_CMD" > "$WORK/arm64/readme.txt"
echo "README's first command: $README_CMD"
echo "  -> $(tail -1 "$WORK/arm64/readme.txt")"
in_arm "$(declare -f run_commands); cd $SMOKE/src && run_commands $SMOKE/venv/bin/fmnistedge $SMOKE/out $SMOKE/wardrobe.db"
cp "$ROOT$SMOKE"/out/* "$WORK/arm64/"

step "arm64: simplejpeg in the venv (docs/pi.md: Pi OS's picamera2 needs one built for numpy 2)"
if in_arm "$SMOKE/venv/bin/pip install -q simplejpeg && $SMOKE/venv/bin/python -c 'import numpy as np, simplejpeg; img = np.full((32, 48, 3), 200, np.uint8); out = simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(img)); assert out.shape == img.shape; print(\"simplejpeg\", simplejpeg.__version__, \"with numpy\", np.__version__, \": encode and decode ok\")'"; then :
else echo "simplejpeg: FAILED to install or run in the arm64 venv (not part of the comparison)"; fi

step "comparison"
python3 "$REPO/scripts/smoke_compare.py" "$WORK/x86" "$WORK/arm64" --tolerance "$TOL" --clip-tolerance "$CLIP_TOL"

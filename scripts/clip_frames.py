"""Frames of a video as this machine's OpenCV/FFmpeg decodes them (the arm64 smoke test).

    python scripts/clip_frames.py lossless SRC DST.avi   # SRC's decoded frames, stored losslessly (FFV1)
    python scripts/clip_frames.py digest CLIP...         # "NAME SHA256" of each clip's decoded frames

FFmpeg's MPEG-4 decoding is not bit-exact across architectures; an FFV1 copy of the
frames one machine decoded gives every machine the same pixels (checked on read-back).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np


def frames(path: str) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    if not out:
        raise SystemExit(f"clip_frames: no frames decoded from {path}")
    return out


def lossless(src: str, dst: str) -> None:
    decoded = frames(src)
    fps = cv2.VideoCapture(src).get(cv2.CAP_PROP_FPS) or 10.0
    h, w = decoded[0].shape[:2]
    writer = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"clip_frames: this OpenCV cannot write FFV1 to {dst}")
    for frame in decoded:
        writer.write(frame)
    writer.release()
    back = frames(dst)
    if len(back) != len(decoded) or not all(np.array_equal(x, y) for x, y in zip(back, decoded)):
        raise SystemExit(f"clip_frames: {dst} does not read back as the frames written")
    print(f"{dst}: {len(decoded)} frames of {src}, lossless (FFV1), read back identical")


def digest(paths: list[str]) -> None:
    for path in paths:
        print(Path(path).name, hashlib.sha256(np.stack(frames(path)).tobytes()).hexdigest())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "lossless":
        lossless(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "digest":
        digest(sys.argv[2:])
    else:
        raise SystemExit(__doc__)

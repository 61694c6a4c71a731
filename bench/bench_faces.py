"""Face detection: what the pipeline uses (BlazeFace, ``pipeline.faces.detect_faces``)
against OpenCV's Haar cascade as it was used before (``alt2`` on a 640 px grey copy,
scaleFactor 1.2, minNeighbors 2, minSize 20), on the same generated photos in one run.

Photos: the astronaut's head (scikit-image) pasted three times at one size into a textured
scene (coffee, gravel, rocket, and a cat's face, chelsea, which tempts detectors) at 1, 3
and 12 MP, with sensor noise; head sizes from 3 % to 30 % of the width. Both detectors get
the copy the pipeline makes (Pillow ``reduce`` to 1024-2047 px); the time includes any
further copy a detector needs. A face counts as found when a box's centre lies in it and
the box is 0.5-2× its size; any other box is a false box.

Run:  uv run python bench/bench_faces.py      (about a minute on 2 cores)
"""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from datatrust.pipeline.faces import detect_faces
from datatrust.pipeline.media import reduced_rgb
from datatrust.pipeline.quality import analysis_copy

SIZES = ((1024, 768), (2048, 1536), (4032, 3024))
HEAD_WIDTHS = (0.03, 0.05, 0.08, 0.12, 0.2, 0.3)  # of the photo's width
SCENES = (skdata.coffee, skdata.gravel, skdata.rocket, skdata.chelsea)
_HAAR = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")


def scene(size: tuple[int, int], head_width: int, background) -> tuple[Image.Image, list]:
    """A photo with three astronaut heads ``head_width`` wide and their true face boxes."""
    photo = Image.fromarray(background()).convert("RGB").resize(size)
    head = Image.fromarray(skdata.astronaut()).crop((150, 40, 290, 200))  # face 27,27 93×93
    scale = head_width / head.width
    head = head.resize((head_width, round(head.height * scale)), Image.Resampling.LANCZOS)
    faces = []
    for fx, fy in ((0.1, 0.15), (0.45, 0.55), (0.75, 0.2)):
        x, y = int(size[0] * fx), int(size[1] * fy)
        photo.paste(head, (x, y))
        faces.append((x + 27 * scale, y + 27 * scale, 93 * scale, 93 * scale))
    noise = np.random.default_rng(head_width).normal(0, 5, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(photo) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels), faces


def haar(small: np.ndarray, full: tuple[int, int]) -> list:
    grey = cv2.equalizeHist(analysis_copy(small, 640))
    found = _HAAR.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=2, minSize=(20, 20))
    s = full[0] / grey.shape[1]
    return [(x * s, y * s, w * s, h * s) for x, y, w, h in found]


def _matches(face, box) -> bool:
    fx, fy, fw, fh = face
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return fx <= cx <= fx + fw and fy <= cy <= fy + fh and 0.5 <= w / fw <= 2


def main() -> None:
    detectors = {"blazeface": detect_faces, "haar_alt2_640": haar}
    totals = {
        name: {"found": 0, "faces": 0, "false_boxes": 0, "seconds": 0.0} for name in detectors
    }
    by_size: dict[str, dict[str, list[int]]] = {}
    images = 0
    for size in SIZES:
        for background in SCENES:
            for frac in HEAD_WIDTHS:
                photo, faces = scene(size, int(size[0] * frac), background)
                small = reduced_rgb(photo)
                images += 1
                for name, detect in detectors.items():
                    detect(small, size)  # warm-up (model load) outside the timing
                    t = time.perf_counter()
                    boxes = detect(small, size)
                    elapsed = time.perf_counter() - t
                    found = sum(any(_matches(f, b) for b in boxes) for f in faces)
                    false = sum(not any(_matches(f, b) for f in faces) for b in boxes)
                    row = totals[name]
                    row["found"] += found
                    row["faces"] += len(faces)
                    row["false_boxes"] += false
                    row["seconds"] += elapsed
                    key = f"{size[0]}x{size[1]}"
                    by_size.setdefault(key, {}).setdefault(name, [0, 0])
                    by_size[key][name][0] += found
                    by_size[key][name][1] += len(faces)
    print(f"{'detector':16} {'found':>9} {'recall':>7} {'false':>6} {'ms/photo':>9}")
    for name, r in totals.items():
        r["recall"] = round(r["found"] / r["faces"], 3)
        r["ms_per_photo"] = round(r.pop("seconds") * 1000 / images, 1)
        print(
            f"{name:16} {r['found']:4}/{r['faces']:<4} {r['recall']:7.3f} "
            f"{r['false_boxes']:6} {r['ms_per_photo']:9.1f}"
        )
    for key, per in by_size.items():
        print(key, "  ".join(f"{n} {f}/{t}" for n, (f, t) in per.items()))
    ratio = totals["haar_alt2_640"]["ms_per_photo"] / totals["blazeface"]["ms_per_photo"]
    print(
        json.dumps(
            {
                "bench": "faces",
                "photos": images,
                "detectors": totals,
                "by_size": by_size,
                "speedup_vs_haar": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Number-plate detection on generated plates in street scenes: recall by plate width,
country and light; false blurs on scenes without plates and on lettering posters.

Data: ``bench/plates_corpus.py`` (six countries' plate shapes drawn with Pillow on car
panels in scikit-image scenes, 3-12 % of the photo's width, tilted and sheared, normal, dim
and harsh light, 1 and 3 MP; as many photos again with light-on-dark plates). False blurs
are counted per kind of plate-less picture: scenes with plate-less cars (textures),
lettering posters, and scenes with street-name and shop signs. Halves: *tuning* (what the
detector's thresholds were chosen on) and *measured* (other scenes and seeds): report
``--split measured``.

Detectors: the pipeline's (``plates.detect_plates`` on the pipeline's 1344 px copy) and,
for comparison, OpenCV's bundled cascade for Russian plates
(``haarcascade_russian_plate_number.xml`` on a 1024 px grey copy, scaleFactor 1.1,
minNeighbors 2), the only offline plate model available.

A plate counts as *found* when the boxes blurred cover at least 60 % of its bounding box;
a box touching no plate is *false*.

Run:  uv run python bench/bench_plates.py --split measured
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import defaultdict

import cv2
import numpy as np
import plates_corpus

from datatrust.pipeline.media import face_detection_copy
from datatrust.pipeline.plates import detect_plates

_HAAR = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_russian_plate_number.xml")


def ours(im) -> list:
    return detect_plates(face_detection_copy(im), im.size)


def haar(im) -> list:
    s = 1024 / max(im.size)
    small = np.asarray(im.resize((round(im.width * s), round(im.height * s))))
    grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    found = _HAAR.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=2, minSize=(24, 8))
    return [(x / s, y / s, w / s, h / s) for x, y, w, h in found]


DETECTORS = {"classical (pipeline)": ours, "haar russian plates": haar}


def _inter(a, b) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=plates_corpus.SPLITS, default="measured")
    args = ap.parse_args()
    recall = {k: defaultdict(lambda: [0, 0]) for k in DETECTORS}
    false = dict.fromkeys(DETECTORS, 0)
    cpu = dict.fromkeys(DETECTORS, 0.0)
    n = 0
    both = itertools.chain(
        plates_corpus.photos(args.split), plates_corpus.photos(args.split, dark=True)
    )
    for photo in both:
        n += 1
        for name, detect in DETECTORS.items():
            t = time.process_time()
            boxes = detect(photo.image)
            cpu[name] += time.process_time() - t
            for p in photo.plates:
                ok = sum(_inter(p.box, b) for b in boxes) >= 0.6 * p.box[2] * p.box[3]
                width = f"width {round(p.width_fraction * 100)}%"
                for key in (width, p.country, p.light, p.polarity, f"{p.polarity} {width}", "all"):
                    recall[name][key][0] += ok
                    recall[name][key][1] += 1
            false[name] += sum(all(_inter(b, p.box) == 0 for p in photo.plates) for b in boxes)
    plateless = {k: defaultdict(lambda: [0, 0, 0.0]) for k in DETECTORS}
    for label, image in plates_corpus.plateless(args.split):
        kind = label.split("-")[0]
        for name, detect in DETECTORS.items():
            boxes = detect(image)
            row = plateless[name][kind]
            row[0] += 1
            row[1] += len(boxes)
            row[2] += sum(b[2] * b[3] for b in boxes) / (image.width * image.height)
    out = {"bench": "plates", "split": args.split, "photos": n, "detectors": {}}
    for name in DETECTORS:
        rows = {k: f"{a}/{b} = {a / b:.3f}" for k, (a, b) in sorted(recall[name].items())}
        pl = {
            k: {"pictures": c, "boxes": b, "area_blurred_pct": round(100 * a / c, 2)}
            for k, (c, b, a) in plateless[name].items()
        }
        out["detectors"][name] = {
            "recall": rows,
            "false_boxes_in_photos": false[name],
            "plateless": pl,
            "cpu_ms_per_photo": round(cpu[name] * 1000 / n, 1),
        }
        print(f"== {name}")
        for k, v in rows.items():
            print(f"  {k:16} {v}")
        print(f"  false boxes in plate photos: {false[name]}; plateless: {pl}")
        print(f"  CPU ms per photo: {out['detectors'][name]['cpu_ms_per_photo']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
